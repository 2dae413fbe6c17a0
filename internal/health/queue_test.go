package health_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/relais/relais/internal/health"
)

// Run is the one goroutine of this package: every test must see it end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a sink that logs "<name>:<request id>" in a log shared with
// other sinks, so the order across sinks shows.
type recorder struct {
	name string
	log  *journal
}

type journal struct {
	mu      sync.Mutex
	entries []string
}

func (r *recorder) Observe(o *health.Observation) {
	r.log.mu.Lock()
	r.log.entries = append(r.log.entries, r.name+":"+o.RequestID)
	r.log.mu.Unlock()
}

func (j *journal) snapshot() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.entries)
}

func obs(id string) health.Observation { return health.Observation{RequestID: id} }

// publishAll publishes n observations and fails the test if Publish blocks.
func publishAll(t *testing.T, q *health.Queue, n int) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			q.Publish(obs(fmt.Sprint(i)))
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second): // a hang guard, not a speed goal
		t.Fatal("Publish blocked on a full queue")
	}
}

func TestPublishDropsWhenFull(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		size      int
		published int
		dropped   uint64
		onDrop    bool
	}{
		{"room left", 4, 3, 0, true},
		{"exactly full", 4, 4, 0, true},
		{"over by two", 4, 6, 2, true},
		{"no buffer drops everything without a reader", 0, 3, 3, true},
		{"nil onDrop is allowed", 1, 5, 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Uint64
			var onDrop func()
			if tt.onDrop {
				onDrop = func() { calls.Add(1) }
			}
			q := health.NewQueue(tt.size, onDrop)
			publishAll(t, q, tt.published)
			if got := q.Dropped(); got != tt.dropped {
				t.Errorf("Dropped() = %d, want %d", got, tt.dropped)
			}
			if tt.onDrop && calls.Load() != tt.dropped {
				t.Errorf("onDrop called %d times, want %d", calls.Load(), tt.dropped)
			}

			// What was kept is what was published first, in order.
			log := &journal{}
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if err := q.Run(ctx, &recorder{"s", log}); err != nil {
				t.Fatalf("Run: %v", err)
			}
			var want []string
			for i := range tt.published - int(tt.dropped) {
				want = append(want, fmt.Sprintf("s:%d", i))
			}
			if got := log.snapshot(); !slices.Equal(got, want) {
				t.Errorf("kept %v, want %v", got, want)
			}
		})
	}
}

func TestRunDeliversToEverySinkInOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		sinks []string
		n     int
	}{
		{"no sinks", nil, 3},
		{"one sink", []string{"a"}, 3},
		{"three sinks", []string{"a", "b", "c"}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := health.NewQueue(16, nil)
			log := &journal{}
			var sinks []health.Sink
			for _, name := range tt.sinks {
				sinks = append(sinks, &recorder{name, log})
			}
			// A last sink that counts tells when everything was delivered.
			var seen atomic.Int32
			delivered := make(chan struct{})
			sinks = append(sinks, sinkFunc(func(*health.Observation) {
				if int(seen.Add(1)) == tt.n {
					close(delivered)
				}
			}))
			ctx, cancel := context.WithCancel(t.Context())
			errc := make(chan error, 1)
			go func() { errc <- q.Run(ctx, sinks...) }()

			publishAll(t, q, tt.n)
			<-delivered
			cancel()
			if err := <-errc; err != nil {
				t.Fatalf("Run: %v", err)
			}
			var want []string
			for i := range tt.n {
				for _, name := range tt.sinks {
					want = append(want, fmt.Sprintf("%s:%d", name, i))
				}
			}
			if got := log.snapshot(); !slices.Equal(got, want) {
				t.Fatalf("delivered %v\nwant %v", got, want)
			}
		})
	}
}

type sinkFunc func(*health.Observation)

func (f sinkFunc) Observe(o *health.Observation) { f(o) }

// TestRunDrainsWhenContextEnds: what was queued before shutdown still reaches
// the sinks, and Run returns.
func TestRunDrainsWhenContextEnds(t *testing.T) {
	t.Parallel()
	q := health.NewQueue(8, nil)
	publishAll(t, q, 8)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	log := &journal{}
	if err := q.Run(ctx, &recorder{"a", log}, &recorder{"b", log}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := log.snapshot(); len(got) != 16 || got[0] != "a:0" || got[15] != "b:7" {
		t.Fatalf("drained %v, want 8 observations to both sinks", got)
	}
	// The queue is empty now: a second Run returns at once with nothing.
	if err := q.Run(ctx, &recorder{"late", log}); err != nil || len(log.snapshot()) != 16 {
		t.Fatalf("second Run: err %v, %d entries", err, len(log.snapshot()))
	}
}

// TestRunStopsWhenIdle: an idle Run returns once ctx ends (goleak checks that
// no goroutine is left).
func TestRunStopsWhenIdle(t *testing.T) {
	t.Parallel()
	q := health.NewQueue(1, nil)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- q.Run(ctx) }()
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second): // a hang guard
		t.Fatal("Run did not return after ctx ended")
	}
}

// TestConcurrentPublish runs under -race: many request goroutines publish
// while one Run consumes; every observation is either delivered or counted
// as dropped, and each sink sees a whole observation.
func TestConcurrentPublish(t *testing.T) {
	t.Parallel()
	const publishers, each = 8, 500
	var drops atomic.Int64
	q := health.NewQueue(32, func() { drops.Add(1) })
	var delivered atomic.Int64
	sink := sinkFunc(func(o *health.Observation) {
		if o.Provider != "p" || o.Attempt < 1 {
			t.Errorf("torn observation %+v", o)
		}
		delivered.Add(1)
	})
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- q.Run(ctx, sink) }()
	var wg sync.WaitGroup
	for range publishers {
		wg.Go(func() {
			for i := range each {
				q.Publish(health.Observation{Provider: "p", Attempt: i + 1})
			}
		})
	}
	wg.Wait()
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, dropped := delivered.Load(), int64(q.Dropped()); got+dropped != publishers*each || dropped != drops.Load() {
		t.Fatalf("delivered %d + dropped %d (onDrop %d), want %d in all", got, dropped, drops.Load(), publishers*each)
	}
}
