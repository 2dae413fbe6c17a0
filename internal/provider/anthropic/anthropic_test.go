package anthropic_test

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
	"github.com/relais/relais/internal/provider/anthropic"
)

const apiKey = "sk-ant-test-0123456789abcdef"

// received is what the fake upstream saw of one request.
type received struct {
	method, path  string
	header        http.Header
	body          []byte
	contentLength int64
}

// upstream is a server that records every request and answers with status.
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
		fmt.Fprint(w, `{"data":[],"has_more":false,"first_id":null,"last_id":null}`)
	}))
	t.Cleanup(srv.Close)
	return srv, reqs
}

func newProvider(t *testing.T, s *anthropic.Spec) *anthropic.Provider {
	t.Helper()
	if ps := s.Validate(); len(ps) > 0 {
		t.Fatalf("spec does not validate: %v", ps)
	}
	p, err := anthropic.New(provider.Options{Name: "claude"}, s)
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

func TestDo(t *testing.T) {
	t.Parallel()
	// Spacing, key order and non-ASCII text must reach the upstream byte for byte.
	msg := []byte(`{"model":"claude-sonnet-4-5",  "max_tokens":1024,"messages":[{"role":"user","content":"héllo \u00e9"}]}`)
	tests := []struct {
		name   string
		spec   anthropic.Spec // BaseURL is the server's URL followed by suffix
		suffix string
		call   provider.Call
		method string
		path   string
		want   map[string]string // headers that must be present; "" means absent
	}{
		{
			name: "messages with every header",
			spec: anthropic.Spec{APIKey: apiKey, Version: "2024-01-01", Beta: []string{"prompt-caching-2024-07-31", "output-128k-2025-02-19"},
				Headers: map[string]config.Secret{"X-Team": "search"}},
			suffix: "/v1",
			call:   provider.Call{Endpoint: provider.ChatCompletions, Model: "claude-sonnet-4-5", Body: msg, RequestID: "req-1"},
			method: http.MethodPost, path: "/v1/messages",
			want: map[string]string{
				"X-Api-Key": apiKey, "Anthropic-Version": "2024-01-01",
				"Anthropic-Beta": "prompt-caching-2024-07-31,output-128k-2025-02-19",
				"X-Team":         "search", "Content-Type": "application/json",
				"X-Request-Id": "req-1", "Accept": "", "Authorization": "",
			},
		},
		{
			name:   "stream",
			spec:   anthropic.Spec{APIKey: apiKey},
			suffix: "/v1",
			call:   provider.Call{Endpoint: provider.ChatCompletions, Body: msg, Stream: true, RequestID: "req-2"},
			method: http.MethodPost, path: "/v1/messages",
			want: map[string]string{"Accept": "text/event-stream", "X-Request-Id": "req-2", "X-Api-Key": apiKey},
		},
		{
			name:   "defaults: version, no beta, no request id",
			spec:   anthropic.Spec{APIKey: apiKey},
			suffix: "/v1/",
			call:   provider.Call{Endpoint: provider.ChatCompletions, Body: msg},
			method: http.MethodPost, path: "/v1/messages",
			want: map[string]string{"Anthropic-Version": "2023-06-01", "Anthropic-Beta": "", "X-Request-Id": ""},
		},
		{
			name:   "models is a GET without a body",
			spec:   anthropic.Spec{APIKey: apiKey},
			suffix: "/v1",
			call:   provider.Call{Endpoint: provider.Models, Body: []byte(`{"ignored":true}`), RequestID: "req-3"},
			method: http.MethodGet, path: "/v1/models",
			want: map[string]string{"X-Api-Key": apiKey, "X-Request-Id": "req-3", "Anthropic-Version": "2023-06-01"},
		},
		{
			name:   "no key: no x-api-key",
			spec:   anthropic.Spec{},
			suffix: "",
			call:   provider.Call{Endpoint: provider.ChatCompletions, Body: msg},
			method: http.MethodPost, path: "/messages",
			want: map[string]string{"X-Api-Key": ""},
		},
		{
			// A gateway in front of Anthropic may want its own credentials.
			name:   "extra headers win over the defaults",
			spec:   anthropic.Spec{APIKey: apiKey, Headers: map[string]config.Secret{"x-api-key": "other", "anthropic-version": "2099-01-01"}},
			suffix: "/v1",
			call:   provider.Call{Endpoint: provider.ChatCompletions, Body: msg},
			method: http.MethodPost, path: "/v1/messages",
			want: map[string]string{"X-Api-Key": "other", "Anthropic-Version": "2099-01-01"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, reqs := upstream(t, http.StatusOK)
			tt.spec.BaseURL = srv.URL + tt.suffix
			p := newProvider(t, &tt.spec)
			resp, err := p.Do(t.Context(), &tt.call)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := <-reqs
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
	p := newProvider(t, &anthropic.Spec{BaseURL: srv.URL, APIKey: apiKey})
	for _, c := range []provider.Call{
		{Endpoint: provider.ChatCompletions, Body: []byte(`{}`), Stream: true, RequestID: "a"},
		{Endpoint: provider.ChatCompletions, Body: []byte(`{}`)},
	} {
		resp, err := p.Do(t.Context(), &c)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := <-reqs
		if a, id := got.header.Get("Accept"), got.header.Get("X-Request-Id"); c.Stream != (a == "text/event-stream") || id != c.RequestID {
			t.Errorf("call %+v sent Accept %q, X-Request-Id %q", c, a, id)
		}
	}
}

// TestUnsupported: endpoints Anthropic does not have fail before anything
// is sent, with an error callers recognise.
func TestUnsupported(t *testing.T) {
	t.Parallel()
	var hits sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Store(r.URL.Path, true)
	}))
	t.Cleanup(srv.Close)
	p := newProvider(t, &anthropic.Spec{BaseURL: srv.URL})
	for _, e := range []provider.Endpoint{provider.Embeddings, provider.Responses} {
		resp, err := p.Do(t.Context(), &provider.Call{Endpoint: e, Body: []byte(`{"model":"m"}`)})
		if err == nil {
			resp.Body.Close()
		}
		if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), e.String()) {
			t.Errorf("%s: err %v, want errors.ErrUnsupported naming the endpoint", e, err)
		}
	}
	hits.Range(func(k, _ any) bool {
		t.Errorf("the upstream received %s", k)
		return true
	})
}

// TestDoErrors: an HTTP error status is a response, not an error; a transport
// failure is an error.
func TestDoErrors(t *testing.T) {
	t.Parallel()
	body := []byte(`{"model":"m","max_tokens":1}`)
	for _, status := range []int{http.StatusBadRequest, http.StatusTooManyRequests, http.StatusInternalServerError, 529} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			srv, reqs := upstream(t, status)
			p := newProvider(t, &anthropic.Spec{BaseURL: srv.URL})
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
		p := newProvider(t, &anthropic.Spec{BaseURL: url})
		resp, err := p.Do(t.Context(), &provider.Call{Endpoint: provider.ChatCompletions, Body: body})
		if err == nil {
			resp.Body.Close()
			t.Fatal("Do to a closed port succeeded")
		}
	})
	t.Run("canceled", func(t *testing.T) {
		t.Parallel()
		srv, _ := upstream(t, http.StatusOK)
		p := newProvider(t, &anthropic.Spec{BaseURL: srv.URL})
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

func TestInfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec anthropic.Spec
		want provider.Info
	}{
		{anthropic.Spec{}, provider.Info{Dialect: provider.Anthropic, DefaultMaxTokens: 4096}},
		{anthropic.Spec{DefaultMaxTokens: 8192}, provider.Info{Dialect: provider.Anthropic, DefaultMaxTokens: 8192}},
	}
	for _, tt := range tests {
		p := newProvider(t, &tt.spec)
		if got := p.Info(); got != tt.want {
			t.Errorf("spec %+v: Info() = %+v, want %+v", tt.spec, got, tt.want)
		}
		if p.Name() != "claude" {
			t.Errorf("Name() = %q", p.Name())
		}
	}
}

func TestSpecValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec anthropic.Spec
		want []string // problem paths, in order
	}{
		{"zero value takes every default", anthropic.Spec{}, nil},
		{"full", anthropic.Spec{BaseURL: "http://127.0.0.1:8000/v1/", APIKey: apiKey, Version: "2023-06-01",
			Beta: []string{"a-1", "b-2"}, Headers: map[string]config.Secret{"X-Ok": "1"}, MaxIdleConns: 10, HTTP2: true, DefaultMaxTokens: 1}, nil},
		{"ftp scheme", anthropic.Spec{BaseURL: "ftp://example.com/v1"}, []string{"base_url"}},
		{"no scheme", anthropic.Spec{BaseURL: "api.anthropic.com/v1"}, []string{"base_url"}},
		{"no host", anthropic.Spec{BaseURL: "https:///v1"}, []string{"base_url"}},
		{"unparsable", anthropic.Spec{BaseURL: "http://[::1"}, []string{"base_url"}},
		{"api_key with a trailing newline", anthropic.Spec{APIKey: "sk-1\n"}, []string{"api_key"}},
		{"version with a newline", anthropic.Spec{Version: "2023-06-01\r\n"}, []string{"version"}},
		{"beta entries", anthropic.Spec{Beta: []string{"ok", "", "a,b", "x\n"}}, []string{"beta[1]", "beta[2]", "beta[3]"}},
		{"header name with a space", anthropic.Spec{Headers: map[string]config.Secret{"X Team": "v"}}, []string{"headers"}},
		{"header value with a newline", anthropic.Spec{Headers: map[string]config.Secret{"X-Key": "k\n"}}, []string{"headers.X-Key"}},
		{"negative max_idle_conns", anthropic.Spec{MaxIdleConns: -1}, []string{"max_idle_conns"}},
		{"negative default_max_tokens", anthropic.Spec{DefaultMaxTokens: -1}, []string{"default_max_tokens"}},
		{"every problem at once", anthropic.Spec{BaseURL: "x", APIKey: "k\n", Version: "\n", Beta: []string{""},
			Headers: map[string]config.Secret{"a b": "v"}, MaxIdleConns: -5, DefaultMaxTokens: -5},
			[]string{"base_url", "api_key", "version", "beta[0]", "headers", "max_idle_conns", "default_max_tokens"}},
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
				if strings.Contains(p.Message, "0123456789") {
					t.Errorf("problem at %s quotes the API key: %s", p.Path, p.Message)
				}
			}
			if !slices.Equal(paths, tt.want) {
				t.Fatalf("problems at %v, want %v (%v)", paths, tt.want, tt.spec.Validate())
			}
		})
	}
}

// TestSpecRedactsKey: a Spec printed in a log line, an error or a config dump
// never shows the key or a header value.
func TestSpecRedactsKey(t *testing.T) {
	t.Parallel()
	s := anthropic.Spec{APIKey: apiKey, Version: "2023-06-01", Headers: map[string]config.Secret{"X-Gw": "gw-0123456789"}}
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{
		"%v": fmt.Sprintf("%v", s), "%+v": fmt.Sprintf("%+v", s), "%#v": fmt.Sprintf("%#v", s),
		"pointer %+v": fmt.Sprintf("%+v", &s), "json": string(js),
	} {
		if strings.Contains(out, "0123456789") {
			t.Errorf("%s leaks a secret: %s", name, out)
		}
		if !strings.Contains(out, "[redacted]") || !strings.Contains(out, "2023-06-01") {
			t.Errorf("%s = %s, want the key redacted and the rest shown", name, out)
		}
	}
}

// TestHTTP2PriorKnowledge: with http2 on, streams to an http:// server that
// speaks h2c go over HTTP/2; short calls stay on HTTP/1.1.
func TestHTTP2PriorKnowledge(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	p := newProvider(t, &anthropic.Spec{BaseURL: srv.URL + "/v1", HTTP2: true})
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
}
