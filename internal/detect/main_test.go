package detect

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/event"
	"github.com/relais/relais/internal/health"
	"github.com/relais/relais/internal/rollup"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// t0 is the first minute of every test's history.
var t0 = time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)

// recorder collects published events.
type recorder struct {
	mu  sync.Mutex
	evs []event.Event
}

func (r *recorder) publish(e event.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
}

// take returns the events published since the last take.
func (r *recorder) take() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs := r.evs
	r.evs = nil
	return evs
}

func only[T event.Event](evs []event.Event) []T {
	var out []T
	for _, e := range evs {
		if x, ok := e.(T); ok {
			out = append(out, x)
		}
	}
	return out
}

func newTestDetector(t testing.TB, opt Options) (*Detector, *recorder, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(t0)
	rec := &recorder{}
	d, err := New(clk, opt, rec.publish)
	if err != nil {
		t.Fatal(err)
	}
	return d, rec, clk
}

// traffic is one minute of one route×target row, described simply.
type traffic struct {
	attempts int64         // every attempt is a final one: requests = attempts
	failed   int64         // http_5xx
	empty    int64         // empty_output (a 200 with nothing in it)
	latency  time.Duration // every attempt's latency and elapsed time
	slow     int64         // of the attempts, how many took slowLatency
	ttft     time.Duration // stream attempts' time to first token, if set
	tokens   int64         // output tokens per ok answer
}

// slowLatency is the latency of traffic.slow requests.
const slowLatency = 2 * time.Second

func row(minute time.Time, route, provider, model string, tr traffic) rollup.Rollup {
	r := rollup.Rollup{
		Key:    rollup.Key{Series: rollup.RouteTarget, Route: route, Provider: provider, Model: model},
		Minute: minute,
	}
	ok := tr.attempts - tr.failed - tr.empty
	r.Attempts, r.Requests = tr.attempts, tr.attempts
	r.Outcomes[health.OK] = ok
	r.Outcomes[health.HTTP5xx] = tr.failed
	r.Outcomes[health.EmptyOutput] = tr.empty
	r.Failed = tr.failed + tr.empty
	r.Errors = r.Failed
	r.OutputTokens = ok * tr.tokens
	if tr.attempts > 0 {
		lat := cmpOr(tr.latency, 500*time.Millisecond)
		r.Latency, r.Elapsed = rollup.NewSketch(), rollup.NewSketch()
		for i := range tr.attempts {
			d := lat
			if i < tr.slow {
				d = slowLatency
			}
			_ = r.Latency.Add(d.Seconds())
			_ = r.Elapsed.Add(d.Seconds())
		}
		if tr.ttft > 0 {
			r.TTFT = rollup.NewSketch()
			_ = r.TTFT.AddWithCount(tr.ttft.Seconds(), float64(tr.attempts))
		}
	}
	return r
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// feed hands the detector one minute of rows, moving the clock to just
// after the minute closed, as the aggregator would.
func feed(d *Detector, clk *clock.Fake, rows ...rollup.Rollup) {
	if len(rows) > 0 {
		clk.Set(rows[0].Minute.Add(time.Minute + 5*time.Second))
	}
	d.Minute(context.Background(), rows)
}

func minute(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }

func mustContain(t *testing.T, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%q does not contain %q", s, p)
		}
	}
}
