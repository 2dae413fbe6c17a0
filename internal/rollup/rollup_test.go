package rollup_test

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/health"
	"github.com/relais/relais/internal/rollup"
)

var t0 = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

// recorder is a Consumer that keeps what it got.
type recorder struct {
	mu    sync.Mutex
	calls [][]rollup.Rollup
}

func (r *recorder) consume(_ context.Context, rows []rollup.Rollup) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, slices.Clone(rows))
}

func (r *recorder) all() []rollup.Rollup {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []rollup.Rollup
	for _, c := range r.calls {
		out = append(out, c...)
	}
	return out
}

// counts is a row without its sketches, for comparing with DeepEqual.
func counts(rows []rollup.Rollup) []rollup.Rollup {
	out := slices.Clone(rows)
	for i := range out {
		out[i].Latency, out[i].TTFT, out[i].Elapsed = nil, nil, nil
	}
	return out
}

// row builds an expected row of minute t0.
func row(k rollup.Key, f func(r *rollup.Rollup)) rollup.Rollup {
	r := rollup.Rollup{Key: k, Minute: t0, RateLimit: health.NoRateLimit}
	f(&r)
	return r
}

func outcomes(kv ...any) (o [health.NumOutcomes]int64) {
	for i := 0; i < len(kv); i += 2 {
		o[kv[i].(health.Outcome)] = int64(kv[i+1].(int))
	}
	return o
}

func rtKey(route, provider, model string) rollup.Key {
	return rollup.Key{Series: rollup.RouteTarget, Route: route, Provider: provider, Model: model}
}

func rkKey(route, client string) rollup.Key {
	return rollup.Key{Series: rollup.RouteKey, Route: route, Client: client}
}

func TestObserveSeries(t *testing.T) {
	t.Parallel()
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	rl := func(remaining int64) health.RateLimit {
		r := health.NoRateLimit
		r.RemainingRequests, r.LimitRequests, r.ResetRequests = remaining, 100, time.Second
		return r
	}
	tests := []struct {
		name string
		obs  []health.Observation
		want []rollup.Rollup
	}{
		{
			name: "attempt that is not final counts for its target only",
			obs: []health.Observation{
				{Time: at(1), Route: "chat", Provider: "openai", Model: "gpt", Key: "app", Outcome: health.HTTP5xx, Latency: time.Second},
			},
			want: []rollup.Rollup{
				row(rtKey("chat", "openai", "gpt"), func(r *rollup.Rollup) {
					r.Attempts, r.Failed, r.Outcomes = 1, 1, outcomes(health.HTTP5xx, 1)
				}),
			},
		},
		{
			name: "retry then fallback: the target rows see attempts, the key row the request",
			obs: []health.Observation{
				{Time: at(1), Route: "chat", Provider: "openai", Model: "gpt", Key: "app", Attempt: 1, Outcome: health.HTTP5xx},
				{Time: at(2), Route: "chat", Provider: "openai", Model: "gpt", Key: "app", Attempt: 2, Outcome: health.TimeoutHeader},
				{Time: at(3), Route: "chat", Provider: "anthropic", Model: "claude", Key: "app", Attempt: 3, Final: true, Fallback: true, Outcome: health.OK, InputTokens: 10, OutputTokens: 20, CachedTokens: 5, OutputChars: 80},
			},
			want: []rollup.Rollup{
				row(rtKey("chat", "anthropic", "claude"), func(r *rollup.Rollup) {
					r.Attempts, r.Outcomes, r.Requests, r.Fallback = 1, outcomes(health.OK, 1), 1, 1
					r.InputTokens, r.OutputTokens, r.CachedTokens, r.OutputChars = 10, 20, 5, 80
				}),
				row(rtKey("chat", "openai", "gpt"), func(r *rollup.Rollup) {
					r.Attempts, r.Failed, r.Outcomes = 2, 2, outcomes(health.HTTP5xx, 1, health.TimeoutHeader, 1)
				}),
				row(rkKey("chat", "app"), func(r *rollup.Rollup) {
					r.Attempts, r.Outcomes, r.Requests, r.Fallback = 1, outcomes(health.OK, 1), 1, 1
					r.InputTokens, r.OutputTokens, r.CachedTokens, r.OutputChars = 10, 20, 5, 80
				}),
			},
		},
		{
			name: "final failure is an error; the client's own 4xx and cancel are not failures",
			obs: []health.Observation{
				{Time: at(1), Route: "chat", Provider: "p", Model: "m", Final: true, Outcome: health.HTTP429},
				{Time: at(2), Route: "chat", Provider: "p", Model: "m", Final: true, Outcome: health.HTTP4xx},
				{Time: at(3), Route: "chat", Provider: "p", Model: "m", Final: true, Outcome: health.ClientCanceled},
			},
			want: []rollup.Rollup{
				row(rtKey("chat", "p", "m"), func(r *rollup.Rollup) {
					r.Attempts, r.Failed, r.Requests, r.Errors = 3, 1, 3, 1
					r.Outcomes = outcomes(health.HTTP429, 1, health.HTTP4xx, 1, health.ClientCanceled, 1)
				}),
				row(rkKey("chat", ""), func(r *rollup.Rollup) {
					r.Attempts, r.Failed, r.Requests, r.Errors = 3, 1, 3, 1
					r.Outcomes = outcomes(health.HTTP429, 1, health.HTTP4xx, 1, health.ClientCanceled, 1)
				}),
			},
		},
		{
			name: "ai probe: target row without route, and its check row",
			obs: []health.Observation{
				{Time: at(5), Provider: "openai", Model: "gpt", Final: true, Probe: true, Check: "openai-chat", Outcome: health.OK},
				{Time: at(6), Provider: "openai", Model: "gpt", Final: true, Probe: true, Check: "openai-chat", Outcome: health.CheckFailed},
			},
			want: []rollup.Rollup{
				row(rtKey("", "openai", "gpt"), func(r *rollup.Rollup) {
					r.Attempts, r.Failed, r.Requests, r.Errors = 2, 1, 2, 1
					r.Outcomes = outcomes(health.OK, 1, health.CheckFailed, 1)
				}),
				row(rollup.Key{Series: rollup.Check, Check: "openai-chat"}, func(r *rollup.Rollup) {
					r.Attempts, r.Failed, r.Requests, r.Errors = 2, 1, 2, 1
					r.Outcomes = outcomes(health.OK, 1, health.CheckFailed, 1)
				}),
			},
		},
		{
			name: "http probe without provider: check row only",
			obs: []health.Observation{
				{Time: at(5), Final: true, Probe: true, Check: "website", Outcome: health.ConnError},
			},
			want: []rollup.Rollup{
				row(rollup.Key{Series: rollup.Check, Check: "website"}, func(r *rollup.Rollup) {
					r.Attempts, r.Failed, r.Requests, r.Errors, r.Outcomes = 1, 1, 1, 1, outcomes(health.ConnError, 1)
				}),
			},
		},
		{
			name: "an observation of no series is not counted",
			obs: []health.Observation{
				{Time: at(1), Route: "chat", Outcome: health.ConnError},
				{Time: at(2), Probe: true, Outcome: health.ConnError},
			},
		},
		{
			name: "stream speed counts stream attempts with output, after the first token",
			obs: []health.Observation{
				{Time: at(1), Route: "r", Provider: "p", Model: "m", Final: true, Stream: true, Latency: 3 * time.Second, TTFT: time.Second, OutputTokens: 100},
				{Time: at(2), Route: "r", Provider: "p", Model: "m", Final: true, Stream: true, Latency: 2 * time.Second, TTFT: time.Second, OutputTokens: 0, Outcome: health.EmptyOutput},
				{Time: at(3), Route: "r", Provider: "p", Model: "m", Final: true, Latency: 2 * time.Second, OutputTokens: 50},
			},
			want: []rollup.Rollup{
				row(rtKey("r", "p", "m"), func(r *rollup.Rollup) {
					r.Attempts, r.Failed, r.Requests, r.Errors = 3, 1, 3, 1
					r.Outcomes = outcomes(health.OK, 2, health.EmptyOutput, 1)
					r.OutputTokens, r.StreamSeconds, r.StreamOutputTokens = 150, 2, 100
				}),
				row(rkKey("r", ""), func(r *rollup.Rollup) {
					r.Attempts, r.Failed, r.Requests, r.Errors = 3, 1, 3, 1
					r.Outcomes = outcomes(health.OK, 2, health.EmptyOutput, 1)
					r.OutputTokens, r.StreamSeconds, r.StreamOutputTokens = 150, 2, 100
				}),
			},
		},
		{
			name: "latest rate-limit report by time wins; unreported ones change nothing",
			obs: []health.Observation{
				{Time: at(30), Provider: "p", Model: "m", RateLimit: rl(7)},
				{Time: at(10), Provider: "p", Model: "m", RateLimit: rl(9)},
				{Time: at(40), Provider: "p", Model: "m", RateLimit: health.NoRateLimit},
			},
			want: []rollup.Rollup{
				row(rtKey("", "p", "m"), func(r *rollup.Rollup) {
					r.Attempts, r.Outcomes = 3, outcomes(health.OK, 3)
					r.RateLimit, r.RateLimitAt = rl(7), at(30)
				}),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var rec recorder
			a := rollup.New(clock.NewFake(t0), rec.consume)
			for _, o := range tt.obs {
				// Producers say "not reported" with NoRateLimit: a zero
				// RateLimit reports an exhausted quota.
				if o.RateLimit == (health.RateLimit{}) {
					o.RateLimit = health.NoRateLimit
				}
				a.Observe(&o)
			}
			a.FlushAll(t.Context())
			if got := counts(rec.all()); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("rows:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func quantile(t *testing.T, sk *ddsketch.DDSketch, q float64) float64 {
	t.Helper()
	if sk == nil {
		t.Fatalf("sketch is nil")
	}
	v, err := sk.GetValueAtQuantile(q)
	if err != nil {
		t.Fatalf("quantile %v: %v", q, err)
	}
	return v
}

func TestSketches(t *testing.T) {
	t.Parallel()
	var rec recorder
	a := rollup.New(clock.NewFake(t0), rec.consume)
	// 100 attempts of 1..100 ms; every other one a final stream with a
	// TTFT of a tenth and an elapsed time of twice its latency.
	for i := 1; i <= 100; i++ {
		o := health.Observation{Time: t0, Provider: "p", Model: "m", Route: "r", Latency: time.Duration(i) * time.Millisecond}
		if i%2 == 0 {
			o.Final, o.Stream = true, true
			o.TTFT = o.Latency / 10
			o.Elapsed = 2 * o.Latency
		}
		a.Observe(&o)
	}
	a.FlushAll(t.Context())
	rows := rec.all()
	if len(rows) != 2 {
		t.Fatalf("got %d rows, want 2", len(rows))
	}
	rt := rows[0]
	if rt.Series != rollup.RouteTarget {
		t.Fatalf("first row is %v, want route_target", rt.Series)
	}
	near := func(name string, got, want float64) {
		t.Helper()
		// 1 % from the sketch, plus one rank of 100 values.
		if math.Abs(got-want) > want*0.03 {
			t.Errorf("%s = %v, want %v ± 3 %%", name, got, want)
		}
	}
	near("latency p50", quantile(t, rt.Latency, 0.5), 0.050)
	near("latency p99", quantile(t, rt.Latency, 0.99), 0.099)
	near("ttft p50", quantile(t, rt.TTFT, 0.5), 0.0051)
	near("elapsed p95", quantile(t, rt.Elapsed, 0.95), 0.19)
	for name, c := range map[string]struct {
		sk   *ddsketch.DDSketch
		want float64
	}{
		"latency": {rt.Latency, 100}, "ttft": {rt.TTFT, 50}, "elapsed": {rt.Elapsed, 50},
		"route_key latency": {rows[1].Latency, 50},
	} {
		if got := c.sk.GetCount(); got != c.want {
			t.Errorf("%s count = %v, want %v", name, got, c.want)
		}
	}
}

func TestMinuteBoundaryAndGrace(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(t0.Add(30 * time.Second))
	var rec recorder
	a := rollup.New(clk, rec.consume)
	for _, at := range []time.Time{
		t0.Add(10 * time.Second),
		t0.Add(time.Minute - time.Nanosecond), // last instant of the minute
		t0.Add(time.Minute),                   // first of the next
		t0.Add(time.Minute + 59*time.Second),
	} {
		a.Observe(&health.Observation{Time: at, Provider: "p", Model: "m"})
	}
	steps := []struct {
		now     time.Duration // since t0
		minutes []time.Time   // handed on at this flush
	}{
		{now: time.Minute, minutes: nil},
		{now: time.Minute + rollup.DefaultGrace - time.Nanosecond, minutes: nil},
		{now: time.Minute + rollup.DefaultGrace, minutes: []time.Time{t0}},
		{now: time.Minute + 30*time.Second, minutes: nil},
		{now: 2*time.Minute + rollup.DefaultGrace, minutes: []time.Time{t0.Add(time.Minute)}},
	}
	for _, s := range steps {
		before := len(rec.all())
		a.Flush(t.Context(), t0.Add(s.now))
		var got []time.Time
		for _, r := range rec.all()[before:] {
			got = append(got, r.Minute)
			if r.Attempts != 2 {
				t.Errorf("minute %v: %d attempts, want 2", r.Minute, r.Attempts)
			}
		}
		if !slices.Equal(got, s.minutes) {
			t.Errorf("flush at t0+%v handed on %v, want %v", s.now, got, s.minutes)
		}
	}
}

func TestGraceSetting(t *testing.T) {
	t.Parallel()
	var rec recorder
	a := rollup.New(clock.NewFake(t0), rec.consume)
	a.Grace = 20 * time.Second
	a.Observe(&health.Observation{Time: t0, Provider: "p"})
	a.Flush(t.Context(), t0.Add(time.Minute+rollup.DefaultGrace))
	if n := len(rec.all()); n != 0 {
		t.Fatalf("flushed %d rows before the configured grace ended", n)
	}
	a.Flush(t.Context(), t0.Add(time.Minute+20*time.Second))
	if n := len(rec.all()); n != 1 {
		t.Fatalf("flushed %d rows after the grace, want 1", n)
	}
}

func TestLateObservation(t *testing.T) {
	t.Parallel()
	var rec recorder
	a := rollup.New(clock.NewFake(t0), rec.consume)
	a.Observe(&health.Observation{Time: t0.Add(time.Second), Provider: "p", Model: "m"})
	a.Observe(&health.Observation{Time: t0.Add(2 * time.Minute), Provider: "p", Model: "m"})
	a.Flush(t.Context(), t0.Add(2*time.Minute+10*time.Second))
	if got := rec.all(); len(got) != 1 || !got[0].Minute.Equal(t0) {
		t.Fatalf("first flush: %+v, want the row of t0", counts(got))
	}
	// A stream that began in minute t0 reports three minutes later.
	a.Observe(&health.Observation{Time: t0.Add(50 * time.Second), Provider: "p", Model: "m", Outcome: health.TimeoutIdle})
	a.Flush(t.Context(), t0.Add(2*time.Minute+20*time.Second))
	got := rec.all()
	if len(rec.calls) != 2 || len(got) != 2 {
		t.Fatalf("second flush: %d calls, rows %+v; want the late row alone", len(rec.calls), counts(got))
	}
	late := got[1]
	if !late.Minute.Equal(t0) || late.Attempts != 1 || late.Outcomes[health.TimeoutIdle] != 1 {
		t.Errorf("late row %+v, want one timeout_idle attempt in minute t0", counts([]rollup.Rollup{late}))
	}
	// Merged with the first, the minute is whole again.
	whole := got[0]
	rollup.Merge(&whole, &late)
	if whole.Attempts != 2 || whole.Failed != 1 {
		t.Errorf("merged minute: %d attempts, %d failed; want 2 and 1", whole.Attempts, whole.Failed)
	}
	// The current minute was not handed on.
	a.FlushAll(t.Context())
	if got := rec.all(); len(got) != 3 || !got[2].Minute.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("after FlushAll: %+v, want the row of t0+2m last", counts(got))
	}
}

func TestZeroTimeCountsNow(t *testing.T) {
	t.Parallel()
	var rec recorder
	a := rollup.New(clock.NewFake(t0.Add(90*time.Second)), rec.consume)
	a.Observe(&health.Observation{Provider: "p"})
	a.FlushAll(t.Context())
	if got := rec.all(); len(got) != 1 || !got[0].Minute.Equal(t0.Add(time.Minute)) {
		t.Fatalf("rows %+v, want one in minute t0+1m", counts(got))
	}
}

// TestRun drives Run with a tick channel: each send returns once Run took
// the tick, and the next send once that flush (and its consumers) ended.
func TestRun(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(t0)
	type flush struct {
		rows []rollup.Rollup
		err  error // of the consumer's context
	}
	got := make(chan flush, 10)
	a := rollup.New(clk, func(ctx context.Context, rows []rollup.Rollup) { got <- flush{slices.Clone(rows), ctx.Err()} })
	ticks := make(chan time.Time)
	a.Ticks = ticks
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()

	a.Observe(&health.Observation{Time: t0.Add(time.Second), Provider: "p"})
	a.Observe(&health.Observation{Time: t0.Add(time.Minute + time.Second), Provider: "p"})
	clk.Set(t0.Add(time.Minute + time.Second))
	ticks <- time.Time{}
	clk.Set(t0.Add(time.Minute + rollup.DefaultGrace))
	ticks <- time.Time{} // the first tick flushed nothing: checked below
	ticks <- time.Time{} // the second's flush is over
	if f := <-got; len(f.rows) != 1 || !f.rows[0].Minute.Equal(t0) {
		t.Fatalf("first rows %+v, want minute t0", counts(f.rows))
	}
	select {
	case f := <-got:
		t.Fatalf("unexpected rows %+v", counts(f.rows))
	default:
	}

	// Stopping hands on the partial minute, with a live context.
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	f := <-got
	if len(f.rows) != 1 || !f.rows[0].Minute.Equal(t0.Add(time.Minute)) {
		t.Fatalf("rows at stop %+v, want the partial minute t0+1m", counts(f.rows))
	}
	if f.err != nil {
		t.Errorf("the last flush ran with a dead context: %v", f.err)
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	sk := func(vs ...float64) *ddsketch.DDSketch {
		s := rollup.NewSketch()
		for _, v := range vs {
			_ = s.Add(v)
		}
		return s
	}
	rl := func(n int64) health.RateLimit {
		r := health.NoRateLimit
		r.RemainingTokens = n
		return r
	}
	into := rollup.Rollup{
		Attempts: 2, Failed: 1, Requests: 1, Outcomes: outcomes(health.OK, 1, health.HTTP5xx, 1),
		Latency: sk(1, 2), InputTokens: 5, StreamSeconds: 1.5,
		RateLimit: rl(100), RateLimitAt: t0.Add(10 * time.Second),
	}
	from := rollup.Rollup{
		Attempts: 3, Failed: 3, Requests: 3, Errors: 3, Fallback: 1, Outcomes: outcomes(health.HTTP5xx, 3),
		Latency: sk(3, 4, 5), TTFT: sk(0.5), InputTokens: 7, StreamSeconds: 0.5,
		RateLimit: rl(40), RateLimitAt: t0.Add(20 * time.Second),
	}
	rollup.Merge(&into, &from)
	if into.Attempts != 5 || into.Failed != 4 || into.Requests != 4 || into.Errors != 3 || into.Fallback != 1 ||
		into.Outcomes != outcomes(health.OK, 1, health.HTTP5xx, 4) || into.InputTokens != 12 || into.StreamSeconds != 2 {
		t.Errorf("counts after merge: %+v", counts([]rollup.Rollup{into}))
	}
	if n := into.Latency.GetCount(); n != 5 {
		t.Errorf("latency count %v, want 5", n)
	}
	if into.RateLimit != rl(40) || !into.RateLimitAt.Equal(t0.Add(20*time.Second)) {
		t.Errorf("rate limit %+v at %v, want the later report", into.RateLimit, into.RateLimitAt)
	}
	// into's TTFT is a copy: from can be reused.
	_ = from.TTFT.Add(9)
	if n := into.TTFT.GetCount(); n != 1 {
		t.Errorf("ttft shares from's sketch: count %v", n)
	}
	// An older report does not replace a newer one.
	older := rollup.Rollup{RateLimit: rl(1), RateLimitAt: t0}
	rollup.Merge(&into, &older)
	if into.RateLimit != rl(40) {
		t.Errorf("an older report won: %+v", into.RateLimit)
	}
}

func TestParseSeries(t *testing.T) {
	t.Parallel()
	for _, s := range []rollup.Series{rollup.RouteTarget, rollup.RouteKey, rollup.Check} {
		got, err := rollup.ParseSeries(s.String())
		if err != nil || got != s {
			t.Errorf("ParseSeries(%q) = %v, %v", s.String(), got, err)
		}
	}
	if _, err := rollup.ParseSeries("nope"); err == nil {
		t.Error("ParseSeries(nope) did not fail")
	}
}

// TestObserveWhileFlushing runs Observe and Flush in two goroutines (as the
// queue consumer and Run do); under -race it checks their sharing, and
// every attempt must be handed on exactly once.
func TestObserveWhileFlushing(t *testing.T) {
	t.Parallel()
	const n = 20000
	var (
		mu    sync.Mutex
		total int64
	)
	a := rollup.New(clock.NewFake(t0), func(_ context.Context, rows []rollup.Rollup) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rows {
			total += r.Attempts
		}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			// Ten seconds apart every 100: minutes close behind the writer.
			at := t0.Add(time.Duration(i/100) * 10 * time.Second)
			a.Observe(&health.Observation{Time: at, Provider: "p", Model: fmt.Sprint(i % 3), Latency: time.Millisecond})
		}
	}()
	for i := 0; ; i++ {
		select {
		case <-done:
			a.FlushAll(t.Context())
			if total != n {
				t.Fatalf("handed on %d attempts, want %d", total, n)
			}
			return
		default:
			a.Flush(t.Context(), t0.Add(time.Duration(i)*time.Second))
		}
	}
}

// Not parallel: AllocsPerRun refuses to run beside other tests.
func TestObserveDoesNotAllocate(t *testing.T) {
	a := rollup.New(clock.NewFake(t0))
	obs := benchObservations()
	for i := range obs {
		a.Observe(&obs[i])
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		a.Observe(&obs[i%len(obs)])
		i++
	})
	if allocs != 0 {
		t.Errorf("Observe allocates %v times per call once its rows exist", allocs)
	}
}

// benchObservations is a minute of varied traffic: three targets, two keys,
// retries, streams, a probe.
func benchObservations() []health.Observation {
	var obs []health.Observation
	for i := range 256 {
		o := health.Observation{
			Time: t0.Add(time.Duration(i%60) * time.Second), Route: "chat",
			Provider: [...]string{"openai", "anthropic", "azure"}[i%3], Model: "m",
			Key: [...]string{"web", "batch"}[i%2], Final: i%4 != 0, Stream: i%2 == 0,
			Outcome: health.Outcome(i % int(health.NumOutcomes)), Latency: time.Duration(50+i*7) * time.Millisecond,
			Elapsed: time.Duration(60+i*7) * time.Millisecond, InputTokens: 100, OutputTokens: 50 + i,
			RateLimit: health.NoRateLimit,
		}
		if i%3 == 0 {
			o.RateLimit.RemainingRequests, o.RateLimit.RemainingTokens = int64(1000-i), int64(90000-i*100)
		}
		if o.Stream {
			o.TTFT = o.Latency / 5
		}
		if i%50 == 0 {
			o.Probe, o.Check, o.Route, o.Key = true, "ai-openai", "", ""
		}
		obs = append(obs, o)
	}
	return obs
}

func BenchmarkObserve(b *testing.B) {
	a := rollup.New(clock.NewFake(t0))
	obs := benchObservations()
	for i := range obs {
		a.Observe(&obs[i]) // the minute's rows and sketches exist
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		a.Observe(&obs[i%len(obs)])
		i++
	}
}
