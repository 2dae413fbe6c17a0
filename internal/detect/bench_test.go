package detect

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/relais/relais/internal/health"
	"github.com/relais/relais/internal/rollup"
)

// fleet is a minute of 50 targets × 5 routes (250 rows), every route with
// availability and latency objectives.
func fleet() (Options, []rollup.Rollup) {
	var opt Options
	for r := range 5 {
		opt.SLOs = append(opt.SLOs, SLO{Route: fmt.Sprintf("route-%d", r), Availability: 0.999, LatencyThreshold: 2 * time.Second, LatencyObjective: 0.99})
	}
	var rows []rollup.Rollup
	for r := range 5 {
		for tg := range 50 {
			tr := normal(tg)
			tr.attempts, tr.slow = 40, 1
			rows = append(rows, row(t0, fmt.Sprintf("route-%d", r), fmt.Sprintf("p%d", tg%5), fmt.Sprintf("model-%d", tg), tr))
		}
	}
	rollupSort(rows)
	return opt, rows
}

// rollupSort orders rows as the aggregator hands them on.
func rollupSort(rows []rollup.Rollup) {
	for i := 1; i < len(rows); i++ {
		for j := i; j > 0 && rollup.CompareKeys(rows[j].Key, rows[j-1].Key) < 0; j-- {
			rows[j], rows[j-1] = rows[j-1], rows[j]
		}
	}
}

func setMinute(rows []rollup.Rollup, m time.Time) {
	for i := range rows {
		rows[i].Minute = m
	}
}

// BenchmarkMinute is one closed minute of 50 targets × 5 routes, with warm
// baselines, full trend windows and 3 days of SLO minutes held.
func BenchmarkMinute(b *testing.B) {
	opt, rows := fleet()
	d, _, clk := newTestDetector(b, opt)
	m := 0
	for ; m < 3*1440; m++ {
		setMinute(rows, minute(m))
		if m < 3*1440-60 {
			d.Seed(rows) // fill the rings fast; the last hour goes through Minute
			continue
		}
		feed(d, clk, rows...)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		setMinute(rows, minute(m))
		m++
		d.Minute(ctx, rows)
	}
}

// BenchmarkObserve is one observation with rate limits, the detector's
// only per-request work.
func BenchmarkObserve(b *testing.B) {
	d, _, clk := newTestDetector(b, Options{})
	o := &health.Observation{Provider: "openai", Model: "gpt-4o", Outcome: health.OK, RateLimit: health.RateLimit{
		LimitRequests: 1_000_000, RemainingRequests: 1_000_000, ResetRequests: time.Hour,
		LimitTokens: 1_000_000_000, RemainingTokens: 1_000_000_000, ResetTokens: time.Hour,
	}}
	b.ReportAllocs()
	for b.Loop() {
		d.Observe(o)
		o.RateLimit.RemainingRequests--
		o.RateLimit.RemainingTokens -= 100
		clk.Advance(time.Millisecond)
	}
}

// BenchmarkObserveNoRateLimit is the common case: no headers, nothing to do.
func BenchmarkObserveNoRateLimit(b *testing.B) {
	d, _, _ := newTestDetector(b, Options{})
	o := &health.Observation{Provider: "openai", Model: "gpt-4o", RateLimit: health.NoRateLimit}
	b.ReportAllocs()
	for b.Loop() {
		d.Observe(o)
	}
}

// Every entry point at once, for the race detector.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	opt, rows := fleet()
	d, _, clk := newTestDetector(t, opt)
	var wg sync.WaitGroup
	wg.Go(func() {
		for m := range 30 {
			r := make([]rollup.Rollup, len(rows))
			copy(r, rows)
			setMinute(r, minute(m))
			feed(d, clk, r...)
		}
	})
	wg.Go(func() {
		for i := range 2000 {
			d.Observe(quotaReport(10_000-int64(i), 10_000, time.Hour))
		}
	})
	wg.Go(func() {
		for i := range 200 {
			d.Certificate("api-tls", t0.Add(time.Duration(i)*time.Hour))
			d.Sweep()
		}
	})
	wg.Go(func() {
		for range 100 {
			_ = d.Budgets()
		}
	})
	wg.Wait()
	if got := len(d.Budgets()); got != 10 {
		t.Errorf("%d budgets, want 5 routes × 2 objectives", got)
	}
}
