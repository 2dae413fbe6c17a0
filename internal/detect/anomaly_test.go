package detect

import (
	"math"
	"testing"
	"time"

	"github.com/relais/relais/internal/event"
)

// normal is a healthy minute with a little noise, so baselines have a MAD:
// 100 attempts, an error every third minute, about 1 s, 500 tokens.
func normal(i int) traffic {
	tr := traffic{
		attempts: 100,
		latency:  time.Second + time.Duration(i%5)*20*time.Millisecond,
		ttft:     300*time.Millisecond + time.Duration(i%3)*10*time.Millisecond,
		tokens:   500 + int64(i%7)*5,
	}
	if i%3 == 0 {
		tr.failed = 1
	}
	return tr
}

// anomalies runs 30 normal minutes, then the bad minutes, then 5 normal
// ones, and returns the anomaly events with the minute index each came at.
func anomalies(t *testing.T, bad []traffic) (evs []AnomalyDetected, at []int) {
	t.Helper()
	d, rec, clk := newTestDetector(t, Options{})
	var script []traffic
	for i := range 30 {
		script = append(script, normal(i))
	}
	script = append(script, bad...)
	for i := range 5 {
		script = append(script, normal(30+len(bad)+i))
	}
	for i, tr := range script {
		feed(d, clk, row(minute(i), "chat", "openai", "gpt-4o", tr))
		for _, ev := range only[AnomalyDetected](rec.take()) {
			evs = append(evs, ev)
			at = append(at, i)
		}
	}
	return evs, at
}

func repeat(n int, f func(i int) traffic) []traffic {
	out := make([]traffic, n)
	for i := range out {
		out[i] = f(30 + i)
	}
	return out
}

// A target answering 200 with nothing in it: an empty-output anomaly,
// confirmed on its second minute, resolved two normal minutes after it ends.
func TestEmptyOutputStorm(t *testing.T) {
	t.Parallel()
	storm := repeat(5, func(i int) traffic {
		tr := normal(i)
		tr.failed, tr.empty = 0, 42
		return tr
	})
	evs, at := anomalies(t, storm)
	if len(evs) != 2 {
		t.Fatalf("want one anomaly and its resolution, got %+v", evs)
	}
	fired, resolved := evs[0], evs[1]
	if fired.Signal != SignalEmptyRate || fired.Resolved || at[0] != 31 {
		t.Errorf("fired %+v at minute %d, want empty_output_rate at 31 (the storm's second minute)", fired, at[0])
	}
	if fired.Value != 0.42 || fired.Baseline != 0 || !fired.Since.Equal(minute(30)) || fired.Severity() != event.Warning {
		t.Errorf("fired %+v", fired)
	}
	if fired.About() != (event.Subject{Kind: "target", Name: "openai/gpt-4o"}) {
		t.Errorf("about %v", fired.About())
	}
	mustContain(t, fired.Summary(), "target openai/gpt-4o: empty-output rate 42% (baseline 0%, since 14:30 UTC)")
	if !resolved.Resolved || resolved.Signal != SignalEmptyRate || at[1] != 36 || resolved.Severity() != event.Warning {
		t.Errorf("resolved %+v at minute %d, want at 36", resolved, at[1])
	}
	if resolved.Condition() != fired.Condition() {
		t.Errorf("conditions %q and %q do not pair", fired.Condition(), resolved.Condition())
	}
	mustContain(t, resolved.Summary(), "back to 0%")
}

// Answers that suddenly shrink are a silent failure: an anomaly, critical
// when they are a tenth of their usual length.
func TestOutputTokensDrop(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		tokens int64
		level  event.Severity
	}{
		{"to a third", 150, event.Warning},
		{"to almost nothing", 20, event.Critical},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			evs, _ := anomalies(t, repeat(3, func(i int) traffic {
				tr := normal(i)
				tr.tokens = tc.tokens
				return tr
			}))
			if len(evs) != 2 || evs[0].Signal != SignalOutputTokens || evs[0].Resolved || !evs[1].Resolved {
				t.Fatalf("got %+v", evs)
			}
			ev := evs[0]
			if ev.Value != float64(tc.tokens) || ev.Severity() != tc.level || ev.Deviation >= 0 || ev.Ratio >= 0.5 {
				t.Errorf("got %+v", ev)
			}
			mustContain(t, ev.Summary(), "output tokens per response")
		})
	}
}

// What must not raise an anomaly.
func TestNoAnomaly(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		bad  []traffic
	}{
		{"one bad minute at volume", repeat(1, func(i int) traffic {
			tr := normal(i)
			tr.failed = 60
			return tr
		})},
		{"bad minutes at low volume", repeat(5, func(int) traffic {
			return traffic{attempts: 5, failed: 5, latency: 10 * time.Second}
		})},
		{"an error ratio rise under the floor", repeat(5, func(i int) traffic {
			tr := normal(i)
			tr.failed = 4
			return tr
		})},
		{"latency up 20 %, under the floor", repeat(5, func(i int) traffic {
			tr := normal(i)
			tr.latency = tr.latency * 12 / 10
			return tr
		})},
		{"no traffic at all", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if evs, _ := anomalies(t, tc.bad); len(evs) != 0 {
				t.Errorf("got %+v", evs)
			}
		})
	}
}

// Latency and TTFT that double are anomalies, with their deviation in MADs.
func TestLatencyAnomaly(t *testing.T) {
	t.Parallel()
	evs, _ := anomalies(t, repeat(3, func(i int) traffic {
		tr := normal(i)
		tr.latency *= 2
		tr.ttft *= 3
		return tr
	}))
	got := map[string]AnomalyDetected{}
	for _, ev := range evs {
		if !ev.Resolved {
			got[ev.Signal] = ev
		}
	}
	if len(got) != 2 || got[SignalLatencyP95].Signal == "" || got[SignalTTFTP95].Signal == "" {
		t.Fatalf("got %+v", evs)
	}
	lat := got[SignalLatencyP95]
	if lat.Deviation < 4 || math.Abs(lat.Ratio-2) > 0.1 {
		t.Errorf("latency %+v", lat)
	}
	mustContain(t, lat.Summary(), "p95 latency 2.")
}

// An anomaly on a target that stops getting traffic resolves once nothing
// was judged for Stale, rather than staying open for ever.
func TestAnomalyGoesStale(t *testing.T) {
	t.Parallel()
	d, rec, clk := newTestDetector(t, Options{Stale: 10 * time.Minute})
	for i := range 30 {
		feed(d, clk, row(minute(i), "chat", "openai", "gpt-4o", normal(i)), row(minute(i), "chat", "anthropic", "claude", normal(i)))
	}
	for i := 30; i < 32; i++ {
		tr := normal(i)
		tr.failed = 50
		feed(d, clk, row(minute(i), "chat", "openai", "gpt-4o", tr), row(minute(i), "chat", "anthropic", "claude", normal(i)))
	}
	if evs := only[AnomalyDetected](rec.take()); len(evs) != 1 || evs[0].Signal != SignalErrorRatio || evs[0].Severity() != event.Critical {
		t.Fatalf("got %+v", evs)
	}
	// openai/gpt-4o gets no more traffic (the router moved away); the
	// other target keeps the minutes coming.
	var stale []AnomalyDetected
	at := 0
	for i := 32; i < 50; i++ {
		feed(d, clk, row(minute(i), "chat", "anthropic", "claude", normal(i)))
		for _, ev := range only[AnomalyDetected](rec.take()) {
			stale, at = append(stale, ev), i
		}
	}
	if len(stale) != 1 || !stale[0].Resolved || !stale[0].Stale || at != 41 {
		t.Fatalf("got %+v at minute %d, want a stale resolution at 41 (last judged 31, +10)", stale, at)
	}
	mustContain(t, stale[0].Summary(), "no traffic to judge since 14:32 UTC")
}
