package gateway

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/health"
	"github.com/relais/relais/internal/limit"
	"github.com/relais/relais/internal/provider"
	"github.com/relais/relais/internal/route"
)

var benchBody = []byte(`{"model":"chat","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Summarize our refund policy in two sentences."}],"temperature":0.2}`)

const benchAnswer = `{"id":"chatcmpl-123","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0123456789","choices":[{"index":0,"message":{"role":"assistant","content":"Refunds are issued within 14 days of purchase to the original payment method. Items must be returned unused and in their original packaging, and shipping costs are not refunded unless the item arrived damaged.","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":31,"completion_tokens":44,"total_tokens":75,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}`

// cannedProvider answers without a network, so benchmarks measure relais alone.
type cannedProvider struct {
	body   string
	stream string
}

func (c *cannedProvider) Name() string        { return "canned" }
func (c *cannedProvider) Info() provider.Info { return provider.Info{} }
func (c *cannedProvider) Close() error        { return nil }
func (c *cannedProvider) Do(_ context.Context, call *provider.Call) (*http.Response, error) {
	body, ct := c.body, "application/json"
	if call.Stream {
		body, ct = c.stream, "text/event-stream"
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {ct}}, Body: io.NopCloser(strings.NewReader(body))}, nil
}

func benchStream(chunks int) string {
	var b strings.Builder
	b.WriteString(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}` + "\n\n")
	for range chunks {
		b.WriteString(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":" token"},"finish_reason":null}],"usage":null}` + "\n\n")
	}
	b.WriteString(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}` + "\n\n")
	b.WriteString(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":31,"completion_tokens":44,"total_tokens":75}}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.String()
}

func benchGateway(b *testing.B, accessLog bool) (*Gateway, *health.Queue) {
	b.Helper()
	cfg := &config.Config{
		Keys:      []config.Key{{Name: "bench", Key: "sk-bench", RPM: 1 << 30, TPM: 1 << 30}},
		Providers: []config.Provider{{Name: "a", Type: "openai"}, {Name: "b", Type: "openai"}},
		Routes: []config.Route{{Model: "chat", Targets: []config.Target{
			{Provider: "a", Model: "gpt-4o-mini"}, {Provider: "b", Model: "llama3.1"}}}},
	}
	config.Defaults(cfg)
	p := &cannedProvider{body: benchAnswer, stream: benchStream(20)}
	clk := clock.Real{}
	keys, err := limit.NewKeys(cfg.Keys, clk)
	if err != nil {
		b.Fatal(err)
	}
	rt := &Runtime{
		Router:    route.NewRouter(cfg, map[string]provider.Provider{"a": p, "b": p}, route.NewStates(clk)),
		Keys:      keys,
		Admission: limit.NewAdmission(cfg.Limits.MaxInFlight, cfg.Limits.Queue, cfg.Limits.QueueTimeout.D()),
		Timeouts:  cfg.Timeouts, Retries: cfg.Retries, MaxBody: int64(cfg.MaxBodySize),
	}
	q := health.NewQueue(1<<16, nil)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if !accessLog {
		log = slog.New(slog.DiscardHandler)
	}
	return New(rt, q, NewMetrics(prometheus.NewRegistry()), log, clk), q
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the gateway and not a recorder.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Flush()                      {}

func benchServe(b *testing.B, body []byte, accessLog bool) {
	g, q := benchGateway(b, accessLog)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = q.Run(ctx) }()
	h := g.Handler()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	w := &discardWriter{h: make(http.Header)}
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer sk-bench")
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

// BenchmarkServeChat is one non-streaming request through the whole gateway
// (auth, admission, limits, peek, route, attempt, observation, metrics, access log).
func BenchmarkServeChat(b *testing.B) { benchServe(b, benchBody, true) }

// BenchmarkServeChatStream is the same with a 20-chunk stream copied event by event.
func BenchmarkServeChatStream(b *testing.B) {
	benchServe(b, bytes.Replace(benchBody, []byte(`"model":"chat"`), []byte(`"model":"chat","stream":true`), 1), true)
}

func BenchmarkPeek(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := peek(benchBody); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRewrite(b *testing.B) {
	p, _ := peek(benchBody)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rewrite(benchBody, "gpt-4o-mini", p, true); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadEvent(b *testing.B) {
	s := benchStream(20)
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	br := bufio.NewReaderSize(nil, 16<<10)
	var buf []byte
	for b.Loop() {
		br.Reset(strings.NewReader(s))
		for {
			d, err := readEvent(br, buf)
			buf = d
			if err != nil {
				break
			}
		}
	}
}

func BenchmarkObservationPublish(b *testing.B) {
	q := health.NewQueue(1024, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = q.Run(ctx) }()
	o := health.Observation{Time: time.Now(), RequestID: "req_x", Route: "chat", Provider: "a", Model: "m"}
	b.ReportAllocs()
	for b.Loop() {
		q.Publish(o)
	}
}

// BenchmarkServeChatNoLog is BenchmarkServeChat without access-log encoding,
// to keep the log's share of the hot path in sight.
func BenchmarkServeChatNoLog(b *testing.B) { benchServe(b, benchBody, false) }
