package admin_test

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/detect"
	"github.com/relais/relais/internal/event"
	"github.com/relais/relais/internal/health"
	"github.com/relais/relais/internal/rollup"
	"github.com/relais/relais/internal/store"
)

// TestHistory reads stored minutes back through the admin API: a route's
// error ratio is what clients got, a target's what its attempts did.
func TestHistory(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	st, err := store.Open(t.Context(), store.Options{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "relais.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	b.store = st
	agg := rollup.New(clock.NewFake(start), st.Consume)
	// Minute 0: primary fails twice, backup serves both requests.
	// Minute 1: primary serves one request.
	for _, o := range []health.Observation{
		{Time: start, Route: "chat", Provider: "primary", Model: "m", Outcome: health.HTTP5xx, Latency: 100 * time.Millisecond},
		{Time: start, Route: "chat", Provider: "backup", Model: "m", Final: true, Fallback: true, Outcome: health.OK, Latency: 300 * time.Millisecond},
		{Time: start.Add(time.Second), Route: "chat", Provider: "primary", Model: "m", Outcome: health.HTTP5xx, Latency: 100 * time.Millisecond},
		{Time: start.Add(time.Second), Route: "chat", Provider: "backup", Model: "m", Final: true, Fallback: true, Outcome: health.OK, Latency: 300 * time.Millisecond},
		{Time: start.Add(time.Minute), Route: "chat", Provider: "primary", Model: "m", Final: true, Outcome: health.OK, Latency: 200 * time.Millisecond},
	} {
		agg.Observe(&o)
	}
	agg.FlushAll(context.Background())
	base := serve(t, b, token, nil) + "/admin/api/history?"
	get := func(q url.Values) (int, map[string]any) {
		a := call(t, http.MethodGet, base+q.Encode(), "Bearer "+token, "")
		var out map[string]any
		decodeJSON(t, a, &out)
		return a.status, out
	}
	window := url.Values{"from": {start.Format(time.RFC3339)}, "to": {start.Add(5 * time.Minute).Format(time.RFC3339)}}

	q := url.Values{"route": {"chat"}}
	for k, v := range window {
		q[k] = v
	}
	status, out := get(q)
	points, _ := out["points"].([]any)
	if status != http.StatusOK || len(points) != 2 {
		t.Fatalf("route history: %d %v", status, out)
	}
	p0 := points[0].(map[string]any)
	if p0["requests"] != 2.0 || p0["errors"] != 0.0 || p0["fallback"] != 2.0 || p0["attempts"] != 4.0 || p0["error_ratio"] != 0.0 {
		t.Errorf("route minute 0: %v", p0)
	}

	q.Set("target", "primary/m")
	q.Set("step", "5m")
	_, out = get(q)
	points, _ = out["points"].([]any)
	if len(points) != 1 {
		t.Fatalf("target history in one step: %v", out)
	}
	p := points[0].(map[string]any)
	// Three attempts, two failed.
	if p["attempts"] != 3.0 || p["failed"] != 2.0 || p["error_ratio"] != 2.0/3 || p["outcomes"].(map[string]any)["http_5xx"] != 2.0 {
		t.Errorf("primary over 5 minutes: %v", p)
	}
	if lat := p["latency_p50_ms"].(float64); lat < 99 || lat > 101 {
		t.Errorf("primary p50 %v ms, want 100 within 1 %%", lat)
	}

	for _, bad := range []struct{ query, want string }{
		{"series=routes", "series: unknown"},
		{"step=90s", "step: want a whole number of minutes"},
		{"from=2026-01-01T00:00:00Z&to=2025-01-01T00:00:00Z", "must be before to"},
		{"from=30d&step=1m", "more than 10080"},
		{"target=primary", "target: want provider/model"},
		{"from=yesterday", "from: want an RFC 3339 time or an age"},
	} {
		a := call(t, http.MethodGet, base+bad.query, "Bearer "+token, "")
		if a.status != http.StatusBadRequest || !strings.Contains(string(a.body), bad.want) {
			t.Errorf("%s: %d %s, want 400 with %q", bad.query, a.status, a.body, bad.want)
		}
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	b.events = []event.Event{
		health.StatusChanged{Kind: health.KindTarget, Name: "primary/m", Provider: "primary", Model: "m",
			From: health.Operational, To: health.MajorOutage, At: start, InARow: 5, Text: "target primary/m is major_outage"},
		health.StatusChanged{Kind: health.KindRoute, Name: "chat", From: health.Operational, To: health.PartialOutage, At: start.Add(time.Second), Text: "route chat is partial_outage"},
	}
	a := call(t, http.MethodGet, serve(t, b, token, nil)+"/admin/api/events?type=status_changed", "Bearer "+token, "")
	var out struct {
		Events []struct {
			Type, Severity, Kind, Name, Summary string
			At                                  time.Time
			Detail                              map[string]any
		}
	}
	decodeJSON(t, a, &out)
	if a.status != http.StatusOK || len(out.Events) != 2 {
		t.Fatalf("%d %s", a.status, a.body)
	}
	e := out.Events[0]
	if e.Type != "status_changed" || e.Severity != "critical" || e.Kind != "target" || e.Name != "primary/m" ||
		!e.At.Equal(start) || e.Summary != "target primary/m is major_outage" || e.Detail["to"] != "major_outage" {
		t.Errorf("event %+v", e)
	}
	if out.Events[1].Severity != "critical" {
		t.Errorf("a route partly down is critical: %+v", out.Events[1])
	}
	a = call(t, http.MethodGet, serve(t, b, token, nil)+"/admin/api/events?type=forecast", "Bearer "+token, "")
	decodeJSON(t, a, &out)
	if len(out.Events) != 0 {
		t.Errorf("type filter: %s", a.body)
	}
}

// TestSLOs: ten minutes of 100 requests with 2 errors each against a 99 %
// availability objective: 20 bad of 1000 where the budget allows 10, so the
// budget is overspent by its size (left = 1 - 20/10 = -1) and every window
// burns at 0.02 / 0.01 = 2×.
func TestSLOs(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	d, err := detect.New(clock.NewFake(start), detect.Options{SLOs: []detect.SLO{{Route: "chat", Availability: 0.99}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.detect = d
	for m := range 10 {
		d.Minute(context.Background(), []rollup.Rollup{{
			Key:    rollup.Key{Series: rollup.RouteTarget, Route: "chat", Provider: "p", Model: "m"},
			Minute: start.Add(time.Duration(m) * time.Minute), Attempts: 100, Requests: 100, Errors: 2, Failed: 2,
		}})
	}
	a := call(t, http.MethodGet, serve(t, b, token, nil)+"/admin/api/slos", "Bearer "+token, "")
	var out struct {
		SLOs []struct {
			Route, Objective, Window string
			Target                   float64
			BudgetLeft               float64 `json:"budget_left"`
			Good, Total              int64
			Burns                    []struct {
				Window   string
				BurnLong float64 `json:"burn_long"`
			} `json:"burn_rates"`
		} `json:"slos"`
	}
	decodeJSON(t, a, &out)
	if a.status != http.StatusOK || len(out.SLOs) != 1 {
		t.Fatalf("%d %s", a.status, a.body)
	}
	s := out.SLOs[0]
	if s.Route != "chat" || s.Objective != "availability" || s.Target != 0.99 || s.Window != "30d" ||
		s.Good != 980 || s.Total != 1000 || math.Abs(s.BudgetLeft+1) > 1e-9 || math.IsNaN(s.BudgetLeft) {
		t.Errorf("slo %+v", s)
	}
	if len(s.Burns) != 3 || s.Burns[0].Window != "fast" || math.Abs(s.Burns[0].BurnLong-2) > 1e-9 {
		t.Errorf("burns %+v", s.Burns)
	}
}
