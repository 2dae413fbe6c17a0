package rollup

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/health"
)

// Defaults of an Aggregator's settings.
const (
	// DefaultGrace leaves late observations of a minute time to arrive: an
	// observation carries its attempt's start time, and a long stream
	// reports only when it ends, minutes later. Those very late ones are not
	// lost (see Aggregator), but most arrive within a few seconds.
	DefaultGrace = 5 * time.Second
	// DefaultInterval is how often Run looks for closed minutes: a minute
	// is handed on at most this long after its grace ends.
	DefaultInterval = time.Second
	// DefaultStopTimeout bounds the last flush when Run's context ends, so
	// a store that does not answer cannot hold up a shutdown.
	DefaultStopTimeout = 10 * time.Second
)

// A Consumer receives closed rows, sorted by minute then key. Rows and their
// sketches are shared between consumers: a consumer must not modify them (it
// may Merge them into its own rows). A minute may be handed on more than
// once when observations arrive after it was closed: consumers merge rows
// of the same key and minute (the store does).
type Consumer func(ctx context.Context, rows []Rollup)

// Aggregator builds per-minute rollups from observations (it is a
// health.Sink) and hands each minute to its consumers once the minute and
// its grace period are over.
//
// Observe and Flush share a mutex only to find rows and to take closed
// minutes out of the open set; consumers run outside it, so a slow store
// delays the next flush, never an observation.
//
// An observation of a minute already handed on (very late: a stream that
// ran for minutes) is not dropped: it opens a new row for that old minute,
// handed on at the next flush, and consumers merge it.
type Aggregator struct {
	// Grace, Interval and StopTimeout default to DefaultGrace,
	// DefaultInterval and DefaultStopTimeout when zero. Set them before Run.
	Grace, Interval, StopTimeout time.Duration
	// Ticks, when not nil, replaces Run's ticker: each value received makes
	// Run flush at the clock's time (the value itself is ignored). Tests
	// drive Run with it and a clock.Fake.
	Ticks <-chan time.Time

	clk       clock.Clock
	consumers []Consumer

	// flushMu keeps flushes (and so consumer calls) in order, without
	// holding mu.
	flushMu sync.Mutex

	mu   sync.Mutex
	open map[int64]*bucket // by minute, unix seconds
	// cur is the bucket most observations go to, saving a map lookup.
	cur *bucket
	// spare is the index map of the last closed bucket, cleared for the
	// next minute: its buckets are then built without growing a map.
	spare map[Key]int
	// lastRows sizes the next minute's rows from the last one's.
	lastRows int
}

// bucket is one open minute.
type bucket struct {
	minute int64
	index  map[Key]int // into rows
	rows   []Rollup
}

var _ health.Sink = (*Aggregator)(nil)

// New returns an Aggregator that hands closed minutes to consumers, in
// order, from Run's goroutine.
func New(clk clock.Clock, consumers ...Consumer) *Aggregator {
	return &Aggregator{clk: clk, consumers: consumers, open: map[int64]*bucket{}}
}

// Observe counts o into its minute: into the RouteTarget row when it names
// a provider, the RouteKey row when it is a route's final attempt, the
// Check row when an active check made it.
func (a *Aggregator) Observe(o *health.Observation) {
	target, key, check := o.Provider != "", o.Final && o.Route != "", o.Probe && o.Check != ""
	if !target && !key && !check {
		return // belongs to no series
	}
	at := o.Time
	if at.IsZero() {
		// A producer that forgot the time: count it now rather than in
		// year one, where retention would delete it unseen.
		at = a.clk.Now()
	}
	minute := at.Unix()
	minute -= ((minute % 60) + 60) % 60 // floor, also before 1970

	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.cur
	if b == nil || b.minute != minute {
		b = a.bucket(minute)
	}
	if target {
		r := b.row(Key{Series: RouteTarget, Route: o.Route, Provider: o.Provider, Model: o.Model})
		r.add(o)
		// The quota belongs to the provider account, which only this
		// series names.
		r.setRateLimit(o.RateLimit, at)
	}
	if key {
		b.row(Key{Series: RouteKey, Route: o.Route, Client: o.Key}).add(o)
	}
	if check {
		b.row(Key{Series: Check, Check: o.Check}).add(o)
	}
}

// bucket returns the open bucket of minute, creating it. Called with mu held.
func (a *Aggregator) bucket(minute int64) *bucket {
	b := a.open[minute]
	if b == nil {
		index := a.spare
		a.spare = nil
		if index == nil {
			index = make(map[Key]int, a.lastRows)
		}
		b = &bucket{minute: minute, index: index, rows: make([]Rollup, 0, a.lastRows)}
		a.open[minute] = b
	}
	// The newest minute is where traffic goes; a late observation of an
	// old one must not steal the shortcut from it.
	if a.cur == nil || minute >= a.cur.minute {
		a.cur = b
	}
	return b
}

// row returns the row of k, creating it.
func (b *bucket) row(k Key) *Rollup {
	i, ok := b.index[k]
	if !ok {
		i = len(b.rows)
		b.rows = append(b.rows, Rollup{Key: k, Minute: time.Unix(b.minute, 0).UTC(), RateLimit: health.NoRateLimit})
		b.index[k] = i
	}
	return &b.rows[i]
}

// Flush hands on every minute whose grace period is over at now. It runs
// the consumers, so ctx bounds their work.
func (a *Aggregator) Flush(ctx context.Context, now time.Time) {
	grace := cmp.Or(a.Grace, DefaultGrace)
	a.flush(ctx, func(minute int64) bool {
		return !now.Before(time.Unix(minute+60, 0).Add(grace))
	})
}

// FlushAll hands on every open minute, the current one too (partial). Run
// calls it when its context ends; call it again after Run returned if
// observations may still have arrived (the queue feeding the aggregator
// should stop first).
func (a *Aggregator) FlushAll(ctx context.Context) {
	a.flush(ctx, func(int64) bool { return true })
}

func (a *Aggregator) flush(ctx context.Context, closed func(minute int64) bool) {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()

	var done []*bucket
	a.mu.Lock()
	for minute, b := range a.open {
		if closed(minute) {
			done = append(done, b)
			delete(a.open, minute)
		}
	}
	if a.cur != nil && a.open[a.cur.minute] != a.cur {
		a.cur = nil
	}
	for _, b := range done {
		a.lastRows = max(a.lastRows, len(b.rows))
	}
	a.mu.Unlock()
	if len(done) == 0 {
		return
	}

	slices.SortFunc(done, func(x, y *bucket) int { return cmp.Compare(x.minute, y.minute) })
	rows := done[0].rows
	for _, b := range done[1:] {
		rows = append(rows, b.rows...)
	}
	// Sorted rows make every consumer's work deterministic, and let the
	// store take row locks in one order on every replica (no deadlocks).
	slices.SortStableFunc(rows, func(x, y Rollup) int {
		if c := x.Minute.Compare(y.Minute); c != 0 {
			return c
		}
		return CompareKeys(x.Key, y.Key)
	})

	// Nothing refers to the index maps any more: keep one for the next
	// minute.
	a.mu.Lock()
	if a.spare == nil {
		clear(done[0].index)
		a.spare = done[0].index
	}
	a.mu.Unlock()

	for _, c := range a.consumers {
		c(ctx, rows)
	}
}

// CompareKeys orders keys by series, then route, provider, model, client
// and check. Any total order would do; this one is the same everywhere.
func CompareKeys(x, y Key) int {
	if c := cmp.Compare(x.Series, y.Series); c != 0 {
		return c
	}
	for _, p := range [...][2]string{
		{x.Route, y.Route}, {x.Provider, y.Provider}, {x.Model, y.Model}, {x.Client, y.Client}, {x.Check, y.Check},
	} {
		if c := strings.Compare(p[0], p[1]); c != 0 {
			return c
		}
	}
	return 0
}

// Run flushes closed minutes every Interval (or on each value of Ticks)
// until ctx ends, then flushes every open minute, the current partial one
// too, within StopTimeout, and returns nil.
func (a *Aggregator) Run(ctx context.Context) error {
	ticks := a.Ticks
	if ticks == nil {
		t := time.NewTicker(cmp.Or(a.Interval, DefaultInterval))
		defer t.Stop()
		ticks = t.C
	}
	for {
		select {
		case <-ctx.Done():
			// The rows of the last minutes must still reach the store:
			// their context outlives ours, bounded.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cmp.Or(a.StopTimeout, DefaultStopTimeout))
			a.FlushAll(fctx)
			cancel()
			return nil
		case <-ticks:
			a.Flush(ctx, a.clk.Now())
		}
	}
}
