package azure_test

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
	"testing"

	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/provider"
	"github.com/relais/relais/internal/provider/azure"
)

const apiKey = "azure-key-0123456789abcdef"

// received is what the fake Azure resource saw of one request.
type received struct {
	method string
	// uri is the escaped path and query as sent.
	uri           string
	header        http.Header
	body          []byte
	contentLength int64
}

func upstream(t *testing.T, status int) (*httptest.Server, <-chan received) {
	t.Helper()
	reqs := make(chan received, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		reqs <- received{method: r.Method, uri: r.RequestURI, header: r.Header.Clone(), body: b, contentLength: r.ContentLength}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, `{"object":"list","data":[]}`)
	}))
	t.Cleanup(srv.Close)
	return srv, reqs
}

func newProvider(t *testing.T, s *azure.Spec) *azure.Provider {
	t.Helper()
	if ps := s.Validate(); len(ps) > 0 {
		t.Fatalf("spec does not validate: %v", ps)
	}
	p, err := azure.New(provider.Options{Name: "aoai"}, s)
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
	chat := []byte(`{"model":"gpt-4o",  "messages":[{"role":"user","content":"héllo"}]}`)
	classic := azure.Spec{APIKey: apiKey, APIVersion: "2024-10-21"}
	v1 := azure.Spec{APIKey: apiKey, V1: true}
	tests := []struct {
		name   string
		spec   azure.Spec // Endpoint is the server's URL followed by suffix
		suffix string
		call   provider.Call
		method string
		uri    string
		want   map[string]string // headers that must be present; "" means absent
	}{
		{
			name: "classic chat", spec: classic,
			call:   provider.Call{Endpoint: provider.ChatCompletions, Model: "gpt-4o-prod", Body: chat, RequestID: "req-1"},
			method: http.MethodPost, uri: "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21",
			want: map[string]string{"Api-Key": apiKey, "Content-Type": "application/json", "X-Request-Id": "req-1",
				"Accept": "", "Authorization": ""},
		},
		{
			name: "classic stream", spec: classic, suffix: "/",
			call:   provider.Call{Endpoint: provider.ChatCompletions, Model: "gpt-4o-prod", Body: chat, Stream: true},
			method: http.MethodPost, uri: "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21",
			want: map[string]string{"Accept": "text/event-stream", "X-Request-Id": ""},
		},
		{
			name: "classic deployment name is one escaped segment", spec: classic,
			call:   provider.Call{Endpoint: provider.ChatCompletions, Model: "team a/gpt?4", Body: chat},
			method: http.MethodPost, uri: "/openai/deployments/team%20a%2Fgpt%3F4/chat/completions?api-version=2024-10-21",
		},
		{
			name: "classic embeddings", spec: classic,
			call:   provider.Call{Endpoint: provider.Embeddings, Model: "embed-3", Body: []byte(`{"input":"x"}`)},
			method: http.MethodPost, uri: "/openai/deployments/embed-3/embeddings?api-version=2024-10-21",
		},
		{
			name: "classic models", spec: classic,
			call:   provider.Call{Endpoint: provider.Models, Body: []byte(`{"ignored":true}`)},
			method: http.MethodGet, uri: "/openai/models?api-version=2024-10-21",
		},
		{
			name: "classic responses", spec: azure.Spec{APIVersion: "2025-04-01-preview"},
			call:   provider.Call{Endpoint: provider.Responses, Model: "gpt-4o", Body: []byte(`{"model":"gpt-4o","input":"x"}`)},
			method: http.MethodPost, uri: "/openai/responses?api-version=2025-04-01-preview",
			want: map[string]string{"Api-Key": ""},
		},
		{
			name: "classic under a gateway path", spec: classic, suffix: "/aoai/",
			call:   provider.Call{Endpoint: provider.ChatCompletions, Model: "d", Body: chat},
			method: http.MethodPost, uri: "/aoai/openai/deployments/d/chat/completions?api-version=2024-10-21",
		},
		{
			name: "v1 chat", spec: v1,
			call:   provider.Call{Endpoint: provider.ChatCompletions, Model: "gpt-4o", Body: chat, Stream: true, RequestID: "r"},
			method: http.MethodPost, uri: "/openai/v1/chat/completions",
			want: map[string]string{"Api-Key": apiKey, "Accept": "text/event-stream", "X-Request-Id": "r"},
		},
		{
			name: "v1 embeddings", spec: v1,
			call:   provider.Call{Endpoint: provider.Embeddings, Model: "e", Body: []byte(`{"model":"e","input":"x"}`)},
			method: http.MethodPost, uri: "/openai/v1/embeddings",
		},
		{
			name: "v1 models", spec: v1,
			call:   provider.Call{Endpoint: provider.Models},
			method: http.MethodGet, uri: "/openai/v1/models",
		},
		{
			name: "v1 responses", spec: v1,
			call:   provider.Call{Endpoint: provider.Responses, Body: []byte(`{"model":"m","input":"x"}`)},
			method: http.MethodPost, uri: "/openai/v1/responses",
		},
		{
			// Microsoft Entra ID: a bearer token instead of the key.
			name: "headers win over api-key", spec: azure.Spec{APIKey: apiKey, V1: true,
				Headers: map[string]config.Secret{"Authorization": "Bearer entra", "api-key": "other"}},
			call:   provider.Call{Endpoint: provider.ChatCompletions, Body: chat},
			method: http.MethodPost, uri: "/openai/v1/chat/completions",
			want: map[string]string{"Authorization": "Bearer entra", "Api-Key": "other"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, reqs := upstream(t, http.StatusOK)
			tt.spec.Endpoint = srv.URL + tt.suffix
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
			if got.method != tt.method || got.uri != tt.uri {
				t.Errorf("%s %s, want %s %s", got.method, got.uri, tt.method, tt.uri)
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

// TestDoNoDeployment: a classic call without a model cannot name its
// deployment; it fails before anything is sent.
func TestDoNoDeployment(t *testing.T) {
	t.Parallel()
	srv, reqs := upstream(t, http.StatusOK)
	p := newProvider(t, &azure.Spec{Endpoint: srv.URL, APIVersion: "2024-10-21"})
	resp, err := p.Do(t.Context(), &provider.Call{Endpoint: provider.ChatCompletions, Body: []byte(`{}`)})
	if err == nil {
		resp.Body.Close()
		t.Fatal("Do without a model succeeded")
	}
	select {
	case r := <-reqs:
		t.Errorf("the upstream received %s %s", r.method, r.uri)
	default:
	}
}

func TestDoErrors(t *testing.T) {
	t.Parallel()
	body := []byte(`{"model":"m"}`)
	for _, status := range []int{http.StatusBadRequest, http.StatusTooManyRequests, http.StatusInternalServerError} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			srv, reqs := upstream(t, status)
			p := newProvider(t, &azure.Spec{Endpoint: srv.URL, V1: true})
			resp, err := p.Do(t.Context(), &provider.Call{Endpoint: provider.ChatCompletions, Model: "m", Body: body})
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
	t.Run("canceled", func(t *testing.T) {
		t.Parallel()
		srv, _ := upstream(t, http.StatusOK)
		p := newProvider(t, &azure.Spec{Endpoint: srv.URL, V1: true})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		resp, err := p.Do(ctx, &provider.Call{Endpoint: provider.ChatCompletions, Model: "m", Body: body})
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
	p := newProvider(t, &azure.Spec{Endpoint: "https://r.openai.azure.com", V1: true})
	if p.Name() != "aoai" || p.Info() != (provider.Info{Dialect: provider.OpenAI}) {
		t.Errorf("Name() = %q, Info() = %+v", p.Name(), p.Info())
	}
}

func TestSpecValidate(t *testing.T) {
	t.Parallel()
	const ep = "https://r.openai.azure.com"
	tests := []struct {
		name string
		spec azure.Spec
		want []string // problem paths, in order
	}{
		{"classic", azure.Spec{Endpoint: ep, APIVersion: "2024-10-21"}, nil},
		{"v1", azure.Spec{Endpoint: ep + "/", V1: true}, nil},
		{"full", azure.Spec{Endpoint: "http://127.0.0.1:8080/aoai", APIVersion: "2025-04-01-preview", APIKey: apiKey,
			Headers: map[string]config.Secret{"Authorization": "Bearer x"}, MaxIdleConns: 4, HTTP2: true}, nil},
		{"zero value", azure.Spec{}, []string{"endpoint", "api_version"}},
		{"no scheme", azure.Spec{Endpoint: "r.openai.azure.com", V1: true}, []string{"endpoint"}},
		{"ftp", azure.Spec{Endpoint: "ftp://r.openai.azure.com", V1: true}, []string{"endpoint"}},
		{"query", azure.Spec{Endpoint: ep + "?api-version=2024-10-21", V1: true}, []string{"endpoint"}},
		{"with /openai", azure.Spec{Endpoint: ep + "/openai/", V1: true}, []string{"endpoint"}},
		{"with a deployment path", azure.Spec{Endpoint: ep + "/openai/deployments/x", V1: true}, []string{"endpoint"}},
		{"api_version with v1", azure.Spec{Endpoint: ep, V1: true, APIVersion: "2024-10-21"}, []string{"api_version"}},
		{"api_version with a space", azure.Spec{Endpoint: ep, APIVersion: "2024-10-21 "}, []string{"api_version"}},
		{"api_version with &", azure.Spec{Endpoint: ep, APIVersion: "2024-10-21&x=1"}, []string{"api_version"}},
		{"api_key with a newline", azure.Spec{Endpoint: ep, V1: true, APIKey: "k\n"}, []string{"api_key"}},
		{"bad header name", azure.Spec{Endpoint: ep, V1: true, Headers: map[string]config.Secret{"a b": "v"}}, []string{"headers"}},
		{"bad header value", azure.Spec{Endpoint: ep, V1: true, Headers: map[string]config.Secret{"X-K": "v\r\n"}}, []string{"headers.X-K"}},
		{"negative max_idle_conns", azure.Spec{Endpoint: ep, V1: true, MaxIdleConns: -1}, []string{"max_idle_conns"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var paths []string
			for _, p := range tt.spec.Validate() {
				paths = append(paths, p.Path)
				if p.Message == "" || strings.Contains(p.Message, "0123456789") {
					t.Errorf("problem at %s: message %q", p.Path, p.Message)
				}
			}
			if !slices.Equal(paths, tt.want) {
				t.Fatalf("problems at %v, want %v (%v)", paths, tt.want, tt.spec.Validate())
			}
		})
	}
}

func TestSpecRedactsKey(t *testing.T) {
	t.Parallel()
	s := azure.Spec{Endpoint: "https://r.openai.azure.com", APIVersion: "2024-10-21", APIKey: apiKey}
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"%+v": fmt.Sprintf("%+v", s), "%#v": fmt.Sprintf("%#v", s), "json": string(js)} {
		if strings.Contains(out, "0123456789") || !strings.Contains(out, "[redacted]") {
			t.Errorf("%s = %s, want the key redacted", name, out)
		}
	}
}
