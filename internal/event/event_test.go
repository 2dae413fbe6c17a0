package event

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type ping struct {
	n  int
	at time.Time
}

func (p ping) Type() string       { return "ping" }
func (p ping) About() Subject     { return Subject{Kind: "target", Name: "a/b"} }
func (p ping) Severity() Severity { return Info }
func (p ping) When() time.Time    { return p.at }
func (p ping) Summary() string    { return "ping" }

// A slow consumer loses nothing and does not hold up the publisher or the
// other consumers.
func TestSlowConsumerLosesNothing(t *testing.T) {
	b := New()
	slow, fast := b.Subscribe("slow"), b.Subscribe("fast")
	defer slow.Close()
	defer fast.Close()
	const n = 10_000
	for i := range n {
		b.Publish(ping{n: i})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range n {
		e, err := fast.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.(ping).n; got != i {
			t.Fatalf("fast got %d, want %d", got, i)
		}
	}
	if got := slow.Pending(); got != n {
		t.Fatalf("slow has %d pending, want %d", got, n)
	}
}

func TestConcurrentPublishersAndRun(t *testing.T) {
	b := New()
	sub := b.Subscribe("counter")
	ctx, cancel := context.WithCancel(context.Background())
	var got sync.WaitGroup
	got.Add(400)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sub.Run(ctx, func(Event) { got.Done() })
	}()
	var pub sync.WaitGroup
	for p := range 4 {
		pub.Add(1)
		go func() {
			defer pub.Done()
			for i := range 100 {
				b.Publish(ping{n: p*100 + i})
			}
		}()
	}
	pub.Wait()
	got.Wait()
	cancel()
	<-done
	sub.Close()
}

func TestCloseStopsDelivery(t *testing.T) {
	b := New()
	a, c := b.Subscribe("a"), b.Subscribe("c")
	a.Close()
	b.Publish(ping{})
	if a.Pending() != 0 || c.Pending() != 1 {
		t.Fatalf("pending a=%d c=%d, want 0 and 1", a.Pending(), c.Pending())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := a.Next(ctx); err == nil {
		t.Fatal("a closed subscription delivered an event")
	}
}

func TestSeverityNames(t *testing.T) {
	for s, want := range map[Severity]string{Info: "info", Warning: "warning", Critical: "critical", 9: "unknown"} {
		if s.String() != want {
			t.Errorf("%d: %q, want %q", s, s.String(), want)
		}
	}
}

func TestRecentKeepsTheLastEventsInOrder(t *testing.T) {
	b := New()
	r := NewRecent(b, 3)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	for i := range 5 {
		b.Publish(ping{n: i})
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(r.Events()) < 3 || r.Events()[2].(ping).n != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("events %v", r.Events())
		}
		time.Sleep(time.Millisecond)
	}
	var got []int
	for _, e := range r.Events() {
		got = append(got, e.(ping).n)
	}
	if len(got) != 3 || got[0] != 2 || got[1] != 3 || got[2] != 4 {
		t.Errorf("kept %v, want [2 3 4]", got)
	}
	cancel()
	<-done
}
