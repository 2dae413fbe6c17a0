package rollup

import (
	"fmt"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/relais/relais/internal/health"
)

// Series says what a rollup aggregates.
type Series uint8

const (
	// RouteTarget: the attempts of one route at one target (provider, model).
	// Probe observations of an ai check land here with an empty Route.
	RouteTarget Series = iota
	// RouteKey: the requests of one client key on one route (final attempts
	// only: what the client got).
	RouteKey
	// Check: the runs of one active check.
	Check
)

var seriesNames = [...]string{"route_target", "route_key", "check"}

func (s Series) String() string {
	if int(s) < len(seriesNames) {
		return seriesNames[s]
	}
	return "unknown"
}

// Key names one rollup row.
type Key struct {
	Series   Series
	Route    string // RouteTarget, RouteKey
	Provider string // RouteTarget
	Model    string // RouteTarget
	Client   string // RouteKey: the client key's name
	Check    string // Check: the check's name
}

// Rollup is one minute of one series.
type Rollup struct {
	Key
	Minute time.Time // start of the minute, UTC

	// Attempts counts every observation; Failed those whose outcome counts
	// against the upstream (health.Outcome.Failed).
	Attempts, Failed int64
	// Outcomes counts attempts by outcome class, indexed by health.Outcome.
	Outcomes [health.NumOutcomes]int64

	// Requests counts final attempts: requests answered (or failed) for the
	// client; Errors those whose final attempt failed, so the client got an
	// error; Fallback those served by another target than the route's first.
	Requests, Errors, Fallback int64

	// Latency is every attempt's latency in seconds, TTFT the time to first
	// event of stream attempts, Elapsed the whole request's time as the
	// client saw it (final attempts only). Nil when empty.
	Latency, TTFT, Elapsed *ddsketch.DDSketch

	InputTokens, OutputTokens, CachedTokens, OutputChars int64
	// Streaming time of stream attempts, for tokens per second.
	StreamSeconds      float64
	StreamOutputTokens int64

	// RateLimit is the last rate-limit report of the minute, if any
	// (RemainingRequests and RemainingTokens are -1 when not reported).
	RateLimit   health.RateLimit
	RateLimitAt time.Time
}

// ParseSeries is the inverse of Series.String, for rows read back from the
// store.
func ParseSeries(s string) (Series, error) {
	for i, name := range seriesNames {
		if name == s {
			return Series(i), nil
		}
	}
	return 0, fmt.Errorf("unknown rollup series %q", s)
}

// Sketches keep quantiles within 1 % of the true value, the same accuracy
// as health's windows, so a quantile read from history matches the one the
// dashboard showed live.
const (
	SketchAccuracy = 0.01
	// sketchBins bounds a sketch's memory (2048 bins at 1 % span from
	// microseconds to hours); beyond it the lowest bins collapse, which only
	// blurs the fastest latencies, never the tail that matters.
	sketchBins = 2048
)

// NewSketch returns an empty sketch of the kind every Rollup holds. Sketches
// merge only with sketches of the same index mapping, so anything decoding
// or merging rollup sketches (the store) starts from this one.
func NewSketch() *ddsketch.DDSketch {
	s, err := ddsketch.LogCollapsingLowestDenseDDSketch(SketchAccuracy, sketchBins)
	if err != nil {
		panic(err) // only bad constants fail here
	}
	return s
}

// Merge adds from into into: counts and sums add, sketches merge, and the
// later rate-limit report wins. into keeps its Key and Minute. into never
// shares a sketch with from afterwards (a missing sketch is copied), so
// from can be handed on or reused.
func Merge(into, from *Rollup) {
	into.Attempts += from.Attempts
	into.Failed += from.Failed
	for i, n := range from.Outcomes {
		into.Outcomes[i] += n
	}
	into.Requests += from.Requests
	into.Errors += from.Errors
	into.Fallback += from.Fallback
	mergeSketch(&into.Latency, from.Latency)
	mergeSketch(&into.TTFT, from.TTFT)
	mergeSketch(&into.Elapsed, from.Elapsed)
	into.InputTokens += from.InputTokens
	into.OutputTokens += from.OutputTokens
	into.CachedTokens += from.CachedTokens
	into.OutputChars += from.OutputChars
	into.StreamSeconds += from.StreamSeconds
	into.StreamOutputTokens += from.StreamOutputTokens
	into.setRateLimit(from.RateLimit, from.RateLimitAt)
}

func mergeSketch(into **ddsketch.DDSketch, from *ddsketch.DDSketch) {
	switch {
	case from == nil || from.IsEmpty():
	case *into == nil:
		*into = from.Copy()
	default:
		// Every rollup sketch comes from NewSketch (the store decodes into
		// one and rejects any other mapping), so the mappings match and
		// MergeWith cannot fail.
		_ = (*into).MergeWith(from)
	}
}

// setRateLimit keeps rl if it was reported and is not older than the one
// the row holds. On a tie the newcomer wins: it was written last.
func (r *Rollup) setRateLimit(rl health.RateLimit, at time.Time) {
	if !rl.Reported() {
		return
	}
	if r.RateLimit.Reported() && at.Before(r.RateLimitAt) {
		return
	}
	r.RateLimit, r.RateLimitAt = rl, at
}

// add counts one observation into the row. It allocates only when a sketch
// is created (once per row) or grows its bins.
func (r *Rollup) add(o *health.Observation) {
	r.Attempts++
	failed := o.Outcome.Failed()
	if failed {
		r.Failed++
	}
	// An outcome beyond the known ones (a newer producer) still counts as
	// an attempt, and as failed, but has no column to land in.
	if o.Outcome < health.NumOutcomes {
		r.Outcomes[o.Outcome]++
	}
	addSketch(&r.Latency, o.Latency)
	if o.TTFT > 0 {
		addSketch(&r.TTFT, o.TTFT)
	}
	if o.Final {
		r.Requests++
		if failed {
			r.Errors++
		}
		if o.Fallback {
			r.Fallback++
		}
		addSketch(&r.Elapsed, o.Elapsed)
	}
	r.InputTokens += int64(o.InputTokens)
	r.OutputTokens += int64(o.OutputTokens)
	r.CachedTokens += int64(o.CachedTokens)
	r.OutputChars += int64(o.OutputChars)
	// Generation speed counts the time after the first token only, as
	// health's windows do, so waiting for a busy model does not read as
	// slow generation.
	if gen := o.Latency - o.TTFT; o.Stream && o.OutputTokens > 0 && gen > 0 {
		r.StreamSeconds += gen.Seconds()
		r.StreamOutputTokens += int64(o.OutputTokens)
	}
}

// addSketch records d in seconds. A negative duration (a clock stepping
// back) counts as zero, so a sketch's count stays equal to what it counts.
func addSketch(sk **ddsketch.DDSketch, d time.Duration) {
	if *sk == nil {
		*sk = NewSketch()
	}
	_ = (*sk).Add(max(d, 0).Seconds()) // fails only on NaN or huge values, impossible from a Duration
}
