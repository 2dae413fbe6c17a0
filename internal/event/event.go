package event

import (
	"context"
	"sync"
	"time"
)

// Severity says how urgently people should hear of an event.
type Severity uint8

const (
	Info Severity = iota
	Warning
	Critical
)

var severityNames = [...]string{"info", "warning", "critical"}

func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return "unknown"
}

// MarshalText writes the severity's name, for JSON and logs.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Subject is what an event is about.
type Subject struct {
	Kind string // "target", "route" or "check"
	Name string // "provider/model", the route's name or the check's name
}

func (s Subject) String() string { return s.Kind + " " + s.Name }

// Event is one state event. Implementations are plain values, safe to share
// between goroutines once published.
type Event interface {
	// Type names the event's kind, e.g. "status_changed"; stable, for rules and logs.
	Type() string
	About() Subject
	Severity() Severity
	When() time.Time
	// Summary is one sentence for people.
	Summary() string
}

// Bus fans events out to subscribers. The zero value is not usable: call New.
type Bus struct {
	mu   sync.Mutex
	subs []*Subscription
}

// New returns an empty bus.
func New() *Bus { return &Bus{} }

// Publish hands e to every subscriber. It never blocks on a consumer.
func (b *Bus) Publish(e Event) {
	b.mu.Lock()
	subs := b.subs
	b.mu.Unlock()
	for _, s := range subs {
		s.push(e)
	}
}

// Subscribe returns a subscription that receives every event published from
// now on, until Close.
func (b *Bus) Subscribe(name string) *Subscription {
	s := &Subscription{name: name, bus: b, ready: make(chan struct{}, 1)}
	b.mu.Lock()
	// Copy on write: Publish iterates a snapshot without the lock.
	b.subs = append(b.subs[:len(b.subs):len(b.subs)], s)
	b.mu.Unlock()
	return s
}

// Subscription is one consumer's queue.
type Subscription struct {
	name  string
	bus   *Bus
	mu    sync.Mutex
	queue []Event
	ready chan struct{} // holds a token while queue may be non-empty
}

func (s *Subscription) push(e Event) {
	s.mu.Lock()
	s.queue = append(s.queue, e)
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Next returns the oldest undelivered event, waiting for one until ctx ends.
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			e := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			if len(s.queue) == 0 {
				s.queue = nil // let the backing array go after a burst
			}
			s.mu.Unlock()
			return e, nil
		}
		s.mu.Unlock()
		select {
		case <-s.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Pending returns how many events wait in the queue.
func (s *Subscription) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Close stops the subscription; events already queued are dropped with it.
func (s *Subscription) Close() {
	b := s.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, x := range b.subs {
		if x == s {
			subs := make([]*Subscription, 0, len(b.subs)-1)
			subs = append(subs, b.subs[:i]...)
			b.subs = append(subs, b.subs[i+1:]...)
			return
		}
	}
}

// Run calls handle for every event until ctx ends: the usual consumer loop.
func (s *Subscription) Run(ctx context.Context, handle func(Event)) error {
	for {
		e, err := s.Next(ctx)
		if err != nil {
			return nil
		}
		handle(e)
	}
}
