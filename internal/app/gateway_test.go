package app_test

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

const chatBody = `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`

// TestAdmission: with 2 requests in flight and 1 queued, further requests
// are refused at once with a 503 the OpenAI clients understand; the queued
// one is served when a slot frees.
func TestAdmission(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	up := newUpstream(t, "primary", blockUntil(release))
	r := startRelais(t, topology{Primary: up.url(), Backup: up.url(),
		Limits: "{max_in_flight: 2, queue: 1, queue_timeout: 2s}"}.yaml())

	type result struct {
		status     int
		retryAfter string
		body       []byte
		err        error
	}
	const n = 6
	results := make(chan result, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+r.addr+"/v1/chat/completions", strings.NewReader(chatBody))
			if err != nil {
				results <- result{err: err}
				return
			}
			req.Header.Set("Authorization", "Bearer "+testKey)
			resp, err := r.http.Do(req)
			if err != nil {
				results <- result{err: err}
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			results <- result{resp.StatusCode, resp.Header.Get("Retry-After"), body, err}
		})
	}
	released := false
	defer func() {
		if !released {
			close(release)
		}
		wg.Wait()
	}()

	// The three beyond capacity are refused without waiting for a slot.
	for range 3 {
		res := <-results
		if res.err != nil || res.status != http.StatusServiceUnavailable {
			t.Fatalf("a request beyond capacity got %d %s (%v), want 503", res.status, res.body, res.err)
		}
		if ra, err := strconv.Atoi(res.retryAfter); err != nil || ra < 1 {
			t.Errorf("Retry-After %q, want a number of seconds", res.retryAfter)
		}
		// "queue full", not a queue timeout: they were refused without waiting.
		if e := decodeError(t, res.body); e.Code != "overloaded" || e.Type != "server_error" || !strings.Contains(e.Message, "queue full") {
			t.Errorf("refusal %+v, want code overloaded, type server_error, for a full queue", e)
		}
	}
	// Two hold the slots at the provider; the third waits in the queue.
	eventually(t, "2 requests at the provider and 1 in the queue", func() bool {
		return up.requests() == 2 && r.metric(t, "relais_queued_requests") == 1 && r.metric(t, "relais_in_flight_requests") == 2
	})
	close(release)
	released = true
	for range 3 {
		if res := <-results; res.err != nil || res.status != http.StatusOK {
			t.Errorf("an admitted request got %d %s (%v), want 200", res.status, res.body, res.err)
		}
	}
	if got := up.requests(); got != 3 {
		t.Errorf("the provider got %d requests, want 3", got)
	}
	if got := r.metric(t, "relais_rejected_requests_total", `reason="overloaded"`); got != 3 {
		t.Errorf("relais_rejected_requests_total{reason=overloaded} = %v, want 3", got)
	}
}

// TestClientKeys: keys authenticate (Authorization: Bearer or x-api-key),
// a wrong key gets an OpenAI-shaped 401, and a key's rpm limit answers 429
// with Retry-After and OpenAI's x-ratelimit-* headers.
func TestClientKeys(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, "primary", answer)
	r := startRelais(t, topology{Primary: up.url(), Backup: up.url(), Extra: `keys:
  - {name: team, key: ` + testKey + `}
  - {name: limited, key: sk-limited, rpm: 2}
`}.yaml())

	t.Run("wrong key", func(t *testing.T) {
		c := r.client(t, option.WithAPIKey("sk-wrong"))
		_, err := c.Chat.Completions.New(t.Context(), chatParams("chat"))
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || apiErr.Code != "invalid_api_key" || apiErr.Type != "invalid_request_error" {
			t.Errorf("err = %v, want a 401 invalid_api_key", err)
		}
		resp, body := r.do(t, http.MethodPost, "/v1/chat/completions", chatBody)
		if e := decodeError(t, body); resp.StatusCode != http.StatusUnauthorized || e.Code != "invalid_api_key" {
			t.Errorf("no key: %d %+v, want 401 invalid_api_key", resp.StatusCode, e)
		}
	})
	t.Run("x-api-key", func(t *testing.T) {
		resp, body := r.do(t, http.MethodPost, "/v1/chat/completions", chatBody, "X-Api-Key", testKey)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), up.content()) {
			t.Errorf("x-api-key: %d %s, want 200 with the answer", resp.StatusCode, body)
		}
	})
	t.Run("rpm", func(t *testing.T) {
		before := up.requests()
		for i := range 2 {
			resp, body := r.do(t, http.MethodPost, "/v1/chat/completions", chatBody, "Authorization", "Bearer sk-limited")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("request %d within rpm: %d %s", i+1, resp.StatusCode, body)
			}
			if got := resp.Header.Get("X-Ratelimit-Remaining-Requests"); got != strconv.Itoa(1-i) {
				t.Errorf("request %d: x-ratelimit-remaining-requests %q, want %d", i+1, got, 1-i)
			}
		}
		resp, body := r.do(t, http.MethodPost, "/v1/chat/completions", chatBody, "Authorization", "Bearer sk-limited")
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("third request: %d %s, want 429", resp.StatusCode, body)
		}
		if e := decodeError(t, body); e.Code != "rate_limit_exceeded" || e.Type != "requests" {
			t.Errorf("429 body %+v, want code rate_limit_exceeded, type requests", e)
		}
		h := resp.Header
		if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
			t.Errorf("Retry-After %q, want 1..60 seconds", h.Get("Retry-After"))
		}
		if h.Get("X-Ratelimit-Limit-Requests") != "2" || h.Get("X-Ratelimit-Remaining-Requests") != "0" || h.Get("X-Ratelimit-Reset-Requests") == "" {
			t.Errorf("x-ratelimit headers: limit %q remaining %q reset %q; want 2, 0, a duration",
				h.Get("X-Ratelimit-Limit-Requests"), h.Get("X-Ratelimit-Remaining-Requests"), h.Get("X-Ratelimit-Reset-Requests"))
		}
		if got := up.requests() - before; got != 2 {
			t.Errorf("the provider got %d requests from the limited key, want 2", got)
		}
		// The SDK reads the refusal as a rate limit too.
		c := r.client(t, option.WithAPIKey("sk-limited"))
		_, err := c.Chat.Completions.New(t.Context(), chatParams("chat"))
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests || apiErr.Code != "rate_limit_exceeded" {
			t.Errorf("SDK: err = %v, want a 429 rate_limit_exceeded", err)
		}
		// Another key is not limited by this one.
		if resp, _ := r.do(t, http.MethodPost, "/v1/chat/completions", chatBody, "Authorization", "Bearer "+testKey); resp.StatusCode != http.StatusOK {
			t.Errorf("the unlimited key got %d", resp.StatusCode)
		}
	})
}

// TestBadInput: requests relais refuses itself, each with an OpenAI error,
// and the other endpoints through the SDK.
func TestBadInput(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, "primary", answer)
	r := startRelais(t, topology{Primary: up.url(), Backup: up.url(), Extra: "max_body_size: 1KiB",
		Routes: `  - model: chat
    targets:
      - {provider: primary, model: primary-model}
  - model: embed
    targets:
      - {provider: backup, model: embed-model}`}.yaml())
	auth := []string{"Authorization", "Bearer " + testKey, "Content-Type", "application/json"}

	t.Run("body over max_body_size", func(t *testing.T) {
		big := `{"model":"chat","messages":[{"role":"user","content":"` + strings.Repeat("a", 2048) + `"}]}`
		resp, body := r.do(t, http.MethodPost, "/v1/chat/completions", big, auth...)
		if e := decodeError(t, body); resp.StatusCode != http.StatusRequestEntityTooLarge || e.Code != "request_too_large" || !strings.Contains(e.Message, "1024") {
			t.Errorf("%d %+v, want 413 request_too_large naming the limit", resp.StatusCode, e)
		}
	})
	t.Run("malformed JSON", func(t *testing.T) {
		resp, body := r.do(t, http.MethodPost, "/v1/chat/completions", `{"model":"chat","messages":[}`, auth...)
		e := decodeError(t, body)
		if resp.StatusCode != http.StatusBadRequest || e.Type != "invalid_request_error" || !strings.Contains(e.Message, "not valid JSON") || !strings.Contains(e.Message, "column") {
			t.Errorf("%d %+v, want 400 saying where the JSON breaks", resp.StatusCode, e)
		}
	})
	t.Run("missing model", func(t *testing.T) {
		resp, body := r.do(t, http.MethodPost, "/v1/chat/completions", `{"messages":[]}`, auth...)
		if e := decodeError(t, body); resp.StatusCode != http.StatusBadRequest || !strings.Contains(e.Message, "model") {
			t.Errorf("%d %+v, want 400 about the model", resp.StatusCode, e)
		}
	})
	t.Run("unknown model", func(t *testing.T) {
		c := r.client(t)
		_, err := c.Chat.Completions.New(t.Context(), chatParams("gpt-nope"))
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || apiErr.Code != "model_not_found" || !strings.Contains(apiErr.Message, "gpt-nope") {
			t.Errorf("err = %v, want 404 model_not_found", err)
		}
	})
	t.Run("embeddings", func(t *testing.T) {
		c := r.client(t)
		emb, err := c.Embeddings.New(t.Context(), openai.EmbeddingNewParams{
			Model: "embed",
			Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(emb.Data) != 1 || !slices.Equal(emb.Data[0].Embedding, []float64{0.25, -0.5, 1}) || emb.Model != up.model {
			t.Errorf("embeddings %+v", emb)
		}
		if last := up.last(); last.Path != "/v1/embeddings" || last.Model != "embed-model" {
			t.Errorf("provider saw %+v, want /v1/embeddings for embed-model", last)
		}
	})
	t.Run("models", func(t *testing.T) {
		c := r.client(t)
		ids := modelIDs(t, c)
		if !slices.Equal(ids, []string{"chat", "embed"}) {
			t.Errorf("models %v, want the routes [chat embed]", ids)
		}
	})
	t.Run("unknown path", func(t *testing.T) {
		resp, body := r.do(t, http.MethodPost, "/v1/completions", chatBody, auth...)
		if e := decodeError(t, body); resp.StatusCode != http.StatusNotFound || e.Code != "unknown_url" {
			t.Errorf("%d %+v, want 404 unknown_url", resp.StatusCode, e)
		}
	})
}

// TestSimProvider: a `type: sim` provider answers through the whole path,
// plain and streaming, for the official client.
func TestSimProvider(t *testing.T) {
	t.Parallel()
	r := startRelais(t, `listen: 127.0.0.1:0
admin:
  listen: 127.0.0.1:0
providers:
  - name: sim
    type: sim
    seed: 7
routes:
  - model: chat
    targets:
      - {provider: sim, model: sim-chat}
timeouts: {request: 10s, attempt: 5s, connect: 1s, header: 5s, first_token: 5s, idle: 5s}
`)
	c := r.client(t)
	whole := chat(t, c, false, chatParams("chat"))
	if whole.err != nil || whole.content == "" || whole.servedBy() != "sim" {
		t.Fatalf("plain: err %v, content %q, served by %q", whole.err, whole.content, whole.servedBy())
	}
	streamed := chat(t, c, true, chatParams("chat"))
	if streamed.err != nil || streamed.content == "" || streamed.servedBy() != "sim" {
		t.Fatalf("stream: err %v, content %q, served by %q", streamed.err, streamed.content, streamed.servedBy())
	}
	if streamed.content != whole.content {
		t.Errorf("streamed %q, plain %q: the sim's text for one prompt and seed should not depend on streaming", streamed.content, whole.content)
	}
	for _, ch := range streamed.chunks {
		if len(ch.Choices) == 0 && ch.JSON.Usage.Valid() {
			t.Errorf("a usage chunk the client did not ask for reached it: %s", ch.RawJSON())
		}
	}
}
