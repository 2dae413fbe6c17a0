package sim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/provider"
)

// event is one server-sent event of an Anthropic stream.
type event struct{ name, data string }

// readEvents parses an Anthropic stream, checking the framing: each event is
// an "event: " line, a "data: " line and a blank line, and its name is the
// type in its data.
func readEvents(t *testing.T, b []byte) []event {
	t.Helper()
	var events []event
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		name, ok := strings.CutPrefix(sc.Text(), "event: ")
		if !ok {
			t.Fatalf("line %q: want an event line", sc.Text())
		}
		if !sc.Scan() {
			t.Fatalf("event %s has no data", name)
		}
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			t.Fatalf("event %s: line %q, want a data line", name, sc.Text())
		}
		if typ := gjson.Get(data, "type").Str; typ != name {
			t.Errorf("event %s carries type %q", name, typ)
		}
		events = append(events, event{name, data})
		if !sc.Scan() {
			break // a cut stream may end here
		}
		if sc.Text() != "" {
			t.Fatalf("after event %s: line %q, want a blank line", name, sc.Text())
		}
	}
	return events
}

func names(events []event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.name
	}
	return out
}

func anthropicSpec(s Spec) *Spec {
	s.Dialect = "anthropic"
	return &s
}

func messagesBody(prompt, extra string) string {
	return fmt.Sprintf(`{"model":"claude-sim","max_tokens":1024,"messages":[{"role":"user","content":%q}]%s}`, prompt, extra)
}

// checkAnthropicError asserts Anthropic's error shape.
func checkAnthropicError(t *testing.T, body []byte, wantType string) {
	t.Helper()
	j := gjson.ParseBytes(body)
	if j.Get("type").Str != "error" || j.Get("error.type").Str != wantType || j.Get("error.message").Str == "" {
		t.Errorf("error body %s: want type error, error.type %q and a message", body, wantType)
	}
}

func TestMessages(t *testing.T) {
	t.Parallel()
	ts := serve(t, anthropicSpec(Spec{Seed: 1}), clock.NewFake(epoch))
	// The same conversation gets the same text in both dialects.
	openaiText := gjson.GetBytes(call(t.Context(), t, http.MethodPost, serve(t, &Spec{Seed: 1}, clock.NewFake(epoch)).URL+"/v1/chat/completions",
		`{"model":"m","messages":[{"role":"system","content":"Be brief"},{"role":"user","content":"Say hello"}]}`).body,
		"choices.0.message.content").Str
	for _, path := range []string{"/messages", "/v1/messages"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			r := call(t.Context(), t, http.MethodPost, ts.URL+path, messagesBody("Say hello", `,"system":"Be brief"`))
			if r.err != nil || r.resp.StatusCode != http.StatusOK {
				t.Fatalf("status %v, err %v: %s", r.resp, r.err, r.body)
			}
			if ct := r.resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			j := gjson.ParseBytes(r.body)
			for field, want := range map[string]string{
				"type":                          "message",
				"role":                          "assistant",
				"model":                         "claude-sim",
				"content.#":                     "1",
				"content.0.type":                "text",
				"stop_reason":                   "end_turn",
				"stop_sequence":                 "",
				"usage.input_tokens":            "5", // "Be brief\nSay hello\n" is 19 bytes
				"usage.cache_read_input_tokens": "0",
			} {
				if got := j.Get(field).String(); got != want {
					t.Errorf("%s = %q, want %q", field, got, want)
				}
			}
			if !strings.HasPrefix(j.Get("id").Str, "msg_") || j.Get("stop_sequence").Type != gjson.Null {
				t.Errorf("id %q, stop_sequence %s", j.Get("id").Str, j.Get("stop_sequence").Raw)
			}
			text := j.Get("content.0.text").Str
			if text == "" || text != openaiText || j.Get("usage.output_tokens").Int() != int64(len(strings.Fields(text))) {
				t.Errorf("text %q with usage %s, want the openai dialect's %q", text, j.Get("usage").Raw, openaiText)
			}
			if r.resp.Header.Get("Request-Id") == "" {
				t.Error("no request-id header")
			}
		})
	}
}

func TestMessagesStream(t *testing.T) {
	t.Parallel()
	ts := serve(t, anthropicSpec(Spec{Seed: 9, TokensPerSecond: 2000}), clock.NewFake(epoch))
	whole := call(t.Context(), t, http.MethodPost, ts.URL+"/v1/messages", messagesBody("Stream me", ""))
	want := gjson.GetBytes(whole.body, "content.0.text").Str

	r := call(t.Context(), t, http.MethodPost, ts.URL+"/v1/messages", messagesBody("Stream me", `,"stream":true`))
	if r.err != nil || r.resp.StatusCode != http.StatusOK {
		t.Fatalf("err %v: %s", r.err, r.body)
	}
	if ct := r.resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q", ct)
	}
	events := readEvents(t, r.body)
	toks := len(strings.Fields(want))
	wantNames := []string{"message_start", "content_block_start", "ping"}
	for range toks {
		wantNames = append(wantNames, "content_block_delta")
	}
	wantNames = append(wantNames, "content_block_stop", "message_delta", "message_stop")
	if got := names(events); !slices.Equal(got, wantNames) {
		t.Fatalf("events %q, want %q", got, wantNames)
	}
	start := gjson.Get(events[0].data, "message")
	if start.Get("id").Str == "" || start.Get("model").Str != "claude-sim" || start.Get("content").Raw != "[]" ||
		start.Get("stop_reason").Type != gjson.Null || start.Get("usage.input_tokens").Int() == 0 {
		t.Errorf("message_start %s", events[0].data)
	}
	if b := gjson.Get(events[1].data, "content_block"); b.Raw != `{"type":"text","text":""}` || gjson.Get(events[1].data, "index").Raw != "0" {
		t.Errorf("content_block_start %s", events[1].data)
	}
	var text strings.Builder
	for _, e := range events[3 : 3+toks] {
		d := gjson.Get(e.data, "delta")
		if d.Get("type").Str != "text_delta" || gjson.Get(e.data, "index").Raw != "0" {
			t.Errorf("delta %s", e.data)
		}
		text.WriteString(d.Get("text").Str)
	}
	if text.String() != want {
		t.Errorf("streamed %q, want the non-stream answer %q", text.String(), want)
	}
	md := gjson.Parse(events[len(events)-2].data)
	if md.Get("delta.stop_reason").Str != "end_turn" || md.Get("delta.stop_sequence").Type != gjson.Null ||
		md.Get("usage.output_tokens").Int() != int64(toks) {
		t.Errorf("message_delta %s", md.Raw)
	}
}

func TestMessagesMaxTokensAndPrefill(t *testing.T) {
	t.Parallel()
	ts := serve(t, anthropicSpec(Spec{}), clock.NewFake(epoch))
	body := `{"model":"m","max_tokens":3,"messages":[{"role":"user","content":[{"type":"text","text":"Count"}]},{"role":"assistant","content":"One,"}]%s}`
	r := call(t.Context(), t, http.MethodPost, ts.URL+"/v1/messages", fmt.Sprintf(body, ""))
	j := gjson.ParseBytes(r.body)
	if r.err != nil || r.resp.StatusCode != http.StatusOK || j.Get("stop_reason").Str != "max_tokens" || j.Get("usage.output_tokens").Int() != 3 {
		t.Errorf("status %v, err %v: %s", r.resp, r.err, r.body)
	}
	r = call(t.Context(), t, http.MethodPost, ts.URL+"/v1/messages", fmt.Sprintf(body, `,"stream":true`))
	events := readEvents(t, r.body)
	if d := gjson.Parse(events[len(events)-2].data); d.Get("delta.stop_reason").Str != "max_tokens" || d.Get("usage.output_tokens").Int() != 3 {
		t.Errorf("events %q", events)
	}
}

func TestMessagesBadRequests(t *testing.T) {
	t.Parallel()
	ts := serve(t, anthropicSpec(Spec{}), clock.NewFake(epoch))
	tests := []struct {
		name, method, path, body string
		status                   int
		typ                      string
	}{
		{"bad json", http.MethodPost, "/v1/messages", `{"model":`, 400, "invalid_request_error"},
		{"no model", http.MethodPost, "/v1/messages", `{"max_tokens":1,"messages":[{"role":"user","content":"x"}]}`, 400, "invalid_request_error"},
		{"no max_tokens", http.MethodPost, "/v1/messages", `{"model":"m","messages":[{"role":"user","content":"x"}]}`, 400, "invalid_request_error"},
		{"zero max_tokens", http.MethodPost, "/v1/messages", `{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]}`, 400, "invalid_request_error"},
		{"no messages", http.MethodPost, "/v1/messages", `{"model":"m","max_tokens":1}`, 400, "invalid_request_error"},
		{"empty messages", http.MethodPost, "/v1/messages", `{"model":"m","max_tokens":1,"messages":[]}`, 400, "invalid_request_error"},
		{"chat completions is not anthropic", http.MethodPost, "/v1/chat/completions", chatBody("x", ""), 404, "not_found_error"},
		{"no embeddings", http.MethodPost, "/v1/embeddings", `{"model":"e","input":"x"}`, 404, "not_found_error"},
		{"wrong method", http.MethodGet, "/v1/messages", "", 405, "invalid_request_error"},
		{"too large", http.MethodPost, "/v1/messages", `{"model":"` + strings.Repeat("x", maxBody) + `"}`, 413, "request_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := call(t.Context(), t, tt.method, ts.URL+tt.path, tt.body)
			if r.err != nil || r.resp.StatusCode != tt.status {
				t.Fatalf("status %v, err %v, want %d", r.resp, r.err, tt.status)
			}
			checkAnthropicError(t, r.body, tt.typ)
		})
	}
}

func TestAnthropicModels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		models []string
		want   string
	}{
		{nil, `["sim-chat"]`},
		{[]string{"a", "b", "c"}, `["a","b","c"]`},
	}
	for _, tt := range tests {
		ts := serve(t, anthropicSpec(Spec{Models: tt.models}), clock.NewFake(epoch))
		r := call(t.Context(), t, http.MethodGet, ts.URL+"/v1/models", "")
		j := gjson.ParseBytes(r.body)
		ids := j.Get("data.#.id").Array()
		if r.err != nil || j.Get("data.#.id").Raw != tt.want || j.Get("has_more").Raw != "false" ||
			j.Get("first_id").Str != ids[0].Str || j.Get("last_id").Str != ids[len(ids)-1].Str {
			t.Errorf("models %v: %s", tt.models, r.body)
		}
		for _, m := range j.Get("data").Array() {
			if m.Get("type").Str != "model" || m.Get("display_name").Str == "" || m.Get("created_at").Str != "2026-03-01T12:00:00Z" {
				t.Errorf("model %s", m.Raw)
			}
		}
	}
}

// TestToolCalls: a request with tools whose tool_choice forces one gets a
// call to it with the arguments {}, in each dialect, whole and streamed.
func TestToolCalls(t *testing.T) {
	t.Parallel()
	const (
		oaTools = `,"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}},{"type":"function","function":{"name":"get_time"}}]`
		anTools = `,"tools":[{"name":"get_weather","input_schema":{"type":"object"}},{"name":"get_time","input_schema":{"type":"object"}}]`
	)
	oa := serve(t, &Spec{TokensPerSecond: 1000}, clock.NewFake(epoch))
	an := serve(t, anthropicSpec(Spec{TokensPerSecond: 1000}), clock.NewFake(epoch))

	t.Run("openai", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name, extra, want string // want "": a text answer
		}{
			{"required", oaTools + `,"tool_choice":"required"`, "get_weather"},
			{"named", oaTools + `,"tool_choice":{"type":"function","function":{"name":"get_time"}}`, "get_time"},
			{"auto", oaTools + `,"tool_choice":"auto"`, ""},
			{"no choice", oaTools, ""},
			{"forced without tools", `,"tool_choice":"required"`, ""},
		}
		for _, tt := range tests {
			r := call(t.Context(), t, http.MethodPost, oa.URL+"/v1/chat/completions", chatBody("Weather?", tt.extra))
			j := gjson.ParseBytes(r.body)
			msg := j.Get("choices.0.message")
			if tt.want == "" {
				if msg.Get("content").Str == "" || msg.Get("tool_calls").Exists() || j.Get("choices.0.finish_reason").Str != "stop" {
					t.Errorf("%s: %s, want a text answer", tt.name, r.body)
				}
				continue
			}
			tc := msg.Get("tool_calls.0")
			if msg.Get("content").Type != gjson.Null || msg.Get("tool_calls.#").Int() != 1 || !strings.HasPrefix(tc.Get("id").Str, "call_") ||
				tc.Get("type").Str != "function" || tc.Get("function.name").Str != tt.want || tc.Get("function.arguments").Str != "{}" ||
				j.Get("choices.0.finish_reason").Str != "tool_calls" || j.Get("usage.completion_tokens").Int() == 0 {
				t.Errorf("%s: %s, want a call to %s", tt.name, r.body, tt.want)
			}

			r = call(t.Context(), t, http.MethodPost, oa.URL+"/v1/chat/completions", chatBody("Weather?", tt.extra+`,"stream":true`))
			events := readSSE(t, r.body)
			if len(events) != 4 || events[3] != "[DONE]" {
				t.Fatalf("%s stream: events %q, want head, arguments, finish, [DONE]", tt.name, events)
			}
			head, args, fin := gjson.Get(events[0], "choices.0.delta"), gjson.Get(events[1], "choices.0.delta"), gjson.Get(events[2], "choices.0")
			if head.Get("role").Str != "assistant" || head.Get("tool_calls.0.index").Raw != "0" || !strings.HasPrefix(head.Get("tool_calls.0.id").Str, "call_") ||
				head.Get("tool_calls.0.function.name").Str != tt.want || head.Get("tool_calls.0.function.arguments").Raw != `""` {
				t.Errorf("%s stream: head %s", tt.name, head.Raw)
			}
			if args.Get("tool_calls.0.index").Raw != "0" || args.Get("tool_calls.0.function.arguments").Str != "{}" ||
				args.Get("tool_calls.0.id").Exists() || args.Get("tool_calls.0.function.name").Exists() {
				t.Errorf("%s stream: arguments %s", tt.name, args.Raw)
			}
			if fin.Get("finish_reason").Str != "tool_calls" {
				t.Errorf("%s stream: finish %s", tt.name, fin.Raw)
			}
		}
	})

	t.Run("anthropic", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name, extra, want string
		}{
			{"any", anTools + `,"tool_choice":{"type":"any"}`, "get_weather"},
			{"named", anTools + `,"tool_choice":{"type":"tool","name":"get_time"}`, "get_time"},
			{"auto", anTools + `,"tool_choice":{"type":"auto"}`, ""},
			{"no choice", anTools, ""},
		}
		for _, tt := range tests {
			r := call(t.Context(), t, http.MethodPost, an.URL+"/v1/messages", messagesBody("Weather?", tt.extra))
			j := gjson.ParseBytes(r.body)
			if tt.want == "" {
				if j.Get("content.0.type").Str != "text" || j.Get("stop_reason").Str != "end_turn" {
					t.Errorf("%s: %s, want a text answer", tt.name, r.body)
				}
				continue
			}
			b := j.Get("content.0")
			if j.Get("content.#").Int() != 1 || b.Get("type").Str != "tool_use" || !strings.HasPrefix(b.Get("id").Str, "toolu_") ||
				b.Get("name").Str != tt.want || b.Get("input").Raw != "{}" || j.Get("stop_reason").Str != "tool_use" || j.Get("usage.output_tokens").Int() == 0 {
				t.Errorf("%s: %s, want a tool_use of %s", tt.name, r.body, tt.want)
			}

			r = call(t.Context(), t, http.MethodPost, an.URL+"/v1/messages", messagesBody("Weather?", tt.extra+`,"stream":true`))
			events := readEvents(t, r.body)
			want := []string{"message_start", "content_block_start", "ping", "content_block_delta", "content_block_stop", "message_delta", "message_stop"}
			if got := names(events); !slices.Equal(got, want) {
				t.Fatalf("%s stream: events %q, want %q", tt.name, got, want)
			}
			if cb := gjson.Get(events[1].data, "content_block"); cb.Get("type").Str != "tool_use" || cb.Get("name").Str != tt.want ||
				cb.Get("id").Str == "" || cb.Get("input").Raw != "{}" {
				t.Errorf("%s stream: content_block_start %s", tt.name, events[1].data)
			}
			if d := gjson.Get(events[3].data, "delta"); d.Raw != `{"type":"input_json_delta","partial_json":"{}"}` {
				t.Errorf("%s stream: delta %s", tt.name, d.Raw)
			}
			if d := gjson.Get(events[5].data, "delta.stop_reason"); d.Str != "tool_use" {
				t.Errorf("%s stream: message_delta %s", tt.name, events[5].data)
			}
		}
	})
}

// TestFaultsByDialect drives each schedule mode in both dialects.
func TestFaultsByDialect(t *testing.T) {
	t.Parallel()
	schedule := Schedule{Cycle: dur(100 * time.Second), Periods: []Period{
		{From: dur(0), To: dur(10 * time.Second), Fault: Fault{Mode: Down, Status: 529}},
		{From: dur(10 * time.Second), To: dur(20 * time.Second), Fault: Fault{Mode: RateLimit, RetryAfter: dur(1500 * time.Millisecond)}},
		{From: dur(20 * time.Second), To: dur(30 * time.Second), Fault: Fault{Mode: Down}},
		{From: dur(30 * time.Second), To: dur(40 * time.Second), Fault: Fault{Mode: CutStream}},
		{From: dur(40 * time.Second), To: dur(50 * time.Second), Fault: Fault{Mode: Hang}},
		{From: dur(50 * time.Second), To: dur(60 * time.Second), Fault: Fault{Mode: Empty}},
		{From: dur(60 * time.Second), To: dur(70 * time.Second), Fault: Fault{Mode: InbandError}},
		{From: dur(70 * time.Second), To: dur(80 * time.Second), Fault: Fault{Mode: Slow, Latency: dur(50 * time.Millisecond)}},
	}}
	status := func(t *testing.T, r result, want int) {
		t.Helper()
		if r.err != nil || r.resp.StatusCode != want {
			t.Fatalf("status %v, err %v: want %d", r.resp, r.err, want)
		}
	}
	type check func(t *testing.T, r result, took time.Duration)
	tests := []struct {
		name    string
		dialect string
		at      time.Duration
		path    string
		body    string
		client  time.Duration // gives up after this long; 0: never
		check   check
	}{
		// OpenAI: the modes TestFaults does not cover.
		{"down 529", "openai", 5 * time.Second, "/v1/chat/completions", chatBody("x", ""), 0, func(t *testing.T, r result, _ time.Duration) {
			status(t, r, 529)
			checkError(t, r.body, "server_error")
		}},
		{"inband_error stream", "openai", 65 * time.Second, "/v1/chat/completions", chatBody("x", `,"stream":true`), 0, func(t *testing.T, r result, _ time.Duration) {
			status(t, r, 200)
			events := readSSE(t, r.body)
			if len(events) != 1 {
				t.Fatalf("events %q: want the error alone", events)
			}
			e := gjson.Get(events[0], "error")
			if e.Get("message").Str == "" || e.Get("type").Str != "server_error" || e.Get("code").Str != "overloaded" || gjson.Get(events[0], "choices").Exists() {
				t.Errorf("event %s", events[0])
			}
		}},
		{"inband_error call", "openai", 65 * time.Second, "/v1/chat/completions", chatBody("x", ""), 0, func(t *testing.T, r result, _ time.Duration) {
			status(t, r, 500)
			checkError(t, r.body, "server_error")
		}},
		{"inband_error embeddings", "openai", 65 * time.Second, "/v1/embeddings", `{"model":"e","input":"x","stream":true}`, 0, func(t *testing.T, r result, _ time.Duration) {
			status(t, r, 500)
			checkError(t, r.body, "server_error")
		}},
		{"cut_stream tool call", "openai", 35 * time.Second, "/v1/chat/completions",
			chatBody("x", `,"stream":true,"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required"`), 0, func(t *testing.T, r result, _ time.Duration) {
				if r.resp == nil || r.resp.StatusCode != http.StatusOK || !errors.Is(r.err, io.ErrUnexpectedEOF) {
					t.Fatalf("status %v, err %v: want 200 then an unexpected EOF", r.resp, r.err)
				}
				if events := readSSE(t, r.body); len(events) != 2 || gjson.Get(events[1], "choices.0.delta.tool_calls.0.function.arguments").Str != "{}" {
					t.Errorf("events %q: want the head and the arguments", events)
				}
			}},

		// Anthropic: every mode.
		{"down 529", "anthropic", 5 * time.Second, "/v1/messages", messagesBody("x", ""), 0, func(t *testing.T, r result, _ time.Duration) {
			status(t, r, 529)
			checkAnthropicError(t, r.body, "overloaded_error")
		}},
		{"down", "anthropic", 25 * time.Second, "/v1/messages", messagesBody("x", ""), 0, func(t *testing.T, r result, _ time.Duration) {
			status(t, r, 503)
			checkAnthropicError(t, r.body, "api_error")
		}},
		{"down models", "anthropic", 25 * time.Second, "/v1/models", "", 0, func(t *testing.T, r result, _ time.Duration) {
			status(t, r, 503)
			checkAnthropicError(t, r.body, "api_error")
		}},
		{"rate_limit", "anthropic", 15 * time.Second, "/v1/messages", messagesBody("x", ""), 0, func(t *testing.T, r result, _ time.Duration) {
			status(t, r, 429)
			checkAnthropicError(t, r.body, "rate_limit_error")
			h := r.resp.Header
			if h.Get("Retry-After") != "2" || h.Get("Anthropic-Ratelimit-Requests-Remaining") != "0" ||
				h.Get("Anthropic-Ratelimit-Requests-Reset") != "2026-03-01T12:00:16Z" || h.Get("X-Ratelimit-Remaining-Requests") != "" {
				t.Errorf("headers %v", h)
			}
		}},
		{"cut_stream stream", "anthropic", 35 * time.Second, "/v1/messages", messagesBody("x", `,"stream":true`), 0, func(t *testing.T, r result, _ time.Duration) {
			if r.resp == nil || r.resp.StatusCode != http.StatusOK || !errors.Is(r.err, io.ErrUnexpectedEOF) {
				t.Fatalf("status %v, err %v: want 200 then an unexpected EOF", r.resp, r.err)
			}
			events := readEvents(t, r.body)
			if got, want := names(events), []string{"message_start", "content_block_start", "ping", "content_block_delta"}; !slices.Equal(got, want) {
				t.Errorf("events %q, want %q", got, want)
			}
		}},
		{"cut_stream call", "anthropic", 35 * time.Second, "/v1/messages", messagesBody("x", ""), 0, func(t *testing.T, r result, _ time.Duration) {
			if r.resp != nil || r.err == nil {
				t.Errorf("status %v, err %v: want the connection closed without an answer", r.resp, r.err)
			}
		}},
		{"hang", "anthropic", 45 * time.Second, "/v1/messages", messagesBody("x", ""), 100 * time.Millisecond, func(t *testing.T, r result, _ time.Duration) {
			if !errors.Is(r.err, context.DeadlineExceeded) {
				t.Errorf("status %v, err %v: want the client to give up", r.resp, r.err)
			}
		}},
		{"empty", "anthropic", 55 * time.Second, "/v1/messages", messagesBody("x", ""), 0, func(t *testing.T, r result, _ time.Duration) {
			status(t, r, 200)
			j := gjson.ParseBytes(r.body)
			if j.Get("content").Raw != "[]" || j.Get("usage.output_tokens").Int() != 0 || j.Get("type").Str != "message" {
				t.Errorf("body %s: want no content", r.body)
			}
		}},
		{"empty stream", "anthropic", 55 * time.Second, "/v1/messages", messagesBody("x", `,"stream":true`), 0, func(t *testing.T, r result, _ time.Duration) {
			status(t, r, 200)
			events := readEvents(t, r.body)
			if got, want := names(events), []string{"message_start", "message_stop"}; !slices.Equal(got, want) {
				t.Errorf("events %q, want %q", got, want)
			}
		}},
		{"empty models", "anthropic", 55 * time.Second, "/v1/models", "", 0, func(t *testing.T, r result, _ time.Duration) {
			status(t, r, 200)
			if j := gjson.ParseBytes(r.body); j.Get("data").Raw != "[]" || j.Get("first_id").Type != gjson.Null {
				t.Errorf("body %s", r.body)
			}
		}},
		{"inband_error stream", "anthropic", 65 * time.Second, "/v1/messages", messagesBody("x", `,"stream":true`), 0, func(t *testing.T, r result, _ time.Duration) {
			status(t, r, 200)
			events := readEvents(t, r.body)
			if len(events) != 1 || events[0].name != "error" ||
				events[0].data != `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}` {
				t.Errorf("events %q: want the error alone", events)
			}
		}},
		{"inband_error call", "anthropic", 65 * time.Second, "/v1/messages", messagesBody("x", ""), 0, func(t *testing.T, r result, _ time.Duration) {
			status(t, r, 500)
			checkAnthropicError(t, r.body, "api_error")
		}},
		{"slow", "anthropic", 75 * time.Second, "/v1/messages", messagesBody("x", ""), 0, func(t *testing.T, r result, took time.Duration) {
			status(t, r, 200)
			if took < 50*time.Millisecond {
				t.Errorf("answered after %s, want at least the added 50ms", took)
			}
		}},
		{"cut_stream tool call", "anthropic", 35 * time.Second, "/v1/messages",
			messagesBody("x", `,"stream":true,"tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"any"}`), 0, func(t *testing.T, r result, _ time.Duration) {
				if !errors.Is(r.err, io.ErrUnexpectedEOF) {
					t.Fatalf("err %v: want an unexpected EOF", r.err)
				}
				events := readEvents(t, r.body)
				if len(events) != 4 || gjson.Get(events[3].data, "delta.partial_json").Str != "{}" {
					t.Errorf("events %q: want the stream cut after the input", events)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.dialect+" "+tt.name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewFake(epoch)
			srv := NewServer(&Spec{Dialect: tt.dialect, Schedule: schedule}, clk)
			clk.Advance(tt.at)
			ts := httptest.NewServer(srv)
			defer ts.Close()
			ctx := t.Context()
			if tt.client > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.client)
				defer cancel()
			}
			method := http.MethodPost
			if tt.body == "" {
				method = http.MethodGet
			}
			start := time.Now()
			r := call(ctx, t, method, ts.URL+tt.path, tt.body)
			tt.check(t, r, time.Since(start))
		})
	}
}

func TestAnthropicErrorRate(t *testing.T) {
	t.Parallel()
	ts := serve(t, anthropicSpec(Spec{ErrorRate: 1}), clock.NewFake(epoch))
	r := call(t.Context(), t, http.MethodPost, ts.URL+"/v1/messages", messagesBody("x", ""))
	if r.err != nil || r.resp.StatusCode != 503 {
		t.Fatalf("status %v, err %v", r.resp, r.err)
	}
	checkAnthropicError(t, r.body, "api_error")
}

// TestAnthropicProvider: with dialect anthropic, the provider says so and
// its calls go through the anthropic kind to /v1/messages.
func TestAnthropicProvider(t *testing.T) {
	t.Parallel()
	p := newProvider(t, anthropicSpec(Spec{Seed: 5, TokensPerSecond: 1000}))
	if got, want := p.Info(), (provider.Info{Dialect: provider.Anthropic, DefaultMaxTokens: 4096}); got != want {
		t.Errorf("Info() = %+v, want %+v", got, want)
	}
	if got := newProvider(t, &Spec{}).Info(); got != (provider.Info{Dialect: provider.OpenAI}) {
		t.Errorf("openai dialect: Info() = %+v", got)
	}
	tests := []struct {
		name  string
		call  provider.Call
		check func(t *testing.T, b []byte)
	}{
		{"messages", provider.Call{Endpoint: provider.ChatCompletions, Model: "m", Body: []byte(messagesBody("hi", ""))}, func(t *testing.T, b []byte) {
			if gjson.GetBytes(b, "content.0.text").Str == "" {
				t.Errorf("answer %s", b)
			}
		}},
		{"stream", provider.Call{Endpoint: provider.ChatCompletions, Model: "m", Stream: true, Body: []byte(messagesBody("hi", `,"stream":true`))}, func(t *testing.T, b []byte) {
			if events := readEvents(t, b); events[len(events)-1].name != "message_stop" {
				t.Errorf("stream ends with %q", events[len(events)-1].name)
			}
		}},
		{"models", provider.Call{Endpoint: provider.Models}, func(t *testing.T, b []byte) {
			if gjson.GetBytes(b, "data.0.type").Str != "model" {
				t.Errorf("answer %s", b)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.call.RequestID = "req-" + tt.name
			resp, err := p.Do(t.Context(), &tt.call)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, err %v: %s", resp.StatusCode, err, b)
			}
			if id := resp.Header.Get("Request-Id"); id != tt.call.RequestID {
				t.Errorf("request-id = %q, want %q", id, tt.call.RequestID)
			}
			tt.check(t, b)
		})
	}
	resp, err := p.Do(t.Context(), &provider.Call{Endpoint: provider.Embeddings, Body: []byte(`{"model":"e","input":"x"}`)})
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("embeddings: %v, want errors.ErrUnsupported", err)
	}
}

// TestMessagesCancel: the anthropic stream's waits end when the client leaves.
func TestMessagesCancel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		spec         *Spec
		extra        string
		afterHeaders bool // reads the first event before leaving
	}{
		{"waiting for the headers", anthropicSpec(Spec{Latency: dur(time.Hour)}), "", false},
		{"between tokens", anthropicSpec(Spec{TokensPerSecond: 0.001}), "", true},
		{"before a tool's input", anthropicSpec(Spec{TTFT: dur(time.Hour)}), `,"tools":[{"name":"f"}],"tool_choice":{"type":"any"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := NewServer(tt.spec, clock.NewFake(epoch))
			entered, done := make(chan struct{}), make(chan struct{})
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(done)
				close(entered)
				srv.ServeHTTP(w, r)
			}))
			defer ts.Close()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			body := messagesBody("x", `,"stream":true`+tt.extra)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/v1/messages", strings.NewReader(body))
			go func() {
				<-entered
				if !tt.afterHeaders {
					cancel()
				}
			}()
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				line, _ := bufio.NewReader(resp.Body).ReadString('\n')
				if line != "event: message_start\n" {
					t.Errorf("first line %q", line)
				}
				cancel()
				resp.Body.Close()
			}
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the handler still runs after the client left")
			}
		})
	}
}
