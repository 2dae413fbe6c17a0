package detect

import (
	"errors"
	"math"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/relais/relais/internal/event"
	"github.com/relais/relais/internal/rollup"
)

// SLO is a route's service level objective, as its clients see it (final
// attempts, after failover).
type SLO struct {
	Route string
	// Availability is the fraction of requests that must not fail, e.g.
	// 0.999; 0 means no availability objective.
	Availability float64
	// LatencyObjective is the fraction of requests that must take at most
	// LatencyThreshold (the whole request, as the client waited); 0 means
	// no latency objective.
	LatencyThreshold time.Duration
	LatencyObjective float64
	// Window is the SLO's period, over which the budget is counted
	// (default 30 days).
	Window time.Duration
}

// DefaultSLOWindow is an SLO's window when it names none.
const DefaultSLOWindow = 30 * 24 * time.Hour

func (s SLO) withDefaults() SLO {
	if s.Window <= 0 {
		s.Window = DefaultSLOWindow
	}
	return s
}

func (s SLO) validate() error {
	var errs []error
	if s.Route == "" {
		errs = append(errs, errors.New("route: empty"))
	}
	if s.Availability < 0 || s.Availability >= 1 {
		errs = append(errs, errors.New("availability: must be within [0, 1): 0.999, not 99.9"))
	}
	if s.LatencyObjective < 0 || s.LatencyObjective >= 1 {
		errs = append(errs, errors.New("latency_objective: must be within [0, 1): 0.99, not 99"))
	}
	if s.LatencyObjective > 0 && s.LatencyThreshold <= 0 {
		errs = append(errs, errors.New("latency_threshold: needed by latency_objective"))
	}
	if s.Availability == 0 && s.LatencyObjective == 0 {
		errs = append(errs, errors.New("no objective: set availability or latency_objective"))
	}
	if s.Window < 0 {
		errs = append(errs, errors.New("window: negative"))
	}
	return errors.Join(errs...)
}

// BurnWindow is one multi-window burn-rate alert: it fires when the burn
// rate reaches Factor over both Long and Short. Long says the budget spent
// matters; Short says it is still being spent, so the alert resolves
// within Short of the problem ending.
type BurnWindow struct {
	Name        string
	Long, Short time.Duration
	Factor      float64
	Level       event.Severity
}

// DefaultBurnWindows are the Google SRE workbook's: 2 % of a 30-day budget
// in an hour (fast), 5 % in 6 hours (medium) pages; 10 % in 3 days (slow)
// makes a ticket.
func DefaultBurnWindows() []BurnWindow {
	return []BurnWindow{
		{Name: "fast", Long: time.Hour, Short: 5 * time.Minute, Factor: 14.4, Level: event.Critical},
		{Name: "medium", Long: 6 * time.Hour, Short: 30 * time.Minute, Factor: 6, Level: event.Critical},
		{Name: "slow", Long: 72 * time.Hour, Short: 6 * time.Hour, Factor: 1, Level: event.Warning},
	}
}

// Objectives of a route, indexes of route.burns.
const (
	objAvailability = iota
	objLatency
	numObjectives
)

var objectiveNames = [numObjectives]string{objAvailability: ObjectiveAvailability, objLatency: ObjectiveLatency}

// counts are a span's requests and its bad ones per objective.
type counts struct {
	requests, errors, slow int64
}

func (c *counts) add(o counts) {
	c.requests += o.requests
	c.errors += o.errors
	c.slow += o.slow
}

func (c counts) bad(obj int) int64 {
	if obj == objLatency {
		return c.slow
	}
	return c.errors
}

// slot is one minute (or one hour) of a route.
type slot struct {
	at int64 // Unix minutes (or hours); meaningful when set
	counts
	set bool
}

// put adds c to the ring's slot for at, replacing what an older period
// left there; a period older than the ring holds is dropped.
func put(ring []slot, at int64, c counts) {
	i := at % int64(len(ring))
	if i < 0 {
		i += int64(len(ring))
	}
	s := &ring[i]
	switch {
	case s.set && s.at == at:
		s.add(c)
	case !s.set || at > s.at:
		*s = slot{at: at, counts: c, set: true}
	}
}

// route keeps a route's per-minute counts for the longest burn window
// (3 days by default: 4320 slots of 40 bytes) and per-hour counts for the
// SLO window (30 days: 720 slots), from which budgets come. No sketch is
// kept: the slow count of a minute is taken from its rows when it arrives.
type route struct {
	slo     SLO
	thr     float64 // latency threshold, seconds
	minutes []slot
	hours   []slot
	burns   [numObjectives][]burnState
	// sums is scratch space for the windows' counts: long and short of
	// each burn window, in turn.
	sums []counts
	slow slowCounter
	// first is the oldest minute ever added (0: none): a window pair may
	// fire only once the history covers its short window.
	first int64
}

type burnState struct {
	firing bool
	since  int64
}

func newRoute(s SLO, ringMinutes int64, windows int) *route {
	rt := &route{
		slo:     s,
		thr:     s.LatencyThreshold.Seconds(),
		minutes: make([]slot, ringMinutes),
		hours:   make([]slot, int64(math.Ceil(s.Window.Hours()))+1),
		sums:    make([]counts, 2*windows),
	}
	for o := range rt.burns {
		rt.burns[o] = make([]burnState, windows)
	}
	return rt
}

func (rt *route) objective(obj int) float64 {
	if obj == objLatency {
		return rt.slo.LatencyObjective
	}
	return rt.slo.Availability
}

func (rt *route) add(m int64, r *rollup.Rollup) {
	c := counts{requests: r.Requests, errors: r.Errors}
	if rt.slo.LatencyObjective > 0 {
		c.slow = min(rt.slow.count(r.Elapsed, rt.thr), r.Requests)
	}
	put(rt.minutes, m, c)
	put(rt.hours, floorDiv(m, 60), c)
	if rt.first == 0 || m < rt.first {
		rt.first = m
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// slowCounter counts a sketch's values above a threshold, exact to the
// sketch's accuracy: it walks the bins and counts those whose value (the
// one a quantile query answers) is above the threshold. Only the bin
// holding the threshold itself is in doubt, and its values are within 1 %
// of it. It keeps its bin visitor so that counting allocates nothing.
type slowCounter struct {
	ti      int  // the threshold's bin
	tiSlow  bool // whether that bin's value is above the threshold
	n       float64
	visitor func(i int, c float64) bool
}

func (sc *slowCounter) count(sk *ddsketch.DDSketch, thr float64) int64 {
	if sk == nil || sk.IsEmpty() {
		return 0
	}
	if sc.visitor == nil {
		sc.visitor = func(i int, c float64) bool {
			if i > sc.ti || (i == sc.ti && sc.tiSlow) {
				sc.n += c
			}
			return false
		}
	}
	sc.ti = sk.Index(thr)
	sc.tiSlow = sk.Value(sc.ti) > thr
	sc.n = 0
	// Latencies are never negative; zeros (and values too small to index)
	// are in the zero count, fast.
	sk.GetPositiveValueStore().ForEach(sc.visitor)
	return int64(math.Round(sc.n))
}

// windowSums fills rt.sums with the counts of each burn window's long and
// short spans ending at minute ref, in one pass over the ring.
func (rt *route) windowSums(ref int64, spans []int64) {
	clear(rt.sums)
	for _, s := range rt.minutes {
		if !s.set {
			continue
		}
		age := ref - s.at
		if age < 0 {
			continue
		}
		for i, span := range spans {
			if age < span {
				rt.sums[i].add(s.counts)
			}
		}
	}
}

// budget sums the hours of the SLO window ending at minute ref (the
// current hour counts whole, so the window is exact to the hour) and
// returns them with the oldest hour held.
func (rt *route) budget(ref int64) (c counts, from int64) {
	hour := floorDiv(ref, 60)
	oldest := hour - int64(len(rt.hours)-1) + 1
	from = hour + 1
	for _, s := range rt.hours {
		if s.set && s.at >= oldest && s.at <= hour {
			c.add(s.counts)
			from = min(from, s.at)
		}
	}
	return c, from
}

// burnRate is the bad fraction over the budget (1-objective); 0 for no requests.
func burnRate(c counts, obj int, objective float64) float64 {
	if c.requests == 0 {
		return 0
	}
	return float64(c.bad(obj)) / float64(c.requests) / (1 - objective)
}

// budgetLeft is the fraction of the budget left over the counts.
func budgetLeft(c counts, obj int, objective float64) float64 {
	if c.requests == 0 {
		return 1
	}
	allowed := float64(c.requests) * (1 - objective)
	return 1 - float64(c.bad(obj))/allowed
}

// burnEpsilon absorbs floating-point rounding at the thresholds: 144 bad of
// 10 000 at 99.9 % is a burn of exactly 14.4, not 14.399999999999.
const burnEpsilon = 1e-9

// spans lists the burn windows' long and short spans in minutes, in turn.
func (d *Detector) spans() []int64 {
	out := make([]int64, 0, 2*len(d.opt.BurnWindows))
	for _, w := range d.opt.BurnWindows {
		out = append(out, minutes(w.Long), minutes(w.Short))
	}
	return out
}

// burnStep moves one burn window's state at minute m, given the counts of
// its long and short spans, and says whether it changed.
//
// A window pair fires when both burn rates reach its factor and both
// windows have their minimum of requests (BurnMinLong, BurnMinShort): a
// route with two requests in five minutes, one failed, is not burning at
// 500×. Once firing it resolves when either rate falls under the factor
// (an idle short window burns nothing) or the long window runs out of
// requests; the short window's minimum does not hold a resolution back.
//
// A pair also needs history covering its short window (5 minutes, 30
// minutes, 6 hours by default) before it fires: on a first start without
// history, one minute with 1 error in 100 requests reads as a 10× burn over
// "6 hours" and "30 minutes" alike, and would page.
func (d *Detector) burnStep(rt *route, st *burnState, i int, long, short counts, obj int, objective float64, m int64) bool {
	w := d.opt.BurnWindows[i]
	bl, bs := burnRate(long, obj, objective), burnRate(short, obj, objective)
	burning := bl >= w.Factor-burnEpsilon && bs >= w.Factor-burnEpsilon
	covered := rt.first != 0 && rt.first <= m-d.spanList[2*i+1]+1
	switch {
	case !st.firing && burning && covered && long.requests >= d.opt.BurnMinLong && short.requests >= d.opt.BurnMinShort:
		st.firing, st.since = true, m
	case st.firing && (!burning || long.requests < d.opt.BurnMinLong):
		st.firing = false
	default:
		return false
	}
	return true
}

// judgeBurns evaluates a route's burn windows at the latest minute seen.
func (d *Detector) judgeBurns(evs []event.Event, rt *route) []event.Event {
	rt.windowSums(d.ref, d.spanList)
	for obj := range numObjectives {
		objective := rt.objective(obj)
		if objective == 0 {
			continue
		}
		total, _ := rt.budget(d.ref)
		left := budgetLeft(total, obj, objective)
		for i, w := range d.opt.BurnWindows {
			long, short := rt.sums[2*i], rt.sums[2*i+1]
			st := &rt.burns[obj][i]
			if !d.burnStep(rt, st, i, long, short, obj, objective, d.ref) {
				continue
			}
			ev := BudgetBurn{
				Route: rt.slo.Route, Objective: objectiveNames[obj], Target: objective,
				Window: w.Name, LongWindow: w.Long, ShortWindow: w.Short,
				BurnLong:  burnRate(long, obj, objective),
				BurnShort: burnRate(short, obj, objective),
				Threshold: w.Factor, BudgetLeft: left,
				Since: minuteTime(st.since + 1), At: minuteTime(d.ref + 1),
				Level: w.Level, Resolved: !st.firing,
			}
			if obj == objLatency {
				ev.LatencyThreshold = rt.slo.LatencyThreshold
			}
			ev.Text = burnText(ev)
			evs = append(evs, ev)
		}
	}
	return evs
}

// replayBurns moves a route's burn states through the minutes of a seeded
// history, as a live detector would have at each of them, so that a
// condition keeps the start it had. Prefix sums over the minutes held make
// each step O(1): a month of history replays in milliseconds. Minutes older
// than the ring holds cannot be replayed and are skipped.
func (d *Detector) replayBurns(rt *route, mins []int64) {
	if len(mins) == 0 {
		return
	}
	end := mins[len(mins)-1]
	start := end - int64(len(rt.minutes)) + 1
	prefix := make([]counts, len(rt.minutes)+1)
	for _, s := range rt.minutes {
		if s.set && s.at >= start && s.at <= end {
			prefix[s.at-start+1] = s.counts
		}
	}
	for i := 1; i < len(prefix); i++ {
		prefix[i].add(prefix[i-1])
	}
	span := func(m, length int64) counts {
		from := max(m-length+1, start)
		c := prefix[m-start+1]
		p := prefix[from-start]
		return counts{requests: c.requests - p.requests, errors: c.errors - p.errors, slow: c.slow - p.slow}
	}
	for _, m := range mins {
		if m < start {
			continue
		}
		for obj := range numObjectives {
			objective := rt.objective(obj)
			if objective == 0 {
				continue
			}
			for i := range d.opt.BurnWindows {
				d.burnStep(rt, &rt.burns[obj][i], i, span(m, d.spanList[2*i]), span(m, d.spanList[2*i+1]), obj, objective, m)
			}
		}
	}
}

// Budget is a route objective's error budget over its SLO window, and its
// burn rates now: what the admin API and the metrics show.
type Budget struct {
	Route     string
	Objective string  // ObjectiveAvailability or ObjectiveLatency
	Target    float64 // e.g. 0.999
	// LatencyThreshold is the latency objective's; zero for availability.
	LatencyThreshold time.Duration
	Window           time.Duration
	// From and Until bound the history counted: the window, or less when
	// less is held (after a first start without history). Until is the end
	// of the latest minute seen.
	From, Until time.Time
	// Good and Total are the requests over the window that met the
	// objective, and all of them.
	Good, Total int64
	// Left is the fraction of the budget left, negative once overspent;
	// 1 with no requests.
	Left  float64
	Burns []Burn
}

// Burn is one burn window's rates now.
type Burn struct {
	Window                      string
	Long, Short                 time.Duration
	BurnLong, BurnShort         float64
	LongRequests, ShortRequests int64
	Threshold                   float64
	Firing                      bool
}

// Budgets lists every route objective's budget, by route then objective,
// as of the latest minute seen.
func (d *Detector) Budgets() []Budget {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Budget
	for _, rt := range d.routeList {
		rt.windowSums(d.ref, d.spanList)
		total, from := rt.budget(d.ref)
		for obj := range numObjectives {
			objective := rt.objective(obj)
			if objective == 0 {
				continue
			}
			b := Budget{
				Route: rt.slo.Route, Objective: objectiveNames[obj], Target: objective,
				Window: rt.slo.Window, From: time.Unix(from*3600, 0).UTC(), Until: minuteTime(d.ref + 1),
				Good: total.requests - total.bad(obj), Total: total.requests,
				Left: budgetLeft(total, obj, objective),
			}
			if total.requests == 0 {
				b.From = b.Until
			}
			if obj == objLatency {
				b.LatencyThreshold = rt.slo.LatencyThreshold
			}
			for i, w := range d.opt.BurnWindows {
				long, short := rt.sums[2*i], rt.sums[2*i+1]
				b.Burns = append(b.Burns, Burn{
					Window: w.Name, Long: w.Long, Short: w.Short,
					BurnLong: burnRate(long, obj, objective), BurnShort: burnRate(short, obj, objective),
					LongRequests: long.requests, ShortRequests: short.requests,
					Threshold: w.Factor, Firing: rt.burns[obj][i].firing,
				})
			}
			out = append(out, b)
		}
	}
	return out
}
