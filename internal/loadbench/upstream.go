package loadbench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"
)

// chatRequest is the ~200 B request every path receives; the route alias
// "chat" is what relais resolves, and the upstreams ignore the model.
const chatRequest = `{"model":"chat","messages":[{"role":"system","content":"You answer in one sentence."},` +
	`{"role":"user","content":"Why should a gateway in front of AI providers add almost no latency?"}],"temperature":0.2}`

// streamRequest is chatRequest asking for a stream.
var streamRequest = strings.Replace(chatRequest, `"temperature"`, `"stream":true,"temperature"`, 1)

// completion is a realistic non-streaming answer (~750 B), usage included,
// shaped like OpenAI's; %s is the upstream's model.
const completion = `{"id":"chatcmpl-BbEnCh0000000000000000000000","object":"chat.completion","created":1767225600,` +
	`"model":"%s","choices":[{"index":0,"message":{"role":"assistant","content":"Because it sits in the path of ` +
	`every call: each millisecond it adds is paid by every user on every request, so it must route, authenticate ` +
	`and observe while costing about as much as a plain reverse proxy.","refusal":null,"annotations":[]},` +
	`"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":38,"completion_tokens":41,"total_tokens":79,` +
	`"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,` +
	`"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default",` +
	`"system_fingerprint":"fp_bench01"}`

// overloaded is the 503 body of a failing upstream. It has no Retry-After,
// so relais cools the target down instead of waiting.
const overloaded = `{"error":{"message":"The server is overloaded. Please try again later.","type":"server_error","param":null,"code":"overloaded"}}`

// streamShape is what a streaming answer looks like: Chunks content chunks,
// the first right after the role chunk and each next one Gap later. No
// timer runs before the first content, so the time to first token holds
// none of the harness's timer jitter (about a millisecond: the Go runtime
// sleeps in epoll_wait, whose timeout is in ms) and shows what a gateway
// adds to the microsecond.
type streamShape struct {
	Chunks int
	Gap    time.Duration
}

// upstreams are the two fake providers behind relais's route: a is the
// first target (and the baseline's and direct path's upstream), b the second.
type upstreams struct {
	a, b  *upstream
	shape atomic.Pointer[streamShape]
}

func startUpstreams(ctx context.Context, shape streamShape) (*upstreams, error) {
	u := &upstreams{}
	u.shape.Store(&shape)
	var err error
	if u.a, err = startUpstream(ctx, "bench-model-a", &u.shape); err != nil {
		return nil, err
	}
	if u.b, err = startUpstream(ctx, "bench-model-b", &u.shape); err != nil {
		u.a.close()
		return nil, err
	}
	return u, nil
}

func (u *upstreams) setShape(s streamShape) { u.shape.Store(&s) }

func (u *upstreams) close() {
	u.a.close()
	u.b.close()
}

// upstream is one fake OpenAI server on its own loopback port. Its answers
// are rendered once, so it costs the harness's core as little as possible.
type upstream struct {
	srv     *http.Server
	ln      net.Listener
	shape   *atomic.Pointer[streamShape]
	failing atomic.Bool
	// open counts the connections open now: the upstream connections a
	// gateway holds. requests counts the requests answered, failed ones too.
	open     atomic.Int64
	requests atomic.Int64

	body    []byte      // the non-streaming answer
	bodyLen []string    // its Content-Length
	headers http.Header // sent with every answer, as OpenAI does
	chunks  sseChunks
	bufs    sync.Pool
}

// sseChunks are a streaming answer's events, rendered once.
type sseChunks struct {
	role, content, finish, usage []byte
}

var doneEvent = []byte("data: [DONE]\n\n")

func startUpstream(ctx context.Context, model string, shape *atomic.Pointer[streamShape]) (*upstream, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fake upstream: %w", err)
	}
	u := &upstream{ln: ln, shape: shape, body: renderCompletion(model), chunks: renderChunks(model)}
	u.bodyLen = []string{strconv.Itoa(len(u.body))}
	u.headers = http.Header{
		"Content-Type":                   {"application/json"},
		"Openai-Processing-Ms":           {"212"},
		"X-Ratelimit-Limit-Requests":     {"10000"},
		"X-Ratelimit-Remaining-Requests": {"9999"},
		"X-Ratelimit-Reset-Requests":     {"6ms"},
		"X-Ratelimit-Limit-Tokens":       {"30000000"},
		"X-Ratelimit-Remaining-Tokens":   {"29999950"},
		"X-Ratelimit-Reset-Tokens":       {"0s"},
	}
	u.srv = &http.Server{
		Handler:           u,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ConnState:         u.countConn,
	}
	// Like real providers, the upstream speaks HTTP/1.1 and HTTP/2; without
	// TLS, HTTP/2 is by prior knowledge (h2c). The baseline's client speaks
	// HTTP/1.1 to it, relais HTTP/2 (its providers have http2: true).
	u.srv.Protocols = new(http.Protocols)
	u.srv.Protocols.SetHTTP1(true)
	u.srv.Protocols.SetUnencryptedHTTP2(true)
	go func() { _ = u.srv.Serve(ln) }()
	return u, nil
}

func renderCompletion(model string) []byte { return fmt.Appendf(nil, completion, model) }

func renderChunks(model string) sseChunks {
	const head = `data: {"id":"chatcmpl-BbEnCh0000000000000000000000","object":"chat.completion.chunk","created":1767225600,"model":"%s","system_fingerprint":"fp_bench01","choices":[`
	return sseChunks{
		role:    fmt.Appendf(nil, head+`{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}`+"\n\n", model),
		content: fmt.Appendf(nil, head+`{"index":0,"delta":{"content":" token"},"logprobs":null,"finish_reason":null}]}`+"\n\n", model),
		finish:  fmt.Appendf(nil, head+`{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`+"\n\n", model),
		usage:   fmt.Appendf(nil, head+`],"usage":{"prompt_tokens":38,"completion_tokens":41,"total_tokens":79}}`+"\n\n", model),
	}
}

func (u *upstream) url() string { return "http://" + u.ln.Addr().String() }

func (u *upstream) close() { _ = u.srv.Close() }

func (u *upstream) countConn(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		u.open.Add(1)
	case http.StateClosed, http.StateHijacked:
		u.open.Add(-1)
	}
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		http.NotFound(w, r)
		return
	}
	u.requests.Add(1)
	buf, _ := u.bufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer u.bufs.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(r.Body); err != nil {
		return
	}
	h := w.Header()
	for k, v := range u.headers {
		h[k] = v
	}
	if u.failing.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(overloaded))
		return
	}
	body := buf.Bytes()
	if gjson.GetBytes(body, "stream").Bool() {
		u.stream(r.Context(), w, gjson.GetBytes(body, "stream_options.include_usage").Bool())
		return
	}
	h["Content-Length"] = u.bodyLen
	_, _ = w.Write(u.body)
}

// stream writes the role chunk and the first content chunk at once, the
// next content chunks at the shape's pace, then the finish chunk, the usage
// chunk when asked, and [DONE].
func (u *upstream) stream(ctx context.Context, w http.ResponseWriter, includeUsage bool) {
	shape := u.shape.Load()
	h := w.Header()
	h["Content-Type"] = []string{"text/event-stream"}
	h["Cache-Control"] = []string{"no-cache"}
	rc := http.NewResponseController(w)
	send := func(b []byte) bool {
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send(u.chunks.role) || !send(u.chunks.content) {
		return
	}
	t := time.NewTimer(shape.Gap)
	defer t.Stop()
	for range shape.Chunks - 1 {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !send(u.chunks.content) {
			return
		}
		t.Reset(shape.Gap)
	}
	if !send(u.chunks.finish) || includeUsage && !send(u.chunks.usage) {
		return
	}
	_ = send(doneEvent)
}
