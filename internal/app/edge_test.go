package app_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestAllOpenStillTried: when every target's breaker is open, relais tries
// them in order rather than failing untried, and a target that recovered
// serves (and its breaker closes).
func TestAllOpenStillTried(t *testing.T) {
	t.Parallel()
	primary := newUpstream(t, "primary", fail(500, errorJSON("Boom.", "server_error", "")))
	backup := newUpstream(t, "backup", fail(500, errorJSON("Boom.", "server_error", "")))
	r := startRelais(t, topology{Primary: primary.url(), Backup: backup.url(),
		Retries: "{attempts: 1, backoff: 10ms, max_backoff: 10ms, max_retry_after: 1s}",
		Breaker: "{min_requests: 1, failure_ratio: 0.5, window: 10s, open_for: 1m}"}.yaml())
	resp, _ := r.do(t, http.MethodPost, "/v1/chat/completions", chatBody, "Authorization", "Bearer "+testKey)
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("both failing: status %d, want 502", resp.StatusCode)
	}
	if b := r.breakers(t); b["primary/primary-model"] != "open" || b["backup/backup-model"] != "open" {
		t.Fatalf("breakers %v, want both open", b)
	}
	backup.set(answer)
	resp, body := r.do(t, http.MethodPost, "/v1/chat/completions", chatBody, "Authorization", "Bearer "+testKey)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Relais-Provider") != "backup" {
		t.Fatalf("all open, backup recovered: %d from %q: %s", resp.StatusCode, resp.Header.Get("X-Relais-Provider"), body)
	}
	if primary.requests() != 2 || backup.requests() != 2 {
		t.Errorf("requests primary %d backup %d, want 2 and 2 (each tried once more, in order)", primary.requests(), backup.requests())
	}
	if b := r.breakers(t); b["backup/backup-model"] != "closed" {
		t.Errorf("backup breaker %q after serving, want closed", b["backup/backup-model"])
	}
}

// TestCapabilitiesSkipTargets: a request with tools skips a target that
// declares no tools, instead of failing over into a 400.
func TestCapabilitiesSkipTargets(t *testing.T) {
	t.Parallel()
	primary := newUpstream(t, "primary", answer)
	backup := newUpstream(t, "backup", answer)
	r := startRelais(t, topology{Primary: primary.url(), Backup: backup.url(), Routes: `  - model: chat
    targets:
      - {provider: primary, model: primary-model, capabilities: [vision], max_context: 100000}
      - {provider: backup, model: backup-model, capabilities: [tools, vision]}`}.yaml())
	tools := `{"model":"chat","tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"messages":[{"role":"user","content":"hi"}]}`
	resp, _ := r.do(t, http.MethodPost, "/v1/chat/completions", tools, "Authorization", "Bearer "+testKey)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Relais-Provider") != "backup" || primary.requests() != 0 {
		t.Fatalf("tools request: %d from %q, primary got %d; want backup without touching primary",
			resp.StatusCode, resp.Header.Get("X-Relais-Provider"), primary.requests())
	}
	resp, _ = r.do(t, http.MethodPost, "/v1/chat/completions", chatBody, "Authorization", "Bearer "+testKey)
	if resp.Header.Get("X-Relais-Provider") != "primary" {
		t.Fatalf("plain request served by %q, want primary", resp.Header.Get("X-Relais-Provider"))
	}
	long := `{"model":"chat","messages":[{"role":"user","content":"` + strings.Repeat("word ", 100000) + `"}]}`
	resp, _ = r.do(t, http.MethodPost, "/v1/chat/completions", long, "Authorization", "Bearer "+testKey)
	if resp.Header.Get("X-Relais-Provider") != "backup" {
		t.Errorf("prompt beyond primary's max_context served by %q, want backup", resp.Header.Get("X-Relais-Provider"))
	}
}

// TestStreamQuirks: a malformed event is skipped and counted, and a stream
// that finishes without [DONE] is completed at once with [DONE].
func TestStreamQuirks(t *testing.T) {
	t.Parallel()
	quirky := func(u *upstream, w http.ResponseWriter, _ *http.Request, _ seenRequest, _ int64) {
		sseHeader(w)
		writeEvent(w, chunkJSON(u.model, map[string]any{"role": "assistant", "content": ""}, nil))
		writeEvent(w, `{"id":"x","choices":[{"delta":{"content":"broken`)
		writeEvent(w, chunkJSON(u.model, map[string]any{"content": "Hello"}, nil))
		writeEvent(w, chunkJSON(u.model, map[string]any{}, "stop"))
		// The handler returns: the stream ends without [DONE].
	}
	primary := newUpstream(t, "primary", quirky)
	backup := newUpstream(t, "backup", answer)
	r := startRelais(t, topology{Primary: primary.url(), Backup: backup.url()}.yaml())
	resp, body := r.do(t, http.MethodPost, "/v1/chat/completions",
		`{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`, "Authorization", "Bearer "+testKey)
	s := string(body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Relais-Provider") != "primary" {
		t.Fatalf("%d from %q", resp.StatusCode, resp.Header.Get("X-Relais-Provider"))
	}
	if strings.Contains(s, "broken") || !strings.Contains(s, "Hello") || !strings.HasSuffix(s, "data: [DONE]\n\n") || strings.Contains(s, `"error"`) {
		t.Errorf("stream not repaired as expected:\n%s", s)
	}
	if got := r.metric(t, "relais_sse_malformed_events_total", "provider", "primary"); got != 1 {
		t.Errorf("relais_sse_malformed_events_total = %v, want 1", got)
	}
}
