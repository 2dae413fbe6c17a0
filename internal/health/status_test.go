package health

import (
	"testing"
	"time"

	"github.com/relais/relais/internal/clock"
)

type statusRecorder struct{ events []StatusChanged }

func (r *statusRecorder) add(ev StatusChanged) { r.events = append(r.events, ev) }

func newTestTracker() (*Tracker, *clock.Fake, *statusRecorder) {
	clk := clock.NewFake(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	rec := &statusRecorder{}
	return NewTracker(clk, DefaultThresholds(), rec.add), clk, rec
}

// traffic sends n attempts a second for d, each failing when bad says so,
// ticking every second as the app does.
func traffic(tr *Tracker, clk *clock.Fake, perSecond int, d time.Duration, o Observation) {
	for elapsed := time.Duration(0); elapsed < d; elapsed += time.Second {
		for i := 0; i < perSecond; i++ {
			clk.Advance(time.Second / time.Duration(perSecond))
			tr.Observe(&o)
		}
		tr.Tick()
	}
}

func TestHardOutageIsMajorWithinSeconds(t *testing.T) {
	tr, clk, rec := newTestTracker()
	ok := Observation{Provider: "p", Model: "m", Route: "chat", Final: true, Outcome: OK}
	traffic(tr, clk, 5, time.Minute, ok)
	if len(rec.events) != 0 {
		t.Fatalf("healthy traffic changed status: %+v", rec.events)
	}
	start := clk.Now()
	down := ok
	down.Outcome, down.Final = HTTP5xx, false // failover serves the route
	served := ok
	served.Provider = "backup"
	for i := 0; i < 10 && len(rec.events) == 0; i++ {
		clk.Advance(200 * time.Millisecond)
		tr.Observe(&down)
		tr.Observe(&served)
		if i%5 == 4 {
			tr.Tick()
		}
	}
	if len(rec.events) == 0 {
		t.Fatal("no status change after 10 failures")
	}
	ev := rec.events[0]
	if ev.Kind != KindTarget || ev.Name != "p/m" || ev.To != MajorOutage || ev.At.Sub(start) > 5*time.Second {
		t.Errorf("event %+v after %s", ev, ev.At.Sub(start))
	}
	if tr.RouteStatus("chat") != Operational {
		t.Errorf("route %s while failover hides the outage", tr.RouteStatus("chat"))
	}
	// Recovery: Up good evaluations bring it back.
	traffic(tr, clk, 5, 2*time.Minute, ok)
	if got := tr.TargetStatus("p", "m"); got != Operational {
		t.Errorf("after recovery: %s", got)
	}
	if last := rec.events[len(rec.events)-1]; last.To != Operational || last.Text == "" {
		t.Errorf("last event %+v", last)
	}
}

func TestStrayErrorAtLowVolume(t *testing.T) {
	tr, clk, rec := newTestTracker()
	o := Observation{Provider: "p", Model: "m", Route: "chat", Final: true, Outcome: OK}
	bad := o
	bad.Outcome = HTTP5xx
	for i := 0; i < 3; i++ {
		tr.Observe(&o)
		clk.Advance(10 * time.Second)
		tr.Observe(&bad) // one error in two requests within the short window
		tr.Tick()
	}
	if len(rec.events) != 0 {
		t.Errorf("stray errors at low volume: %+v", rec.events)
	}
}

func TestDegradationAndFlapping(t *testing.T) {
	tr, clk, rec := newTestTracker()
	o := Observation{Provider: "p", Model: "m", Outcome: OK}
	// 20 % errors, never five in a row: degraded over the long window.
	for sec := 0; sec < 60; sec++ {
		for i := 0; i < 5; i++ {
			clk.Advance(200 * time.Millisecond)
			oo := o
			if i == 0 {
				oo.Outcome = TimeoutFirstToken
			}
			tr.Observe(&oo)
		}
		tr.Tick()
	}
	if got := tr.TargetStatus("p", "m"); got != DegradedPerformance {
		t.Fatalf("20 %% errors: %s (events %+v)", got, rec.events)
	}
	// Alternating good and bad seconds around the threshold must not flap:
	// the way back needs Up good evaluations in a row.
	n := len(rec.events)
	for sec := 0; sec < 60; sec++ {
		for i := 0; i < 5; i++ {
			clk.Advance(200 * time.Millisecond)
			oo := o
			if sec%2 == 0 && i < 2 {
				oo.Outcome = HTTP429
			}
			tr.Observe(&oo)
		}
		tr.Tick()
	}
	if changes := len(rec.events) - n; changes > 1 {
		t.Errorf("%d status changes while hovering at the threshold: %+v", changes, rec.events[n:])
	}
}

func TestClientCanceledAndClientErrorsDoNotCount(t *testing.T) {
	tr, clk, rec := newTestTracker()
	for i := 0; i < 50; i++ {
		clk.Advance(100 * time.Millisecond)
		o := Observation{Provider: "p", Model: "m", Outcome: ClientCanceled}
		if i%2 == 0 {
			o.Outcome = HTTP4xx
		}
		tr.Observe(&o)
		tr.Tick()
	}
	if len(rec.events) != 0 {
		t.Errorf("client-side outcomes changed status: %+v", rec.events)
	}
}

// BenchmarkTrackerObserve is the tracker's cost per healthy attempt, paid
// by the observation consumer, not the request.
func BenchmarkTrackerObserve(b *testing.B) {
	tr := NewTracker(clock.Real{}, DefaultThresholds(), nil)
	o := Observation{Provider: "openai", Model: "gpt-4o-mini", Route: "chat", Final: true, Outcome: OK,
		Stream: true, Latency: 1200 * time.Millisecond, TTFT: 300 * time.Millisecond, Elapsed: 1210 * time.Millisecond, OutputTokens: 90}
	b.ReportAllocs()
	for b.Loop() {
		tr.Observe(&o)
	}
}

// TestHeldTrafficIsDown: after one failure the gateway may hold traffic off
// a target (a cooldown, an open breaker); the few attempts that reach it
// must not delay the verdict. A rate-limiting target is partly down.
func TestHeldTrafficIsDown(t *testing.T) {
	for _, tc := range []struct {
		outcome Outcome
		want    Status
	}{{HTTP5xx, MajorOutage}, {HTTP429, PartialOutage}} {
		tr, clk, rec := newTestTracker()
		held := false
		tr.SetRefusing(func(p, m string) bool { return held && p == "p" && m == "m" })
		tr.Observe(&Observation{Provider: "p", Model: "m", Outcome: tc.outcome})
		tr.Tick()
		tr.Tick()
		if len(rec.events) != 0 {
			t.Fatalf("one failure without held traffic: %+v", rec.events)
		}
		held = true
		start := clk.Now()
		for i := 0; i < 3 && len(rec.events) == 0; i++ {
			clk.Advance(time.Second)
			tr.Tick()
		}
		if len(rec.events) != 1 || rec.events[0].To != tc.want || rec.events[0].At.Sub(start) > 2*time.Second || !rec.events[0].Held {
			t.Errorf("%s: events %+v", tc.outcome, rec.events)
		}
		// Trials succeed once it recovers: back to operational.
		held = false
		traffic(tr, clk, 1, time.Minute, Observation{Provider: "p", Model: "m", Outcome: OK})
		if got := tr.TargetStatus("p", "m"); got != Operational {
			t.Errorf("%s: after recovery %s", tc.outcome, got)
		}
	}
}
