package route

import (
	"testing"
	"time"

	"github.com/relais/relais/internal/clock"
)

func newTestBreaker() (*Breaker, *clock.Fake) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	return NewBreaker(BreakerConfig{FailureRatio: 0.5, MinRequests: 4, Window: 10 * time.Second, OpenFor: 5 * time.Second}, clk), clk
}

func TestBreakerTripsOnRatioAfterMinRequests(t *testing.T) {
	t.Parallel()
	b, _ := newTestBreaker()
	b.Record(b.Allow(), true)
	b.Record(b.Allow(), false)
	b.Record(b.Allow(), false)
	if b.State() != Closed {
		t.Fatalf("3 requests < min_requests 4: state %v, want closed", b.State())
	}
	b.Record(b.Allow(), false)
	if b.State() != Open {
		t.Fatalf("3/4 failures ≥ 0.5: state %v, want open", b.State())
	}
	if p := b.Allow(); p != Denied {
		t.Fatalf("open breaker allowed %v", p)
	}
}

func TestBreakerHalfOpenLetsOneTrial(t *testing.T) {
	t.Parallel()
	b, clk := newTestBreaker()
	for range 4 {
		b.Record(b.Allow(), false)
	}
	clk.Advance(5 * time.Second)
	p := b.Allow()
	if p != Trial {
		t.Fatalf("after open_for: permit %v, want trial", p)
	}
	if q := b.Allow(); q != Denied {
		t.Fatalf("second request during the trial: %v, want denied", q)
	}
	b.Record(p, false)
	if b.State() != Open || b.Allow() != Denied {
		t.Fatal("failed trial must reopen the breaker")
	}
	clk.Advance(5 * time.Second)
	p = b.Allow()
	b.Record(p, true)
	if b.State() != Closed || b.Allow() != Normal {
		t.Fatalf("successful trial: state %v, want closed", b.State())
	}
}

func TestBreakerWindowForgetsOldFailures(t *testing.T) {
	t.Parallel()
	b, clk := newTestBreaker()
	for range 3 {
		b.Record(b.Allow(), false)
	}
	clk.Advance(11 * time.Second)
	b.Record(b.Allow(), false)
	b.Record(b.Allow(), true)
	if b.State() != Closed {
		t.Fatalf("failures older than the window counted: state %v", b.State())
	}
}

func TestBreakerCooldown(t *testing.T) {
	t.Parallel()
	b, clk := newTestBreaker()
	b.Cooldown(b.Allow(), 30*time.Second)
	if b.Allow() != Denied {
		t.Fatal("cooling target allowed")
	}
	clk.Advance(29 * time.Second)
	if b.Allow() != Denied {
		t.Fatal("cooling target allowed before its Retry-After")
	}
	clk.Advance(time.Second)
	p := b.Allow()
	if p != Trial {
		t.Fatalf("after cooldown: %v, want trial", p)
	}
	// No Retry-After: the default cooldown grows while it repeats.
	b.Cooldown(p, 0)
	first := b.OpenUntil().Sub(clk.Now())
	clk.Advance(first)
	b.Cooldown(b.Allow(), 0)
	second := b.OpenUntil().Sub(clk.Now())
	if first != time.Second || second != 2*time.Second {
		t.Fatalf("default cooldowns %v then %v, want 1s then 2s", first, second)
	}
}

func TestBreakerForcedSuccessCloses(t *testing.T) {
	t.Parallel()
	b, _ := newTestBreaker()
	b.Cooldown(b.Allow(), time.Minute)
	b.Record(Forced, true)
	if b.State() != Closed {
		t.Fatalf("a forced attempt that succeeded must close the breaker, state %v", b.State())
	}
}

func BenchmarkBreakerAllowRecord(b *testing.B) {
	br := NewBreaker(BreakerConfig{FailureRatio: 0.5, MinRequests: 10, Window: 30 * time.Second, OpenFor: 15 * time.Second}, clock.Real{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			br.Record(br.Allow(), true)
		}
	})
}
