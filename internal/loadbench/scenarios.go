package loadbench

import (
	"context"
	"slices"
)

// fixed measures every path at every rate. Each round starts a fresh
// gateway per path and runs the rates in ascending order.
func (r *runner) fixed(ctx context.Context, rep *Report) error {
	rates := slices.Sorted(slices.Values(r.o.Rates))
	loads := map[Path]map[int][]Load{}
	for round := range r.o.Rounds {
		for _, p := range rotate(allPaths, round) {
			err := r.withEndpoint(ctx, p, func(ep *endpoint) error {
				for _, rate := range rates {
					l, err := r.attack(ctx, ep, rate, fixedWorkers, r.o.Duration)
					if err != nil {
						return err
					}
					r.logf("%s fixed %s @%d/s: %s", r.round(round), p, rate, l)
					if loads[p] == nil {
						loads[p] = map[int][]Load{}
					}
					loads[p][rate] = append(loads[p][rate], l)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	for _, rate := range rates {
		direct := loads[PathDirect][rate]
		for _, p := range allPaths {
			ls := loads[p][rate]
			row := FixedRow{Path: p, Rate: rate, Median: medianLoad(ls), Rounds: ls}
			if p != PathDirect {
				row.OverheadP50 = medianDiff(ls, direct, func(l Load) float64 { return l.P50 })
				row.OverheadP99 = medianDiff(ls, direct, func(l Load) float64 { return l.P99 })
			}
			rep.Fixed = append(rep.Fixed, row)
		}
	}
	return nil
}

// maxThroughput finds each path's throughput on one core: vegeta with no pacing and a
// fixed pool of workers, the best of MaxWorkers.
func (r *runner) maxThroughput(ctx context.Context, rep *Report) error {
	best := map[Path][]Load{}
	workers := map[Path][]int{}
	for round := range r.o.Rounds {
		for _, p := range rotate(allPaths, round) {
			err := r.withEndpoint(ctx, p, func(ep *endpoint) error {
				var top Load
				topWorkers := 0
				for i, w := range r.o.MaxWorkers {
					if round == 0 && i == 0 && r.o.ProfileDir != "" && p == PathRelais {
						go r.cpuProfile(ctx, ep)
					}
					l, err := r.attack(ctx, ep, 0, w, r.o.Duration)
					if err != nil {
						return err
					}
					r.logf("%s max %s, %d workers: %s; harness core %.0f%% busy", r.round(round), p, w, l, 100*l.HarnessBusy)
					if l.Rate > top.Rate {
						top, topWorkers = l, w
					}
				}
				best[p] = append(best[p], top)
				workers[p] = append(workers[p], topWorkers)
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	for _, p := range allPaths {
		rep.Max = append(rep.Max, MaxRow{Path: p, Median: medianLoad(best[p]), Workers: workers[p], Rounds: best[p]})
	}
	return nil
}

// stream measures time to first and last token through every path.
func (r *runner) stream(ctx context.Context, rep *Report) error {
	loads := map[Path][]StreamLoad{}
	for round := range r.o.Rounds {
		for _, p := range rotate(allPaths, round) {
			err := r.withEndpoint(ctx, p, func(ep *endpoint) error {
				l, err := r.streamLoad(ctx, ep)
				if err != nil {
					return err
				}
				r.logf("%s stream %s: %s", r.round(round), p, l)
				loads[p] = append(loads[p], l)
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	direct := loads[PathDirect]
	for _, p := range allPaths {
		ls := loads[p]
		row := StreamRow{Path: p, Median: medianStreamLoad(ls), Rounds: ls}
		if p != PathDirect {
			row.AddedTTFTP50 = medianDiff(ls, direct, func(l StreamLoad) float64 { return l.TTFTP50 })
			row.AddedTTFTP99 = medianDiff(ls, direct, func(l StreamLoad) float64 { return l.TTFTP99 })
			row.AddedTTLTP50 = medianDiff(ls, direct, func(l StreamLoad) float64 { return l.TTLTP50 })
		}
		rep.Stream = append(rep.Stream, row)
	}
	return nil
}

// failing runs relais with its first target answering 503 to everything,
// next to the baseline against the healthy upstream, at FailingRate.
func (r *runner) failing(ctx context.Context, rep *Report) error {
	defer r.ups.a.failing.Store(false)
	loads := map[Path][]Load{}
	for round := range r.o.Rounds {
		for _, p := range rotate(gatewayPaths, round) {
			// Failing from before relais starts: the target is down, and
			// relais finds out from its own traffic.
			r.ups.a.failing.Store(p == PathRelais)
			err := r.withEndpoint(ctx, p, func(ep *endpoint) error {
				l, err := r.attack(ctx, ep, r.o.FailingRate, fixedWorkers, r.o.Duration)
				if err != nil {
					return err
				}
				r.logf("%s failing %s @%d/s: %s; %.1f req/s reached upstream A", r.round(round), p, r.o.FailingRate, l, l.UpstreamA)
				loads[p] = append(loads[p], l)
				return nil
			})
			r.ups.a.failing.Store(false)
			if err != nil {
				return err
			}
		}
	}
	for _, p := range gatewayPaths {
		state := "healthy"
		if p == PathRelais {
			state = "503 to everything"
		}
		rep.Failing = append(rep.Failing, FailingRow{Path: p, UpstreamA: state, Rate: r.o.FailingRate, Median: medianLoad(loads[p]), Rounds: loads[p]})
	}
	return nil
}

// streamsScale holds ScaleStreams long streams open through each gateway.
func (r *runner) streamsScale(ctx context.Context, rep *Report) error {
	scales := map[Path][]Scale{}
	for round := range r.o.Rounds {
		for _, p := range rotate(gatewayPaths, round) {
			err := r.withEndpoint(ctx, p, func(ep *endpoint) error {
				s, err := r.scale(ctx, ep)
				if err != nil {
					return err
				}
				r.logf("%s streams-scale %s: %s", r.round(round), p, s)
				scales[p] = append(scales[p], s)
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	for _, p := range gatewayPaths {
		rep.Scale = append(rep.Scale, ScaleRow{Path: p, Median: medianScale(scales[p]), Rounds: scales[p]})
	}
	return nil
}
