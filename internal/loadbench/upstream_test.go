package loadbench

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/provider/registry"
)

func TestRequestAndCompletionSizes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		body     string
		min, max int
	}{
		{"request", chatRequest, 180, 220},
		{"stream request", streamRequest, 190, 240},
		{"completion", string(renderCompletion("bench-model-a")), 700, 800},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if n := len(tt.body); n < tt.min || n > tt.max {
				t.Errorf("%d bytes, want %d to %d", n, tt.min, tt.max)
			}
			if !json.Valid([]byte(tt.body)) {
				t.Errorf("not JSON: %s", tt.body)
			}
		})
	}
}

func TestUpstream(t *testing.T) {
	t.Parallel()
	ups, err := startUpstreams(context.Background(), streamShape{Chunks: 3, Gap: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer ups.close()
	tr := newTransport(2)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	post := func(t *testing.T, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, ups.a.url()+"/v1/chat/completions", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}

	t.Run("completion", func(t *testing.T) {
		code, body := post(t, chatRequest)
		if code != http.StatusOK || !strings.Contains(body, `"model":"bench-model-a"`) || !strings.Contains(body, `"usage"`) {
			t.Errorf("HTTP %d: %s", code, body)
		}
	})
	t.Run("stream with usage", func(t *testing.T) {
		_, body := post(t, strings.Replace(streamRequest, `"stream":true`, `"stream":true,"stream_options":{"include_usage":true}`, 1))
		events := sseEvents(body)
		want := []string{`"role":"assistant"`, `" token"`, `" token"`, `" token"`, `"finish_reason":"stop"`, `"usage"`, `[DONE]`}
		if len(events) != len(want) {
			t.Fatalf("%d events, want %d:\n%s", len(events), len(want), body)
		}
		for i, w := range want {
			if !strings.Contains(events[i], w) {
				t.Errorf("event %d = %s, want it to contain %s", i, events[i], w)
			}
		}
	})
	t.Run("stream without usage", func(t *testing.T) {
		_, body := post(t, streamRequest)
		if strings.Contains(body, `"usage"`) {
			t.Errorf("usage chunk not asked for:\n%s", body)
		}
	})
	t.Run("failing", func(t *testing.T) {
		ups.a.failing.Store(true)
		defer ups.a.failing.Store(false)
		code, body := post(t, chatRequest)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, `"overloaded"`) {
			t.Errorf("HTTP %d: %s", code, body)
		}
	})
	if n := ups.a.open.Load(); n != 1 {
		t.Errorf("%d open connections, want the client's one", n)
	}
}

func sseEvents(body string) []string {
	var events []string
	s := bufio.NewScanner(strings.NewReader(body))
	for s.Scan() {
		if data, ok := strings.CutPrefix(s.Text(), "data: "); ok {
			events = append(events, data)
		}
	}
	return events
}

func TestRelaisConfigIsValid(t *testing.T) {
	t.Parallel()
	raw := relaisConfig(t.TempDir(), "http://127.0.0.1:1", "http://127.0.0.1:2", 8512)
	cfg, err := config.Parse(raw, registry.Specs())
	if err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	if len(cfg.Keys) != 1 || len(cfg.Routes) != 1 || len(cfg.Routes[0].Targets) != 2 || cfg.Limits.MaxInFlight != 8512 {
		t.Errorf("unexpected config: %+v", cfg)
	}
}
