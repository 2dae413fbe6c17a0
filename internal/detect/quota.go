package detect

import (
	"time"

	"github.com/relais/relais/internal/event"
	"github.com/relais/relais/internal/health"
)

// Quotas of a target, indexes of quota.w.
const (
	quotaRequests = iota
	quotaTokens
	numQuotas
)

var quotaSignals = [numQuotas]string{quotaRequests: SignalRequests, quotaTokens: SignalTokens}

// quota is what a target's rate-limit headers said lately.
type quota struct {
	subject event.Subject
	w       [numQuotas]quotaWindow
}

// quotaWindow follows one quota through one reset window: from the first
// report after a reset, how fast remaining drops.
type quotaWindow struct {
	samples int
	// start and startRemaining open the window; last and remaining are the
	// latest report (remaining is the lowest seen: responses of concurrent
	// requests arrive out of order, and the lowest is the freshest).
	start, last               time.Time
	startRemaining, remaining int64
	limit                     int64 // 0 when not reported
	resetAt                   time.Time
	firing                    bool
	level                     event.Severity
	since                     time.Time
}

// Observe takes an observation for quota forecasts. It returns at once when
// the provider reported no rate limits; otherwise it updates the target's
// windows under a lock of its own (never the minute's) and allocates only
// for a target's first report and for an event.
func (d *Detector) Observe(o *health.Observation) {
	rl := &o.RateLimit
	if !rl.Reported() {
		return
	}
	now := d.clk.Now()
	var evs []event.Event
	d.qmu.Lock()
	k := targetKey{o.Provider, o.Model}
	q := d.quotas[k]
	if q == nil {
		q = &quota{subject: event.Subject{Kind: "target", Name: o.Provider + "/" + o.Model}}
		d.quotas[k] = q
	}
	if rl.RemainingRequests >= 0 {
		evs = d.sampleQuota(evs, q, quotaRequests, now, rl.RemainingRequests, rl.LimitRequests, rl.ResetRequests)
	}
	if rl.RemainingTokens >= 0 {
		evs = d.sampleQuota(evs, q, quotaTokens, now, rl.RemainingTokens, rl.LimitTokens, rl.ResetTokens)
	}
	d.qmu.Unlock()
	d.emit(evs)
}

// sampleQuota adds one report. A rise of remaining means the quota reset
// (or refilled): a new window starts. Small rises are out-of-order reports
// of concurrent requests, not resets: a rise must exceed 2 % of the limit.
// A report after the window's reset time also starts a new one.
func (d *Detector) sampleQuota(evs []event.Event, q *quota, i int, now time.Time, remaining, limit int64, reset time.Duration) []event.Event {
	w := &q.w[i]
	if limit > 0 {
		w.limit = limit
	}
	jitter := max(1, w.limit/50)
	switch {
	case w.samples == 0 || remaining > w.remaining+jitter || (!w.resetAt.IsZero() && !now.Before(w.resetAt)):
		if w.firing {
			w.remaining = remaining
			evs = append(evs, d.resolveQuota(q, i, now, "the quota reset"))
		}
		*w = quotaWindow{samples: 1, start: now, last: now, startRemaining: remaining, remaining: remaining, limit: w.limit}
	default:
		w.samples++
		w.last = now
		w.remaining = min(w.remaining, remaining)
	}
	if reset > 0 {
		w.resetAt = now.Add(reset)
	}
	return d.judgeQuota(evs, q, i, now)
}

// judgeQuota forecasts a window: fire when remaining runs out before the
// reset and within the horizon at the window's rate, or when less than
// QuotaLow of the limit is left; critical under QuotaCritical or with an
// exhaustion within a minute. Resolve at the reset, or when the
// projection no longer runs out before it.
func (d *Detector) judgeQuota(evs []event.Event, q *quota, i int, now time.Time) []event.Event {
	w := &q.w[i]
	if !w.resetAt.IsZero() && !now.Before(w.resetAt) {
		// Full again, though no report said so yet.
		if w.firing {
			evs = append(evs, d.resolveQuota(q, i, now, "the quota reset at "+w.resetAt.UTC().Format("15:04:05 UTC")))
		}
		return evs
	}
	var rate float64 // per minute
	if span := w.last.Sub(w.start); w.samples >= 3 && span >= d.opt.QuotaMinSpan && w.startRemaining > w.remaining {
		rate = float64(w.startRemaining-w.remaining) / span.Minutes()
	}
	var (
		exhaustAt time.Time
		exhausts  bool
		limit     = float64(w.limit)
		left      = float64(w.remaining)
		low       = w.limit > 0 && left < d.opt.QuotaLow*limit
	)
	if rate > 0 {
		exhaustAt = w.last.Add(time.Duration(left / rate * float64(time.Minute))).Truncate(time.Second)
		exhausts = (w.resetAt.IsZero() || exhaustAt.Before(w.resetAt)) && exhaustAt.Sub(now) <= d.opt.QuotaHorizon
	}
	if !exhausts && !low {
		if w.firing {
			evs = append(evs, d.resolveQuota(q, i, now, "at the current rate it lasts until the reset"))
		}
		return evs
	}
	level := event.Warning
	if (w.limit > 0 && left < d.opt.QuotaCritical*limit) || (exhausts && exhaustAt.Sub(now) <= time.Minute) {
		level = event.Critical
	}
	switch {
	case !w.firing:
		w.firing, w.since, w.level = true, now, level
	case level > w.level:
		w.level = level
	default:
		return evs
	}
	ev := Forecast{
		Kind: ForecastQuota, Subject: q.subject, Signal: quotaSignals[i],
		Current: left, Limit: limit, Rate: rate, ResetAt: w.resetAt,
		Since: w.since, At: now, Level: w.level,
	}
	if exhausts {
		ev.BreachAt = exhaustAt
	}
	ev.Text = quotaText(ev, "")
	return append(evs, ev)
}

func (d *Detector) resolveQuota(q *quota, i int, now time.Time, reason string) Forecast {
	w := &q.w[i]
	w.firing = false
	ev := Forecast{
		Kind: ForecastQuota, Subject: q.subject, Signal: quotaSignals[i],
		Current: float64(w.remaining), Limit: float64(w.limit), ResetAt: w.resetAt,
		Since: w.since, At: now, Level: w.level, Resolved: true,
	}
	ev.Text = quotaText(ev, reason)
	return ev
}

// sweepQuota re-judges a firing quota as time passes (its reset, or an
// exhaustion drawing near). Called with qmu held.
func (d *Detector) sweepQuota(evs []event.Event, q *quota, now time.Time) []event.Event {
	for i := range q.w {
		if q.w[i].firing {
			evs = d.judgeQuota(evs, q, i, now)
		}
	}
	return evs
}
