package openai_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/provider"
	"github.com/relais/relais/internal/provider/openai"
)

const apiKey = "sk-test-0123456789abcdef"

// received is what the fake upstream saw of one request.
type received struct {
	method, path  string
	header        http.Header
	body          []byte
	contentLength int64
}

// upstream is an OpenAI-shaped server that records every request and answers
// with status.
func upstream(t *testing.T, status int) (*httptest.Server, <-chan received) {
	t.Helper()
	reqs := make(chan received, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		reqs <- received{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: b, contentLength: r.ContentLength}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, `{"object":"list","data":[]}`)
	}))
	t.Cleanup(srv.Close)
	return srv, reqs
}

func newProvider(t *testing.T, s *openai.Spec) *openai.Provider {
	t.Helper()
	if ps := s.Validate(); len(ps) > 0 {
		t.Fatalf("spec does not validate: %v", ps)
	}
	p, err := openai.New(provider.Options{Name: "up"}, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// do sends c and returns what the upstream received.
func do(t *testing.T, p *openai.Provider, reqs <-chan received, c *provider.Call) received {
	t.Helper()
	resp, err := p.Do(t.Context(), c)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return <-reqs
}

func TestDo(t *testing.T) {
	t.Parallel()
	// Spacing, key order and non-ASCII text must reach the upstream byte for byte.
	chat := []byte(`{"model":"gpt-4o",  "messages":[{"role":"user","content":"héllo \u00e9"}],"temperature":0.2}`)
	tests := []struct {
		name   string
		spec   openai.Spec // BaseURL is the server's URL followed by suffix
		suffix string
		call   provider.Call
		method string
		path   string
		want   map[string]string // headers that must be present; "" means absent
	}{
		{
			name:   "chat with every header",
			spec:   openai.Spec{APIKey: apiKey, Organization: "org-1", Project: "proj-1", Headers: map[string]config.Secret{"X-Team": "search", "helicone-auth": "h"}},
			suffix: "/v1",
			call:   provider.Call{Endpoint: provider.ChatCompletions, Model: "gpt-4o", Body: chat, RequestID: "req-1"},
			method: http.MethodPost, path: "/v1/chat/completions",
			want: map[string]string{
				"Authorization": "Bearer " + apiKey, "OpenAI-Organization": "org-1", "OpenAI-Project": "proj-1",
				"X-Team": "search", "Helicone-Auth": "h", "Content-Type": "application/json",
				"X-Request-Id": "req-1", "Accept": "",
			},
		},
		{
			name:   "stream",
			spec:   openai.Spec{APIKey: apiKey},
			suffix: "/v1",
			call:   provider.Call{Endpoint: provider.ChatCompletions, Model: "gpt-4o", Body: chat, Stream: true, RequestID: "req-2"},
			method: http.MethodPost, path: "/v1/chat/completions",
			want: map[string]string{"Accept": "text/event-stream", "X-Request-Id": "req-2", "Authorization": "Bearer " + apiKey},
		},
		{
			name:   "embeddings",
			spec:   openai.Spec{APIKey: apiKey},
			suffix: "/v1",
			call:   provider.Call{Endpoint: provider.Embeddings, Model: "e", Body: []byte(`{"model":"e","input":"hi"}`)},
			method: http.MethodPost, path: "/v1/embeddings",
			want: map[string]string{"Accept": "", "X-Request-Id": ""},
		},
		{
			name:   "models is a GET without a body",
			spec:   openai.Spec{APIKey: apiKey},
			suffix: "/v1",
			call:   provider.Call{Endpoint: provider.Models, Body: []byte(`{"ignored":true}`), RequestID: "req-3"},
			method: http.MethodGet, path: "/v1/models",
			want: map[string]string{"Authorization": "Bearer " + apiKey, "X-Request-Id": "req-3"},
		},
		{
			name:   "base_url with a trailing slash",
			spec:   openai.Spec{},
			suffix: "/v1/",
			call:   provider.Call{Endpoint: provider.ChatCompletions, Body: chat},
			method: http.MethodPost, path: "/v1/chat/completions",
		},
		{
			name:   "base_url without a path",
			spec:   openai.Spec{},
			suffix: "",
			call:   provider.Call{Endpoint: provider.ChatCompletions, Body: chat},
			method: http.MethodPost, path: "/chat/completions",
		},
		{
			name:   "no key, organization or project: no such headers",
			spec:   openai.Spec{},
			suffix: "/v1",
			call:   provider.Call{Endpoint: provider.ChatCompletions, Body: chat},
			method: http.MethodPost, path: "/v1/chat/completions",
			want: map[string]string{"Authorization": "", "OpenAI-Organization": "", "OpenAI-Project": ""},
		},
		{
			// Some compatible servers take the key in a header of their own.
			name:   "extra headers win over the defaults",
			spec:   openai.Spec{APIKey: apiKey, Headers: map[string]config.Secret{"Authorization": "Token other"}},
			suffix: "/v1",
			call:   provider.Call{Endpoint: provider.ChatCompletions, Body: chat},
			method: http.MethodPost, path: "/v1/chat/completions",
			want: map[string]string{"Authorization": "Token other"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, reqs := upstream(t, http.StatusOK)
			tt.spec.BaseURL = srv.URL + tt.suffix
			got := do(t, newProvider(t, &tt.spec), reqs, &tt.call)
			if got.method != tt.method || got.path != tt.path {
				t.Errorf("%s %s, want %s %s", got.method, got.path, tt.method, tt.path)
			}
			wantBody := tt.call.Body
			if tt.method == http.MethodGet {
				wantBody = nil
			}
			if !bytes.Equal(got.body, wantBody) || got.contentLength != int64(len(wantBody)) {
				t.Errorf("body %q (Content-Length %d), want %q", got.body, got.contentLength, wantBody)
			}
			for k, v := range tt.want {
				if vs := got.header.Values(k); v == "" && len(vs) != 0 || v != "" && !slices.Equal(vs, []string{v}) {
					t.Errorf("header %s = %q, want %q", k, vs, v)
				}
			}
		})
	}
}

// TestDoKeepsHeadersPerCall: a stream's Accept or a request id must not
// stick to the provider's later calls.
func TestDoKeepsHeadersPerCall(t *testing.T) {
	t.Parallel()
	srv, reqs := upstream(t, http.StatusOK)
	p := newProvider(t, &openai.Spec{BaseURL: srv.URL, APIKey: apiKey})
	body := []byte(`{"model":"m"}`)
	first := do(t, p, reqs, &provider.Call{Endpoint: provider.ChatCompletions, Body: body, Stream: true, RequestID: "a"})
	second := do(t, p, reqs, &provider.Call{Endpoint: provider.ChatCompletions, Body: body})
	if first.header.Get("Accept") != "text/event-stream" || first.header.Get("X-Request-Id") != "a" {
		t.Fatalf("first call headers %v", first.header)
	}
	if a, id := second.header.Get("Accept"), second.header.Get("X-Request-Id"); a == "text/event-stream" || id != "" {
		t.Fatalf("second call inherited Accept %q, X-Request-Id %q", a, id)
	}
}

// TestDoErrors: an HTTP error status is a response, not an error; a transport
// failure is an error.
func TestDoErrors(t *testing.T) {
	t.Parallel()
	body := []byte(`{"model":"m"}`)
	for _, status := range []int{http.StatusBadRequest, http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusServiceUnavailable} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			srv, reqs := upstream(t, status)
			p := newProvider(t, &openai.Spec{BaseURL: srv.URL})
			resp, err := p.Do(t.Context(), &provider.Call{Endpoint: provider.ChatCompletions, Body: body})
			if err != nil {
				t.Fatalf("Do: %v, want the %d response", err, status)
			}
			resp.Body.Close()
			<-reqs
			if resp.StatusCode != status {
				t.Fatalf("status %d, want %d", resp.StatusCode, status)
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		p := newProvider(t, &openai.Spec{BaseURL: url})
		resp, err := p.Do(t.Context(), &provider.Call{Endpoint: provider.ChatCompletions, Body: body})
		if err == nil {
			resp.Body.Close()
			t.Fatal("Do to a closed port succeeded")
		}
	})
	t.Run("canceled", func(t *testing.T) {
		t.Parallel()
		srv, _ := upstream(t, http.StatusOK)
		p := newProvider(t, &openai.Spec{BaseURL: srv.URL})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		resp, err := p.Do(ctx, &provider.Call{Endpoint: provider.ChatCompletions, Body: body})
		if !errors.Is(err, context.Canceled) {
			if err == nil {
				resp.Body.Close()
			}
			t.Fatalf("Do with a canceled context: %v, want context.Canceled", err)
		}
	})
}

func TestName(t *testing.T) {
	t.Parallel()
	p := newProvider(t, &openai.Spec{BaseURL: "https://api.openai.com/v1"})
	if p.Name() != "up" {
		t.Fatalf("Name() = %q, want up", p.Name())
	}
}

func TestSpecValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec openai.Spec
		want []string // problem paths, in order
	}{
		{"minimal", openai.Spec{BaseURL: "https://api.openai.com/v1"}, nil},
		{"full", openai.Spec{BaseURL: "http://127.0.0.1:8000/v1/", APIKey: apiKey, Organization: "o", Project: "p",
			Headers: map[string]config.Secret{"X-Ok": "1", "api-key": "k"}, MaxIdleConns: 10}, nil},
		{"missing base_url", openai.Spec{}, []string{"base_url"}},
		{"ftp scheme", openai.Spec{BaseURL: "ftp://example.com/v1"}, []string{"base_url"}},
		{"no scheme", openai.Spec{BaseURL: "api.openai.com/v1"}, []string{"base_url"}},
		{"host and port without scheme", openai.Spec{BaseURL: "localhost:8000"}, []string{"base_url"}},
		{"no host", openai.Spec{BaseURL: "https:///v1"}, []string{"base_url"}},
		{"unparsable", openai.Spec{BaseURL: "http://[::1"}, []string{"base_url"}},
		{"empty header name", openai.Spec{BaseURL: "https://x", Headers: map[string]config.Secret{"": "v"}}, []string{"headers"}},
		{"header name with a space", openai.Spec{BaseURL: "https://x", Headers: map[string]config.Secret{"X Team": "v"}}, []string{"headers"}},
		{"header name with a colon", openai.Spec{BaseURL: "https://x", Headers: map[string]config.Secret{"X-Team:": "v"}}, []string{"headers"}},
		{"header name with a newline", openai.Spec{BaseURL: "https://x", Headers: map[string]config.Secret{"X-A\r\nX-B": "v"}}, []string{"headers"}},
		{"header name not a token", openai.Spec{BaseURL: "https://x", Headers: map[string]config.Secret{"X(bad)": "v"}}, []string{"headers"}},
		{"header value with a newline", openai.Spec{BaseURL: "https://x", Headers: map[string]config.Secret{"X-Key": "k\n"}}, []string{"headers.X-Key"}},
		{"api_key with a trailing newline", openai.Spec{BaseURL: "https://x", APIKey: "sk-1\n"}, []string{"api_key"}},
		{"organization with a newline", openai.Spec{BaseURL: "https://x", Organization: "o\r\n"}, []string{"organization"}},
		{"negative max_idle_conns", openai.Spec{BaseURL: "https://x", MaxIdleConns: -1}, []string{"max_idle_conns"}},
		{"zero max_idle_conns takes the default", openai.Spec{BaseURL: "https://x", MaxIdleConns: 0}, nil},
		{"every problem at once", openai.Spec{Headers: map[string]config.Secret{"a b": "v"}, MaxIdleConns: -5},
			[]string{"base_url", "headers", "max_idle_conns"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var paths []string
			for _, p := range tt.spec.Validate() {
				paths = append(paths, p.Path)
				if p.Message == "" {
					t.Errorf("problem at %s has no message", p.Path)
				}
				if strings.Contains(p.Message, apiKey) {
					t.Errorf("problem at %s quotes the API key: %s", p.Path, p.Message)
				}
			}
			if !slices.Equal(paths, tt.want) {
				t.Fatalf("problems at %v, want %v", paths, tt.want)
			}
		})
	}
}

// TestSpecRedactsKey: a Spec printed in a log line, an error or a config dump
// never shows the key.
func TestSpecRedactsKey(t *testing.T) {
	t.Parallel()
	s := openai.Spec{BaseURL: "https://api.openai.com/v1", APIKey: apiKey, Organization: "org-1"}
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{
		"%v": fmt.Sprintf("%v", s), "%+v": fmt.Sprintf("%+v", s), "%#v": fmt.Sprintf("%#v", s),
		"pointer %+v": fmt.Sprintf("%+v", &s), "json": string(js),
	} {
		if strings.Contains(out, apiKey) || strings.Contains(out, "0123456789") {
			t.Errorf("%s leaks the key: %s", name, out)
		}
		if !strings.Contains(out, "[redacted]") || !strings.Contains(out, "org-1") {
			t.Errorf("%s = %s, want the key redacted and the rest shown", name, out)
		}
	}
	if s.APIKey.Value() != apiKey {
		t.Fatal("Value() must return the key itself")
	}
}

// TestHTTP2PriorKnowledge: with http2 on, streams to an http:// server that
// speaks h2c go over HTTP/2; short calls stay on HTTP/1.1.
func TestHTTP2PriorKnowledge(t *testing.T) {
	t.Parallel()
	var protos sync.Map
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos.Store(r.Proto, true)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	p, err := openai.New(provider.Options{Name: "h2"}, &openai.Spec{BaseURL: srv.URL + "/v1", HTTP2: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	for _, tt := range []struct {
		stream bool
		major  int
	}{{true, 2}, {false, 1}} {
		resp, err := p.Do(t.Context(), &provider.Call{Endpoint: provider.ChatCompletions, Body: []byte(`{}`), Stream: tt.stream})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.ProtoMajor != tt.major {
			t.Errorf("stream=%v: protocol %s, want HTTP/%d", tt.stream, resp.Proto, tt.major)
		}
	}
	if _, ok := protos.Load("HTTP/2.0"); !ok {
		t.Fatal("server saw no HTTP/2 request")
	}
}
