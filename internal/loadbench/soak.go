package loadbench

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Soak is a long constant rate through relais, to see whether its own
// bookkeeping grows with the requests served.
type Soak struct {
	Rate     int     `json:"rate"`
	Duration float64 `json:"duration_s"`
	Load     Load    `json:"load"`
	// Live heap (go_gc_heap_live_bytes: what the last GC found reachable,
	// MiB) early in the run and at its end, each the median of the samples
	// around that time. This is what grows if bookkeeping leaks.
	EarlyAt    float64 `json:"early_at_s"`
	LiveEarly  float64 `json:"live_heap_early_mib"`
	LiveEnd    float64 `json:"live_heap_end_mib"`
	LiveChange float64 `json:"live_heap_change_pct"`
	// Heap in use (go_memstats_heap_inuse_bytes), which also counts garbage
	// not yet collected, so it swings with the GC cycle.
	HeapEarly  float64      `json:"heap_early_mib"`
	HeapEnd    float64      `json:"heap_end_mib"`
	HeapChange float64      `json:"heap_change_pct"`
	Samples    []HeapSample `json:"samples"`
}

// HeapSample is relais's heap at a time from the start of the load.
type HeapSample struct {
	At   float64 `json:"at_s"`
	Heap float64 `json:"heap_inuse_mib"`
	Live float64 `json:"live_heap_mib"`
}

// samplesPerWindow is how many samples make the early and the end figures.
const samplesPerWindow = 3

func (r *runner) soak(ctx context.Context, rep *Report) error {
	s := &Soak{Rate: r.o.SoakRate, Duration: r.o.SoakDuration.Seconds()}
	interval := min(max(r.o.SoakDuration/60, 100*time.Millisecond), 10*time.Second)
	early := min(time.Minute, r.o.SoakDuration/2)
	s.EarlyAt = early.Seconds()
	err := r.withEndpoint(ctx, PathRelais, func(ep *endpoint) error {
		sctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		var serr error
		wg.Go(func() { s.Samples, serr = r.sampleHeap(sctx, ep, interval) })
		var err error
		s.Load, err = r.attack(ctx, ep, r.o.SoakRate, fixedWorkers, r.o.SoakDuration)
		stop()
		wg.Wait()
		if err != nil {
			return err
		}
		return serr
	})
	if err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	end := s.Samples[len(s.Samples)-1].At
	heap := func(h HeapSample) float64 { return h.Heap }
	live := func(h HeapSample) float64 { return h.Live }
	s.HeapEarly = medianHeap(s.Samples, heap, early.Seconds(), interval.Seconds())
	s.HeapEnd = medianHeap(s.Samples, heap, end, interval.Seconds())
	s.HeapChange = change(s.HeapEarly, s.HeapEnd)
	s.LiveEarly = medianHeap(s.Samples, live, early.Seconds(), interval.Seconds())
	s.LiveEnd = medianHeap(s.Samples, live, end, interval.Seconds())
	s.LiveChange = change(s.LiveEarly, s.LiveEnd)
	r.logf("soak relais @%d/s for %s: %s; live heap %.2f MiB at %gs, %.2f MiB at the end (%+.1f%%); heap in use %.1f → %.1f MiB",
		s.Rate, r.o.SoakDuration, s.Load, s.LiveEarly, s.EarlyAt, s.LiveEnd, s.LiveChange, s.HeapEarly, s.HeapEnd)
	rep.Soak = s
	return nil
}

// sampleHeap scrapes relais's heap every interval until ctx ends.
func (r *runner) sampleHeap(ctx context.Context, ep *endpoint, interval time.Duration) ([]HeapSample, error) {
	start := time.Now()
	t := time.NewTicker(interval)
	defer t.Stop()
	var samples []HeapSample
	for {
		select {
		case <-ctx.Done():
			if len(samples) < samplesPerWindow {
				return samples, fmt.Errorf("only %d heap samples", len(samples))
			}
			return samples, nil
		case <-t.C:
		}
		vs, err := r.scrapeAll(ctx, ep.child.admin, "go_memstats_heap_inuse_bytes", "go_gc_heap_live_bytes")
		if err != nil {
			if ctx.Err() != nil {
				continue // the load ended during the scrape
			}
			return samples, err
		}
		samples = append(samples, HeapSample{At: time.Since(start).Seconds(), Heap: vs[0] / (1 << 20), Live: vs[1] / (1 << 20)})
	}
}

// medianHeap is the median of field over the samplesPerWindow samples taken
// at or just before at.
func medianHeap(samples []HeapSample, field func(HeapSample) float64, at, interval float64) float64 {
	var hs []float64
	for _, s := range samples {
		if s.At <= at+interval/2 && s.At > at-(samplesPerWindow+0.5)*interval {
			hs = append(hs, field(s))
		}
	}
	return median(hs)
}

// change is the relative change from a to b in percent, 0 without a.
func change(a, b float64) float64 {
	if a <= 0 {
		return 0
	}
	return (b/a - 1) * 100
}
