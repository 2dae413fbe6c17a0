package app_test

// Helpers of the end-to-end tests: a relais built from a YAML string and
// running on loopback, fake OpenAI providers that fail on cue and count what
// they receive, and the official openai-go client pointed at relais.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/relais/relais/internal/app"
	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/provider/registry"
)

var showLogs = flag.Bool("relais.log", false, "write the logs of the relais under test to the test output")

// testKey is the client key of the configs that declare keys; on open
// gateways any key goes.
const testKey = "sk-relais-test"

// relais is one running app under test.
type relais struct {
	app   *app.App
	addr  string // gateway host:port
	admin string // admin host:port
	http  *http.Client
}

// startRelais builds a relais from yaml, starts it on loopback and stops it
// when the test ends.
func startRelais(t *testing.T, yaml string) *relais {
	t.Helper()
	return startRelaisWith(t, yaml, app.Options{})
}

// startRelaisWith is startRelais with options (a fake clock); the logger is the tests'.
func startRelaisWith(t *testing.T, yaml string, opts app.Options) *relais {
	t.Helper()
	opts.Logger = testLogger(t)
	a, err := app.New(parseConfig(t, yaml), opts)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return &relais{app: a, addr: a.GatewayAddr(), admin: a.AdminAddr(), http: newHTTPClient(t)}
}

func parseConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), registry.Specs())
	if err != nil {
		t.Fatalf("config.Parse: %v\n%s", err, yaml)
	}
	if cfg.DataDir == "./data" { // the default: keep history out of the source tree
		cfg.DataDir = t.TempDir()
	}
	return cfg
}

func testLogger(t *testing.T) *slog.Logger {
	if !*showLogs {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newHTTPClient returns a client with its own transport, whose idle
// connections close when the test ends (before relais stops), so goleak sees
// no keep-alive goroutines.
func newHTTPClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// client returns the official OpenAI client pointed at relais, with the SDK's
// own retries off so that every retry seen is relais's.
func (r *relais) client(t *testing.T, opts ...option.RequestOption) openai.Client {
	t.Helper()
	base := []option.RequestOption{
		option.WithBaseURL("http://" + r.addr + "/v1"),
		option.WithAPIKey(testKey),
		option.WithMaxRetries(0),
		option.WithHTTPClient(newHTTPClient(t)),
	}
	return openai.NewClient(append(base, opts...)...)
}

// do sends a raw request to the gateway. headers are name, value pairs.
func (r *relais) do(t *testing.T, method, path, body string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	return doHTTP(t, r.http, method, "http://"+r.addr+path, body, headers...)
}

// adminDo sends a request to the admin listener.
func (r *relais) adminDo(t *testing.T, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	return doHTTP(t, r.http, method, "http://"+r.admin+path, body, "Content-Type", "application/json")
}

func doHTTP(t *testing.T, c *http.Client, method, url, body string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return resp, b
}

// breakers returns the breaker state of each target ("provider/model") as
// the admin API shows it.
func (r *relais) breakers(t *testing.T) map[string]string {
	t.Helper()
	resp, body := r.adminDo(t, http.MethodGet, "/admin/api/targets", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/api/targets: %d %s", resp.StatusCode, body)
	}
	var out struct {
		Targets []struct {
			Provider string `json:"provider"`
			Model    string `json:"model"`
			Breaker  string `json:"breaker"`
		} `json:"targets"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("GET /admin/api/targets: %v: %s", err, body)
	}
	m := make(map[string]string, len(out.Targets))
	for _, tg := range out.Targets {
		m[tg.Provider+"/"+tg.Model] = tg.Breaker
	}
	return m
}

// metric returns the value of the series of name whose labels include every
// label="value" given, summed, from the admin listener's /metrics.
func (r *relais) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	resp, body := r.adminDo(t, http.MethodGet, "/metrics", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	var sum float64
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(line, l)
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// topology is the usual config of these tests: one route "chat" whose first
// choice is provider "primary" (model primary-model) and whose fallback is
// provider "backup" (model backup-model), both `type: openai`. Every section
// left empty gets a value that keeps the tests fast and the breaker out of
// the way.
type topology struct {
	Primary, Backup string // base URLs
	Timeouts        string // flow mappings, e.g. "{attempt: 300ms}"
	Retries         string
	Breaker         string
	Limits          string
	Routes          string // replaces the routes section
	Extra           string // more top-level YAML (keys, max_body_size)
}

func (tp topology) yaml() string {
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	return fmt.Sprintf(`listen: 127.0.0.1:0
admin:
  listen: 127.0.0.1:0
providers:
  - name: primary
    type: openai
    base_url: %s
    api_key: sk-upstream-primary
  - name: backup
    type: openai
    base_url: %s
    api_key: sk-upstream-backup
routes:
%s
timeouts: %s
retries: %s
breaker: %s
limits: %s
%s
`, tp.Primary, tp.Backup,
		or(tp.Routes, `  - model: chat
    targets:
      - {provider: primary, model: primary-model}
      - {provider: backup, model: backup-model}`),
		or(tp.Timeouts, "{request: 10s, attempt: 5s, connect: 1s, header: 5s, first_token: 5s, idle: 5s}"),
		or(tp.Retries, "{attempts: 2, backoff: 20ms, max_backoff: 50ms, max_retry_after: 3s}"),
		or(tp.Breaker, "{min_requests: 1000, failure_ratio: 0.5, window: 10s, open_for: 30s}"),
		or(tp.Limits, "{max_in_flight: 64, queue: 16, queue_timeout: 2s}"),
		tp.Extra)
}

// closedAddr returns a loopback address nothing listens on: connecting to it
// is refused.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// --- fake providers ---

// seenRequest is what a fake provider noted of one request.
type seenRequest struct {
	Path         string
	Model        string
	Stream       bool
	IncludeUsage bool
	Auth         string
	Body         []byte
}

// behaviour answers one request; n counts the provider's requests from 1.
type behaviour func(u *upstream, w http.ResponseWriter, r *http.Request, req seenRequest, n int64)

// upstream is a fake OpenAI provider on loopback.
type upstream struct {
	name  string
	model string // the model its answers report
	srv   *httptest.Server
	calls atomic.Int64
	do    atomic.Pointer[behaviour]
	quit  chan struct{} // closed at cleanup: hanging handlers return

	mu   sync.Mutex
	seen []seenRequest
}

// newUpstream starts a fake provider that answers with b.
func newUpstream(t *testing.T, name string, b behaviour) *upstream {
	t.Helper()
	u := &upstream{name: name, model: name + "-reported-model", quit: make(chan struct{})}
	u.set(b)
	u.srv = httptest.NewServer(u)
	t.Cleanup(func() {
		close(u.quit)
		u.srv.Close()
	})
	return u
}

// url is the base URL to configure (it ends before /chat/completions).
func (u *upstream) url() string { return u.srv.URL + "/v1" }

func (u *upstream) set(b behaviour) { u.do.Store(&b) }

// requests returns how many requests reached the provider.
func (u *upstream) requests() int { return int(u.calls.Load()) }

func (u *upstream) last() seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		return seenRequest{}
	}
	return u.seen[len(u.seen)-1]
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var in struct {
		Model         string `json:"model"`
		Stream        bool   `json:"stream"`
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	_ = json.Unmarshal(body, &in)
	req := seenRequest{Path: r.URL.Path, Model: in.Model, Stream: in.Stream,
		IncludeUsage: in.StreamOptions.IncludeUsage, Auth: r.Header.Get("Authorization"), Body: body}
	u.mu.Lock()
	u.seen = append(u.seen, req)
	u.mu.Unlock()
	n := u.calls.Add(1)
	(*u.do.Load())(u, w, r, req, n)
}

// content is what a fake provider answers.
func (u *upstream) content() string { return "Hello from " + u.name + "." }

// answer is a healthy provider: a completion, a stream or embeddings.
func answer(u *upstream, w http.ResponseWriter, r *http.Request, req seenRequest, _ int64) {
	switch strings.TrimPrefix(r.URL.Path, "/v1") {
	case "/chat/completions":
		if req.Stream {
			writeStream(w, u.model, []string{"Hello", " from ", u.name, "."}, req.IncludeUsage)
			return
		}
		writeCompletion(w, u.model, u.content())
	case "/embeddings":
		writeJSON(w, http.StatusOK, map[string]any{
			"object": "list", "model": u.model,
			"data":  []any{map[string]any{"object": "embedding", "index": 0, "embedding": []float64{0.25, -0.5, 1}}},
			"usage": map[string]int{"prompt_tokens": 2, "total_tokens": 2},
		})
	default:
		writeJSON(w, http.StatusNotFound, openAIErrorBody("unknown url "+r.URL.Path, "invalid_request_error", "unknown_url"))
	}
}

// fail answers status with body; headers are name, value pairs.
func fail(status int, body string, headers ...string) behaviour {
	return func(_ *upstream, w http.ResponseWriter, _ *http.Request, _ seenRequest, _ int64) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// hang never answers: the request ends when relais gives up on it.
func hang(u *upstream, _ http.ResponseWriter, r *http.Request, _ seenRequest, _ int64) {
	select {
	case <-r.Context().Done():
	case <-u.quit:
	}
}

// silentAfterHeaders sends 200 and its headers, then nothing.
func silentAfterHeaders(u *upstream, w http.ResponseWriter, r *http.Request, req seenRequest, n int64) {
	if req.Stream {
		sseHeader(w)
	} else {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		flush(w)
	}
	hang(u, w, r, req, n)
}

// cutBeforeFirstChunk opens a stream (200, text/event-stream) and drops the
// connection before any data event.
func cutBeforeFirstChunk(_ *upstream, w http.ResponseWriter, _ *http.Request, _ seenRequest, _ int64) {
	sseHeader(w)
	panic(http.ErrAbortHandler)
}

// cutBody sends the start of a completion and drops the connection.
func cutBody(_ *upstream, w http.ResponseWriter, _ *http.Request, _ seenRequest, _ int64) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"id":"chatcmpl-cut","object":"chat.completion","choi`)
	flush(w)
	panic(http.ErrAbortHandler)
}

// errorEventFirst opens a stream whose first event is an error.
func errorEventFirst(_ *upstream, w http.ResponseWriter, _ *http.Request, _ seenRequest, _ int64) {
	sseHeader(w)
	writeEvent(w, `{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}`)
}

// firstChunkThen sends a role chunk and one content chunk, then cuts the
// connection (cut) or ends the response without finishing the answer.
func firstChunkThen(cut bool) behaviour {
	return func(u *upstream, w http.ResponseWriter, _ *http.Request, _ seenRequest, _ int64) {
		sseHeader(w)
		writeEvent(w, chunkJSON(u.model, map[string]any{"role": "assistant", "content": ""}, nil))
		writeEvent(w, chunkJSON(u.model, map[string]any{"content": "Hel"}, nil))
		if cut {
			panic(http.ErrAbortHandler)
		}
	}
}

// blockUntil answers once release is closed.
func blockUntil(release <-chan struct{}) behaviour {
	return func(u *upstream, w http.ResponseWriter, r *http.Request, req seenRequest, n int64) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		case <-u.quit:
			return
		}
		answer(u, w, r, req, n)
	}
}

// --- OpenAI-shaped writers ---

func flush(w http.ResponseWriter) { _ = http.NewResponseController(w).Flush() }

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func openAIErrorBody(msg, typ, code string) map[string]any {
	return map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}}
}

func errorJSON(msg, typ, code string) string {
	b, _ := json.Marshal(openAIErrorBody(msg, typ, code))
	return string(b)
}

var usageJSON = map[string]int{"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}

func writeCompletion(w http.ResponseWriter, model, content string) {
	writeJSON(w, http.StatusOK, map[string]any{
		"id": "chatcmpl-test", "object": "chat.completion", "created": 1764158400, "model": model,
		"choices": []any{map[string]any{
			"index": 0, "message": map[string]any{"role": "assistant", "content": content, "refusal": nil},
			"logprobs": nil, "finish_reason": "stop",
		}},
		"usage": usageJSON,
	})
}

func sseHeader(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flush(w)
}

func writeEvent(w http.ResponseWriter, data string) {
	_, _ = io.WriteString(w, "data: "+data+"\n\n")
	flush(w)
}

// chunkJSON is one chat.completion.chunk with one choice.
func chunkJSON(model string, delta map[string]any, finish any) string {
	b, _ := json.Marshal(map[string]any{
		"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1764158400, "model": model,
		"choices": []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}},
	})
	return string(b)
}

// writeStream writes an answer as OpenAI streams it: a role chunk, content
// chunks, a finish chunk, the usage chunk when asked for, then [DONE].
func writeStream(w http.ResponseWriter, model string, words []string, withUsage bool) {
	sseHeader(w)
	writeEvent(w, chunkJSON(model, map[string]any{"role": "assistant", "content": ""}, nil))
	for _, word := range words {
		writeEvent(w, chunkJSON(model, map[string]any{"content": word}, nil))
	}
	writeEvent(w, chunkJSON(model, map[string]any{}, "stop"))
	if withUsage {
		b, _ := json.Marshal(map[string]any{
			"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1764158400, "model": model,
			"choices": []any{}, "usage": usageJSON,
		})
		writeEvent(w, string(b))
	}
	writeEvent(w, "[DONE]")
}

// --- client side ---

func chatParams(model string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello.")},
	}
}

// reply is what the SDK got from relais.
type reply struct {
	header  http.Header
	model   string
	content string
	chunks  []openai.ChatCompletionChunk
	err     error
	elapsed time.Duration
}

// chat calls relais through the SDK, streaming or not.
func chat(t *testing.T, c openai.Client, stream bool, p openai.ChatCompletionNewParams) reply {
	t.Helper()
	var resp *http.Response
	var r reply
	start := time.Now()
	if stream {
		s := c.Chat.Completions.NewStreaming(t.Context(), p, option.WithResponseInto(&resp))
		for s.Next() {
			ch := s.Current()
			r.chunks = append(r.chunks, ch)
			r.model = ch.Model
			for _, choice := range ch.Choices {
				r.content += choice.Delta.Content
			}
		}
		r.err = s.Err()
		_ = s.Close()
	} else {
		cc, err := c.Chat.Completions.New(t.Context(), p, option.WithResponseInto(&resp))
		r.err = err
		if err == nil {
			r.model = cc.Model
			if len(cc.Choices) > 0 {
				r.content = cc.Choices[0].Message.Content
			}
		}
	}
	r.elapsed = time.Since(start)
	if resp != nil {
		r.header = resp.Header
	}
	return r
}

func (r reply) servedBy() string { return r.header.Get("X-Relais-Provider") }
func (r reply) attempts() string { return r.header.Get("X-Relais-Attempts") }

// apiError is an answer body in OpenAI's error shape.
type apiError struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    string `json:"code"`
}

// decodeError checks that body is an OpenAI error and returns it.
func decodeError(t *testing.T, body []byte) apiError {
	t.Helper()
	var e struct {
		Error *apiError `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error == nil || e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("want an OpenAI error {\"error\":{\"message\",\"type\",\"code\"}}, got %s (%v)", body, err)
	}
	return *e.Error
}

// sseEvents splits a raw event stream into its data payloads.
func sseEvents(body []byte) []string {
	var out []string
	for _, ev := range strings.Split(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n\n") {
		var data []string
		for _, line := range strings.Split(ev, "\n") {
			if v, ok := strings.CutPrefix(line, "data:"); ok {
				data = append(data, strings.TrimPrefix(v, " "))
			}
		}
		if len(data) > 0 {
			out = append(out, strings.Join(data, "\n"))
		}
	}
	return out
}

// eventually polls cond until it holds or the time is up. It is for waiting
// on something concurrent to happen, never for timing.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// modelIDs lists the models the SDK's models.list returns.
func modelIDs(t *testing.T, c openai.Client) []string {
	t.Helper()
	page, err := c.Models.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	return ids
}
