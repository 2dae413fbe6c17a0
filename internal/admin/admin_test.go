package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relais/relais/internal/admin"
	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/detect"
	"github.com/relais/relais/internal/event"
	"github.com/relais/relais/internal/health"
	"github.com/relais/relais/internal/route"
	"github.com/relais/relais/internal/store"
	"github.com/relais/relais/internal/usage"
)

const token = "s3cret-admin-token"

var (
	start   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	breaker = route.BreakerConfig{FailureRatio: 0.5, MinRequests: 1, Window: 10 * time.Second, OpenFor: 30 * time.Second}
)

// backend is a real route.States and usage.Accounts behind a Reload that
// fails on cue.
type backend struct {
	states    *route.States
	health    *health.Tracker
	usage     *usage.Accounts
	store     *store.Store
	events    []event.Event
	detect    *detect.Detector
	reloadErr error
	reloads   atomic.Int32
	ready     atomic.Bool
}

func (b *backend) States() *route.States   { return b.states }
func (b *backend) Health() *health.Tracker { return b.health }
func (b *backend) Usage() *usage.Accounts  { return b.usage }
func (b *backend) Ready() bool             { return b.ready.Load() }
func (b *backend) Events() []event.Event   { return b.events }
func (b *backend) Budgets() []detect.Budget {
	if b.detect == nil {
		return nil
	}
	return b.detect.Budgets()
}
func (b *backend) History(ctx context.Context, q store.HistoryQuery) ([]store.Point, error) {
	return b.store.History(ctx, q)
}
func (b *backend) Reload(context.Context) error {
	b.reloads.Add(1)
	return b.reloadErr
}

// newBackend knows three targets: openai/gpt-a (closed), openai/gpt-b (open
// until start+30s) and sim/sim-chat (closed).
func newBackend(t *testing.T) *backend {
	t.Helper()
	b := &backend{
		states: route.NewStates(clock.NewFake(start)),
		health: health.NewTracker(clock.NewFake(start), health.DefaultThresholds(), nil),
		usage:  usage.New(prometheus.NewRegistry(), usage.NewPrices(nil)),
	}
	b.ready.Store(true)
	b.states.Get("openai", "gpt-a", breaker)
	open := b.states.Get("openai", "gpt-b", breaker)
	open.Breaker.Cooldown(open.Breaker.Allow(), 30*time.Second)
	b.states.Get("sim", "sim-chat", breaker)
	return b
}

// serve starts the admin handler over loopback.
func serve(t *testing.T, b admin.Backend, tok string, gath prometheus.Gatherer) string {
	t.Helper()
	if gath == nil {
		gath = prometheus.NewRegistry()
	}
	srv := httptest.NewServer(admin.New(b, gath, admin.Options{Token: tok}).Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// call sends one request; auth "" sends no Authorization header.
func call(t *testing.T, method, url, auth, body string) answer {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// decodeJSON checks the answer is JSON and decodes it into v.
func decodeJSON(t *testing.T, a answer, v any) {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, a.body)
	}
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func errorCode(t *testing.T, a answer) apiError {
	t.Helper()
	var e apiError
	decodeJSON(t, a, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("no error code and message in %s", a.body)
	}
	return e
}

func TestAuth(t *testing.T) {
	t.Parallel()
	endpoints := []struct{ method, path, body string }{
		{http.MethodGet, "/admin/api/targets", ""},
		{http.MethodGet, "/admin/api/usage", ""},
		{http.MethodPost, "/admin/api/targets/disable", `{"provider":"openai"}`},
		{http.MethodPost, "/admin/api/targets/enable", `{"provider":"openai"}`},
		{http.MethodPost, "/admin/api/reload", ""},
	}
	tests := []struct {
		name   string
		token  string // configured
		auth   string // sent
		status int
	}{
		{"no header", token, "", http.StatusUnauthorized},
		{"wrong token", token, "Bearer wrong", http.StatusUnauthorized},
		{"token as a prefix", token, "Bearer " + token + "x", http.StatusUnauthorized},
		{"token without Bearer", token, token, http.StatusUnauthorized},
		{"other scheme", token, "Basic " + token, http.StatusUnauthorized},
		{"empty bearer", token, "Bearer ", http.StatusUnauthorized},
		{"right token", token, "Bearer " + token, http.StatusOK},
		{"scheme in lower case", token, "bearer " + token, http.StatusOK},
		{"open, no header", "", "", http.StatusOK},
		{"open, any header", "", "Bearer whatever", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, ep := range endpoints {
				b := newBackend(t)
				url := serve(t, b, tt.token, nil)
				a := call(t, ep.method, url+ep.path, tt.auth, ep.body)
				if a.status != tt.status {
					t.Fatalf("%s %s: status %d, want %d: %s", ep.method, ep.path, a.status, tt.status, a.body)
				}
				if tt.status != http.StatusUnauthorized {
					continue
				}
				if e := errorCode(t, a); e.Error.Code != "unauthorized" {
					t.Errorf("%s %s: error code %q, want unauthorized", ep.method, ep.path, e.Error.Code)
				}
				// A refused request must not reach the handler.
				if n := b.reloads.Load(); n != 0 {
					t.Errorf("%s %s: Reload called %d times without the token", ep.method, ep.path, n)
				}
				for _, st := range b.states.All() {
					if st.Disabled() {
						t.Errorf("%s %s: %s/%s drained without the token", ep.method, ep.path, st.Provider, st.Model)
					}
				}
			}
		})
	}
}

// TestOpenEndpoints: probes and scrapers never need the token.
func TestOpenEndpoints(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "relais_test_events_total", Help: "Test."})
	reg.MustRegister(c)
	c.Add(3)

	tests := []struct {
		name     string
		path     string
		ready    bool
		status   int
		contains string
	}{
		{"healthz", "/healthz", true, http.StatusOK, `"status": "ok"`},
		{"healthz while not ready", "/healthz", false, http.StatusOK, `"status": "ok"`},
		{"readyz ready", "/readyz", true, http.StatusOK, `"status": "ready"`},
		{"readyz not ready", "/readyz", false, http.StatusServiceUnavailable, `"status": "not ready"`},
		{"metrics", "/metrics", true, http.StatusOK, "relais_test_events_total 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBackend(t)
			b.ready.Store(tt.ready)
			a := call(t, http.MethodGet, serve(t, b, token, reg)+tt.path, "", "")
			if a.status != tt.status || !strings.Contains(string(a.body), tt.contains) {
				t.Fatalf("status %d, body %s; want %d and %q", a.status, a.body, tt.status, tt.contains)
			}
		})
	}
}

func TestReadyzFollowsBackend(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	url := serve(t, b, "", nil) + "/readyz"
	for _, ready := range []bool{true, false, true} {
		b.ready.Store(ready)
		want := http.StatusOK
		if !ready {
			want = http.StatusServiceUnavailable
		}
		if a := call(t, http.MethodGet, url, "", ""); a.status != want {
			t.Fatalf("ready %v: status %d, want %d", ready, a.status, want)
		}
	}
}

func TestTargets(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	st := b.states.Get("sim", "sim-chat", breaker)
	st.SetDisabled(true)
	st.SetLatency(1500 * time.Microsecond)
	for range 6 { // failures in a row: the target is down
		b.health.Observe(&health.Observation{Provider: "openai", Model: "gpt-b", Outcome: health.HTTP5xx})
	}

	a := call(t, http.MethodGet, serve(t, b, token, nil)+"/admin/api/targets", "Bearer "+token, "")
	if a.status != http.StatusOK {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	var got struct {
		Targets []map[string]any `json:"targets"`
	}
	decodeJSON(t, a, &got)
	wantUntil := start.Add(30 * time.Second).Format(time.RFC3339Nano)
	want := []map[string]any{
		{"provider": "openai", "model": "gpt-a", "breaker": "closed", "status": "operational", "disabled": false, "held_off": false, "latency_ms": 0.0, "latency_ewma_ms": 0.0},
		{"provider": "openai", "model": "gpt-b", "breaker": "open", "status": "major_outage", "disabled": false, "held_off": false, "latency_ms": 0.0, "latency_ewma_ms": 0.0, "open_until": wantUntil},
		{"provider": "sim", "model": "sim-chat", "breaker": "closed", "status": "operational", "disabled": true, "held_off": false, "latency_ms": 1.5, "latency_ewma_ms": 1.5},
	}
	if len(got.Targets) != len(want) {
		t.Fatalf("%d targets, want %d: %s", len(got.Targets), len(want), a.body)
	}
	// Only a target with traffic has windows: gpt-b's six failures.
	for i, tg := range got.Targets {
		one, _ := tg["one_minute"].(map[string]any)
		five, _ := tg["five_minutes"].(map[string]any)
		if hasTraffic := tg["model"] == "gpt-b"; hasTraffic != (one != nil && five != nil) {
			t.Errorf("targets[%d] windows %v %v", i, one, five)
		} else if hasTraffic && (one["requests"] != 6.0 || one["failures"] != 6.0 || five["error_ratio"] != 1.0) {
			t.Errorf("gpt-b windows %v %v", one, five)
		}
		delete(tg, "one_minute")
		delete(tg, "five_minutes")
	}
	for i := range want {
		if !maps.Equal(got.Targets[i], want[i]) {
			t.Errorf("targets[%d] = %v, want %v", i, got.Targets[i], want[i])
		}
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	for range 6 { // failures in a row, judged twice: down
		b.health.Observe(&health.Observation{Provider: "openai", Model: "gpt-b", Route: "chat", Final: true, Outcome: health.ConnError})
	}
	a := call(t, http.MethodGet, serve(t, b, token, nil)+"/admin/api/status", "Bearer "+token, "")
	var got struct {
		Components []map[string]any `json:"components"`
	}
	decodeJSON(t, a, &got)
	since := start.Format(time.RFC3339)
	want := []map[string]any{
		{"kind": "target", "name": "openai/gpt-b", "status": "major_outage", "since": since},
		{"kind": "route", "name": "chat", "status": "major_outage", "since": since},
	}
	if a.status != http.StatusOK || len(got.Components) != len(want) {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	for i, c := range got.Components {
		one, _ := c["one_minute"].(map[string]any)
		if one["requests"] != 6.0 || one["outcomes"].(map[string]any)["conn_error"] != 6.0 {
			t.Errorf("components[%d] one_minute %v", i, one)
		}
		delete(c, "one_minute")
		delete(c, "five_minutes")
	}
	for i := range want {
		if !maps.Equal(got.Components[i], want[i]) {
			t.Errorf("components[%d] = %v, want %v", i, got.Components[i], want[i])
		}
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	b.usage.Observe(&health.Observation{Key: "team-a", Route: "chat", Provider: "openai", Model: "gpt-a",
		Final: true, Outcome: health.OK, InputTokens: 10, OutputTokens: 5})
	a := call(t, http.MethodGet, serve(t, b, token, nil)+"/admin/api/usage", "Bearer "+token, "")
	var got struct {
		Usage []usage.Row `json:"usage"`
	}
	decodeJSON(t, a, &got)
	want := []usage.Row{{Key: "team-a", Route: "chat", Provider: "openai", Model: "gpt-a", Requests: 1, InputTokens: 10, OutputTokens: 5}}
	if a.status != http.StatusOK || !slices.Equal(got.Usage, want) {
		t.Fatalf("status %d, usage %+v; want 200, %+v", a.status, got.Usage, want)
	}
}

func TestSetDisabled(t *testing.T) {
	t.Parallel()
	all := []string{"openai/gpt-a", "openai/gpt-b", "sim/sim-chat"}
	tests := []struct {
		name      string
		before    []string // drained before the call
		path      string
		body      string
		status    int
		code      string   // error code when status is not 200
		changed   []string // targets in the answer
		afterward []string // drained after the call
	}{
		{
			name: "disable one model", path: "disable", body: `{"provider":"openai","model":"gpt-b"}`,
			status: http.StatusOK, changed: []string{"openai/gpt-b"}, afterward: []string{"openai/gpt-b"},
		},
		{
			name: "disable every model of a provider", path: "disable", body: `{"provider":"openai"}`,
			status: http.StatusOK, changed: []string{"openai/gpt-a", "openai/gpt-b"}, afterward: []string{"openai/gpt-a", "openai/gpt-b"},
		},
		{
			name: "disable is idempotent", before: []string{"sim/sim-chat"}, path: "disable", body: `{"provider":"sim","model":"sim-chat"}`,
			status: http.StatusOK, changed: []string{"sim/sim-chat"}, afterward: []string{"sim/sim-chat"},
		},
		{
			name: "enable one model", before: all, path: "enable", body: `{"provider":"openai","model":"gpt-a"}`,
			status: http.StatusOK, changed: []string{"openai/gpt-a"}, afterward: []string{"openai/gpt-b", "sim/sim-chat"},
		},
		{
			name: "enable every model of a provider", before: all, path: "enable", body: `{"provider":"openai"}`,
			status: http.StatusOK, changed: []string{"openai/gpt-a", "openai/gpt-b"}, afterward: []string{"sim/sim-chat"},
		},
		{
			name: "unknown provider", path: "disable", body: `{"provider":"opnai"}`,
			status: http.StatusNotFound, code: "not_found",
		},
		{
			name: "unknown model", before: []string{"sim/sim-chat"}, path: "enable", body: `{"provider":"openai","model":"gpt-z"}`,
			status: http.StatusNotFound, code: "not_found", afterward: []string{"sim/sim-chat"},
		},
		{
			name: "provider names match exactly", path: "disable", body: `{"provider":"OpenAI"}`,
			status: http.StatusNotFound, code: "not_found",
		},
		{name: "not JSON", path: "disable", body: `provider=openai`, status: http.StatusBadRequest, code: "bad_request"},
		{name: "empty body", path: "disable", body: "", status: http.StatusBadRequest, code: "bad_request"},
		{name: "no provider", path: "disable", body: `{"model":"gpt-a"}`, status: http.StatusBadRequest, code: "bad_request"},
		{name: "wrong type", path: "disable", body: `{"provider":1}`, status: http.StatusBadRequest, code: "bad_request"},
		{name: "trailing data", path: "disable", body: `{"provider":"openai"} {"provider":"other"}`, status: http.StatusBadRequest, code: "bad_request"},
		{name: "unknown field", path: "disable", body: `{"provider":"openai","modle":"gpt-a"}`, status: http.StatusBadRequest, code: "bad_request"},
		{
			name: "body over 64 KiB", path: "disable", body: `{"provider":"openai","model":"` + strings.Repeat("x", 1<<16) + `"}`,
			status: http.StatusBadRequest, code: "bad_request",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBackend(t)
			for _, st := range b.states.All() {
				st.SetDisabled(slices.Contains(tt.before, st.Provider+"/"+st.Model))
			}
			a := call(t, http.MethodPost, serve(t, b, token, nil)+"/admin/api/targets/"+tt.path, "Bearer "+token, tt.body)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			if tt.status == http.StatusOK {
				var got struct {
					Targets []admin.Target `json:"targets"`
				}
				decodeJSON(t, a, &got)
				var names []string
				for _, tg := range got.Targets {
					names = append(names, tg.Provider+"/"+tg.Model)
					if tg.Disabled != (tt.path == "disable") {
						t.Errorf("%s/%s answered disabled=%v after %s", tg.Provider, tg.Model, tg.Disabled, tt.path)
					}
				}
				if !slices.Equal(names, tt.changed) {
					t.Errorf("changed %v, want %v", names, tt.changed)
				}
			} else if e := errorCode(t, a); e.Error.Code != tt.code {
				t.Errorf("error code %q, want %q", e.Error.Code, tt.code)
			}
			var drained []string
			for _, st := range b.states.All() {
				if st.Disabled() {
					drained = append(drained, st.Provider+"/"+st.Model)
				}
			}
			if !slices.Equal(drained, tt.afterward) {
				t.Errorf("drained afterwards %v, want %v", drained, tt.afterward)
			}
		})
	}
}

func TestReload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      error
		status   int
		contains string
	}{
		{"accepted", nil, http.StatusOK, `"status": "reloaded"`},
		{"refused", errors.New(`routes[0].targets[0].provider: unknown provider "opnai"`), http.StatusUnprocessableEntity,
			`unknown provider \"opnai\"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBackend(t)
			b.reloadErr = tt.err
			a := call(t, http.MethodPost, serve(t, b, token, nil)+"/admin/api/reload", "Bearer "+token, "")
			if a.status != tt.status || !strings.Contains(string(a.body), tt.contains) {
				t.Fatalf("status %d, body %s; want %d and %q", a.status, a.body, tt.status, tt.contains)
			}
			if n := b.reloads.Load(); n != 1 {
				t.Errorf("Reload called %d times, want 1", n)
			}
			if tt.err != nil {
				if e := errorCode(t, a); e.Error.Code != "reload_refused" || !strings.HasSuffix(e.Error.Message, tt.err.Error()) {
					t.Errorf("error %+v, want reload_refused ending with %q", e.Error, tt.err)
				}
			}
		})
	}
}

func TestMethods(t *testing.T) {
	t.Parallel()
	tests := []struct{ method, path string }{
		{http.MethodGet, "/admin/api/reload"},
		{http.MethodGet, "/admin/api/targets/disable"},
		{http.MethodPost, "/admin/api/targets"},
		{http.MethodPost, "/healthz"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			b := newBackend(t)
			if a := call(t, tt.method, serve(t, b, token, nil)+tt.path, "Bearer "+token, ""); a.status != http.StatusMethodNotAllowed {
				t.Fatalf("status %d, want 405", a.status)
			}
			if b.reloads.Load() != 0 {
				t.Fatal("Reload called by a GET")
			}
		})
	}
}

func TestPprof(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		on     bool
		auth   string
		status int
	}{
		{"off", false, "Bearer " + token, http.StatusNotFound},
		{"on without token", true, "", http.StatusUnauthorized},
		{"on", true, "Bearer " + token, http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(admin.New(newBackend(t), prometheus.NewRegistry(), admin.Options{Token: token, Pprof: tt.on}).Handler())
			t.Cleanup(srv.Close)
			if got := call(t, http.MethodGet, srv.URL+"/debug/pprof/goroutine?debug=1", tt.auth, "").status; got != tt.status {
				t.Errorf("status %d, want %d", got, tt.status)
			}
		})
	}
}
