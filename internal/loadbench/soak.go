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
	// Heap in use (go_memstats_heap_inuse_bytes, MiB) early in the run and
	// at its end, each the median of the samples around that time: one
	// sample alone may land before or after a GC.
	EarlyAt    float64      `json:"early_at_s"`
	HeapEarly  float64      `json:"heap_early_mib"`
	HeapEnd    float64      `json:"heap_end_mib"`
	HeapChange float64      `json:"heap_change_pct"`
	Samples    []HeapSample `json:"samples"`
}

// HeapSample is relais's heap in use at a time from the start of the load.
type HeapSample struct {
	At   float64 `json:"at_s"`
	Heap float64 `json:"heap_inuse_mib"`
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
	s.HeapEarly = medianHeap(s.Samples, early.Seconds(), interval.Seconds())
	s.HeapEnd = medianHeap(s.Samples, s.Samples[len(s.Samples)-1].At, interval.Seconds())
	if s.HeapEarly > 0 {
		s.HeapChange = (s.HeapEnd/s.HeapEarly - 1) * 100
	}
	r.logf("soak relais @%d/s for %s: %s; heap %.1f MiB at %gs, %.1f MiB at the end (%+.1f%%)",
		s.Rate, r.o.SoakDuration, s.Load, s.HeapEarly, s.EarlyAt, s.HeapEnd, s.HeapChange)
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
		heap, err := r.scrape(ctx, ep.child.admin, "go_memstats_heap_inuse_bytes")
		if err != nil {
			if ctx.Err() != nil {
				continue // the load ended during the scrape
			}
			return samples, err
		}
		samples = append(samples, HeapSample{At: time.Since(start).Seconds(), Heap: heap / (1 << 20)})
	}
}

// medianHeap is the median of the samplesPerWindow samples taken at or
// just before at.
func medianHeap(samples []HeapSample, at, interval float64) float64 {
	var hs []float64
	for _, s := range samples {
		if s.At <= at+interval/2 && s.At > at-(samplesPerWindow+0.5)*interval {
			hs = append(hs, s.Heap)
		}
	}
	return median(hs)
}
