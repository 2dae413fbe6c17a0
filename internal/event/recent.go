package event

import (
	"context"
	"sync"
)

// Recent keeps the last events published, for the admin API and the
// operators' views. It is a consumer like any other: it subscribes and
// copies, so it never slows the bus.
type Recent struct {
	sub  *Subscription
	mu   sync.Mutex
	ring []Event
	next int
	full bool
}

// NewRecent subscribes to b and keeps the last size events.
func NewRecent(b *Bus, size int) *Recent {
	return &Recent{sub: b.Subscribe("recent"), ring: make([]Event, size)}
}

// Run records events until ctx ends, then unsubscribes.
func (r *Recent) Run(ctx context.Context) error {
	defer r.sub.Close()
	return r.sub.Run(ctx, r.add)
}

func (r *Recent) add(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ring[r.next] = e
	r.next = (r.next + 1) % len(r.ring)
	if r.next == 0 {
		r.full = true
	}
}

// Events returns the events kept, oldest first.
func (r *Recent) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]Event(nil), r.ring[:r.next]...)
	}
	out := make([]Event, 0, len(r.ring))
	out = append(out, r.ring[r.next:]...)
	return append(out, r.ring[:r.next]...)
}
