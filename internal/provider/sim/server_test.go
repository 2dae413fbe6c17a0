package sim

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/relais/relais/internal/clock"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// serve runs a sim server for s over real HTTP on loopback.
func serve(t *testing.T, s *Spec, clk clock.Clock) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(NewServer(s, clk))
	t.Cleanup(ts.Close)
	return ts
}

type result struct {
	resp *http.Response
	body []byte
	err  error // transport error, or the error that broke the body
}

// call sends one request and reads the whole answer.
func call(ctx context.Context, t *testing.T, method, url, body string) result {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{resp: resp, body: b, err: err}
}

func chatBody(prompt string, extra string) string {
	return fmt.Sprintf(`{"model":"m1","messages":[{"role":"user","content":%q}]%s}`, prompt, extra)
}

// readSSE returns the data of every event, checking the framing: each event
// is one "data: " line followed by a blank line. err is what broke the body.
func readSSE(t *testing.T, b []byte) []string {
	t.Helper()
	var events []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			t.Fatalf("line %q: want a data line", sc.Text())
		}
		events = append(events, data)
		if !sc.Scan() {
			break // a cut stream may end here
		}
		if sc.Text() != "" {
			t.Fatalf("after event %q: line %q, want a blank line", data, sc.Text())
		}
	}
	return events
}

// checkError asserts OpenAI's error shape.
func checkError(t *testing.T, body []byte, wantType string) {
	t.Helper()
	e := gjson.GetBytes(body, "error")
	if e.Get("message").Str == "" || e.Get("type").Str != wantType || !e.Get("param").Exists() || !e.Get("code").Exists() {
		t.Errorf("error body %s: want message, type %q, param, code", body, wantType)
	}
}

func TestChat(t *testing.T) {
	t.Parallel()
	ts := serve(t, &Spec{Seed: 1}, clock.NewFake(epoch))
	for _, path := range []string{"/chat/completions", "/v1/chat/completions"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			r := call(t.Context(), t, http.MethodPost, ts.URL+path, chatBody("Say hello", ""))
			if r.err != nil || r.resp.StatusCode != http.StatusOK {
				t.Fatalf("status %v, err %v: %s", r.resp, r.err, r.body)
			}
			if ct := r.resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			j := gjson.ParseBytes(r.body)
			for field, want := range map[string]string{
				"object":                  "chat.completion",
				"model":                   "m1",
				"choices.0.message.role":  "assistant",
				"choices.0.finish_reason": "stop",
				"choices.#":               "1",
				"created":                 fmt.Sprint(epoch.Unix()),
				"choices.0.index":         "0",
				"usage.prompt_tokens":     "3", // "Say hello\n" is 10 bytes
			} {
				if got := j.Get(field).String(); got != want {
					t.Errorf("%s = %q, want %q", field, got, want)
				}
			}
			if !strings.HasPrefix(j.Get("id").Str, "chatcmpl-") {
				t.Errorf("id = %q", j.Get("id").Str)
			}
			text := j.Get("choices.0.message.content").Str
			u := j.Get("usage")
			if text == "" || u.Get("completion_tokens").Int() != int64(len(strings.Fields(text))) ||
				u.Get("total_tokens").Int() != u.Get("prompt_tokens").Int()+u.Get("completion_tokens").Int() {
				t.Errorf("content %q with usage %s", text, u.Raw)
			}
		})
	}
}

func TestChatDeterministic(t *testing.T) {
	t.Parallel()
	text := func(seed int64, body string) string {
		ts := serve(t, &Spec{Seed: seed}, clock.NewFake(epoch))
		r := call(t.Context(), t, http.MethodPost, ts.URL+"/chat/completions", body)
		if r.err != nil || r.resp.StatusCode != http.StatusOK {
			t.Fatalf("err %v: %s", r.err, r.body)
		}
		return gjson.GetBytes(r.body, "choices.0.message.content").Str
	}
	base := text(1, chatBody("Tell me a story", ""))
	if again := text(1, chatBody("Tell me a story", "")); again != base {
		t.Errorf("same prompt and seed: %q then %q", base, again)
	}
	parts := `{"model":"other","messages":[{"role":"user","content":[{"type":"text","text":"Tell me a story"}]}]}`
	if got := text(1, parts); got != base {
		t.Errorf("same prompt as content parts: %q, want %q", got, base)
	}
	if got := text(2, chatBody("Tell me a story", "")); got == base {
		t.Errorf("another seed gave the same text %q", got)
	}
	if got := text(1, chatBody("Tell me a joke", "")); got == base {
		t.Errorf("another prompt gave the same text %q", got)
	}
}

func TestChatMaxTokens(t *testing.T) {
	t.Parallel()
	ts := serve(t, &Spec{}, clock.NewFake(epoch))
	tests := []struct {
		extra      string
		wantTokens int64 // 0: the whole answer
		wantFinish string
	}{
		{`,"max_tokens":3`, 3, "length"},
		{`,"max_completion_tokens":2,"max_tokens":5`, 2, "length"},
		{`,"max_tokens":1000`, 0, "stop"},
	}
	for _, tt := range tests {
		t.Run(tt.extra, func(t *testing.T) {
			t.Parallel()
			for _, stream := range []bool{false, true} {
				extra := tt.extra
				if stream {
					extra += `,"stream":true,"stream_options":{"include_usage":true}`
				}
				r := call(t.Context(), t, http.MethodPost, ts.URL+"/chat/completions", chatBody("Count", extra))
				if r.err != nil {
					t.Fatal(r.err)
				}
				var finish string
				var completion int64
				if stream {
					events := readSSE(t, r.body)
					finish = gjson.Get(events[len(events)-3], "choices.0.finish_reason").Str
					completion = gjson.Get(events[len(events)-2], "usage.completion_tokens").Int()
				} else {
					finish = gjson.GetBytes(r.body, "choices.0.finish_reason").Str
					completion = gjson.GetBytes(r.body, "usage.completion_tokens").Int()
				}
				if finish != tt.wantFinish || (tt.wantTokens > 0 && completion != tt.wantTokens) {
					t.Errorf("stream %v: finish %q, %d tokens; want %q, %d", stream, finish, completion, tt.wantFinish, tt.wantTokens)
				}
			}
		})
	}
}

func TestStream(t *testing.T) {
	t.Parallel()
	ts := serve(t, &Spec{Seed: 9, TokensPerSecond: 2000}, clock.NewFake(epoch))
	whole := call(t.Context(), t, http.MethodPost, ts.URL+"/chat/completions", chatBody("Stream me", ""))
	want := gjson.GetBytes(whole.body, "choices.0.message.content").Str

	for _, withUsage := range []bool{false, true} {
		t.Run(fmt.Sprint("include_usage=", withUsage), func(t *testing.T) {
			t.Parallel()
			extra := fmt.Sprintf(`,"stream":true,"stream_options":{"include_usage":%v}`, withUsage)
			r := call(t.Context(), t, http.MethodPost, ts.URL+"/v1/chat/completions", chatBody("Stream me", extra))
			if r.err != nil || r.resp.StatusCode != http.StatusOK {
				t.Fatalf("err %v: %s", r.err, r.body)
			}
			if ct := r.resp.Header.Get("Content-Type"); ct != "text/event-stream" {
				t.Errorf("Content-Type = %q", ct)
			}
			events := readSSE(t, r.body)
			if events[len(events)-1] != "[DONE]" {
				t.Fatalf("last event %q, want [DONE]", events[len(events)-1])
			}
			chunks := events[:len(events)-1]
			if withUsage {
				u := gjson.Parse(chunks[len(chunks)-1])
				if u.Get("choices").Raw != "[]" || u.Get("usage.completion_tokens").Int() != int64(len(strings.Fields(want))) {
					t.Errorf("usage chunk %s", u.Raw)
				}
				chunks = chunks[:len(chunks)-1]
			}
			first, last := gjson.Parse(chunks[0]), gjson.Parse(chunks[len(chunks)-1])
			if first.Get("choices.0.delta.role").Str != "assistant" {
				t.Errorf("first chunk %s: want the role", first.Raw)
			}
			if last.Get("choices.0.finish_reason").Str != "stop" || last.Get("choices.0.delta").Raw != "{}" {
				t.Errorf("last chunk %s: want an empty delta and finish_reason stop", last.Raw)
			}
			var text strings.Builder
			for i, c := range chunks {
				j := gjson.Parse(c)
				if j.Get("object").Str != "chat.completion.chunk" || j.Get("id").Str != first.Get("id").Str || j.Get("model").Str != "m1" {
					t.Errorf("chunk %d: %s", i, c)
				}
				if i < len(chunks)-1 && j.Get("choices.0.finish_reason").Type != gjson.Null {
					t.Errorf("chunk %d: finish_reason %s before the end", i, j.Get("choices.0.finish_reason").Raw)
				}
				if j.Get("usage").Exists() {
					t.Errorf("chunk %d carries usage", i)
				}
				text.WriteString(j.Get("choices.0.delta.content").Str)
			}
			if text.String() != want {
				t.Errorf("streamed text %q, want the non-stream answer %q", text.String(), want)
			}
		})
	}
}

// TestStreamTiming checks lower bounds only: a test may run slow, never fast.
func TestStreamTiming(t *testing.T) {
	t.Parallel()
	spec := &Spec{Latency: dur(30 * time.Millisecond), TTFT: dur(80 * time.Millisecond), TokensPerSecond: 200}
	ts := serve(t, spec, clock.NewFake(epoch))
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/chat/completions",
		strings.NewReader(chatBody("Pace", `,"stream":true`)))
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if headers := time.Since(start); headers < 30*time.Millisecond {
		t.Errorf("headers after %s, want at least the latency", headers)
	}
	sc := bufio.NewScanner(resp.Body)
	tokens := 0
	for sc.Scan() {
		c := gjson.Get(strings.TrimPrefix(sc.Text(), "data: "), "choices.0.delta.content").Str
		if c == "" {
			continue
		}
		if tokens == 0 {
			if ttft := time.Since(start); ttft < 80*time.Millisecond {
				t.Errorf("first token after %s, want at least the ttft", ttft)
			}
		}
		tokens++
	}
	if min := 80*time.Millisecond + time.Duration(tokens-1)*5*time.Millisecond; time.Since(start) < min {
		t.Errorf("%d tokens in %s, want at least %s at 200 tokens/s", tokens, time.Since(start), min)
	}
}

func TestEmbeddings(t *testing.T) {
	t.Parallel()
	ts := serve(t, &Spec{Seed: 4}, clock.NewFake(epoch))
	vector := func(e gjson.Result) []float64 {
		if e.Type == gjson.String {
			b, err := base64.StdEncoding.DecodeString(e.Str)
			if err != nil {
				t.Fatal(err)
			}
			v := make([]float64, len(b)/4)
			for i := range v {
				v[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
			}
			return v
		}
		var v []float64
		for _, x := range e.Array() {
			v = append(v, x.Float())
		}
		return v
	}
	tests := []struct {
		name  string
		body  string
		count int
		dim   int
	}{
		{"string", `{"model":"e","input":"hello"}`, 1, 8},
		{"array", `{"model":"e","input":["hello","world"]}`, 2, 8},
		{"tokens", `{"model":"e","input":[[1,2,3]]}`, 1, 8},
		{"dimensions", `{"model":"e","input":"hello","dimensions":32}`, 1, 32},
		{"base64", `{"model":"e","input":"hello","encoding_format":"base64"}`, 1, 8},
	}
	hello := map[string][]float64{}
	for _, tt := range tests {
		r := call(t.Context(), t, http.MethodPost, ts.URL+"/v1/embeddings", tt.body)
		if r.err != nil || r.resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: err %v: %s", tt.name, r.err, r.body)
		}
		j := gjson.ParseBytes(r.body)
		data := j.Get("data").Array()
		if j.Get("object").Str != "list" || j.Get("model").Str != "e" || len(data) != tt.count ||
			j.Get("usage.prompt_tokens").Int() == 0 || j.Get("usage.total_tokens").Int() != j.Get("usage.prompt_tokens").Int() {
			t.Errorf("%s: %s", tt.name, r.body)
			continue
		}
		for i, d := range data {
			v := vector(d.Get("embedding"))
			var norm float64
			for _, x := range v {
				norm += x * x
			}
			if d.Get("object").Str != "embedding" || d.Get("index").Int() != int64(i) || len(v) != tt.dim || math.Abs(norm-1) > 1e-5 {
				t.Errorf("%s: data[%d] = %s (norm² %v)", tt.name, i, d.Raw, norm)
			}
		}
		if tt.dim == 8 && gjson.Get(tt.body, "input").String() != "[[1,2,3]]" {
			hello[tt.name] = vector(data[0].Get("embedding"))
		}
	}
	// "hello" embeds the same every time, whatever the encoding.
	for name, v := range hello {
		for i := range v {
			if math.Abs(v[i]-hello["string"][i]) > 1e-6 {
				t.Errorf("%s: vector %v differs from %v", name, v, hello["string"])
				break
			}
		}
	}
}

func TestModels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		models []string
		want   string
	}{
		{nil, `["sim-chat","sim-embed"]`},
		{[]string{"a", "b", "c"}, `["a","b","c"]`},
	}
	for _, tt := range tests {
		ts := serve(t, &Spec{Models: tt.models}, clock.NewFake(epoch))
		for _, path := range []string{"/models", "/v1/models"} {
			r := call(t.Context(), t, http.MethodGet, ts.URL+path, "")
			j := gjson.ParseBytes(r.body)
			if r.err != nil || j.Get("object").Str != "list" || j.Get("data.#.id").Raw != tt.want ||
				j.Get("data.0.object").Str != "model" || j.Get("data.0.owned_by").Str == "" {
				t.Errorf("%s with models %v: %s", path, tt.models, r.body)
			}
		}
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	ts := serve(t, &Spec{}, clock.NewFake(epoch))
	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		{"bad json", http.MethodPost, "/chat/completions", `{"model":`, 400},
		{"no model", http.MethodPost, "/chat/completions", `{"messages":[{"role":"user","content":"x"}]}`, 400},
		{"no messages", http.MethodPost, "/v1/chat/completions", `{"model":"m"}`, 400},
		{"empty messages", http.MethodPost, "/v1/chat/completions", `{"model":"m","messages":[]}`, 400},
		{"embeddings bad json", http.MethodPost, "/embeddings", `[`, 400},
		{"embeddings no input", http.MethodPost, "/embeddings", `{"model":"e"}`, 400},
		{"embeddings empty input", http.MethodPost, "/embeddings", `{"model":"e","input":[]}`, 400},
		{"embeddings dimensions", http.MethodPost, "/embeddings", `{"model":"e","input":"x","dimensions":0}`, 400},
		{"embeddings format", http.MethodPost, "/embeddings", `{"model":"e","input":"x","encoding_format":"hex"}`, 400},
		{"unknown path", http.MethodPost, "/v1/completions", `{}`, 404},
		{"wrong method", http.MethodGet, "/chat/completions", "", 405},
		{"too large", http.MethodPost, "/chat/completions", `{"model":"` + strings.Repeat("x", maxBody) + `"}`, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := call(t.Context(), t, tt.method, ts.URL+tt.path, tt.body)
			if r.err != nil || r.resp.StatusCode != tt.status {
				t.Fatalf("status %v, err %v, want %d", r.resp, r.err, tt.status)
			}
			checkError(t, r.body, "invalid_request_error")
		})
	}
}

// TestFaults drives each schedule mode with a fake clock set inside its period.
func TestFaults(t *testing.T) {
	t.Parallel()
	spec := &Spec{Schedule: Schedule{Cycle: dur(100 * time.Second), Periods: []Period{
		{From: dur(0), To: dur(10 * time.Second), Fault: Fault{Mode: Down, Status: 502}},
		{From: dur(10 * time.Second), To: dur(20 * time.Second), Fault: Fault{Mode: RateLimit, RetryAfter: dur(1500 * time.Millisecond)}},
		{From: dur(20 * time.Second), To: dur(30 * time.Second), Fault: Fault{Mode: Slow, Latency: dur(50 * time.Millisecond)}},
		{From: dur(30 * time.Second), To: dur(40 * time.Second), Fault: Fault{Mode: CutStream}},
		{From: dur(40 * time.Second), To: dur(50 * time.Second), Fault: Fault{Mode: Hang}},
		{From: dur(50 * time.Second), To: dur(60 * time.Second), Fault: Fault{Mode: Empty}},
	}}}
	ok := func(t *testing.T, r result, _ time.Duration) {
		if r.err != nil || r.resp.StatusCode != http.StatusOK {
			t.Errorf("status %v, err %v: want 200", r.resp, r.err)
		}
	}
	tests := []struct {
		name   string
		at     time.Duration
		path   string
		body   string
		client time.Duration // gives up after this long; 0: never
		check  func(t *testing.T, r result, took time.Duration)
	}{
		{"down", 5 * time.Second, "/chat/completions", chatBody("x", ""), 0, func(t *testing.T, r result, _ time.Duration) {
			if r.err != nil || r.resp.StatusCode != http.StatusBadGateway {
				t.Fatalf("status %v, err %v: want 502", r.resp, r.err)
			}
			checkError(t, r.body, "server_error")
		}},
		{"down ignores bad json", 5 * time.Second, "/embeddings", "{", 0, func(t *testing.T, r result, _ time.Duration) {
			if r.err != nil || r.resp.StatusCode != http.StatusBadGateway {
				t.Errorf("status %v, err %v: want 502", r.resp, r.err)
			}
		}},
		{"down next cycle", 205 * time.Second, "/models", "", 0, func(t *testing.T, r result, _ time.Duration) {
			if r.err != nil || r.resp.StatusCode != http.StatusBadGateway {
				t.Errorf("status %v, err %v: want 502", r.resp, r.err)
			}
		}},
		{"rate_limit", 15 * time.Second, "/chat/completions", chatBody("x", ""), 0, func(t *testing.T, r result, _ time.Duration) {
			if r.err != nil || r.resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("status %v, err %v: want 429", r.resp, r.err)
			}
			h := r.resp.Header
			if h.Get("Retry-After") != "2" || h.Get("Retry-After-Ms") != "1500" || h.Get("X-Ratelimit-Remaining-Requests") != "0" {
				t.Errorf("headers %v", h)
			}
			checkError(t, r.body, "requests")
			if code := gjson.GetBytes(r.body, "error.code").Str; code != "rate_limit_exceeded" {
				t.Errorf("error.code = %q", code)
			}
		}},
		{"slow", 25 * time.Second, "/embeddings", `{"model":"e","input":"x"}`, 0, func(t *testing.T, r result, took time.Duration) {
			ok(t, r, took)
			if took < 50*time.Millisecond {
				t.Errorf("answered after %s, want at least the added 50ms", took)
			}
		}},
		{"cut_stream stream", 35 * time.Second, "/chat/completions", chatBody("x", `,"stream":true`), 0, func(t *testing.T, r result, _ time.Duration) {
			if r.resp == nil || r.resp.StatusCode != http.StatusOK || !errors.Is(r.err, io.ErrUnexpectedEOF) {
				t.Fatalf("status %v, err %v: want 200 then an unexpected EOF", r.resp, r.err)
			}
			events := readSSE(t, r.body)
			if len(events) != 2 || gjson.Get(events[1], "choices.0.delta.content").Str == "" {
				t.Errorf("events %q: want the role chunk and one content chunk", events)
			}
		}},
		{"cut_stream call", 35 * time.Second, "/chat/completions", chatBody("x", ""), 0, func(t *testing.T, r result, _ time.Duration) {
			if r.resp != nil || r.err == nil {
				t.Errorf("status %v, err %v: want the connection closed without an answer", r.resp, r.err)
			}
		}},
		{"hang", 45 * time.Second, "/chat/completions", chatBody("x", ""), 100 * time.Millisecond, func(t *testing.T, r result, _ time.Duration) {
			if !errors.Is(r.err, context.DeadlineExceeded) {
				t.Errorf("status %v, err %v: want the client to give up", r.resp, r.err)
			}
		}},
		{"empty", 55 * time.Second, "/chat/completions", chatBody("x", ""), 0, func(t *testing.T, r result, took time.Duration) {
			ok(t, r, took)
			j := gjson.ParseBytes(r.body)
			if c := j.Get("choices.0.message.content"); c.Type != gjson.String || c.Str != "" || j.Get("usage.completion_tokens").Int() != 0 {
				t.Errorf("body %s: want empty content", r.body)
			}
		}},
		{"empty stream", 55 * time.Second, "/chat/completions", chatBody("x", `,"stream":true`), 0, func(t *testing.T, r result, took time.Duration) {
			ok(t, r, took)
			events := readSSE(t, r.body)
			if len(events) != 3 || gjson.Get(events[1], "choices.0.finish_reason").Str != "stop" || events[2] != "[DONE]" {
				t.Errorf("events %q: want role, finish, [DONE]", events)
			}
		}},
		{"empty embeddings", 55 * time.Second, "/embeddings", `{"model":"e","input":"x"}`, 0, func(t *testing.T, r result, took time.Duration) {
			ok(t, r, took)
			if d := gjson.GetBytes(r.body, "data").Raw; d != "[]" {
				t.Errorf("data = %s, want []", d)
			}
		}},
		{"healthy after the periods", 70 * time.Second, "/chat/completions", chatBody("x", ""), 0, ok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewFake(epoch)
			srv := NewServer(spec, clk)
			clk.Advance(tt.at)
			if _, in := srv.Mode(clk.Now()); in != (tt.at%(100*time.Second) < 60*time.Second) {
				t.Errorf("Mode at %s: in a period = %v", tt.at, in)
			}
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

func TestErrorRate(t *testing.T) {
	t.Parallel()
	statuses := func(s *Spec, n int) []int {
		ts := serve(t, s, clock.NewFake(epoch))
		out := make([]int, n)
		for i := range out {
			r := call(t.Context(), t, http.MethodPost, ts.URL+"/chat/completions", chatBody("x", ""))
			if r.err != nil {
				t.Fatal(r.err)
			}
			out[i] = r.resp.StatusCode
			if out[i] != http.StatusOK {
				checkError(t, r.body, "server_error")
			}
		}
		return out
	}
	if got := statuses(&Spec{ErrorRate: 1}, 3); fmt.Sprint(got) != "[503 503 503]" {
		t.Errorf("error_rate 1: %v", got)
	}
	if got := statuses(&Spec{ErrorRate: 1, ErrorStatus: 500}, 2); fmt.Sprint(got) != "[500 500]" {
		t.Errorf("error_status 500: %v", got)
	}
	half := &Spec{ErrorRate: 0.5, Seed: 3}
	a, b := statuses(half, 20), statuses(half, 20)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("same seed, different draws: %v and %v", a, b)
	}
	if s := fmt.Sprint(a); !strings.Contains(s, "200") || !strings.Contains(s, "503") {
		t.Errorf("error_rate 0.5 over 20 calls: %v", a)
	}
}

// TestCancel checks that every wait of the server ends when the client leaves.
func TestCancel(t *testing.T) {
	t.Parallel()
	slow := &Spec{Latency: dur(time.Hour)}
	tests := []struct {
		name       string
		spec       *Spec
		path, body string
		// afterHeaders reads the first event before leaving.
		afterHeaders bool
	}{
		{"waiting for the answer", slow, "/chat/completions", chatBody("x", ""), false},
		{"waiting for the headers", slow, "/chat/completions", chatBody("x", `,"stream":true`), false},
		{"between tokens", &Spec{TokensPerSecond: 0.001}, "/chat/completions", chatBody("x", `,"stream":true`), true},
		{"embeddings", slow, "/embeddings", `{"model":"e","input":"x"}`, false},
		{"models", slow, "/models", "", false},
		{"hang", &Spec{Schedule: Schedule{Periods: []Period{{To: dur(time.Hour), Fault: Fault{Mode: Hang}}}}}, "/chat/completions", chatBody("x", ""), false},
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
			method := http.MethodPost
			if tt.body == "" {
				method = http.MethodGet
			}
			req, _ := http.NewRequestWithContext(ctx, method, ts.URL+tt.path, strings.NewReader(tt.body))
			go func() {
				<-entered
				if !tt.afterHeaders {
					cancel()
				}
			}()
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				line, _ := bufio.NewReader(resp.Body).ReadString('\n')
				if !strings.HasPrefix(line, "data: ") {
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
