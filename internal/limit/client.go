package limit

import (
	"crypto/sha256"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
)

// Client is an authenticated key: its name, the routes it may call and its
// per-minute limits. It is shared by all requests with that key and safe for
// concurrent use.
type Client struct {
	Name   string
	digest [sha256.Size]byte
	routes []string // empty: every route
	// epoch anchors the limits' int64 clocks. Offsets come from time.Time.Sub,
	// which uses the monotonic reading, so a wall-clock step neither locks a
	// key out nor frees it.
	epoch time.Time
	rpm   gcra
	tpm   gcra
}

func newClient(name string, digest [sha256.Size]byte, rpm, tpm int, routes []string, epoch time.Time) *Client {
	return &Client{
		Name:   name,
		digest: digest,
		routes: slices.Clone(routes),
		epoch:  epoch,
		rpm:    newGCRA(rpm),
		tpm:    newGCRA(tpm),
	}
}

// Allows reports whether the key may call the route (the route's model alias).
func (c *Client) Allows(route string) bool {
	return len(c.routes) == 0 || slices.Contains(c.routes, route)
}

// Decision is the answer of Client.Admit.
type Decision struct {
	Allowed bool
	// Limit is the limit that refused the request, "requests" or "tokens"
	// (the "type" of OpenAI's rate-limit errors); empty when allowed.
	Limit string
	// RetryAfter is how long until the refusing limit admits a request.
	RetryAfter time.Duration
	// Requests and Tokens are the state of each limit after this decision.
	Requests, Tokens Quota
}

// Quota is one per-minute limit as OpenAI's x-ratelimit-* headers tell it.
type Quota struct {
	Limit     int // per minute; 0: not configured
	Remaining int
	// Reset is the time until the limit is back to its full Limit.
	Reset time.Duration
}

// Admit decides on one request at now: it consumes one request from the rpm
// limit and requires at least one whole token left in the tpm limit (tokens
// are unknown until the answer; Spend charges them). A refused request
// consumes nothing. When both limits refuse, the one that waits longer is
// reported.
func (c *Client) Admit(now time.Time) Decision {
	if c.rpm.limit == 0 && c.tpm.limit == 0 {
		return Decision{Allowed: true}
	}
	t := int64(now.Sub(c.epoch))
	var d Decision
	var tokensWait, requestsWait int64
	if c.tpm.limit > 0 {
		tat := c.tpm.tat.Load()
		tokensWait = c.tpm.wait(tat, t)
		d.Tokens = c.tpm.quota(tat, t)
	}
	if c.rpm.limit > 0 {
		// A request refused for tokens must not use up a request.
		tat, ok := c.rpm.take(t, tokensWait == 0)
		if !ok {
			requestsWait = c.rpm.wait(tat, t)
		}
		d.Requests = c.rpm.quota(tat, t)
	}
	switch {
	case requestsWait == 0 && tokensWait == 0:
		d.Allowed = true
	case requestsWait >= tokensWait:
		d.Limit, d.RetryAfter = "requests", time.Duration(requestsWait)
	default:
		d.Limit, d.RetryAfter = "tokens", time.Duration(tokensWait)
	}
	return d
}

// Spend charges the tokens a response used against the tpm limit. The limit
// goes into debt past its burst, so a key that overspent is refused until the
// debt is paid back at its tpm rate.
func (c *Client) Spend(now time.Time, tokens int) {
	if c.tpm.limit == 0 || tokens <= 0 {
		return
	}
	c.tpm.spend(int64(now.Sub(c.epoch)), int64(tokens))
}

// SetHeaders writes OpenAI's x-ratelimit-* headers for the configured limits.
// Retry-After is the caller's, from RetryAfter.
func (d Decision) SetHeaders(h http.Header) {
	n := 0
	if d.Requests.Limit > 0 {
		n += 3
	}
	if d.Tokens.Limit > 0 {
		n += 3
	}
	if n == 0 {
		return
	}
	// One backing array for every value: a response is written on every request.
	vals := make([]string, 0, n)
	if d.Requests.Limit > 0 {
		vals = d.Requests.set(h, vals, "X-Ratelimit-Limit-Requests", "X-Ratelimit-Remaining-Requests", "X-Ratelimit-Reset-Requests")
	}
	if d.Tokens.Limit > 0 {
		d.Tokens.set(h, vals, "X-Ratelimit-Limit-Tokens", "X-Ratelimit-Remaining-Tokens", "X-Ratelimit-Reset-Tokens")
	}
}

// set writes canonical keys straight into the map, skipping Header.Set's
// canonicalization, each value a one-element window of vals.
func (q Quota) set(h http.Header, vals []string, limit, remaining, reset string) []string {
	put := func(key, v string) {
		vals = append(vals, v)
		h[key] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	put(limit, strconv.Itoa(q.Limit))
	put(remaining, strconv.Itoa(q.Remaining))
	// OpenAI writes Go-style durations ("1s", "6m0s", "120ms"); rounded up to
	// the millisecond so a client that waits that long finds the limit reset.
	put(reset, (q.Reset + time.Millisecond - 1).Truncate(time.Millisecond).String())
	return vals
}

// maxDebt caps how far past its burst a limit can go. No real response comes
// near it; it keeps tokens × interval and tat from overflowing int64.
const maxDebt = int64(24 * time.Hour)

// gcra is one per-minute limit as a Generic Cell Rate Algorithm, which is a
// token bucket whose whole state is one number: tat, the time (ns since the
// client's epoch) at which the bucket is full again. Each unit pushes tat one
// interval later; a unit is available while tat is less than a burst ahead.
//
// Hand-rolled rather than x/time/rate because Admit and Spend need what
// rate.Limiter does not give: charging more than the burst (a debt) in one
// step, the remaining units and the time to full for the headers, taken from
// the same state as the decision, and no lock: a single key can carry most of
// the gateway's traffic, so its limits are updated with CAS, never a mutex.
type gcra struct {
	limit    int   // units per minute, also the burst; 0: unlimited
	interval int64 // ns to earn back one unit
	burst    int64 // limit × interval: how far tat may run ahead of now
	tat      atomic.Int64
}

func newGCRA(perMinute int) gcra {
	if perMinute <= 0 {
		return gcra{}
	}
	interval := max(int64(time.Minute)/int64(perMinute), 1)
	return gcra{limit: perMinute, interval: interval, burst: interval * int64(perMinute)}
}

// wait returns the ns until one whole unit is available at t (0: now).
func (g *gcra) wait(tat, t int64) int64 { return max(tat-t+g.interval-g.burst, 0) }

// quota reports the limit's state at t.
func (g *gcra) quota(tat, t int64) Quota {
	backlog := max(tat-t, 0)
	return Quota{Limit: g.limit, Remaining: int(max(g.burst-backlog, 0) / g.interval), Reset: time.Duration(backlog)}
}

// take consumes one unit at t when one is available and consume is set. It
// returns the tat after the call and whether the unit was available.
func (g *gcra) take(t int64, consume bool) (tat int64, ok bool) {
	for {
		old := g.tat.Load()
		if g.wait(old, t) > 0 {
			return old, false
		}
		if !consume {
			return old, true
		}
		next := max(old, t) + g.interval
		if g.tat.CompareAndSwap(old, next) {
			return next, true
		}
	}
}

// spend charges n units at t, into debt if need be, at most maxDebt past the
// burst.
func (g *gcra) spend(t, n int64) {
	ceiling := g.burst + maxDebt
	cost := min(n, ceiling/g.interval) * g.interval // clamped first: n × interval can overflow
	for {
		old := g.tat.Load()
		if g.tat.CompareAndSwap(old, min(max(old, t)+cost, t+ceiling)) {
			return
		}
	}
}
