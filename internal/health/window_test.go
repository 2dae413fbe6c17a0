package health

import (
	"math"
	"testing"
	"time"
)

func near(got, want, tolerance float64) bool { return math.Abs(got-want) <= tolerance*want }

// Windows report quantiles from sketches (within their 1 % accuracy),
// outcomes by class and generation speed, over one and five minutes.
func TestWindows(t *testing.T) {
	tr, clk, _ := newTestTracker()
	// Four minutes of slow answers, then one minute of fast ones.
	for i := range 600 {
		clk.Advance(400 * time.Millisecond)
		o := Observation{Provider: "p", Model: "m", Route: "chat", Final: true, Outcome: OK, Stream: true,
			Latency: 2 * time.Second, TTFT: 500 * time.Millisecond, Elapsed: 2100 * time.Millisecond, OutputTokens: 150}
		if i >= 450 {
			o.Latency, o.TTFT, o.Elapsed = time.Second, 200*time.Millisecond, time.Second
			o.OutputTokens = 80
		}
		if i%10 == 0 {
			o.Outcome, o.OutputTokens = HTTP5xx, 0
		}
		tr.Observe(&o)
	}
	st := tr.Statuses()
	if len(st) != 2 || st[0].Kind != KindTarget || st[1].Kind != KindRoute {
		t.Fatalf("statuses %+v", st)
	}
	one, five := st[0].OneMinute, st[0].FiveMinutes
	// The minute reaches back to the slice holding now-1m: the 150 fast
	// answers and the last slow one.
	if one.Requests != 151 || five.Requests != 600 {
		t.Errorf("requests 1m %d 5m %d, want 151 and 600", one.Requests, five.Requests)
	}
	if five.Failures != 60 || five.Outcomes["http_5xx"] != 60 || five.Outcomes["ok"] != 540 || !near(five.ErrorRatio, 0.1, 1e-9) {
		t.Errorf("5m failures %d outcomes %v ratio %v", five.Failures, five.Outcomes, five.ErrorRatio)
	}
	if !near(one.LatencyP95, 1000, 0.02) || !near(one.TTFTP50, 200, 0.02) {
		t.Errorf("1m latency p95 %.1f ms ttft p50 %.1f ms, want 1000 and 200", one.LatencyP95, one.TTFTP50)
	}
	if !near(five.LatencyP50, 2000, 0.02) || !near(five.LatencyP99, 2000, 0.02) {
		t.Errorf("5m latency p50 %.1f p99 %.1f, want 2000", five.LatencyP50, five.LatencyP99)
	}
	// 80 tokens over 0.8 s of generation (and 150 over 1.5 s).
	if !near(one.TokensPerSecond, 100, 1e-9) {
		t.Errorf("1m tokens/s %.2f, want 100", one.TokensPerSecond)
	}
	// The route's latency is what the client waited.
	if route := st[1].FiveMinutes; !near(route.LatencyP50, 2100, 0.02) {
		t.Errorf("route p50 %.1f, want 2100", route.LatencyP50)
	}
	// Two minutes later the one-minute window is empty; the five-minute
	// window still holds the fast minute.
	clk.Advance(2 * time.Minute)
	st = tr.Statuses()
	if st[0].OneMinute.Requests != 0 || st[0].OneMinute.LatencyP50 != 0 || st[0].FiveMinutes.Requests == 0 {
		t.Errorf("after 2 quiet minutes: 1m %+v 5m requests %d", st[0].OneMinute, st[0].FiveMinutes.Requests)
	}
}

// least_latency orders by how soon answers begin: TTFT for streams,
// latency otherwise.
func TestResponsiveness(t *testing.T) {
	tr, clk, _ := newTestTracker()
	for range 20 {
		clk.Advance(time.Second)
		tr.Observe(&Observation{Provider: "stream", Model: "m", Outcome: OK, Stream: true, Latency: 3 * time.Second, TTFT: 300 * time.Millisecond})
		tr.Observe(&Observation{Provider: "plain", Model: "m", Outcome: OK, Latency: 800 * time.Millisecond})
	}
	got := map[string]time.Duration{}
	tr.Responsiveness(func(p, _ string, d time.Duration) { got[p] = d })
	if !near(got["stream"].Seconds(), 0.3, 0.02) || !near(got["plain"].Seconds(), 0.8, 0.02) {
		t.Errorf("responsiveness %v", got)
	}
	clk.Advance(2 * time.Minute)
	got = map[string]time.Duration{}
	tr.Responsiveness(func(p, _ string, d time.Duration) { got[p] = d })
	if len(got) != 0 {
		t.Errorf("targets without traffic reported: %v", got)
	}
}

// Probes keep a target's status fresh but are not traffic: an ai probe runs
// only while the gateway sends nothing.
func TestLastTrafficIgnoresProbes(t *testing.T) {
	tr, clk, _ := newTestTracker()
	tr.Observe(&Observation{Provider: "p", Model: "m", Outcome: OK})
	real := clk.Now()
	clk.Advance(time.Minute)
	tr.Observe(&Observation{Provider: "p", Model: "m", Outcome: OK, Probe: true, Check: "p-probe"})
	if got := tr.LastTraffic("p", "m"); !got.Equal(real) {
		t.Errorf("last traffic %v, want %v", got, real)
	}
	if got := tr.LastTraffic("q", "m"); !got.IsZero() {
		t.Errorf("unknown target: %v", got)
	}
}

// A check fails over its runs, few and far between: three failures in a
// row make it major_outage, whatever the volume.
func TestCheckStatus(t *testing.T) {
	tr, clk, rec := newTestTracker()
	run := func(outcome Outcome) {
		clk.Advance(30 * time.Second)
		tr.Observe(&Observation{Check: "vector-db", Probe: true, Outcome: outcome, Latency: 20 * time.Millisecond})
		tr.Tick()
		clk.Advance(time.Second)
		tr.Tick()
	}
	run(OK)
	run(ConnError)
	run(CheckFailed)
	if got := tr.CheckStatus("vector-db"); got != Operational {
		t.Fatalf("after 2 failures: %s", got)
	}
	run(ConnError)
	if got := tr.CheckStatus("vector-db"); got != MajorOutage {
		t.Fatalf("after 3 failures: %s", got)
	}
	ev := rec.events[len(rec.events)-1]
	if ev.Kind != KindCheck || ev.Name != "vector-db" || ev.InARow != 3 || ev.Provider != "" {
		t.Errorf("event %+v", ev)
	}
	if st := tr.Statuses(); len(st) != 1 || st[0].Kind != KindCheck {
		t.Errorf("statuses %+v", st)
	}
}
