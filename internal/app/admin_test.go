package app_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relais/relais/internal/app"
	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/route"
)

// TestReload: app.Apply swaps in a config with a new route while requests
// flow; the new route is served at once, and the breaker of a target the
// old config already used stays open, with its breaker settings unchanged or
// changed by the new config.
func TestReload(t *testing.T) {
	t.Parallel()
	const breaker = "{min_requests: 1, failure_ratio: 0.5, window: 10s, open_for: 30s}"
	for _, tt := range []struct {
		name    string
		breaker string // the new config's breaker section
	}{
		{"same breaker settings", breaker},
		{"new breaker settings", "{min_requests: 5, failure_ratio: 0.8, window: 20s, open_for: 60s}"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			primary := newUpstream(t, "primary", fail(500, errorJSON("The server had an error.", "server_error", "")))
			backup := newUpstream(t, "backup", answer)
			old := topology{Primary: primary.url(), Backup: backup.url(), Breaker: breaker,
				Retries: "{attempts: 1, backoff: 20ms, max_backoff: 50ms, max_retry_after: 3s}"}
			r := startRelais(t, old.yaml())
			c := r.client(t)

			// One 500 of one request opens the primary's breaker.
			if got := chat(t, c, false, chatParams("chat")); got.err != nil || got.servedBy() != "backup" {
				t.Fatalf("first call: err %v, served by %q", got.err, got.servedBy())
			}
			if st := r.breakers(t)["primary/primary-model"]; st != "open" || primary.requests() != 1 {
				t.Fatalf("primary's breaker %q after %d requests, want open after 1", st, primary.requests())
			}

			// Reload under traffic.
			next := old
			next.Breaker = tt.breaker
			next.Routes = `  - model: chat
    targets:
      - {provider: primary, model: primary-model}
      - {provider: backup, model: backup-model}
  - model: chat2
    targets:
      - {provider: backup, model: backup-model-2}`
			cfg := parseConfig(t, next.yaml())
			stop := make(chan struct{})
			var failed atomic.Int64
			var wg sync.WaitGroup
			stopTraffic := sync.OnceFunc(func() {
				close(stop)
				wg.Wait()
			})
			defer stopTraffic()
			for range 4 {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						case <-t.Context().Done():
							return
						default:
						}
						req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+r.addr+"/v1/chat/completions", strings.NewReader(chatBody))
						resp, err := r.http.Do(req)
						if err != nil {
							failed.Add(1)
							continue
						}
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							failed.Add(1)
						}
					}
				})
			}
			eventually(t, "traffic through the backup", func() bool { return backup.requests() >= 10 })
			if err := r.app.Apply(cfg); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			eventually(t, "traffic after the reload", func() bool { return backup.last().Model == "backup-model" && backup.requests() >= 20 })
			stopTraffic()
			if n := failed.Load(); n > 0 {
				t.Errorf("%d requests failed across the reload", n)
			}

			got := chat(t, c, false, chatParams("chat2"))
			if got.err != nil || got.servedBy() != "backup" || got.header.Get("X-Relais-Model") != "backup-model-2" || backup.last().Model != "backup-model-2" {
				t.Fatalf("new route: err %v, served by %q/%q", got.err, got.servedBy(), got.header.Get("X-Relais-Model"))
			}
			ids := modelIDs(t, c)
			if !slices.Equal(ids, []string{"chat", "chat2"}) {
				t.Errorf("models %v after the reload, want [chat chat2]", ids)
			}

			// The primary's breaker survived: still open, still skipped.
			if st := r.breakers(t)["primary/primary-model"]; st != "open" {
				t.Errorf("primary's breaker %q after the reload, want open", st)
			}
			if got := chat(t, c, true, chatParams("chat")); got.err != nil || got.servedBy() != "backup" || got.attempts() != "1" {
				t.Errorf("old route after the reload: err %v, served by %q in %q attempts; want backup in 1", got.err, got.servedBy(), got.attempts())
			}
			if n := primary.requests(); n != 1 {
				t.Errorf("primary got %d requests, want 1: its open breaker must survive the reload", n)
			}
		})
	}
}

// TestDrain: an operator drains a provider through the admin API; new
// requests go to the backup without touching it, until it is enabled again.
func TestDrain(t *testing.T) {
	t.Parallel()
	primary := newUpstream(t, "primary", answer)
	backup := newUpstream(t, "backup", answer)
	r := startRelais(t, topology{Primary: primary.url(), Backup: backup.url()}.yaml())
	c := r.client(t)

	if got := chat(t, c, false, chatParams("chat")); got.err != nil || got.servedBy() != "primary" {
		t.Fatalf("before the drain: err %v, served by %q", got.err, got.servedBy())
	}

	resp, body := r.adminDo(t, http.MethodPost, "/admin/api/targets/disable", `{"provider":"primary"}`)
	var out struct {
		Targets []struct {
			Provider, Model string
			Disabled        bool
		}
	}
	if err := json.Unmarshal(body, &out); resp.StatusCode != http.StatusOK || err != nil || len(out.Targets) != 1 ||
		out.Targets[0].Provider != "primary" || out.Targets[0].Model != "primary-model" || !out.Targets[0].Disabled {
		t.Fatalf("disable: %d %s", resp.StatusCode, body)
	}
	for i := range 4 {
		stream := i%2 == 1
		got := chat(t, c, stream, chatParams("chat"))
		if got.err != nil || got.servedBy() != "backup" || got.attempts() != "1" || got.model != backup.model {
			t.Fatalf("drained call %d (stream %v): err %v, served by %q in %q attempts", i, stream, got.err, got.servedBy(), got.attempts())
		}
	}
	if n := primary.requests(); n != 1 {
		t.Errorf("the drained primary got %d requests in all, want 1 (before the drain)", n)
	}

	if resp, body := r.adminDo(t, http.MethodPost, "/admin/api/targets/disable", `{"provider":"nope"}`); resp.StatusCode != http.StatusNotFound {
		t.Errorf("draining an unknown provider: %d %s, want 404", resp.StatusCode, body)
	}

	if resp, body := r.adminDo(t, http.MethodPost, "/admin/api/targets/enable", `{"provider":"primary","model":"primary-model"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("enable: %d %s", resp.StatusCode, body)
	}
	for _, stream := range []bool{false, true} {
		if got := chat(t, c, stream, chatParams("chat")); got.err != nil || got.servedBy() != "primary" || got.model != primary.model {
			t.Errorf("after enable (stream %v): err %v, served by %q", stream, got.err, got.servedBy())
		}
	}
	if n := primary.requests(); n != 3 {
		t.Errorf("primary got %d requests in all, want 3", n)
	}
}

// TestPassiveStatus: a dead provider under traffic is major_outage while
// failover keeps its route operational; both show on the admin API and in
// relais_component_status.
func TestPassiveStatus(t *testing.T) {
	// A 500 neither cools the target down nor (with this breaker) opens it,
	// so every request tries it first.
	primary := newUpstream(t, "primary", fail(http.StatusInternalServerError, `{"error":{"message":"down","type":"server_error"}}`))
	backup := newUpstream(t, "backup", answer)
	r := startRelais(t, topology{Primary: primary.url(), Backup: backup.url(), Retries: "{attempts: 1}"}.yaml())
	c := r.client(t)
	for range 8 {
		if got := chat(t, c, false, chatParams("chat")); got.err != nil {
			t.Fatal(got.err)
		}
	}
	want := map[string]string{"target primary/primary-model": "major_outage", "target backup/backup-model": "operational", "route chat": "operational"}
	var got map[string]string
	// Observations reach health off the request path: give them a moment.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, body := r.adminDo(t, http.MethodGet, "/admin/api/status", "")
		var out struct {
			Components []struct{ Kind, Name, Status string } `json:"components"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil {
			t.Fatalf("GET /admin/api/status: %d %s", resp.StatusCode, body)
		}
		got = map[string]string{}
		for _, c := range out.Components {
			got[c.Kind+" "+c.Name] = c.Status
		}
		if maps.Equal(got, want) {
			break
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if got := r.metric(t, "relais_component_status", `kind="target"`, `name="primary/primary-model"`); got != 3 {
		t.Errorf("relais_component_status for primary = %v, want 3", got)
	}
	// Routing now holds traffic off the dead target: the next requests go
	// straight to the backup, but for at most one trial in the first
	// DownTrialEvery.
	before := primary.requests()
	start := time.Now()
	for range 10 {
		got := chat(t, c, false, chatParams("chat"))
		if got.err != nil {
			t.Fatal(got.err)
		}
		if got.header.Get("x-relais-provider") != "backup" {
			t.Fatalf("served by %q", got.header.Get("x-relais-provider"))
		}
	}
	if sent, allowed := primary.requests()-before, int(time.Since(start)/route.DownTrialEvery)+1; sent > allowed {
		t.Errorf("primary got %d requests while major_outage, want at most %d trials", sent, allowed)
	}
}

// TestHistoryStored: requests become per-minute rollups in the store once
// their minute closes, read back through /admin/api/history; a status
// change is an event on /admin/api/events and in relais_events_total.
func TestHistoryStored(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	primary := newUpstream(t, "primary", fail(http.StatusInternalServerError, `{"error":{"message":"down","type":"server_error"}}`))
	backup := newUpstream(t, "backup", answer)
	r := startRelaisWith(t, topology{Primary: primary.url(), Backup: backup.url(), Retries: "{attempts: 1}"}.yaml(), app.Options{Clock: clk})
	c := r.client(t)
	for range 6 {
		if got := chat(t, c, false, chatParams("chat")); got.err != nil {
			t.Fatal(got.err)
		}
	}
	clk.Advance(2 * time.Minute) // the minute closes, past its grace period
	type point struct {
		Attempts, Failed, Requests, Errors, Fallback int64
	}
	var out struct{ Points []point }
	path := "/admin/api/history?route=chat&from=2026-11-26T12:00:00Z&to=2026-11-26T12:05:00Z"
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, body := r.adminDo(t, http.MethodGet, path, "")
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil {
			t.Fatalf("GET history: %d %s", resp.StatusCode, body)
		}
		if len(out.Points) > 0 {
			break
		}
	}
	// Every request failed on the primary and was served by the backup.
	if want := []point{{Attempts: 12, Failed: 6, Requests: 6, Errors: 0, Fallback: 6}}; !slices.Equal(out.Points, want) {
		t.Fatalf("history %+v, want %+v", out.Points, want)
	}
	var body []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, body = r.adminDo(t, http.MethodGet, "/admin/api/events?type=status_changed", "")
		if strings.Contains(string(body), `"name": "primary/primary-model"`) {
			break
		}
	}
	if !strings.Contains(string(body), `"name": "primary/primary-model"`) {
		t.Errorf("events: %s", body)
	}
	if got := r.metric(t, "relais_events_total", `type="status_changed"`, `severity="critical"`); got < 1 {
		t.Errorf("relais_events_total{status_changed,critical} = %v", got)
	}
}
