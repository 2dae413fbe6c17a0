package gateway

import (
	"net/http"
	"testing"
	"time"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/health"
)

// TestDecide checks the failure table of the design row by row.
func TestDecide(t *testing.T) {
	t.Parallel()
	const maxRA = 3 * time.Second
	tests := []struct {
		name string
		res  result
		want verdict
	}{
		{"ok", result{outcome: health.OK, status: 200, retry: -1}, verdict{done: true}},
		{"connect error", result{outcome: health.ConnError, retry: -1}, verdict{same: true, next: true, failure: true}},
		{"500", result{outcome: health.HTTP5xx, status: 500, retry: -1}, verdict{same: true, next: true, failure: true}},
		{"502", result{outcome: health.HTTP5xx, status: 502, retry: -1}, verdict{same: true, next: true, failure: true}},
		{"504", result{outcome: health.HTTP5xx, status: 504, retry: -1}, verdict{same: true, next: true, failure: true}},
		{"429 short Retry-After", result{outcome: health.HTTP429, status: 429, retry: time.Second}, verdict{same: true, wait: time.Second, next: true}},
		{"503 short Retry-After", result{outcome: health.HTTP5xx, status: 503, retry: 2 * time.Second}, verdict{same: true, wait: 2 * time.Second, next: true, failure: true}},
		{"529 Retry-After at the limit", result{outcome: health.HTTP5xx, status: 529, retry: maxRA}, verdict{same: true, wait: maxRA, next: true, failure: true}},
		{"429 long Retry-After", result{outcome: health.HTTP429, status: 429, retry: 20 * time.Second}, verdict{next: true, cool: true, cooling: 20 * time.Second}},
		{"429 no Retry-After", result{outcome: health.HTTP429, status: 429, retry: -1}, verdict{next: true, cool: true}},
		{"503 no Retry-After", result{outcome: health.HTTP5xx, status: 503, retry: -1}, verdict{next: true, cool: true}},
		{"header timeout", result{outcome: health.TimeoutHeader, retry: -1}, verdict{next: true, failure: true}},
		{"first token timeout", result{outcome: health.TimeoutFirstToken, retry: -1}, verdict{next: true, failure: true}},
		{"attempt timeout", result{outcome: health.TimeoutAttempt, retry: -1}, verdict{next: true, failure: true}},
		{"stream cut before content", result{outcome: health.Truncated, status: 200, retry: -1}, verdict{next: true, failure: true}},
		{"in-band error before content", result{outcome: health.InbandError, status: 200, retry: -1}, verdict{next: true, failure: true}},
		{"401", result{outcome: health.HTTP4xx, status: 401, retry: -1}, verdict{next: true, failure: true, badConfig: true}},
		{"403", result{outcome: health.HTTP4xx, status: 403, retry: -1}, verdict{next: true, failure: true, badConfig: true}},
		{"context length", result{outcome: health.HTTP4xx, status: 400, retry: -1, contextLength: true}, verdict{next: true}},
		{"other 400", result{outcome: health.HTTP4xx, status: 400, retry: -1}, verdict{done: true}},
		{"404", result{outcome: health.HTTP4xx, status: 404, retry: -1}, verdict{done: true}},
		{"501", result{outcome: health.HTTP5xx, status: 501, retry: -1}, verdict{next: true, failure: true}},
		{"committed stream cut", result{outcome: health.Truncated, status: 200, retry: -1, committed: true}, verdict{done: true, failure: true}},
		{"client canceled", result{outcome: health.ClientCanceled, retry: -1}, verdict{done: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := decide(tt.res, maxRA); got != tt.want {
				t.Errorf("decide(%+v)\n got %+v\nwant %+v", tt.res, got, tt.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		h    http.Header
		want time.Duration
	}{
		{"absent", http.Header{}, -1},
		{"seconds", http.Header{"Retry-After": {"2"}}, 2 * time.Second},
		{"fraction", http.Header{"Retry-After": {"0.5"}}, 500 * time.Millisecond},
		{"date", http.Header{"Retry-After": {now.Add(10 * time.Second).Format(http.TimeFormat)}}, 10 * time.Second},
		{"ms wins", http.Header{"Retry-After": {"2"}, "Retry-After-Ms": {"150"}}, 150 * time.Millisecond},
		{"garbage", http.Header{"Retry-After": {"soon"}}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := parseRetryAfter(tt.h, now); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReadRateLimit(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clk := clock.NewFake(now)
	cases := []struct {
		name   string
		header http.Header
		want   health.RateLimit
	}{
		{"none", http.Header{}, health.NoRateLimit},
		{"openai", http.Header{
			"X-Ratelimit-Limit-Requests":     {"60"},
			"X-Ratelimit-Limit-Tokens":       {"150000"},
			"X-Ratelimit-Remaining-Requests": {"59"},
			"X-Ratelimit-Remaining-Tokens":   {"149984"},
			"X-Ratelimit-Reset-Requests":     {"1s"},
			"X-Ratelimit-Reset-Tokens":       {"6m0s"},
		}, health.RateLimit{LimitRequests: 60, LimitTokens: 150000, RemainingRequests: 59, RemainingTokens: 149984, ResetRequests: time.Second, ResetTokens: 6 * time.Minute}},
		{"anthropic", http.Header{
			"Anthropic-Ratelimit-Requests-Limit":     {"50"},
			"Anthropic-Ratelimit-Requests-Remaining": {"49"},
			"Anthropic-Ratelimit-Requests-Reset":     {"2026-11-26T12:00:30Z"},
			"Anthropic-Ratelimit-Tokens-Limit":       {"40000"},
			"Anthropic-Ratelimit-Tokens-Remaining":   {"39000"},
			"Anthropic-Ratelimit-Tokens-Reset":       {"2026-11-26T12:01:00Z"},
		}, health.RateLimit{LimitRequests: 50, LimitTokens: 40000, RemainingRequests: 49, RemainingTokens: 39000, ResetRequests: 30 * time.Second, ResetTokens: time.Minute}},
		{"malformed values are not reported", http.Header{
			"X-Ratelimit-Remaining-Requests": {"lots"},
			"X-Ratelimit-Remaining-Tokens":   {"-4"},
			"X-Ratelimit-Reset-Requests":     {"soon"},
		}, health.NoRateLimit},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := readRateLimit(c.header, clk); got != c.want {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}
