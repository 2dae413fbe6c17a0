package health

import (
	"context"
	"sync/atomic"
)

// Sink consumes observations off the hot path.
type Sink interface {
	Observe(o *Observation)
}

// Queue carries observations from the hot path to sinks. Publish never blocks:
// when the buffer is full the observation is dropped and counted, so a slow
// consumer can never slow a request.
type Queue struct {
	ch      chan Observation
	dropped atomic.Uint64
	onDrop  func()
}

// NewQueue returns a queue holding up to size observations. onDrop, if not
// nil, is called for every dropped observation (for a metric).
func NewQueue(size int, onDrop func()) *Queue {
	return &Queue{ch: make(chan Observation, size), onDrop: onDrop}
}

// Publish enqueues o or drops it when the queue is full.
func (q *Queue) Publish(o Observation) {
	select {
	case q.ch <- o:
	default:
		q.dropped.Add(1)
		if q.onDrop != nil {
			q.onDrop()
		}
	}
}

// Dropped returns how many observations were dropped so far.
func (q *Queue) Dropped() uint64 { return q.dropped.Load() }

// Run hands every observation to each sink in order until ctx ends, then
// drains what is already queued.
func (q *Queue) Run(ctx context.Context, sinks ...Sink) error {
	for {
		select {
		case o := <-q.ch:
			for _, s := range sinks {
				s.Observe(&o)
			}
		case <-ctx.Done():
			for {
				select {
				case o := <-q.ch:
					for _, s := range sinks {
						s.Observe(&o)
					}
				default:
					return nil
				}
			}
		}
	}
}
