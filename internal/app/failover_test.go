package app_test

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/relais/relais/internal/app"
	"github.com/relais/relais/internal/clock"
)

// silentTimeouts make a silent primary give up fast: timeouts.header and
// first_token for streams, timeouts.attempt for plain calls.
const silentTimeouts = "{request: 10s, attempt: 300ms, connect: 1s, header: 300ms, first_token: 300ms, idle: 5s}"

// TestFailover walks the design's failure table through the real app: the
// primary provider fails in one way, the backup serves, and the primary gets
// exactly the attempts its row allows. retries.attempts is 2 throughout.
func TestFailover(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// primary's behaviour; nil: its address refuses connections.
		primary  behaviour
		timeouts string
		only     string // "plain" or "stream" when the row applies to one kind
		// primaryCalls is how many requests reach the primary (-1: none can, it refuses).
		primaryCalls int
		attempts     int           // x-relais-attempts: attempts in all, the backup's included
		minElapsed   time.Duration // a Retry-After waited out
		cooled       bool          // a second call must skip the primary without a network call
	}{
		{name: "503 without Retry-After cools down, no retry", primary: fail(503, errorJSON("The engine is currently overloaded.", "server_error", "")),
			primaryCalls: 1, attempts: 2},
		{name: "429 Retry-After 1 is waited out on the primary", primary: fail(429, errorJSON("Rate limit reached.", "requests", "rate_limit_exceeded"), "Retry-After", "1"),
			primaryCalls: 2, attempts: 3, minElapsed: time.Second},
		{name: "429 Retry-After 30 cools the primary down", primary: fail(429, errorJSON("Rate limit reached.", "requests", "rate_limit_exceeded"), "Retry-After", "30"),
			primaryCalls: 1, attempts: 2, cooled: true},
		{name: "500 is retried with backoff", primary: fail(500, errorJSON("The server had an error.", "server_error", "")),
			primaryCalls: 2, attempts: 3},
		{name: "401 (relais's key refused) is not retried", primary: fail(401, errorJSON("Incorrect API key provided.", "invalid_request_error", "invalid_api_key")),
			primaryCalls: 1, attempts: 2},
		{name: "400 context_length_exceeded goes to the next model", primary: fail(400, errorJSON("This model's maximum context length is 8192 tokens.", "invalid_request_error", "context_length_exceeded")),
			primaryCalls: 1, attempts: 2},
		{name: "hang before headers is not retried", primary: hang, timeouts: silentTimeouts,
			primaryCalls: 1, attempts: 2},
		{name: "silence after headers is not retried", primary: silentAfterHeaders, timeouts: silentTimeouts,
			primaryCalls: 1, attempts: 2},
		{name: "connection refused is retried with backoff", primaryCalls: -1, attempts: 3},
		{name: "stream cut before the first chunk", only: "stream", primary: cutBeforeFirstChunk,
			primaryCalls: 1, attempts: 2},
		{name: "stream error event before content", only: "stream", primary: errorEventFirst,
			primaryCalls: 1, attempts: 2},
		{name: "body cut (reset before the whole answer) is retried", only: "plain", primary: cutBody,
			primaryCalls: 2, attempts: 3},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			kind := map[bool]string{false: "plain", true: "stream"}[stream]
			if tt.only != "" && tt.only != kind {
				continue
			}
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				backup := newUpstream(t, "backup", answer)
				var primary *upstream
				primaryURL := "http://" + closedAddr(t) + "/v1"
				if tt.primary != nil {
					primary = newUpstream(t, "primary", tt.primary)
					primaryURL = primary.url()
				}
				r := startRelais(t, topology{Primary: primaryURL, Backup: backup.url(), Timeouts: tt.timeouts}.yaml())
				c := r.client(t)

				got := chat(t, c, stream, chatParams("chat"))
				if got.err != nil {
					t.Fatalf("call failed: %v", got.err)
				}
				if got.model != backup.model || got.content != backup.content() {
					t.Errorf("answer: model %q, content %q; want the backup's %q, %q", got.model, got.content, backup.model, backup.content())
				}
				if got.servedBy() != "backup" || got.header.Get("X-Relais-Model") != "backup-model" {
					t.Errorf("x-relais-provider %q, x-relais-model %q; want backup, backup-model", got.servedBy(), got.header.Get("X-Relais-Model"))
				}
				if want := strconv.Itoa(tt.attempts); got.attempts() != want {
					t.Errorf("x-relais-attempts = %q, want %s", got.attempts(), want)
				}
				if backup.requests() != 1 || backup.last().Model != "backup-model" || backup.last().Stream != stream {
					t.Errorf("backup got %d requests, last %+v; want 1 for model backup-model, stream %v", backup.requests(), backup.last(), stream)
				}
				if primary != nil {
					if n := primary.requests(); n != tt.primaryCalls {
						t.Errorf("primary got %d requests, want %d", n, tt.primaryCalls)
					}
					if last := primary.last(); last.Model != "primary-model" || last.Auth != "Bearer sk-upstream-primary" {
						t.Errorf("primary's request: %+v; want model primary-model with relais's key for it", last)
					}
				} else if n := r.metric(t, "relais_upstream_attempts_total", `provider="primary"`, `outcome="conn_error"`); n != 2 {
					t.Errorf("conn_error attempts at the primary = %v, want 2 (retries.attempts)", n)
				}
				if tt.minElapsed > 0 && (got.elapsed < tt.minElapsed || got.elapsed > tt.minElapsed+4*time.Second) {
					t.Errorf("the call took %v; want the Retry-After (%v) waited out, and not much more", got.elapsed, tt.minElapsed)
				}

				if !tt.cooled {
					return
				}
				again := chat(t, c, stream, chatParams("chat"))
				if again.err != nil || again.servedBy() != "backup" || again.attempts() != "1" {
					t.Fatalf("second call: err %v, served by %q in %q attempts; want backup in 1", again.err, again.servedBy(), again.attempts())
				}
				if n := primary.requests(); n != tt.primaryCalls {
					t.Errorf("the cooling primary got a request: %d in all, want %d", n, tt.primaryCalls)
				}
				if st := r.breakers(t)["primary/primary-model"]; st != "open" {
					t.Errorf("primary's breaker = %q while cooling down, want open", st)
				}
			})
		}
	}
}

// TestOpenBreakerSkipsTarget: once the primary's breaker opens, requests go
// to the backup without any network call to the primary.
func TestOpenBreakerSkipsTarget(t *testing.T) {
	t.Parallel()
	primary := newUpstream(t, "primary", fail(500, errorJSON("The server had an error.", "server_error", "")))
	backup := newUpstream(t, "backup", answer)
	r := startRelais(t, topology{Primary: primary.url(), Backup: backup.url(),
		Breaker: "{min_requests: 2, failure_ratio: 0.5, window: 10s, open_for: 30s}"}.yaml())
	c := r.client(t)

	// Two 500s (one request, retried once) trip the breaker.
	first := chat(t, c, false, chatParams("chat"))
	if first.err != nil || first.servedBy() != "backup" || first.attempts() != "3" {
		t.Fatalf("first call: err %v, served by %q after %q attempts; want backup after 3", first.err, first.servedBy(), first.attempts())
	}
	if n := primary.requests(); n != 2 {
		t.Fatalf("primary got %d requests, want 2", n)
	}
	if st := r.breakers(t)["primary/primary-model"]; st != "open" {
		t.Fatalf("primary's breaker = %q after 2 failures of 2, want open", st)
	}
	for i := range 5 {
		stream := i%2 == 1
		got := chat(t, c, stream, chatParams("chat"))
		if got.err != nil || got.servedBy() != "backup" || got.attempts() != "1" || got.model != backup.model {
			t.Fatalf("call %d (stream %v): err %v, served by %q in %q attempts, model %q; want backup in 1", i, stream, got.err, got.servedBy(), got.attempts(), got.model)
		}
	}
	if n := primary.requests(); n != 2 {
		t.Errorf("primary got %d requests in all, want 2: an open breaker must skip it", n)
	}
	if n := r.metric(t, "relais_breaker_skips_total", `provider="primary"`); n != 5 {
		t.Errorf("relais_breaker_skips_total{provider=primary} = %v, want 5", n)
	}
	if st := r.breakers(t); st["primary/primary-model"] != "open" || st["backup/backup-model"] != "closed" {
		t.Errorf("breakers %v, want primary open and backup closed", st)
	}
}

// TestStreamCutAfterContent: once content reached the client, a broken
// upstream stream ends the client's stream with an error, never with a clean
// end, and relais does not fail over (the client has part of an answer).
func TestStreamCutAfterContent(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		cut  bool
	}{
		{"connection dropped", true},
		{"stream ended without finishing", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			primary := newUpstream(t, "primary", firstChunkThen(tt.cut))
			backup := newUpstream(t, "backup", answer)
			r := startRelais(t, topology{Primary: primary.url(), Backup: backup.url()}.yaml())

			got := chat(t, r.client(t), true, chatParams("chat"))
			if got.err == nil {
				t.Fatalf("the SDK saw a clean end of a cut stream (content %q)", got.content)
			}
			var se *ssestream.StreamError
			if !errors.As(got.err, &se) || !strings.Contains(se.Message, "stream_interrupted") {
				t.Errorf("stream error %v; want relais's stream_interrupted error event", got.err)
			}
			if got.content != "Hel" || got.servedBy() != "primary" {
				t.Errorf("content %q from %q; want the primary's first chunk %q", got.content, got.servedBy(), "Hel")
			}
			if primary.requests() != 1 || backup.requests() != 0 {
				t.Errorf("primary %d requests, backup %d; want 1 and 0 (no failover after content)", primary.requests(), backup.requests())
			}
		})
	}
}

// TestStreamUsageChunk: relais always asks the provider for the usage chunk
// (it needs the tokens), and passes it on only to clients that asked.
func TestStreamUsageChunk(t *testing.T) {
	t.Parallel()
	for _, asked := range []bool{false, true} {
		t.Run("include_usage="+strconv.FormatBool(asked), func(t *testing.T) {
			t.Parallel()
			up := newUpstream(t, "primary", answer)
			r := startRelais(t, topology{Primary: up.url(), Backup: up.url()}.yaml())
			p := chatParams("chat")
			if asked {
				p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			}
			got := chat(t, r.client(t), true, p)
			if got.err != nil {
				t.Fatalf("stream: %v", got.err)
			}
			if !up.last().IncludeUsage {
				t.Error("relais did not ask the provider for stream_options.include_usage")
			}
			if got.content != up.content() {
				t.Errorf("content %q, want %q", got.content, up.content())
			}
			usageChunks := 0
			for _, ch := range got.chunks {
				if len(ch.Choices) == 0 && ch.JSON.Usage.Valid() {
					usageChunks++
					if ch.Usage.TotalTokens != 13 || ch.Usage.PromptTokens != 9 {
						t.Errorf("usage chunk %+v, want the provider's (9 + 4 = 13)", ch.Usage)
					}
				}
			}
			if want := map[bool]int{false: 0, true: 1}[asked]; usageChunks != want {
				t.Errorf("%d usage chunks reached the client, want %d", usageChunks, want)
			}

			// The raw stream ends with [DONE], which the SDK does not report;
			// an explicit include_usage: false is a client that did not ask.
			bodies := []string{`{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
				`{"model":"chat","stream":true,"stream_options":{"include_usage":false},"messages":[{"role":"user","content":"hi"}]}`}
			if asked {
				bodies = []string{`{"model":"chat","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`}
			}
			for _, body := range bodies {
				resp, raw := r.do(t, http.MethodPost, "/v1/chat/completions", body, "Authorization", "Bearer "+testKey, "Content-Type", "application/json")
				events := sseEvents(raw)
				if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") || len(events) == 0 || events[len(events)-1] != "[DONE]" {
					t.Fatalf("raw stream for %s: %d %q, events %q; want 200 text/event-stream ending with [DONE]", body, resp.StatusCode, resp.Header.Get("Content-Type"), events)
				}
				if !up.last().IncludeUsage {
					t.Errorf("for %s relais did not ask the provider for the usage chunk", body)
				}
				rawUsage := 0
				for _, ev := range events {
					if strings.Contains(ev, `"usage":{`) {
						rawUsage++
					}
				}
				if want := map[bool]int{false: 0, true: 1}[asked]; rawUsage != want {
					t.Errorf("raw stream for %s has %d usage events, want %d: %q", body, rawUsage, want, events)
				}
			}
		})
	}
}

// TestProviderBadRequest: a provider's own 400 (content policy) is the
// client's to see, exactly as it came; no other provider is tried.
func TestProviderBadRequest(t *testing.T) {
	t.Parallel()
	const msg = "Your request was rejected as a result of our safety system."
	body := errorJSON(msg, "invalid_request_error", "content_policy_violation")
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "stream"}[stream], func(t *testing.T) {
			t.Parallel()
			primary := newUpstream(t, "primary", fail(400, body))
			backup := newUpstream(t, "backup", answer)
			r := startRelais(t, topology{Primary: primary.url(), Backup: backup.url()}.yaml())

			got := chat(t, r.client(t), stream, chatParams("chat"))
			var apiErr *openai.Error
			if !errors.As(got.err, &apiErr) {
				t.Fatalf("err = %v, want the provider's 400 as an *openai.Error", got.err)
			}
			if apiErr.StatusCode != http.StatusBadRequest || apiErr.Message != msg || apiErr.Code != "content_policy_violation" || apiErr.Type != "invalid_request_error" {
				t.Errorf("error %d %q %q %q; want the provider's 400 %q", apiErr.StatusCode, apiErr.Type, apiErr.Code, apiErr.Message, msg)
			}
			if raw, err := io.ReadAll(apiErr.Response.Body); err != nil || string(raw) != body {
				t.Errorf("body %s (%v), want the provider's bytes %s", raw, err, body)
			}
			if got.servedBy() != "primary" || got.attempts() != "1" {
				t.Errorf("x-relais-provider %q, attempts %q; want primary, 1", got.servedBy(), got.attempts())
			}
			if primary.requests() != 1 || backup.requests() != 0 {
				t.Errorf("primary %d requests, backup %d; want 1 and 0", primary.requests(), backup.requests())
			}
		})
	}
}

// TestAllTargetsFail: when no target can answer, the client gets one
// OpenAI-shaped 502 that says what happened last.
func TestAllTargetsFail(t *testing.T) {
	t.Parallel()
	down := newUpstream(t, "down", fail(502, errorJSON("Bad gateway.", "server_error", "")))
	r := startRelais(t, topology{Primary: down.url(), Backup: down.url()}.yaml())
	resp, body := r.do(t, http.MethodPost, "/v1/chat/completions", `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`,
		"Authorization", "Bearer "+testKey)
	e := decodeError(t, body)
	if resp.StatusCode != http.StatusBadGateway || e.Code != "upstream_unavailable" || !strings.Contains(e.Message, "HTTP 502") {
		t.Errorf("%d %+v; want 502 upstream_unavailable naming the last failure", resp.StatusCode, e)
	}
	if resp.Header.Get("X-Relais-Attempts") != "4" || down.requests() != 4 {
		t.Errorf("attempts header %q, provider got %d; want 2 per target, 4", resp.Header.Get("X-Relais-Attempts"), down.requests())
	}
}

// TestCooledTargetRecovers: a cooling target gets one trial request once its
// Retry-After is over, and serves again when the trial succeeds. The app runs
// on a fake clock (far from the real one) that the test moves.
func TestCooledTargetRecovers(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	primary := newUpstream(t, "primary", fail(429, errorJSON("Rate limit reached.", "requests", "rate_limit_exceeded"), "Retry-After", "30"))
	backup := newUpstream(t, "backup", answer)
	r := startRelaisWith(t, topology{Primary: primary.url(), Backup: backup.url()}.yaml(), app.Options{Clock: clk})
	c := r.client(t)

	for i, stream := range []bool{false, true} {
		if got := chat(t, c, stream, chatParams("chat")); got.err != nil || got.servedBy() != "backup" {
			t.Fatalf("call %d while the primary rate limits: err %v, served by %q", i, got.err, got.servedBy())
		}
	}
	if n := primary.requests(); n != 1 {
		t.Fatalf("primary got %d requests, want 1 (then it cools down for 30s)", n)
	}

	primary.set(answer)
	clk.Advance(29 * time.Second)
	if got := chat(t, c, false, chatParams("chat")); got.err != nil || got.servedBy() != "backup" || primary.requests() != 1 {
		t.Fatalf("29s into the cooldown: err %v, served by %q, primary got %d requests; want backup, 1", got.err, got.servedBy(), primary.requests())
	}
	clk.Advance(2 * time.Second)
	if st := r.breakers(t)["primary/primary-model"]; st != "half_open" {
		t.Errorf("primary's breaker %q once the cooldown is over, want half_open", st)
	}
	for i, stream := range []bool{true, false} {
		if got := chat(t, c, stream, chatParams("chat")); got.err != nil || got.servedBy() != "primary" || got.attempts() != "1" || got.model != primary.model {
			t.Fatalf("call %d after the cooldown (stream %v): err %v, served by %q in %q attempts; want primary in 1", i, stream, got.err, got.servedBy(), got.attempts())
		}
	}
	if st := r.breakers(t)["primary/primary-model"]; st != "closed" {
		t.Errorf("primary's breaker %q after a good trial, want closed", st)
	}
}

// TestRequestDeadline: timeouts.request bounds all attempts together. With
// both targets silent, the first attempt uses timeouts.attempt, the second
// only what is left, and the client gets 504 deadline_exceeded in time.
func TestRequestDeadline(t *testing.T) {
	t.Parallel()
	silent := newUpstream(t, "silent", hang)
	r := startRelais(t, topology{Primary: silent.url(), Backup: silent.url(),
		Timeouts: "{request: 500ms, attempt: 300ms, connect: 100ms, header: 300ms, first_token: 300ms, idle: 300ms}"}.yaml())
	for _, stream := range []string{"false", "true"} {
		start := time.Now()
		resp, body := r.do(t, http.MethodPost, "/v1/chat/completions",
			`{"model":"chat","stream":`+stream+`,"messages":[{"role":"user","content":"hi"}]}`, "Authorization", "Bearer "+testKey)
		elapsed := time.Since(start)
		e := decodeError(t, body)
		if resp.StatusCode != http.StatusGatewayTimeout || e.Code != "deadline_exceeded" {
			t.Errorf("stream=%s: %d %+v, want 504 deadline_exceeded", stream, resp.StatusCode, e)
		}
		if elapsed < 450*time.Millisecond || elapsed > 2*time.Second {
			t.Errorf("stream=%s: answered after %v, want about the 500ms budget", stream, elapsed)
		}
		if got := resp.Header.Get("X-Relais-Attempts"); got != "2" {
			t.Errorf("stream=%s: %s attempts, want 2 (the second gets what is left of the budget)", stream, got)
		}
	}
}
