package detect

import (
	"cmp"
	"context"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/relais/relais/internal/event"
	"github.com/relais/relais/internal/rollup"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// burnsOf finds a budget's burn by window name.
func burnOf(t *testing.T, b Budget, window string) Burn {
	t.Helper()
	for _, x := range b.Burns {
		if x.Window == window {
			return x
		}
	}
	t.Fatalf("no %s window in %+v", window, b)
	return Burn{}
}

func budgetOf(t *testing.T, d *Detector, route, objective string) Budget {
	t.Helper()
	for _, b := range d.Budgets() {
		if b.Route == route && b.Objective == objective {
			return b
		}
	}
	t.Fatalf("no %s budget for route %s", objective, route)
	return Budget{}
}

// firing lists the conditions that fired and have not resolved, as
// "objective/window".
func firing(evs []BudgetBurn) []string {
	on := map[string]bool{}
	for _, ev := range evs {
		on[ev.Objective+"/"+ev.Window] = !ev.Resolved
	}
	var out []string
	for k, v := range on {
		if v {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// The burn rates of the default windows against values computed by hand.
// Burn rate = (bad / total over the window) / (1 - objective). Unless a
// case says otherwise 60 minutes are held, so every window longer than an
// hour sees the same hour, and the slow pair cannot fire: its 6 h short
// window is not covered yet.
func TestBurnRates(t *testing.T) {
	t.Parallel()
	type want struct {
		objective   string
		burns       map[string][2]float64 // window: long, short
		good, total int64
		left        float64
	}
	cases := []struct {
		name    string
		minutes int // default 60
		slo     SLO
		traffic func(i int) traffic
		want    []want
		firing  []string
	}{{
		// 2000 requests a minute, 1 error: 60/120 000 = 0.0005 in every
		// window; / 0.001 = 0.5. Budget: 120 000 × 0.001 = 120 allowed, 60
		// spent, half left.
		name:    "half the objective's error rate",
		slo:     SLO{Route: "chat", Availability: 0.999},
		traffic: func(int) traffic { return traffic{attempts: 2000, failed: 1} },
		want: []want{{
			objective: ObjectiveAvailability,
			burns:     map[string][2]float64{"fast": {0.5, 0.5}, "medium": {0.5, 0.5}, "slow": {0.5, 0.5}},
			good:      119_940, total: 120_000, left: 0.5,
		}},
	}, {
		// 55 clean minutes of 1000, then 5 minutes of 1000 with 20 errors.
		// fast: 1 h 100/60 000 = 0.001667 → 1.667; 5 m 100/5000 = 0.02 → 20.
		// medium: 6 h = the hour, 1.667; 30 m 100/30 000 → 3.333.
		// slow: 3 d and 6 h = the hour, 1.667 both: ≥ 1, but the hour
		// held does not cover 6 h: no ticket yet.
		// The short windows alone would page; the long ones say too little
		// budget went to matter. Budget: 60 allowed, 100 spent: 1-100/60.
		name: "a short spike pages nobody",
		slo:  SLO{Route: "chat", Availability: 0.999},
		traffic: func(i int) traffic {
			if i >= 55 {
				return traffic{attempts: 1000, failed: 20}
			}
			return traffic{attempts: 1000}
		},
		want: []want{{
			objective: ObjectiveAvailability,
			burns: map[string][2]float64{
				"fast":   {100.0 / 60_000 / 0.001, 100.0 / 5000 / 0.001},
				"medium": {100.0 / 60_000 / 0.001, 100.0 / 30_000 / 0.001},
				"slow":   {100.0 / 60_000 / 0.001, 100.0 / 60_000 / 0.001},
			},
			good: 59_900, total: 60_000, left: 1 - 100.0/60,
		}},
	}, {
		// 2 % errors all along: 0.02 / 0.001 = 20 in every window, over
		// 14.4, 6 and 1: fast and medium fire (slow would, with 6 h held).
		// 1200 spent of 60 allowed: 1 - 20 = -19 of the budget left.
		name:    "an outage burns everything",
		slo:     SLO{Route: "chat", Availability: 0.999},
		traffic: func(int) traffic { return traffic{attempts: 1000, failed: 20} },
		want: []want{{
			objective: ObjectiveAvailability,
			burns:     map[string][2]float64{"fast": {20, 20}, "medium": {20, 20}, "slow": {20, 20}},
			good:      58_800, total: 60_000, left: -19,
		}},
		firing: []string{"availability/fast", "availability/medium"},
	}, {
		// 7 hours of 0.2 % errors: 0.002 / 0.001 = 2 in every window: under
		// 14.4 and 6, over 1: the slow window fires once 6 h are held.
		// 420 000 requests, 840 errors, 420 allowed: 1 - 2 = -1.
		name:    "a slow burn makes a ticket",
		minutes: 420,
		slo:     SLO{Route: "chat", Availability: 0.999},
		traffic: func(int) traffic { return traffic{attempts: 1000, failed: 2} },
		want: []want{{
			objective: ObjectiveAvailability,
			burns:     map[string][2]float64{"fast": {2, 2}, "medium": {2, 2}, "slow": {2, 2}},
			good:      420_000 - 840, total: 420_000, left: -1,
		}},
		firing: []string{"availability/slow"},
	}, {
		// 7 hours of 100 requests a minute, none failed, 5 over the 1 s
		// threshold (at 2 s, the rest at 0.5 s): 5 % slow / 1 % budget = 5
		// everywhere: only the slow window (1×) fires; 6× and 14.4× are
		// not reached. Latency budget: 42 000 × 0.01 = 420 allowed, 2100
		// spent: 1 - 5 = -4. Availability: nothing failed, burn 0, budget
		// whole.
		name:    "slow requests burn the latency budget",
		minutes: 420,
		slo:     SLO{Route: "chat", Availability: 0.999, LatencyThreshold: time.Second, LatencyObjective: 0.99},
		traffic: func(int) traffic { return traffic{attempts: 100, slow: 5} },
		want: []want{{
			objective: ObjectiveAvailability,
			burns:     map[string][2]float64{"fast": {0, 0}, "medium": {0, 0}, "slow": {0, 0}},
			good:      42_000, total: 42_000, left: 1,
		}, {
			objective: ObjectiveLatency,
			burns:     map[string][2]float64{"fast": {5, 5}, "medium": {5, 5}, "slow": {5, 5}},
			good:      42_000 - 2100, total: 42_000, left: -4,
		}},
		firing: []string{"latency/slow"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, rec, clk := newTestDetector(t, Options{SLOs: []SLO{tc.slo}})
			for i := range cmp.Or(tc.minutes, 60) {
				feed(d, clk, row(minute(i), "chat", "openai", "gpt-4o", tc.traffic(i)))
			}
			for _, w := range tc.want {
				b := budgetOf(t, d, "chat", w.objective)
				for name, lr := range w.burns {
					got := burnOf(t, b, name)
					if !near(got.BurnLong, lr[0]) || !near(got.BurnShort, lr[1]) {
						t.Errorf("%s %s: burn %v/%v, want %v/%v", w.objective, name, got.BurnLong, got.BurnShort, lr[0], lr[1])
					}
				}
				if b.Good != w.good || b.Total != w.total || !near(b.Left, w.left) {
					t.Errorf("%s budget: good %d total %d left %v, want %d %d %v", w.objective, b.Good, b.Total, b.Left, w.good, w.total, w.left)
				}
			}
			burns := only[BudgetBurn](rec.take())
			if got := firing(burns); !slices.Equal(got, tc.firing) {
				t.Errorf("firing %v, want %v", got, tc.firing)
			}
			if len(burns) != len(tc.firing) {
				t.Errorf("%d burn events for %d firing conditions: a condition was published twice: %+v", len(burns), len(tc.firing), burns)
			}
			for _, ev := range burns {
				want := event.Critical
				if ev.Window == "slow" {
					want = event.Warning
				}
				if ev.Severity() != want {
					t.Errorf("%s: severity %s, want %s", ev.Window, ev.Severity(), want)
				}
			}
		})
	}
}

// A fast burn needs both windows: it resolves as soon as the short window
// is back under 14.4×, although the hour still burns well above it.
func TestBurnNeedsBothWindows(t *testing.T) {
	t.Parallel()
	d, rec, clk := newTestDetector(t, Options{SLOs: []SLO{{Route: "chat", Availability: 0.999}}})
	for i := range 60 {
		feed(d, clk, row(minute(i), "chat", "openai", "gpt-4o", traffic{attempts: 1000, failed: 20}))
	}
	rec.take()
	// Minute 60 is clean. Short (56-60): 4×20 / 5000 = 0.016 → 16, still
	// firing. Minute 61: 3×20 / 5000 = 0.012 → 12 < 14.4: resolved, while
	// the hour (2-61) holds 58×20 / 60 000 → 19.33.
	feed(d, clk, row(minute(60), "chat", "openai", "gpt-4o", traffic{attempts: 1000}))
	if evs := only[BudgetBurn](rec.take()); len(evs) != 0 {
		t.Fatalf("resolved too early: %+v", evs)
	}
	feed(d, clk, row(minute(61), "chat", "openai", "gpt-4o", traffic{attempts: 1000}))
	evs := only[BudgetBurn](rec.take())
	if len(evs) != 1 {
		t.Fatalf("want the fast burn's resolution alone, got %+v", evs)
	}
	ev := evs[0]
	if !ev.Resolved || ev.Window != "fast" || !near(ev.BurnShort, 12) || !near(ev.BurnLong, 58*20.0/60_000/0.001) {
		t.Errorf("got %+v", ev)
	}
	if ev.Severity() != event.Critical {
		t.Errorf("a resolution keeps its condition's severity: %s", ev.Severity())
	}
	// It fired once 5 minutes were held (minutes 0-4).
	if want := minute(5); !ev.Since.Equal(want) {
		t.Errorf("since %s, want %s", ev.Since, want)
	}
	mustContain(t, ev.Summary(), "route chat", "no longer burning", "14.4×")
}

// The minimum volumes keep a trickle of requests from paging.
func TestBurnMinVolume(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		minShort int64
		traffic  func(i int) traffic
		n        int
		firing   []string
	}{{
		// One request a minute, all failing: the hour holds 60 < 100.
		name:    "long window under its minimum",
		traffic: func(int) traffic { return traffic{attempts: 1, failed: 1} },
		n:       60,
	}, {
		// A first start without history: 1 % errors from the first
		// minute burn at 10×, over medium's 6×, but 10 minutes do not
		// cover its 30-minute short window: no page.
		name:    "too little history",
		traffic: func(int) traffic { return traffic{attempts: 100, failed: 1} },
		n:       10,
	}, {
		// 10 minutes of 20 clean requests, then 1 request a minute,
		// failing every other minute (10, 12, 14). At minute 14 the hour
		// holds 205 requests with 3 bad: 3/205/0.001 = 14.6 ≥ 14.4; the
		// 5 minutes (10-14) hold 5 requests < 10: fast does not fire.
		name: "short window under its minimum",
		traffic: func(i int) traffic {
			if i < 10 {
				return traffic{attempts: 20}
			}
			return traffic{attempts: 1, failed: int64(1 - i%2)}
		},
		n: 15,
	}, {
		name:     "the same with a short minimum of 1",
		minShort: 1,
		traffic: func(i int) traffic {
			if i < 10 {
				return traffic{attempts: 20}
			}
			return traffic{attempts: 1, failed: int64(1 - i%2)}
		},
		n:      15,
		firing: []string{"availability/fast"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, rec, clk := newTestDetector(t, Options{SLOs: []SLO{{Route: "chat", Availability: 0.999}}, BurnMinShort: tc.minShort})
			for i := range tc.n {
				feed(d, clk, row(minute(i), "chat", "openai", "gpt-4o", tc.traffic(i)))
			}
			if got := firing(only[BudgetBurn](rec.take())); !slices.Equal(got, tc.firing) {
				t.Errorf("firing %v, want %v", got, tc.firing)
			}
		})
	}
}

// The budget counts the whole SLO window from hourly sums, beyond the
// 3 days of minutes held for the burn windows.
func TestBudgetLeft(t *testing.T) {
	t.Parallel()
	// 4 days of 100 requests a minute (5760 minutes, 576 000 requests);
	// minutes i%40 < 3 have one error: 5760/40 × 3 = 432 errors.
	var rows []rollup.Rollup
	for i := range 4 * 1440 {
		tr := traffic{attempts: 100}
		if i%40 < 3 {
			tr.failed = 1
		}
		rows = append(rows, row(minute(i), "chat", "openai", "gpt-4o", tr))
	}
	cases := []struct {
		name        string
		window      time.Duration
		good, total int64
		left        float64
	}{
		// 30 days hold the 4 days: 576 allowed (0.1 % of 576 000), 432
		// spent: 1 - 432/576 = 0.25 left.
		{"4 days of a 30-day window", 0, 576_000 - 432, 576_000, 0.25},
		// 2 days: the last 48 hours, 2880 minutes: 288 000 requests, 216
		// errors, 288 allowed: 0.25 left.
		{"a 2-day window", 48 * time.Hour, 288_000 - 216, 288_000, 0.25},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, _, _ := newTestDetector(t, Options{SLOs: []SLO{{Route: "chat", Availability: 0.999, Window: tc.window}}})
			d.Seed(rows)
			b := budgetOf(t, d, "chat", ObjectiveAvailability)
			if b.Good != tc.good || b.Total != tc.total || !near(b.Left, tc.left) {
				t.Errorf("good %d total %d left %v, want %d %d %v", b.Good, b.Total, b.Left, tc.good, tc.total, tc.left)
			}
			if want := minute(4 * 1440); !b.Until.Equal(want) {
				t.Errorf("until %s, want %s", b.Until, want)
			}
			if want := b.Until.Add(-cmpOr(tc.window, 4*24*time.Hour)); !b.From.Equal(want) {
				t.Errorf("from %s, want %s", b.From, want)
			}
		})
	}
}

// A restarted detector seeded with the history keeps its burn-rate state:
// the same budgets, no duplicate of a burn already published, and the
// resolution when the burn stops.
func TestSeedKeepsBurnState(t *testing.T) {
	t.Parallel()
	opt := Options{SLOs: []SLO{{Route: "chat", Availability: 0.999}}}
	bad := traffic{attempts: 1000, failed: 20}
	var history []rollup.Rollup
	for i := range 60 {
		history = append(history, row(minute(i), "chat", "openai", "gpt-4o", bad))
	}
	before, beforeRec, beforeClk := newTestDetector(t, opt)
	for _, r := range history {
		feed(before, beforeClk, r)
	}
	if got := firing(only[BudgetBurn](beforeRec.take())); len(got) != 2 {
		t.Fatalf("the first process fired %v, want fast and medium", got)
	}

	after, afterRec, afterClk := newTestDetector(t, opt)
	after.Seed(history)
	if evs := afterRec.take(); len(evs) != 0 {
		t.Fatalf("Seed published %+v", evs)
	}
	if b, a := before.Budgets(), after.Budgets(); !reflect.DeepEqual(b, a) {
		t.Fatalf("budgets differ after a restart:\nbefore %+v\nafter  %+v", b, a)
	}
	// Both go on: one more bad minute (nothing new), then clean minutes
	// until the fast burn resolves. They must say the same things.
	next := []traffic{bad, {attempts: 1000}, {attempts: 1000}}
	for i, tr := range next {
		feed(before, beforeClk, row(minute(60+i), "chat", "openai", "gpt-4o", tr))
		feed(after, afterClk, row(minute(60+i), "chat", "openai", "gpt-4o", tr))
	}
	b, a := only[BudgetBurn](beforeRec.take()), only[BudgetBurn](afterRec.take())
	if len(a) != 1 || !a[0].Resolved || a[0].Window != "fast" {
		t.Fatalf("after the restart: %+v, want the fast burn's resolution", a)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("the restarted detector said\n%+v\nthe first one\n%+v", a, b)
	}
}

// slowCounter is exact to the sketch's 1 % accuracy.
func TestSlowCount(t *testing.T) {
	t.Parallel()
	sk := rollup.NewSketch()
	var values []float64
	for i := range 1000 {
		v := 0.01 * math.Pow(1.013, float64(i)) // 10 ms to ~4 min, spread over many bins
		values = append(values, v)
		_ = sk.Add(v)
	}
	for _, thr := range []float64{0.05, 0.5, 1, 2.5, 10, 60} {
		var exactAbove, within int64
		for _, v := range values {
			switch {
			case v > thr*1.01:
				exactAbove++
			case v > thr*0.99:
				within++ // in doubt at 1 %
			}
		}
		got := new(slowCounter).count(sk, thr)
		if got < exactAbove || got > exactAbove+within {
			t.Errorf("threshold %v: %d slow, want %d to %d", thr, got, exactAbove, exactAbove+within)
		}
	}
	if new(slowCounter).count(nil, 1) != 0 {
		t.Error("a nil sketch has slow values")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	cases := map[string]Options{
		"percent objective":         {SLOs: []SLO{{Route: "chat", Availability: 99.9}}},
		"no objective":              {SLOs: []SLO{{Route: "chat"}}},
		"latency without threshold": {SLOs: []SLO{{Route: "chat", LatencyObjective: 0.99}}},
		"two SLOs for a route":      {SLOs: []SLO{{Route: "chat", Availability: 0.99}, {Route: "chat", Availability: 0.9}}},
		"unknown floor":             {Floors: map[string]Floor{"latency": {Abs: 1}}},
		"short beyond long":         {BurnWindows: []BurnWindow{{Name: "x", Long: time.Minute, Short: time.Hour, Factor: 1}}},
		"critical before warning":   {CertWarning: 24 * time.Hour, CertCritical: 48 * time.Hour},
	}
	for name, opt := range cases {
		if _, err := New(nil, opt, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The aggregator may hand on several minutes at once, and late rows of a
// minute already handed on; history may come unsorted. Late rows count in
// the budget but do not make a judged minute judged again.
func TestLateAndBatchedRows(t *testing.T) {
	t.Parallel()
	d, rec, clk := newTestDetector(t, Options{SLOs: []SLO{{Route: "chat", Availability: 0.999}}})
	// Minutes 0 and 1 in one call.
	feed(d, clk, row(minute(0), "chat", "openai", "gpt-4o", traffic{attempts: 100}), row(minute(1), "chat", "openai", "gpt-4o", traffic{attempts: 100}))
	feed(d, clk, row(minute(2), "chat", "openai", "gpt-4o", traffic{attempts: 100}))
	// A late row of minute 1: a long stream that failed.
	d.Minute(context.Background(), []rollup.Rollup{row(minute(1), "chat", "openai", "gpt-4o", traffic{attempts: 1, failed: 1})})
	b := budgetOf(t, d, "chat", ObjectiveAvailability)
	if b.Total != 301 || b.Good != 300 || !b.Until.Equal(minute(3)) {
		t.Errorf("total %d good %d until %s, want 301, 300, %s", b.Total, b.Good, b.Until, minute(3))
	}
	if tg := d.targets[targetKey{"openai", "gpt-4o"}]; tg.judged != unixMinute(minute(2)) || tg.sig[sigError].base.n != 3 {
		t.Errorf("judged %d with %d baseline minutes, want minute 2 and 3", tg.judged, tg.sig[sigError].base.n)
	}
	rec.take()

	// Unsorted history seeds the same state as sorted history.
	var rows []rollup.Rollup
	for i := range 30 {
		rows = append(rows, row(minute(i), "chat", "openai", "gpt-4o", normal(i)))
	}
	sorted, _, _ := newTestDetector(t, Options{SLOs: []SLO{{Route: "chat", Availability: 0.999}}})
	sorted.Seed(rows)
	slices.Reverse(rows)
	unsorted, _, _ := newTestDetector(t, Options{SLOs: []SLO{{Route: "chat", Availability: 0.999}}})
	unsorted.Seed(rows)
	if !reflect.DeepEqual(sorted.Budgets(), unsorted.Budgets()) {
		t.Error("unsorted history seeds other budgets")
	}
	k := targetKey{"openai", "gpt-4o"}
	if s, u := sorted.targets[k].sig[sigLatency].base, unsorted.targets[k].sig[sigLatency].base; !reflect.DeepEqual(s, u) {
		t.Errorf("unsorted history seeds another baseline: %v, want %v", u, s)
	}
}
