package detect

import (
	"fmt"
	"time"

	"github.com/relais/relais/internal/event"
)

// Trends of a target, indexes of target.trend.
const (
	trendLatency = iota
	trendErrors
	numTrends
)

var trendSignals = [numTrends]string{trendLatency: SignalLatencyP95, trendErrors: SignalErrorRatio}

// trendState is a ring of one signal's per-minute values over the trend
// window (minutes with volume only), and its forecast.
type trendState struct {
	at     []int64 // Unix minutes; 0 is an empty slot
	v      []float64
	next   int
	firing bool
	// reached is set when the value reached the threshold, and cleared
	// when it falls back under rearm of it: a value hovering at the line
	// does not forecast what already happened, over and over.
	reached bool
	since   int64
	last    int64   // last minute with a point
	lastFit float64 // the fitted value then
}

func (tr *trendState) push(m int64, v float64) {
	tr.at[tr.next], tr.v[tr.next] = m, v
	tr.next = (tr.next + 1) % len(tr.at)
	tr.last = m
}

// fit is a Theil–Sen line through the window's points, x in minutes
// relative to the minute judged (so the intercept is the fitted value now).
type fit struct {
	n                int
	slope, intercept float64 // per minute; at x = 0
	// agreement is the fraction of pairs of points that rise (ties count
	// half): 1 for a steady climb, about 0.5 for noise around a level.
	agreement float64
}

// theilSen fits the points of tr within the window ending at m. The slope is
// the median of the pairwise slopes: a few wild minutes (a spike, a
// dip) cannot tilt it, unlike least squares.
func (d *Detector) theilSen(tr *trendState, m int64) fit {
	window := minutes(d.opt.TrendWindow)
	d.xs, d.ys = d.xs[:0], d.ys[:0]
	for i, at := range tr.at {
		if at != 0 && at <= m && m-at < window {
			d.xs = append(d.xs, float64(at-m))
			d.ys = append(d.ys, tr.v[i])
		}
	}
	f := fit{n: len(d.xs)}
	if f.n < d.opt.TrendMinPoints {
		return f
	}
	if lo, hi := minMax(d.ys); lo == hi {
		// A flat line, the usual error ratio of a healthy target (zero):
		// no pair rises, nothing to fit.
		f.intercept, f.agreement = lo, 0.5
		return f
	}
	d.slopes = d.slopes[:0]
	var rising float64
	for i := range d.xs {
		for j := i + 1; j < len(d.xs); j++ {
			dx := d.xs[j] - d.xs[i]
			s := (d.ys[j] - d.ys[i]) / dx
			d.slopes = append(d.slopes, s)
			switch {
			case s > 0:
				rising++
			case s == 0:
				rising += 0.5
			}
		}
	}
	f.agreement = rising / float64(len(d.slopes))
	f.slope = median(d.slopes)
	d.slopes = d.slopes[:0]
	for i := range d.xs {
		d.slopes = append(d.slopes, d.ys[i]-f.slope*d.xs[i])
	}
	f.intercept = median(d.slopes)
	return f
}

func minMax(xs []float64) (lo, hi float64) {
	lo, hi = xs[0], xs[0]
	for _, v := range xs[1:] {
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

// rearm is the fraction of its threshold a value must fall back under
// before a trend that reached the threshold may be forecast again.
const rearm = 0.9

// judgeTrend adds a minute's value (when it had volume) and forecasts.
//
// It fires when the fitted value is below the threshold and the line
// reaches it within the horizon; it resolves when the value reached the
// threshold (other detectors speak then), when the climb stops or no
// longer passes the fit check, or when the breach moves beyond twice the
// horizon (the margin keeps a breach hovering around the horizon from
// flapping). After reaching the threshold, a trend is forecast again only
// once the value fell back under 90 % of it.
func (d *Detector) judgeTrend(evs []event.Event, t *target, k int, m int64, v float64, ok bool) []event.Event {
	if !ok {
		return evs
	}
	tr := &t.trend[k]
	tr.push(m, v)
	f := d.theilSen(tr, m)
	tr.lastFit = f.intercept
	thr := t.thresholds[k]
	rising := f.n >= d.opt.TrendMinPoints && f.slope > 0 && f.agreement >= d.opt.TrendAgreement
	reached := v >= thr || (rising && f.intercept >= thr)
	var toBreach float64 // minutes
	if rising && !reached {
		toBreach = (thr - f.intercept) / f.slope
	}
	horizon := d.opt.TrendHorizon.Minutes()
	if reached {
		tr.reached = true
	} else if tr.reached && v < rearm*thr && f.intercept < rearm*thr {
		tr.reached = false
	}
	if !tr.firing {
		if !rising || tr.reached || toBreach > horizon {
			return evs
		}
		tr.firing, tr.since = true, m
		ev := Forecast{
			Kind: ForecastTrend, Subject: t.subject, Signal: trendSignals[k],
			Current: f.intercept, Threshold: thr, Rate: f.slope * 60,
			BreachAt: minuteTime(m).Add(time.Duration(toBreach * float64(time.Minute))).Truncate(time.Second),
			Since:    minuteTime(m + 1), At: minuteTime(m + 1), Level: event.Warning,
		}
		ev.Text = trendText(ev, "")
		return append(evs, ev)
	}
	var reason string
	switch {
	case reached:
		reason = "it reached it"
	case f.n < d.opt.TrendMinPoints:
		reason = fmt.Sprintf("too few minutes with traffic (%d) to tell", f.n)
	case !rising:
		reason = "it stopped rising"
	case toBreach > 2*horizon:
		reason = "the climb slowed, breach now projected at " + clockTime(minuteTime(m).Add(time.Duration(toBreach*float64(time.Minute))))
	default:
		return evs
	}
	cur := f.intercept
	if reached || f.n < d.opt.TrendMinPoints {
		cur = v
	}
	return append(evs, d.resolveTrend(t, k, m, cur, reason))
}

func (d *Detector) resolveTrend(t *target, k int, m int64, current float64, reason string) Forecast {
	tr := &t.trend[k]
	tr.firing = false
	ev := Forecast{
		Kind: ForecastTrend, Subject: t.subject, Signal: trendSignals[k],
		Current: current, Threshold: t.thresholds[k],
		Since: minuteTime(tr.since + 1), At: minuteTime(m + 1), Level: event.Warning, Resolved: true,
	}
	ev.Text = trendText(ev, reason)
	return ev
}
