package detect

import (
	"fmt"
	"math"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/relais/relais/internal/event"
	"github.com/relais/relais/internal/health"
	"github.com/relais/relais/internal/rollup"
)

// Floor is the smallest departure from the baseline that counts as an
// anomaly, whatever the MAD: a flat baseline (MAD 0) would otherwise make
// every tiny change an anomaly. Both parts must hold.
type Floor struct {
	// Abs is in the signal's unit: a fraction for ratios, seconds for
	// latencies, tokens for output tokens.
	Abs float64
	// Rel is a fraction of the baseline's median.
	Rel float64
}

// DefaultFloors: error and empty-output ratios up 5 points; latencies up
// 25 % and 100 ms; output tokens per response down by half.
func DefaultFloors() map[string]Floor {
	return map[string]Floor{
		SignalErrorRatio:   {Abs: 0.05},
		SignalLatencyP95:   {Abs: 0.1, Rel: 0.25},
		SignalTTFTP95:      {Abs: 0.1, Rel: 0.25},
		SignalOutputTokens: {Rel: 0.5},
		SignalEmptyRate:    {Abs: 0.05},
	}
}

// Indexes of the signals in a target's arrays.
const (
	sigError = iota
	sigLatency
	sigTTFT
	sigTokens
	sigEmpty
	numSignals
)

// madScale turns a MAD into a standard deviation's estimate for normal data.
const madScale = 1.4826

type signalSpec struct {
	name string
	// down: a drop is the anomaly (output tokens); otherwise a rise.
	down bool
	// critical says when an anomaly is critical rather than a warning.
	critical func(v, median float64) bool
}

var signals = [numSignals]signalSpec{
	// Half the attempts failing, or answering nothing, is an outage that
	// the status may not show yet (an empty 200 is a success to HTTP).
	sigError:   {name: SignalErrorRatio, critical: func(v, _ float64) bool { return v >= 0.5 }},
	sigLatency: {name: SignalLatencyP95, critical: func(float64, float64) bool { return false }},
	sigTTFT:    {name: SignalTTFTP95, critical: func(float64, float64) bool { return false }},
	// Answers at a tenth of their usual length are as good as empty.
	sigTokens: {name: SignalOutputTokens, down: true, critical: func(v, med float64) bool { return v <= 0.1*med }},
	sigEmpty:  {name: SignalEmptyRate, critical: func(v, _ float64) bool { return v >= 0.5 }},
}

func signalIndex(name string) (int, bool) {
	for i, s := range signals {
		if s.name == name {
			return i, true
		}
	}
	return 0, false
}

// targetKey names a target without building a string per row or observation.
type targetKey struct{ provider, model string }

// target is one (provider, model): its current minute's sums, its
// baselines and its trends.
type target struct {
	subject event.Subject
	// judged is the last minute judged, in Unix minutes.
	judged int64
	cur    minuteSum
	sig    [numSignals]anomalyState
	trend  [numTrends]trendState
	// thresholds of the trends, in the signals' units.
	thresholds [numTrends]float64
}

func (d *Detector) target(provider, model string) *target {
	k := targetKey{provider, model}
	if t := d.targets[k]; t != nil {
		return t
	}
	t := &target{subject: event.Subject{Kind: "target", Name: provider + "/" + model}}
	for i := range t.sig {
		t.sig[i].base.vals = make([]float64, d.opt.BaselineMinutes)
	}
	n := int(minutes(d.opt.TrendWindow))
	for i := range t.trend {
		t.trend[i].at = make([]int64, n)
		t.trend[i].v = make([]float64, n)
	}
	lat := d.opt.LatencyThreshold
	if lat <= 0 && d.opt.TargetLimit != nil {
		lat = d.opt.TargetLimit(provider, model) * 8 / 10
	}
	if lat <= 0 {
		lat = fallbackLatencyThreshold
	}
	t.thresholds[trendLatency] = lat.Seconds()
	t.thresholds[trendErrors] = d.opt.ErrorRatioThreshold
	d.targets[k] = t
	return t
}

// minuteSum is one minute of one target: the sum of its rows over routes.
type minuteSum struct {
	minute int64
	// attempts leaves out client cancellations, which say nothing of the
	// target (as health's windows do).
	attempts, failed, empty, answered, outputTokens int64
	latency, ttft                                   sketchSum
}

func (s *minuteSum) reset(m int64) {
	*s = minuteSum{minute: m, latency: s.latency.cleared(), ttft: s.ttft.cleared()}
}

func (s *minuteSum) add(r *rollup.Rollup) {
	canceled := r.Outcomes[health.ClientCanceled]
	empty := r.Outcomes[health.EmptyOutput] + r.Outcomes[health.Truncated]
	s.attempts += r.Attempts - canceled
	// Empty and truncated answers count as failed for health; here they
	// have their own signal, and one cause raises one anomaly.
	s.failed += max(r.Failed-empty, 0)
	s.empty += empty
	// Output per response counts the attempts that answered in full or in
	// part; empty answers have their own signal, and counting them here
	// too would report one failure twice.
	s.answered += r.Outcomes[health.OK] + r.Outcomes[health.Truncated]
	s.outputTokens += r.OutputTokens
	s.latency.add(r.Latency)
	s.ttft.add(r.TTFT)
}

// values returns the minute's signals and which of them have the volume
// to be judged.
func (s *minuteSum) values(minVolume int64) (v [numSignals]float64, ok [numSignals]bool) {
	if s.attempts >= minVolume && s.attempts > 0 {
		n := float64(s.attempts)
		v[sigError], ok[sigError] = float64(s.failed)/n, true
		v[sigEmpty], ok[sigEmpty] = float64(s.empty)/n, true
	}
	if sk := s.latency.sketch(); sk != nil && sk.GetCount() >= float64(max(minVolume, 1)) {
		v[sigLatency], ok[sigLatency] = p95(sk)
	}
	if sk := s.ttft.sketch(); sk != nil && sk.GetCount() >= float64(max(minVolume, 1)) {
		v[sigTTFT], ok[sigTTFT] = p95(sk)
	}
	if s.answered >= minVolume && s.answered > 0 {
		v[sigTokens], ok[sigTokens] = float64(s.outputTokens)/float64(s.answered), true
	}
	return v, ok
}

func p95(sk *ddsketch.DDSketch) (float64, bool) {
	v, err := sk.GetValueAtQuantile(0.95)
	return v, err == nil
}

// sketchSum merges a minute's sketches of one target over its routes. The
// rows' sketches are shared with other consumers and never modified: one
// row's sketch is used as it is, several are merged into a sketch of our
// own, kept from minute to minute.
type sketchSum struct {
	first, merged *ddsketch.DDSketch
	n             int
}

func (s sketchSum) cleared() sketchSum { return sketchSum{merged: s.merged} }

func (s *sketchSum) add(sk *ddsketch.DDSketch) {
	if sk == nil || sk.IsEmpty() {
		return
	}
	// Every rollup sketch comes from rollup.NewSketch, so the mappings
	// match and MergeWith cannot fail.
	switch s.n {
	case 0:
		s.first = sk
	case 1:
		if s.merged == nil {
			s.merged = rollup.NewSketch()
		} else {
			s.merged.Clear()
		}
		_ = s.merged.MergeWith(s.first)
		_ = s.merged.MergeWith(sk)
	default:
		_ = s.merged.MergeWith(sk)
	}
	s.n++
}

func (s *sketchSum) sketch() *ddsketch.DDSketch {
	switch s.n {
	case 0:
		return nil
	case 1:
		return s.first
	}
	return s.merged
}

// baseline is a ring of a signal's last normal minutes with volume.
type baseline struct {
	vals    []float64
	n, next int
}

func (b *baseline) push(v float64) {
	b.vals[b.next] = v
	b.next = (b.next + 1) % len(b.vals)
	b.n = min(b.n+1, len(b.vals))
}

// anomalyState is one signal of one target.
type anomalyState struct {
	base baseline
	// bad and good count the judged minutes in a row that were anomalous
	// or normal.
	bad, good int
	firing    bool
	level     event.Severity
	// since is the first anomalous minute of the streak that fired;
	// last the last minute judged.
	since, last int64
	// lastValue and lastMedian, lastMAD are the last judgement's, for a
	// resolution that has no minute of its own (stale).
	lastValue, lastMedian, lastMAD float64
}

func (d *Detector) judgeTarget(evs []event.Event, t *target, m int64) []event.Event {
	v, ok := t.cur.values(d.opt.MinVolume)
	for s := range numSignals {
		if ok[s] {
			evs = d.judgeSignal(evs, t, s, m, v[s])
		}
	}
	evs = d.judgeTrend(evs, t, trendLatency, m, v[sigLatency], ok[sigLatency])
	evs = d.judgeTrend(evs, t, trendErrors, m, v[sigError], ok[sigError])
	return evs
}

// judgeSignal judges one minute's value of a signal against its baseline.
//
// An anomaly fires after Confirm (2) anomalous judged minutes in a row and
// resolves after Clear (2) normal ones. A minute of a few dozen attempts is
// noisy (at 10 attempts one failure is 10 points) and one stray minute is
// common, two in a row from a healthy target rare, while a real fault
// lasts: confirming costs one minute, and the hard outages that cannot wait
// are the status's job (internal/health, in seconds). Clearing over two
// minutes keeps a fault that comes and goes from flapping. Streaks are of
// judged minutes: minutes without volume neither confirm nor clear, and a
// gap longer than Stale starts over.
//
// Anomalous minutes stay out of the baseline, confirmed or not, so that a
// long outage does not become the new normal: the baseline freezes while
// the anomaly lasts (the cost: a lasting change for the worse, say a slower
// model version, keeps its anomaly until someone acts on it).
//
// Baselines are not seasonal: no hour-of-day profile. The last hour of
// normal minutes follows the daily curve closely enough for the floors to
// absorb it.
func (d *Detector) judgeSignal(evs []event.Event, t *target, s int, m int64, v float64) []event.Event {
	a := &t.sig[s]
	if a.last != 0 && m-a.last > minutes(d.opt.Stale) && !a.firing {
		a.bad, a.good = 0, 0
	}
	a.last = m
	if a.base.n < d.opt.BaselineMin {
		a.base.push(v) // still learning: nothing to judge against
		a.lastValue = v
		return evs
	}
	med, mad := d.medianMAD(&a.base)
	a.lastValue, a.lastMedian, a.lastMAD = v, med, mad
	if !d.anomalous(s, v, med, mad) {
		a.base.push(v)
		a.bad = 0
		if !a.firing {
			return evs
		}
		a.good++
		if a.good < d.opt.Clear {
			return evs
		}
		a.firing, a.good = false, 0
		return append(evs, d.anomalyEvent(t, s, m, v, med, mad, true, false))
	}
	a.good = 0
	if a.bad == 0 && !a.firing {
		a.since = m
	}
	a.bad++
	level := event.Warning
	if signals[s].critical(v, med) {
		level = event.Critical
	}
	switch {
	case !a.firing && a.bad >= d.opt.Confirm:
		a.firing, a.level = true, level
	case a.firing && level > a.level:
		a.level = level // worse than when it fired: say so once
	default:
		return evs
	}
	return append(evs, d.anomalyEvent(t, s, m, v, med, mad, false, false))
}

func (d *Detector) anomalous(s int, v, med, mad float64) bool {
	delta := v - med
	if signals[s].down {
		delta = -delta
	}
	f := d.floors[s]
	return delta > 0 && delta > d.opt.K*madScale*mad && delta >= f.Abs && delta >= f.Rel*math.Abs(med)
}

// medianMAD returns the median and the median absolute deviation of a
// baseline, working on copies in scratch space.
func (d *Detector) medianMAD(b *baseline) (med, mad float64) {
	d.scratch = append(d.scratch[:0], b.vals[:b.n]...)
	med = median(d.scratch)
	d.deviat = d.deviat[:0]
	for _, v := range b.vals[:b.n] {
		d.deviat = append(d.deviat, math.Abs(v-med))
	}
	return med, median(d.deviat)
}

func (d *Detector) anomalyEvent(t *target, s int, m int64, v, med, mad float64, resolved, stale bool) AnomalyDetected {
	a := &t.sig[s]
	ev := AnomalyDetected{
		Subject: t.subject, Signal: signals[s].name,
		Value: v, Baseline: med, MAD: mad,
		Since: minuteTime(a.since), At: minuteTime(m + 1),
		Level: a.level, Resolved: resolved, Stale: stale,
	}
	if mad > 0 {
		ev.Deviation = (v - med) / (madScale * mad)
	}
	if med != 0 {
		ev.Ratio = v / med
	}
	ev.Text = anomalyText(ev)
	return ev
}

// staleTargets resolves the anomalies and trend forecasts of targets that
// had no minute with volume for Stale: nothing is left to judge, and a
// condition nobody can see clearing must not stay open for ever (the
// target's status, from health, still tells whether it is down).
func (d *Detector) staleTargets(evs []event.Event) []event.Event {
	stale := minutes(d.opt.Stale)
	for _, t := range d.targets {
		for s := range t.sig {
			a := &t.sig[s]
			if !a.firing || d.ref-a.last < stale {
				continue
			}
			a.firing, a.bad, a.good = false, 0, 0
			ev := d.anomalyEvent(t, s, d.ref, a.lastValue, a.lastMedian, a.lastMAD, true, true)
			ev.Text = fmt.Sprintf("%s: %s no longer judged: no traffic to judge since %s (anomalous since %s)",
				t.subject, signalNames[ev.Signal], clockTime(minuteTime(a.last+1)), clockTime(ev.Since))
			evs = append(evs, ev)
		}
		for k := range t.trend {
			tr := &t.trend[k]
			if tr.firing && d.ref-tr.last >= stale {
				evs = append(evs, d.resolveTrend(t, k, d.ref, tr.lastFit, "no traffic to judge since "+clockTime(minuteTime(tr.last+1))))
			}
		}
	}
	return evs
}
