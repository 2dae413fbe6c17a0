package limit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relais/relais/internal/limit"
)

// eventually waits for cond, polling: the queue is entered by goroutines
// this test cannot synchronize with otherwise.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// hold takes n slots and returns their release funcs.
func hold(t *testing.T, a *limit.Admission, n int) []func() {
	t.Helper()
	var rels []func()
	for range n {
		rel, err := a.Acquire(t.Context())
		if err != nil {
			t.Fatalf("Acquire with free slots: %v", err)
		}
		rels = append(rels, rel)
	}
	return rels
}

func TestAdmissionOverflow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                      string
		maxInFlight, queue, extra int // extra: acquirers beyond the held slots
		wantQueued, wantFull      int
	}{
		{name: "queue takes all", maxInFlight: 2, queue: 3, extra: 3, wantQueued: 3, wantFull: 0},
		{name: "excess refused", maxInFlight: 2, queue: 3, extra: 7, wantQueued: 3, wantFull: 4},
		{name: "no queue", maxInFlight: 1, queue: 0, extra: 5, wantQueued: 0, wantFull: 5},
		{name: "many", maxInFlight: 4, queue: 16, extra: 64, wantQueued: 16, wantFull: 48},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := limit.NewAdmission(tt.maxInFlight, tt.queue, time.Hour)
			held := hold(t, a, tt.maxInFlight)

			var full, admitted atomic.Int64
			proceed := make(chan struct{}) // admitted requests hold their slot until closed
			var wg sync.WaitGroup
			for range tt.extra {
				wg.Go(func() {
					rel, err := a.Acquire(context.Background())
					switch {
					case errors.Is(err, limit.ErrQueueFull):
						full.Add(1)
					case err != nil:
						t.Errorf("Acquire: %v", err)
					default:
						admitted.Add(1)
						<-proceed
						rel()
					}
				})
			}
			eventually(t, "queue and refusals", func() bool {
				return a.Queued() == tt.wantQueued && full.Load() == int64(tt.wantFull)
			})
			if got := a.InFlight(); got != tt.maxInFlight {
				t.Errorf("InFlight = %d, want %d", got, tt.maxInFlight)
			}

			// Each freed slot goes to a waiter: the queue drains into the slots.
			for _, rel := range held {
				rel()
			}
			eventually(t, "waiters admitted", func() bool {
				return admitted.Load() == int64(min(tt.wantQueued, tt.maxInFlight))
			})
			close(proceed)
			wg.Wait()
			if got := admitted.Load(); got != int64(tt.wantQueued) {
				t.Errorf("admitted from the queue = %d, want %d", got, tt.wantQueued)
			}
			if a.InFlight() != 0 || a.Queued() != 0 {
				t.Errorf("after all released: InFlight = %d, Queued = %d, want 0, 0", a.InFlight(), a.Queued())
			}
		})
	}
}

func TestAdmissionWaitEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		timeout time.Duration
		ctx     func(t *testing.T) (context.Context, context.CancelFunc)
		wantErr error
	}{
		{
			name:    "queue timeout",
			timeout: 20 * time.Millisecond,
			ctx: func(t *testing.T) (context.Context, context.CancelFunc) {
				return context.WithCancel(t.Context())
			},
			wantErr: limit.ErrQueueTimeout,
		},
		{
			name:    "context canceled",
			timeout: time.Hour,
			ctx: func(t *testing.T) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(t.Context())
				time.AfterFunc(20*time.Millisecond, cancel)
				return ctx, cancel
			},
			wantErr: context.Canceled,
		},
		{
			name:    "context deadline before queue timeout",
			timeout: time.Hour,
			ctx: func(t *testing.T) (context.Context, context.CancelFunc) {
				return context.WithTimeout(t.Context(), 20*time.Millisecond)
			},
			wantErr: context.DeadlineExceeded,
		},
		{
			name:    "no queue timeout waits for the context",
			timeout: 0,
			ctx: func(t *testing.T) (context.Context, context.CancelFunc) {
				return context.WithTimeout(t.Context(), 20*time.Millisecond)
			},
			wantErr: context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := limit.NewAdmission(1, 1, tt.timeout)
			held := hold(t, a, 1)
			defer held[0]()

			ctx, cancel := tt.ctx(t)
			defer cancel()
			rel, err := a.Acquire(ctx)
			if !errors.Is(err, tt.wantErr) || rel != nil {
				t.Fatalf("Acquire = (release %v, %v), want (nil, %v)", rel != nil, err, tt.wantErr)
			}
			if a.Queued() != 0 || a.InFlight() != 1 {
				t.Errorf("after the wait: Queued = %d, InFlight = %d, want 0, 1", a.Queued(), a.InFlight())
			}
		})
	}
}

func TestAdmissionRejectedRetryAfter(t *testing.T) {
	t.Parallel()
	a := limit.NewAdmission(1, 0, time.Second)
	held := hold(t, a, 1)
	defer held[0]()

	_, err := a.Acquire(t.Context())
	var rej *limit.Rejected
	if !errors.As(err, &rej) {
		t.Fatalf("Acquire = %v, want a *limit.Rejected", err)
	}
	if rej.Error() == "" {
		t.Error("Rejected has an empty message")
	}
	if rej.RetryAfter() <= 0 {
		t.Errorf("RetryAfter = %v, want > 0", rej.RetryAfter())
	}
	if errors.Is(err, limit.ErrQueueTimeout) {
		t.Errorf("a full queue matches ErrQueueTimeout")
	}
}

func TestAdmissionNeverExceedsMaxInFlight(t *testing.T) {
	t.Parallel()
	const maxInFlight = 3
	a := limit.NewAdmission(maxInFlight, 1000, time.Minute)
	var cur, peak atomic.Int64
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			rel, err := a.Acquire(context.Background())
			if err != nil {
				t.Errorf("Acquire: %v", err)
				return
			}
			n := cur.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(100 * time.Microsecond)
			cur.Add(-1)
			rel()
		})
	}
	wg.Wait()
	if p := peak.Load(); p > maxInFlight {
		t.Errorf("peak in flight = %d, want <= %d", p, maxInFlight)
	}
}

func TestAdmissionUnlimited(t *testing.T) {
	t.Parallel()
	a := limit.NewAdmission(0, 0, 0)
	held := hold(t, a, 100)
	if got := a.InFlight(); got != 100 {
		t.Errorf("InFlight = %d, want 100", got)
	}
	for _, rel := range held {
		rel()
	}
	if got := a.InFlight(); got != 0 {
		t.Errorf("InFlight after release = %d, want 0", got)
	}
}

func TestAdmissionOldKeepsWorkingAfterReplacement(t *testing.T) {
	t.Parallel()
	old := limit.NewAdmission(1, 0, time.Second)
	rel := hold(t, old, 1)[0]
	replacement := limit.NewAdmission(1, 0, time.Second)
	hold(t, replacement, 1)[0]()
	rel() // returns the slot to old, not to the replacement
	if old.InFlight() != 0 {
		t.Errorf("old InFlight = %d, want 0", old.InFlight())
	}
	hold(t, old, 1)[0]()
}

func TestAdmissionReleaseWithoutSlotPanics(t *testing.T) {
	t.Parallel()
	a := limit.NewAdmission(1, 0, time.Second)
	rel := hold(t, a, 1)[0]
	rel()
	defer func() {
		if recover() == nil {
			t.Error("second release did not panic")
		}
	}()
	rel()
}

func BenchmarkAdmissionAcquireRelease(b *testing.B) {
	for _, bc := range []struct {
		name        string
		maxInFlight int
		parallelism int // goroutines per GOMAXPROCS
	}{
		{name: "free", maxInFlight: 1 << 16, parallelism: 1},
		{name: "queued", maxInFlight: 1, parallelism: 8}, // most acquirers wait in the queue
		{name: "unlimited", maxInFlight: 0, parallelism: 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			a := limit.NewAdmission(bc.maxInFlight, 1<<16, time.Minute)
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(bc.parallelism)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					rel, err := a.Acquire(ctx)
					if err != nil {
						b.Error(err)
						return
					}
					rel()
				}
			})
		})
	}
}
