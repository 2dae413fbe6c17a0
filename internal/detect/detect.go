package detect

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/event"
	"github.com/relais/relais/internal/health"
	"github.com/relais/relais/internal/rollup"
)

// Options tune the detectors. The zero value of a field means its default
// (see DefaultOptions); SLOs are off until listed.
type Options struct {
	// Anomalies.

	// BaselineMinutes is N: a signal's baseline is its last N normal minutes
	// with volume. Default 60.
	BaselineMinutes int
	// BaselineMin is M: a signal is judged once its baseline holds M
	// minutes. Default 10.
	BaselineMin int
	// MinVolume is how many attempts (for TTFT: stream attempts; for output
	// tokens: answered attempts) a minute needs to be judged or to enter a
	// baseline. Default 10.
	MinVolume int64
	// K is how many robust standard deviations (1.4826·MAD) a value must
	// depart from the median to be anomalous. Default 4.
	K float64
	// Confirm is how many judged minutes in a row must be anomalous before
	// an anomaly fires; Clear how many normal ones resolve it. Default 2 each.
	Confirm, Clear int
	// Floors overrides, by signal name, the smallest departure that counts
	// whatever the MAD (see DefaultFloors).
	Floors map[string]Floor
	// Stale resolves an anomaly or a trend forecast when its target has had
	// no minute with volume for this long: nothing left to judge. Default 15m.
	Stale time.Duration

	// SLOs, one per route at most.
	SLOs []SLO
	// BurnWindows are the multi-window alerts; default DefaultBurnWindows.
	BurnWindows []BurnWindow
	// BurnMinLong and BurnMinShort are the requests a long and a short
	// window need before a burn may fire. Defaults 100 and 10.
	BurnMinLong, BurnMinShort int64

	// Trend forecasts.

	// TrendWindow is how far back the slope looks (default 30m);
	// TrendMinPoints how many minutes with volume it needs (default 10).
	TrendWindow    time.Duration
	TrendMinPoints int
	// TrendAgreement is the fit check: the fraction of the pairs of points
	// that must rise for a slope to count (default 0.7; 0.5 is a coin).
	TrendAgreement float64
	// TrendHorizon: a breach projected within it fires (default 1h).
	TrendHorizon time.Duration
	// LatencyThreshold is the p95 latency trends aim at. When zero, it is
	// 80 % of TargetLimit's answer for the target, or 10 s without one.
	LatencyThreshold time.Duration
	// TargetLimit returns the latency limit of a target (say, its attempt
	// timeout); zero means none. Optional.
	TargetLimit func(provider, model string) time.Duration
	// ErrorRatioThreshold is the error ratio trends aim at (default 0.1).
	ErrorRatioThreshold float64

	// Quota forecasts.

	// QuotaHorizon: an exhaustion projected within it, before the reset,
	// fires (default 15m).
	QuotaHorizon time.Duration
	// QuotaLow fires whatever the rate when the remaining fraction of the
	// limit falls under it (default 0.05); QuotaCritical makes the
	// forecast critical (default 0.01), as does an exhaustion within a minute.
	QuotaLow, QuotaCritical float64
	// QuotaMinSpan is how long a reset window must have been watched, over
	// at least three reports, before its rate is trusted (default 10s).
	QuotaMinSpan time.Duration

	// Certificate forecasts: warning under CertWarning (default 14 days),
	// critical under CertCritical (default 3 days).
	CertWarning, CertCritical time.Duration

	// SweepInterval is how often Run re-evaluates quotas and certificates
	// between calls (default 15s).
	SweepInterval time.Duration
}

// DefaultOptions returns the options with every default filled in.
func DefaultOptions() Options {
	return Options{
		BaselineMinutes: 60, BaselineMin: 10, MinVolume: 10, K: 4, Confirm: 2, Clear: 2,
		Floors: DefaultFloors(), Stale: 15 * time.Minute,
		BurnWindows: DefaultBurnWindows(), BurnMinLong: 100, BurnMinShort: 10,
		TrendWindow: 30 * time.Minute, TrendMinPoints: 10, TrendAgreement: 0.7, TrendHorizon: time.Hour,
		ErrorRatioThreshold: 0.1,
		QuotaHorizon:        15 * time.Minute, QuotaLow: 0.05, QuotaCritical: 0.01, QuotaMinSpan: 10 * time.Second,
		CertWarning: 14 * 24 * time.Hour, CertCritical: 3 * 24 * time.Hour,
		SweepInterval: 15 * time.Second,
	}
}

// fallbackLatencyThreshold is the trend threshold of a target without a limit.
const fallbackLatencyThreshold = 10 * time.Second

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	o.BaselineMinutes = cmp.Or(o.BaselineMinutes, d.BaselineMinutes)
	o.BaselineMin = min(cmp.Or(o.BaselineMin, d.BaselineMin), o.BaselineMinutes)
	o.MinVolume = cmp.Or(o.MinVolume, d.MinVolume)
	o.K = cmp.Or(o.K, d.K)
	o.Confirm = cmp.Or(o.Confirm, d.Confirm)
	o.Clear = cmp.Or(o.Clear, d.Clear)
	floors := DefaultFloors()
	for name, f := range o.Floors {
		floors[name] = f
	}
	o.Floors = floors
	o.Stale = cmp.Or(o.Stale, d.Stale)
	if len(o.BurnWindows) == 0 {
		o.BurnWindows = d.BurnWindows
	}
	o.BurnMinLong = cmp.Or(o.BurnMinLong, d.BurnMinLong)
	o.BurnMinShort = cmp.Or(o.BurnMinShort, d.BurnMinShort)
	o.TrendWindow = cmp.Or(o.TrendWindow, d.TrendWindow)
	o.TrendMinPoints = max(cmp.Or(o.TrendMinPoints, d.TrendMinPoints), 3)
	o.TrendAgreement = cmp.Or(o.TrendAgreement, d.TrendAgreement)
	o.TrendHorizon = cmp.Or(o.TrendHorizon, d.TrendHorizon)
	o.ErrorRatioThreshold = cmp.Or(o.ErrorRatioThreshold, d.ErrorRatioThreshold)
	o.QuotaHorizon = cmp.Or(o.QuotaHorizon, d.QuotaHorizon)
	o.QuotaLow = cmp.Or(o.QuotaLow, d.QuotaLow)
	o.QuotaCritical = cmp.Or(o.QuotaCritical, d.QuotaCritical)
	o.QuotaMinSpan = cmp.Or(o.QuotaMinSpan, d.QuotaMinSpan)
	o.CertWarning = cmp.Or(o.CertWarning, d.CertWarning)
	o.CertCritical = cmp.Or(o.CertCritical, d.CertCritical)
	o.SweepInterval = cmp.Or(o.SweepInterval, d.SweepInterval)
	return o
}

func (o Options) validate() error {
	var errs []error
	for name, f := range o.Floors {
		if _, ok := signalIndex(name); !ok {
			errs = append(errs, fmt.Errorf("floors: unknown signal %q", name))
		}
		if f.Abs < 0 || f.Rel < 0 {
			errs = append(errs, fmt.Errorf("floors[%s]: negative floor", name))
		}
	}
	if o.K < 0 || o.MinVolume < 0 || o.BaselineMinutes < 0 || o.BaselineMin < 0 || o.Confirm < 0 || o.Clear < 0 {
		errs = append(errs, errors.New("anomaly settings must not be negative"))
	}
	if o.TrendAgreement < 0 || o.TrendAgreement > 1 {
		errs = append(errs, fmt.Errorf("trend_agreement %v: must be within [0, 1]", o.TrendAgreement))
	}
	if o.QuotaLow < 0 || o.QuotaLow > 1 || o.QuotaCritical < 0 || o.QuotaCritical > 1 {
		errs = append(errs, errors.New("quota fractions must be within [0, 1]"))
	}
	if o.CertWarning < 0 || o.CertCritical < 0 || (o.CertWarning > 0 && o.CertCritical > o.CertWarning) {
		errs = append(errs, errors.New("certificate lead times: critical must not exceed warning"))
	}
	for i, w := range o.BurnWindows {
		if w.Name == "" || w.Long <= 0 || w.Short <= 0 || w.Short > w.Long || w.Factor <= 0 {
			errs = append(errs, fmt.Errorf("burn_windows[%d]: needs a name, 0 < short <= long and a positive factor", i))
		}
	}
	seen := map[string]bool{}
	for i, s := range o.SLOs {
		if err := s.validate(); err != nil {
			errs = append(errs, fmt.Errorf("slos[%d]: %w", i, err))
		}
		if seen[s.Route] {
			errs = append(errs, fmt.Errorf("slos[%d]: route %q has another SLO", i, s.Route))
		}
		seen[s.Route] = true
	}
	return errors.Join(errs...)
}

// Detector runs every detector. Minute, Seed, Observe, Certificate, Sweep
// and Budgets are safe to call from different goroutines. Events are
// published after the detector's locks are released.
type Detector struct {
	clk     clock.Clock
	opt     Options
	publish func(event.Event)
	floors  [numSignals]Floor

	// mu guards the minute state: targets, routes and the minute reference.
	mu sync.Mutex
	// ref is the latest closed minute seen, in Unix minutes: "now" for
	// windows and staleness.
	ref     int64
	targets map[targetKey]*target
	routes  map[string]*route
	// routeList holds the routes by name, so events come out in the same
	// order on every run; spanList the burn windows' spans (see spans).
	routeList []*route
	spanList  []int64
	// Scratch space for the minute's work, reused so that a minute
	// allocates nothing in steady state.
	touched         []*target
	scratch, deviat []float64
	xs, ys, slopes  []float64

	// qmu guards the quotas, apart from mu so that Observe never waits for
	// a minute's work.
	qmu    sync.Mutex
	quotas map[targetKey]*quota

	cmu   sync.Mutex
	certs map[string]*certificate
}

// New returns a detector that publishes its events through publish (a
// bus's Publish). It fails on options that cannot work, listing each problem.
func New(clk clock.Clock, opt Options, publish func(event.Event)) (*Detector, error) {
	if err := opt.validate(); err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	opt = opt.withDefaults()
	if clk == nil {
		clk = clock.Real{}
	}
	if publish == nil {
		publish = func(event.Event) {}
	}
	d := &Detector{
		clk: clk, opt: opt, publish: publish,
		targets: map[targetKey]*target{},
		routes:  map[string]*route{},
		quotas:  map[targetKey]*quota{},
		certs:   map[string]*certificate{},
		scratch: make([]float64, 0, opt.BaselineMinutes),
		deviat:  make([]float64, 0, opt.BaselineMinutes),
	}
	for i := range d.floors {
		d.floors[i] = opt.Floors[signals[i].name]
	}
	ringMinutes := int64(0)
	for _, w := range opt.BurnWindows {
		ringMinutes = max(ringMinutes, minutes(w.Long))
	}
	for _, s := range opt.SLOs {
		rt := newRoute(s.withDefaults(), ringMinutes, len(opt.BurnWindows))
		d.routes[s.Route] = rt
		d.routeList = append(d.routeList, rt)
	}
	slices.SortFunc(d.routeList, func(x, y *route) int { return cmp.Compare(x.slo.Route, y.slo.Route) })
	d.spanList = d.spans()
	return d, nil
}

var _ rollup.Consumer = (*Detector)(nil).Minute

var _ health.Sink = (*Detector)(nil)

// Minute takes closed minutes from the rollup aggregator: rows sorted by
// minute, maybe of several minutes, maybe late rows of a minute already
// seen. Its work is in memory and bounded, so ctx is not consulted.
func (d *Detector) Minute(_ context.Context, rows []rollup.Rollup) {
	d.mu.Lock()
	evs := d.ingest(rows, nil, false)
	d.mu.Unlock()
	evs = d.sweep(evs)
	d.emit(evs)
}

// Seed loads history (rows from the store) at start, before the first
// Minute, so that baselines, trends and burn rates survive a restart: the
// rows go through the same detectors, and the burn windows' states are
// replayed minute by minute, so a burn keeps the start it had.
//
// It publishes nothing: a condition that holds at the end of the history
// is taken as already published by the previous process (no duplicate
// after a restart), and is resolved, and that resolution published, by the
// first live minutes that find it cleared.
func (d *Detector) Seed(rows []rollup.Rollup) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var mins []int64
	for i := range rows {
		if m := unixMinute(rows[i].Minute); len(mins) == 0 || m != mins[len(mins)-1] {
			mins = append(mins, m)
		}
	}
	slices.Sort(mins)
	mins = slices.Compact(mins)
	_ = d.ingest(rows, nil, true)
	for _, rt := range d.routeList {
		d.replayBurns(rt, mins)
	}
}

// Sweep re-evaluates what time alone changes: quotas past their reset and
// certificates nearing expiry. Minute and Run call it.
func (d *Detector) Sweep() {
	d.emit(d.sweep(nil))
}

// Run sweeps every SweepInterval until ctx ends, so a quota forecast
// resolves at its reset even when traffic stopped.
func (d *Detector) Run(ctx context.Context) error {
	t := time.NewTicker(d.opt.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			d.Sweep()
		}
	}
}

func (d *Detector) sweep(evs []event.Event) []event.Event {
	now := d.clk.Now()
	d.qmu.Lock()
	for _, q := range d.quotas {
		evs = d.sweepQuota(evs, q, now)
	}
	d.qmu.Unlock()
	d.cmu.Lock()
	for name, c := range d.certs {
		evs = d.judgeCert(evs, name, c, now)
	}
	d.cmu.Unlock()
	return evs
}

func (d *Detector) emit(evs []event.Event) {
	for _, ev := range evs {
		d.publish(ev)
	}
}

// minutes converts a duration to whole minutes, at least one.
func minutes(d time.Duration) int64 { return max(int64(d/time.Minute), 1) }

// unixMinute is a minute's number since the epoch.
func unixMinute(t time.Time) int64 {
	s := t.Unix()
	if s < 0 {
		return (s - 59) / 60
	}
	return s / 60
}

func minuteTime(m int64) time.Time { return time.Unix(m*60, 0).UTC() }

func byMinute(x, y rollup.Rollup) int { return x.Minute.Compare(y.Minute) }

// ingest runs the rows through every minute detector, minute by minute,
// then judges what went stale and, live, the routes' burn rates (Seed
// replays those minute by minute instead). Called with mu held.
func (d *Detector) ingest(rows []rollup.Rollup, evs []event.Event, seeding bool) []event.Event {
	if len(rows) == 0 {
		return evs
	}
	if !slices.IsSortedFunc(rows, byMinute) {
		// Rows are shared with other consumers: sort a copy (only history
		// from elsewhere than the aggregator or the store comes unsorted).
		rows = slices.Clone(rows)
		slices.SortStableFunc(rows, byMinute)
	}
	for i := 0; i < len(rows); {
		m := unixMinute(rows[i].Minute)
		j := i + 1
		for j < len(rows) && unixMinute(rows[j].Minute) == m {
			j++
		}
		evs = d.ingestMinute(evs, m, rows[i:j])
		i = j
	}
	evs = d.staleTargets(evs)
	if seeding {
		return evs
	}
	for _, rt := range d.routeList {
		evs = d.judgeBurns(evs, rt)
	}
	return evs
}

func (d *Detector) ingestMinute(evs []event.Event, m int64, rows []rollup.Rollup) []event.Event {
	d.ref = max(d.ref, m)
	d.touched = d.touched[:0]
	for i := range rows {
		r := &rows[i]
		if r.Series != rollup.RouteTarget {
			continue
		}
		if rt := d.routes[r.Route]; rt != nil && r.Route != "" {
			rt.add(m, r)
		}
		t := d.target(r.Provider, r.Model)
		if m <= t.judged {
			// A late row of a minute already judged (a long stream that
			// ended minutes after it began): its counts reach the burn
			// rates above, but a judged minute is not judged again.
			continue
		}
		if t.cur.minute != m {
			t.cur.reset(m)
			d.touched = append(d.touched, t)
		}
		t.cur.add(r)
	}
	for _, t := range d.touched {
		t.judged = m
		evs = d.judgeTarget(evs, t, m)
	}
	return evs
}
