package detect

import (
	"context"
	"testing"
	"time"

	"github.com/relais/relais/internal/event"
	"github.com/relais/relais/internal/health"
)

// trendRun feeds n minutes of latency(i) and returns the trend forecasts
// with the minute index each came at.
func trendRun(t *testing.T, n int, latency func(i int) time.Duration) (evs []Forecast, at []int) {
	t.Helper()
	d, rec, clk := newTestDetector(t, Options{
		TargetLimit: func(provider, model string) time.Duration { return 5 * time.Second }, // threshold 80 %: 4 s
	})
	for i := range n {
		feed(d, clk, row(minute(i), "chat", "openai", "gpt-4o", traffic{attempts: 50, latency: latency(i), tokens: 400}))
		for _, ev := range only[Forecast](rec.take()) {
			evs, at = append(evs, ev), append(at, i)
		}
	}
	return evs, at
}

// noise is a deterministic wobble of ±2 %.
func noise(i int, v float64) float64 { return v * (1 + 0.01*float64((i*7)%5-2)) }

func seconds2d(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Latency creeping up 20 ms a minute from 1 s reaches the 4 s threshold
// at minute 150. With a 1 h horizon the forecast must come around minute
// 90 (4 - 60×0.02 = 2.8 s), say when the breach comes, and resolve once
// the threshold is reached.
func TestLatencyTrendForecast(t *testing.T) {
	t.Parallel()
	evs, at := trendRun(t, 160, func(i int) time.Duration { return seconds2d(noise(i, 1+0.02*float64(i))) })
	if len(evs) != 2 {
		t.Fatalf("want one forecast and its resolution, got %+v", evs)
	}
	fc := evs[0]
	if fc.Kind != ForecastTrend || fc.Signal != SignalLatencyP95 || fc.Resolved || fc.Severity() != event.Warning {
		t.Fatalf("got %+v", fc)
	}
	if at[0] < 80 || at[0] > 95 {
		t.Errorf("forecast at minute %d, want about 90", at[0])
	}
	if fc.Current >= fc.Threshold || fc.Threshold != 4 {
		t.Errorf("current %v threshold %v: a forecast comes before the breach", fc.Current, fc.Threshold)
	}
	if fc.Rate < 1.0 || fc.Rate > 1.4 {
		t.Errorf("rate %v s/h, want about 1.2 (20 ms a minute)", fc.Rate)
	}
	if d := fc.BreachAt.Sub(minute(150)); d < -6*time.Minute || d > 6*time.Minute {
		t.Errorf("breach forecast at %s, it comes at %s", fc.BreachAt, minute(150))
	}
	mustContain(t, fc.Summary(), "target openai/gpt-4o: p95 latency", "forecast to reach 4.00s at")
	res := evs[1]
	if !res.Resolved || at[1] < 145 || at[1] > 152 || res.Condition() != fc.Condition() {
		t.Errorf("resolution %+v at minute %d, want when 4 s is reached (about 150)", res, at[1])
	}
	mustContain(t, res.Summary(), "reached it")
}

// What must not raise a trend forecast.
func TestNoTrendForecast(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		latency func(i int) time.Duration
	}{
		{"flat and noisy", func(i int) time.Duration { return seconds2d(2 * (1 + 0.05*float64((i*7)%5-2))) }},
		{"rising too slowly to breach within the hour", func(i int) time.Duration { return seconds2d(noise(i, 1+0.002*float64(i))) }},
		{"already over the threshold", func(i int) time.Duration { return seconds2d(5 + 0.02*float64(i)) }},
		{"one spike", func(i int) time.Duration {
			if i == 50 {
				return 3900 * time.Millisecond
			}
			return seconds2d(noise(i, 1))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if evs, _ := trendRun(t, 90, tc.latency); len(evs) != 0 {
				t.Errorf("got %+v", evs)
			}
		})
	}
}

// quotaReport is an observation carrying request rate limits only.
func quotaReport(remaining, limit int64, reset time.Duration) *health.Observation {
	rl := health.NoRateLimit
	rl.RemainingRequests, rl.LimitRequests, rl.ResetRequests = remaining, limit, reset
	return &health.Observation{Provider: "openai", Model: "gpt-4o", Outcome: health.OK, RateLimit: rl}
}

// A quota of 10 000 requests resetting an hour after the first report,
// used at 300 a minute (50 every 10 s), runs out after 33 min 20 s. The
// forecast must come when the exhaustion is 15 min away (minute 18 20 s),
// turn critical when it is a minute away, and resolve at the reset.
func TestQuotaForecast(t *testing.T) {
	t.Parallel()
	d, rec, clk := newTestDetector(t, Options{})
	resetAt := t0.Add(time.Hour)
	remaining := int64(10_000)
	var evs []Forecast
	var times []time.Duration
	for remaining > 0 {
		d.Observe(quotaReport(remaining, 10_000, resetAt.Sub(clk.Now())))
		for _, ev := range only[Forecast](rec.take()) {
			evs, times = append(evs, ev), append(times, clk.Now().Sub(t0))
		}
		clk.Advance(10 * time.Second)
		remaining -= 50
	}
	if len(evs) != 2 {
		t.Fatalf("want a warning then a critical, got %+v", evs)
	}
	warn, crit := evs[0], evs[1]
	if warn.Kind != ForecastQuota || warn.Signal != SignalRequests || warn.Severity() != event.Warning || warn.Resolved {
		t.Fatalf("got %+v", warn)
	}
	if times[0] < 18*time.Minute || times[0] > 19*time.Minute {
		t.Errorf("forecast %s after the first report, want at about 18m20s", times[0])
	}
	exhaustion := t0.Add(33*time.Minute + 20*time.Second)
	if d := warn.BreachAt.Sub(exhaustion); d < -10*time.Second || d > 10*time.Second {
		t.Errorf("exhaustion forecast at %s, want about %s", warn.BreachAt, exhaustion)
	}
	if warn.Rate < 299 || warn.Rate > 301 || warn.Limit != 10_000 || !warn.ResetAt.Equal(resetAt) {
		t.Errorf("got %+v", warn)
	}
	mustContain(t, warn.Summary(), "target openai/gpt-4o: requests quota forecast to run out at 14:33:20 UTC", "using 300 a minute")
	if crit.Severity() != event.Critical || crit.Resolved || times[1] < 32*time.Minute {
		t.Errorf("critical %+v at %s", crit, times[1])
	}

	// The quota resets: a report with remaining back up resolves it.
	clk.Set(resetAt.Add(time.Second))
	d.Observe(quotaReport(9_999, 10_000, time.Hour))
	res := only[Forecast](rec.take())
	if len(res) != 1 || !res[0].Resolved || res[0].Condition() != warn.Condition() || res[0].Severity() != event.Critical {
		t.Fatalf("got %+v", res)
	}
	mustContain(t, res[0].Summary(), "the quota reset")
}

// A forecast resolves at the reset even when no report comes after it.
func TestQuotaResolvesAtResetWithoutTraffic(t *testing.T) {
	t.Parallel()
	d, rec, clk := newTestDetector(t, Options{})
	// 4 % of the limit left: low whatever the rate.
	d.Observe(quotaReport(400, 10_000, 30*time.Second))
	if evs := only[Forecast](rec.take()); len(evs) != 1 || evs[0].Resolved || !evs[0].BreachAt.IsZero() {
		t.Fatalf("got %+v", evs)
	}
	clk.Advance(20 * time.Second)
	d.Sweep()
	if evs := rec.take(); len(evs) != 0 {
		t.Fatalf("resolved before the reset: %+v", evs)
	}
	clk.Advance(10 * time.Second)
	d.Sweep()
	if evs := only[Forecast](rec.take()); len(evs) != 1 || !evs[0].Resolved {
		t.Fatalf("got %+v", evs)
	}
}

// What must not raise a quota forecast.
func TestNoQuotaForecast(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		reports func(i int) *health.Observation
	}{
		// 300 a minute from 10 000 would run out in 33 min, but the quota
		// resets in 10.
		{"runs out after the reset", func(i int) *health.Observation {
			return quotaReport(10_000-int64(i)*50, 10_000, 10*time.Minute-time.Duration(i)*10*time.Second)
		}},
		// Concurrent responses arrive out of order: remaining wobbles but
		// does not fall.
		{"out-of-order reports", func(i int) *health.Observation {
			return quotaReport(9_000+int64(i%3)*20, 10_000, time.Hour)
		}},
		{"no rate limits reported", func(int) *health.Observation {
			return &health.Observation{Provider: "openai", Model: "gpt-4o", RateLimit: health.NoRateLimit}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, rec, clk := newTestDetector(t, Options{})
			for i := range 50 {
				d.Observe(tc.reports(i))
				clk.Advance(10 * time.Second)
			}
			if evs := rec.take(); len(evs) != 0 {
				t.Errorf("got %+v", evs)
			}
		})
	}
}

func TestCertificateForecast(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	type step struct {
		advance time.Duration // the clock moves first
		// notAfter, from the clock after advancing; zero: a sweep, no probe
		notAfter time.Duration
		want     string // "": nothing; "warning", "critical", "resolved"
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"far from expiry", []step{{notAfter: 60 * day}}},
		{"warning, critical, renewed", []step{
			{notAfter: 20 * day},
			{advance: 7 * day, notAfter: 13 * day, want: "warning"},
			{advance: time.Hour, notAfter: 13*day - time.Hour},
			{advance: 11 * day, notAfter: 2*day - time.Hour, want: "critical"},
			{advance: time.Hour, notAfter: 90 * day, want: "resolved"},
		}},
		{"the sweep sees time pass between probes", []step{
			{notAfter: 4 * day, want: "warning"},
			{advance: 12 * time.Hour},
			{advance: 13 * time.Hour, want: "critical"},
		}},
		{"expired", []step{{notAfter: -time.Hour, want: "critical"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, rec, clk := newTestDetector(t, Options{})
			for i, s := range tc.steps {
				clk.Advance(s.advance)
				if s.notAfter != 0 {
					d.Certificate("api-tls", clk.Now().Add(s.notAfter))
				} else {
					d.Sweep()
				}
				evs := only[Forecast](rec.take())
				got := ""
				if len(evs) > 1 {
					t.Fatalf("step %d: %+v", i, evs)
				}
				if len(evs) == 1 {
					got = evs[0].Severity().String()
					if evs[0].Resolved {
						got = "resolved"
					}
					if evs[0].Kind != ForecastCertificate || evs[0].About() != (event.Subject{Kind: "check", Name: "api-tls"}) {
						t.Errorf("step %d: %+v", i, evs[0])
					}
				}
				if got != s.want {
					t.Errorf("step %d: %q, want %q (%+v)", i, got, s.want, evs)
				}
			}
		})
	}
}

func TestCertificateSummary(t *testing.T) {
	t.Parallel()
	d, rec, _ := newTestDetector(t, Options{})
	d.Certificate("api-tls", t0.Add(10*24*time.Hour))
	evs := only[Forecast](rec.take())
	if len(evs) != 1 {
		t.Fatalf("got %+v", evs)
	}
	mustContain(t, evs[0].Summary(), "check api-tls: certificate expires in 10 days, at 2026-03-12 14:00 UTC")
}

// Run sweeps until its context ends, and leaves no goroutine behind.
func TestRunStops(t *testing.T) {
	t.Parallel()
	d, _, _ := newTestDetector(t, Options{SweepInterval: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	d.Certificate("api-tls", t0.Add(24*time.Hour))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
