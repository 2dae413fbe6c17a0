package limit_test

import (
	"math"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/limit"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// newClient returns the client of a single configured key, with limits
// counted from epoch.
func newClient(t testing.TB, rpm, tpm int) *limit.Client {
	t.Helper()
	keys, err := limit.NewKeys([]config.Key{{Name: "app", Key: "sk-app", RPM: rpm, TPM: tpm}}, clock.NewFake(epoch))
	if err != nil {
		t.Fatalf("NewKeys: %v", err)
	}
	c, ok := keys.Authenticate(request("x-api-key", "sk-app"))
	if !ok {
		t.Fatal("the configured key was refused")
	}
	return c
}

// step is one action on a client at the fake clock's time, after advancing it.
type step struct {
	advance time.Duration
	spend   int // > 0: Spend this many tokens instead of Admit
	// what Admit must answer
	allowed      bool
	limit        string
	retryAfter   time.Duration
	reqRemaining int
	tokRemaining int
}

func runSteps(t *testing.T, c *limit.Client, steps []step) {
	t.Helper()
	clk := clock.NewFake(epoch)
	for i, s := range steps {
		clk.Advance(s.advance)
		if s.spend > 0 {
			c.Spend(clk.Now(), s.spend)
			continue
		}
		d := c.Admit(clk.Now())
		if d.Allowed != s.allowed || d.Limit != s.limit || d.RetryAfter != s.retryAfter ||
			d.Requests.Remaining != s.reqRemaining || d.Tokens.Remaining != s.tokRemaining {
			t.Errorf("step %d at +%v: Admit = {Allowed:%v Limit:%q RetryAfter:%v requests left:%d tokens left:%d}, "+
				"want {Allowed:%v Limit:%q RetryAfter:%v requests left:%d tokens left:%d}",
				i, clk.Now().Sub(epoch), d.Allowed, d.Limit, d.RetryAfter, d.Requests.Remaining, d.Tokens.Remaining,
				s.allowed, s.limit, s.retryAfter, s.reqRemaining, s.tokRemaining)
		}
	}
}

func TestAdmit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		rpm, tpm int
		steps    []step
	}{
		{
			name: "rpm exhausted then refilled",
			rpm:  3, // one request back every 20s
			steps: []step{
				{allowed: true, reqRemaining: 2},
				{allowed: true, reqRemaining: 1},
				{allowed: true, reqRemaining: 0},
				{limit: "requests", retryAfter: 20 * time.Second},
				{advance: 19 * time.Second, limit: "requests", retryAfter: time.Second},
				{advance: time.Second, allowed: true, reqRemaining: 0},
				{advance: time.Minute, allowed: true, reqRemaining: 2},
			},
		},
		{
			name: "tpm debt after a big spend",
			tpm:  1000, // one token back every 60ms
			steps: []step{
				{allowed: true, tokRemaining: 1000},
				{spend: 5000}, // 4000 past the burst: 4 minutes of debt
				{limit: "tokens", retryAfter: 4*time.Minute + 60*time.Millisecond},
				{advance: 4 * time.Minute, limit: "tokens", retryAfter: 60 * time.Millisecond},
				{advance: 60 * time.Millisecond, allowed: true, tokRemaining: 1},
				{spend: 1},
				{limit: "tokens", retryAfter: 60 * time.Millisecond},
				{advance: time.Minute, allowed: true, tokRemaining: 1000},
			},
		},
		{
			name: "tpm admits until the last whole token",
			tpm:  60, // one token back every second
			steps: []step{
				{spend: 59},
				{allowed: true, tokRemaining: 1},
				{advance: 500 * time.Millisecond, allowed: true, tokRemaining: 1},
				{spend: 1},
				{limit: "tokens", retryAfter: 500 * time.Millisecond},
			},
		},
		{
			name: "a request refused for tokens uses no request",
			rpm:  2, tpm: 60,
			steps: []step{
				{spend: 120}, // one minute of debt
				{limit: "tokens", retryAfter: time.Minute + time.Second, reqRemaining: 2},
				{limit: "tokens", retryAfter: time.Minute + time.Second, reqRemaining: 2},
				{advance: time.Minute + time.Second, allowed: true, reqRemaining: 1, tokRemaining: 1},
			},
		},
		{
			name: "both refuse: the longer wait is reported",
			rpm:  1, tpm: 60,
			steps: []step{
				{allowed: true, reqRemaining: 0, tokRemaining: 60},
				{spend: 61}, // 1s of token debt
				{limit: "requests", retryAfter: time.Minute, tokRemaining: 0}, // requests wait longer
				{advance: 59 * time.Second, limit: "requests", retryAfter: time.Second, tokRemaining: 58},
				{spend: 600}, // 542s of token debt
				{limit: "tokens", retryAfter: 542*time.Second + time.Second},
			},
		},
		{
			name: "unlimited",
			steps: []step{
				{allowed: true},
				{spend: 1 << 40},
				{allowed: true},
			},
		},
		{
			name: "huge spend does not wrap around",
			tpm:  1,
			steps: []step{
				{spend: math.MaxInt},
				{limit: "tokens", retryAfter: 24*time.Hour + time.Minute},
				{advance: 1000 * time.Hour, allowed: true, tokRemaining: 1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runSteps(t, newClient(t, tt.rpm, tt.tpm), tt.steps)
		})
	}
}

func TestSetHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		rpm, tpm int
		spend    int // before the Admit
		admits   int // the last one's decision writes the headers
		want     http.Header
	}{
		{
			name: "both limits", rpm: 60, tpm: 1000, spend: 100, admits: 2,
			want: http.Header{
				"X-Ratelimit-Limit-Requests":     {"60"},
				"X-Ratelimit-Remaining-Requests": {"58"},
				"X-Ratelimit-Reset-Requests":     {"2s"},
				"X-Ratelimit-Limit-Tokens":       {"1000"},
				"X-Ratelimit-Remaining-Tokens":   {"900"},
				"X-Ratelimit-Reset-Tokens":       {"6s"},
			},
		},
		{
			name: "tokens in debt", tpm: 1000, spend: 7100, admits: 1,
			want: http.Header{
				"X-Ratelimit-Limit-Tokens":     {"1000"},
				"X-Ratelimit-Remaining-Tokens": {"0"},
				"X-Ratelimit-Reset-Tokens":     {"7m6s"},
			},
		},
		{
			name: "reset rounded up to the millisecond", rpm: 7, admits: 1,
			want: http.Header{
				"X-Ratelimit-Limit-Requests":     {"7"},
				"X-Ratelimit-Remaining-Requests": {"6"},
				"X-Ratelimit-Reset-Requests":     {"8.572s"},
			},
		},
		{
			name: "requests only", rpm: 10, admits: 10,
			want: http.Header{
				"X-Ratelimit-Limit-Requests":     {"10"},
				"X-Ratelimit-Remaining-Requests": {"0"},
				"X-Ratelimit-Reset-Requests":     {"1m0s"},
			},
		},
		{name: "no limits", admits: 1, want: http.Header{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, tt.rpm, tt.tpm)
			c.Spend(epoch, tt.spend)
			var d limit.Decision
			for range tt.admits {
				d = c.Admit(epoch)
			}
			h := http.Header{}
			d.SetHeaders(h)
			if !reflect.DeepEqual(h, tt.want) {
				t.Errorf("headers = %v, want %v", h, tt.want)
			}
		})
	}
}

func TestLimitsConcurrent(t *testing.T) {
	t.Parallel()
	const rpm, tpm = 100, 1000
	c := newClient(t, rpm, tpm)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 50 {
				if c.Admit(epoch).Allowed {
					allowed.Add(1)
				}
				c.Spend(epoch, 1)
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != rpm {
		t.Errorf("allowed %d requests in one instant, want exactly %d", got, rpm)
	}
	// 800 tokens spent at 60ms each: full again 48s later.
	if got := c.Admit(epoch).Tokens.Reset; got != 48*time.Second {
		t.Errorf("tokens reset = %v after 800 spent, want 48s", got)
	}
}

func BenchmarkAdmit(b *testing.B) {
	b.Run("limited", func(b *testing.B) {
		c := newClient(b, 600, 100_000)
		now := epoch
		b.ReportAllocs()
		for b.Loop() {
			now = now.Add(100 * time.Millisecond) // one request's worth: always allowed
			if !c.Admit(now).Allowed {
				b.Fatal("refused")
			}
			c.Spend(now, 100)
		}
	})
	b.Run("unlimited", func(b *testing.B) {
		c := newClient(b, 0, 0)
		b.ReportAllocs()
		for b.Loop() {
			c.Admit(epoch)
		}
	})
	b.Run("one key parallel", func(b *testing.B) {
		c := newClient(b, 1<<30, 1<<30)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Admit(time.Now())
			}
		})
	})
}
