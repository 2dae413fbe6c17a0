package route

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/relais/relais/internal/clock"
)

// State is a breaker's state.
type State int32

const (
	Closed State = iota
	Open
	HalfOpen
)

func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
	}
	return "unknown"
}

// Permit is what Allow granted; Record needs it back.
type Permit uint8

const (
	// Denied: the target is open or its one half-open trial is taken.
	Denied Permit = iota
	// Normal: the breaker is closed.
	Normal
	// Trial: the one request let through to test a half-open target.
	Trial
	// Forced: every target of the route was open, so this one is tried anyway.
	Forced
)

// BreakerConfig sets when a breaker trips and for how long.
type BreakerConfig struct {
	FailureRatio float64
	MinRequests  int
	Window       time.Duration
	OpenFor      time.Duration
}

const (
	buckets = 10
	// Cooldowns without a Retry-After start here and double while they repeat.
	baseCooldown = time.Second
	maxCooldown  = time.Minute
)

type bucket struct {
	epoch     int64
	ok, fails uint32
}

// Breaker is one target's circuit breaker. It also carries provider cooldowns
// (a 429 or 503 with a long Retry-After), because both mean the same thing to
// the attempt loop: skip this target without a network call until a time,
// then let one trial request through. A library breaker would need a second
// state machine beside it for cooldowns; this one has both, and a lock-free
// Allow while closed, which is nearly always.
type Breaker struct {
	clk   clock.Clock
	cfg   BreakerConfig
	width int64 // bucket width in ns

	state atomic.Int32 // State, readable without the lock

	mu        sync.Mutex
	openUntil time.Time
	trial     bool // a half-open trial is in flight
	coolRuns  int  // consecutive cooldowns without a Retry-After
	win       [buckets]bucket
}

// NewBreaker returns a closed breaker.
func NewBreaker(cfg BreakerConfig, clk clock.Clock) *Breaker {
	w := int64(cfg.Window) / buckets
	if w <= 0 {
		w = int64(time.Second)
	}
	return &Breaker{clk: clk, cfg: cfg, width: w}
}

// State returns the current state; an open breaker whose time is up reads as half-open.
func (b *Breaker) State() State {
	s := State(b.state.Load())
	if s == Open {
		b.mu.Lock()
		up := !b.clk.Now().Before(b.openUntil)
		b.mu.Unlock()
		if up {
			return HalfOpen
		}
	}
	return s
}

// OpenUntil returns when an open breaker lets a trial through (zero when closed).
func (b *Breaker) OpenUntil() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	if State(b.state.Load()) == Closed {
		return time.Time{}
	}
	return b.openUntil
}

// Allow asks to send a request. It never blocks on I/O.
func (b *Breaker) Allow() Permit {
	if State(b.state.Load()) == Closed {
		return Normal
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch State(b.state.Load()) {
	case Closed:
		return Normal
	case Open:
		if b.clk.Now().Before(b.openUntil) {
			return Denied
		}
		b.state.Store(int32(HalfOpen))
		b.trial = true
		return Trial
	default: // HalfOpen
		if b.trial {
			return Denied
		}
		b.trial = true
		return Trial
	}
}

// Record reports how a permitted request went. success means the target
// answered properly (a client's own bad request is a success for the target).
func (b *Breaker) Record(p Permit, success bool) {
	if p == Denied {
		return
	}
	now := b.clk.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	switch p {
	case Trial, Forced:
		if p == Trial {
			b.trial = false
		}
		if success {
			b.closeLocked()
			return
		}
		b.openLocked(now.Add(b.cfg.OpenFor))
		return
	}
	if State(b.state.Load()) != Closed {
		// A result from before the trip: the trial decides now.
		return
	}
	bk := &b.win[(now.UnixNano()/b.width)%buckets]
	epoch := now.UnixNano() / b.width
	if bk.epoch != epoch {
		*bk = bucket{epoch: epoch}
	}
	if success {
		bk.ok++
		b.coolRuns = 0
		return
	}
	bk.fails++
	var ok, fails uint32
	for i := range b.win {
		if b.win[i].epoch > epoch-buckets {
			ok += b.win[i].ok
			fails += b.win[i].fails
		}
	}
	total := ok + fails
	if int(total) >= b.cfg.MinRequests && float64(fails)/float64(total) >= b.cfg.FailureRatio {
		b.openLocked(now.Add(b.cfg.OpenFor))
	}
}

// Cooldown keeps the target off the hot path for d (a provider's Retry-After)
// and settles permit p in place of Record. d <= 0 means the provider gave no
// usable Retry-After: the cooldown starts at one second and doubles while
// cooldowns repeat, up to a minute.
func (b *Breaker) Cooldown(p Permit, d time.Duration) {
	now := b.clk.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if p == Trial {
		b.trial = false
	}
	if d <= 0 {
		d = min(baseCooldown<<min(b.coolRuns, 6), maxCooldown)
		b.coolRuns++
	}
	until := now.Add(d)
	// A late answer from before must not shorten a longer open period.
	if p == Normal && State(b.state.Load()) != Closed && b.openUntil.After(until) {
		until = b.openUntil
	}
	b.openLocked(until)
}

// reconfigure applies new settings. State, open period, trial and cooldown
// runs are kept; the window restarts, as its buckets may change width.
// States.Get calls it under the States lock, the only place b.cfg is written
// or read outside b.mu.
func (b *Breaker) reconfigure(cfg BreakerConfig) {
	w := int64(cfg.Window) / buckets
	if w <= 0 {
		w = int64(time.Second)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cfg, b.width = cfg, w
	b.win = [buckets]bucket{}
}

func (b *Breaker) openLocked(until time.Time) {
	b.openUntil = until
	b.state.Store(int32(Open))
	b.win = [buckets]bucket{}
}

func (b *Breaker) closeLocked() {
	b.state.Store(int32(Closed))
	b.openUntil = time.Time{}
	b.coolRuns = 0
	b.win = [buckets]bucket{}
}
