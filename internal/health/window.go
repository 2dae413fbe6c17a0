package health

import (
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
)

// Windows are kept in ten-second slices: fine enough for a one-minute
// window to slide smoothly, coarse enough that five minutes of latency
// sketches per component stay small (30 slices, reused as they rotate).
const (
	sliceSeconds = 10
	numSlices    = windowSeconds / sliceSeconds
	// sketchAccuracy: quantiles within 1 % of the true value.
	sketchAccuracy = 0.01
	// sketchBins bounds a sketch's memory (2048 bins cover 1 µs to hours
	// at 1 %); beyond it the lowest bins collapse, which only blurs the
	// fastest latencies.
	sketchBins = 2048
)

func newSketch() *ddsketch.DDSketch {
	s, err := ddsketch.LogCollapsingLowestDenseDDSketch(sketchAccuracy, sketchBins)
	if err != nil {
		// Only bad constants fail here.
		panic(err)
	}
	return s
}

// slice is ten seconds of one component's traffic.
type slice struct {
	start    int64 // unix seconds / sliceSeconds
	outcomes [NumOutcomes]uint32
	// latency of every attempt (the whole request as the client waited
	// for a route); first is how soon an answer began: time to first
	// event for streams, latency otherwise. least_latency orders by it.
	latency, ttft, first *ddsketch.DDSketch
	// outTokens over genSeconds: generation speed of attempts with output.
	outTokens  int64
	genSeconds float64
}

func (s *slice) reset(start int64) {
	s.start = start
	s.outcomes = [NumOutcomes]uint32{}
	for _, sk := range []*ddsketch.DDSketch{s.latency, s.ttft, s.first} {
		if sk != nil {
			sk.Clear()
		}
	}
	s.outTokens, s.genSeconds = 0, 0
}

func add(sk **ddsketch.DDSketch, d time.Duration) {
	if d <= 0 {
		return
	}
	if *sk == nil {
		*sk = newSketch()
	}
	_ = (*sk).Add(d.Seconds()) // fails only on NaN and negative values, excluded above
}

// recordDetail adds an attempt to its slice. latency is what the
// component's latency means: the attempt's for a target, the client's wait
// for a route.
func (s *series) recordDetail(now time.Time, o *Observation, latency time.Duration) {
	idx := now.Unix() / sliceSeconds
	sl := &s.slices[idx%numSlices]
	if sl.start != idx {
		sl.reset(idx)
	}
	sl.outcomes[o.Outcome]++
	add(&sl.latency, latency)
	if o.Stream {
		add(&sl.ttft, o.TTFT)
		add(&sl.first, o.TTFT)
	} else {
		add(&sl.first, latency)
	}
	if gen := o.Latency - o.TTFT; o.OutputTokens > 0 && gen > 0 {
		sl.outTokens += int64(o.OutputTokens)
		sl.genSeconds += gen.Seconds()
	}
}

// Window is a component's traffic over the last Length.
type Window struct {
	Length     time.Duration  `json:"-"`
	Requests   int            `json:"requests"`
	Failures   int            `json:"failures"`
	ErrorRatio float64        `json:"error_ratio"`
	Outcomes   map[string]int `json:"outcomes,omitempty"`
	// Quantiles in milliseconds; 0 when there is no data.
	LatencyP50 float64 `json:"latency_p50_ms"`
	LatencyP95 float64 `json:"latency_p95_ms"`
	LatencyP99 float64 `json:"latency_p99_ms"`
	TTFTP50    float64 `json:"ttft_p50_ms"`
	TTFTP95    float64 `json:"ttft_p95_ms"`
	// TokensPerSecond is output tokens over generation time.
	TokensPerSecond float64 `json:"tokens_per_second"`
}

// sliceRange returns the first and last slice of the last d: from the
// slice holding now-d, so a window covers at least d (and up to ten
// seconds more), never less.
func sliceRange(now time.Time, d time.Duration) (end, start int64) {
	end = now.Unix() / sliceSeconds
	start = max((now.Unix()-int64(d/time.Second))/sliceSeconds, end-numSlices+1)
	return end, start
}

// detail merges the slices of the last d.
func (s *series) detail(now time.Time, d time.Duration) Window {
	end, start := sliceRange(now, d)
	w := Window{Length: d}
	var outcomes [NumOutcomes]int
	latency, ttft := newSketch(), newSketch()
	var tokens int64
	var gen float64
	for i := range s.slices {
		sl := &s.slices[i]
		if sl.start < start || sl.start > end {
			continue
		}
		for o, n := range sl.outcomes {
			outcomes[o] += int(n)
		}
		merge(latency, sl.latency)
		merge(ttft, sl.ttft)
		tokens += sl.outTokens
		gen += sl.genSeconds
	}
	for o, n := range outcomes {
		if n == 0 {
			continue
		}
		bad, counts := failed(Outcome(o))
		if !counts {
			continue
		}
		if w.Outcomes == nil {
			w.Outcomes = map[string]int{}
		}
		w.Outcomes[Outcome(o).String()] = n
		w.Requests += n
		if bad {
			w.Failures += n
		}
	}
	if w.Requests > 0 {
		w.ErrorRatio = float64(w.Failures) / float64(w.Requests)
	}
	w.LatencyP50, w.LatencyP95, w.LatencyP99 = ms(latency, 0.5), ms(latency, 0.95), ms(latency, 0.99)
	w.TTFTP50, w.TTFTP95 = ms(ttft, 0.5), ms(ttft, 0.95)
	if gen > 0 {
		w.TokensPerSecond = float64(tokens) / gen
	}
	return w
}

// responsiveness is the median of how soon answers began over the last d,
// 0 when unknown.
func (s *series) responsiveness(now time.Time, d time.Duration) time.Duration {
	end, start := sliceRange(now, d)
	first := newSketch()
	for i := range s.slices {
		if sl := &s.slices[i]; sl.start >= start && sl.start <= end {
			merge(first, sl.first)
		}
	}
	v, err := first.GetValueAtQuantile(0.5)
	if err != nil {
		return 0
	}
	return time.Duration(v * float64(time.Second))
}

func merge(into, from *ddsketch.DDSketch) {
	if from != nil && !from.IsEmpty() {
		_ = into.MergeWith(from) // same mapping by construction
	}
}

func ms(sk *ddsketch.DDSketch, q float64) float64 {
	v, err := sk.GetValueAtQuantile(q)
	if err != nil {
		return 0 // empty
	}
	return v * 1000
}
