package gateway

import (
	"net/http"
	"strconv"
	"time"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/health"
)

// result is how one attempt ended.
type result struct {
	outcome health.Outcome
	status  int           // upstream HTTP status, 0 if none
	retry   time.Duration // upstream Retry-After, -1 when absent or unreadable
	// contextLength marks a 400 whose error code is context_length_exceeded.
	contextLength bool
	// committed: bytes of this attempt reached the client (streams).
	committed bool
	err       error
	rateLimit health.RateLimit
}

// verdict is what the attempt loop does after an attempt.
type verdict struct {
	done      bool          // the response went (or goes) to the client as is
	same      bool          // try the same target again, if tries and budget remain
	wait      time.Duration // before trying the same target: Retry-After; 0 = backoff
	next      bool          // move on to the next target
	cool      bool          // put the target in cooldown for `cooling`
	cooling   time.Duration // 0 = the breaker's growing default
	failure   bool          // counts against the target's breaker
	badConfig bool          // our key is wrong at the provider: operators must hear of it
}

// decide is the failure table of the design ("A request's way"), row by row.
// Keep it the only place that knows what each upstream result means.
func decide(r result, maxRetryAfter time.Duration) verdict {
	switch {
	case r.committed:
		// Bytes reached the client: success or an in-stream error already sent.
		return verdict{done: true, failure: r.outcome.Failed()}
	case r.outcome == health.OK, r.outcome == health.EmptyOutput:
		return verdict{done: true}
	case r.outcome == health.ClientCanceled:
		return verdict{done: true}

	// connect error, reset before headers, 500/502/504: again with backoff, then next.
	case r.outcome == health.ConnError,
		r.status == http.StatusInternalServerError, r.status == http.StatusBadGateway, r.status == http.StatusGatewayTimeout:
		return verdict{same: true, next: true, failure: true}

	// 429/503/529: a short Retry-After is waited out on the same target; a long or
	// missing one cools the target down and moves on.
	case r.status == http.StatusTooManyRequests, r.status == http.StatusServiceUnavailable, r.status == 529:
		if r.retry >= 0 && r.retry <= maxRetryAfter {
			return verdict{same: true, wait: r.retry, next: true, failure: r.status != http.StatusTooManyRequests}
		}
		return verdict{next: true, cool: true, cooling: max(r.retry, 0)}

	// A silent target is not retried.
	case r.outcome == health.TimeoutHeader, r.outcome == health.TimeoutFirstToken, r.outcome == health.TimeoutAttempt:
		return verdict{next: true, failure: true}

	// The stream broke or errored before anything reached the client.
	case r.outcome == health.InbandError, r.outcome == health.Truncated, r.outcome == health.TimeoutIdle:
		return verdict{next: true, failure: true}

	// Our credentials are refused: another provider may take them.
	case r.status == http.StatusUnauthorized, r.status == http.StatusForbidden:
		return verdict{next: true, failure: true, badConfig: true}

	// Another model may have a larger window.
	case r.contextLength:
		return verdict{next: true}

	// Other 5xx (501, 505, …): this target will not do it; try the next.
	case r.status >= 500:
		return verdict{next: true, failure: true}

	// Other 4xx (content policy, bad request): the client's to see, as it came.
	default:
		return verdict{done: true}
	}
}

// parseRetryAfter reads Retry-After (seconds or an HTTP date), and OpenAI's
// retry-after-ms when present. -1 when absent or unreadable.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	if ms := h.Get("Retry-After-Ms"); ms != "" {
		if v, err := strconv.ParseFloat(ms, 64); err == nil && v >= 0 {
			return time.Duration(v * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return -1
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

// readRateLimit reads the provider's own rate-limit headers, OpenAI's
// (x-ratelimit-*, resets as durations such as "6m0s" or "20ms") or
// Anthropic's (anthropic-ratelimit-*, resets as RFC 3339 times). They feed
// quota forecasts. Only a response with a remaining count is read at all,
// so most answers cost two header lookups.
func readRateLimit(h http.Header, clk clock.Clock) health.RateLimit {
	rl := health.NoRateLimit
	if v := h.Get("X-Ratelimit-Remaining-Requests"); v != "" || h.Get("X-Ratelimit-Remaining-Tokens") != "" {
		rl.RemainingRequests = headerInt(v)
		rl.RemainingTokens = headerInt(h.Get("X-Ratelimit-Remaining-Tokens"))
		rl.LimitRequests = headerInt(h.Get("X-Ratelimit-Limit-Requests"))
		rl.LimitTokens = headerInt(h.Get("X-Ratelimit-Limit-Tokens"))
		rl.ResetRequests = headerDuration(h.Get("X-Ratelimit-Reset-Requests"))
		rl.ResetTokens = headerDuration(h.Get("X-Ratelimit-Reset-Tokens"))
		return rl
	}
	if v := h.Get("Anthropic-Ratelimit-Requests-Remaining"); v != "" || h.Get("Anthropic-Ratelimit-Tokens-Remaining") != "" {
		rl.RemainingRequests = headerInt(v)
		rl.RemainingTokens = headerInt(h.Get("Anthropic-Ratelimit-Tokens-Remaining"))
		rl.LimitRequests = headerInt(h.Get("Anthropic-Ratelimit-Requests-Limit"))
		rl.LimitTokens = headerInt(h.Get("Anthropic-Ratelimit-Tokens-Limit"))
		rl.ResetRequests = headerTimeUntil(h.Get("Anthropic-Ratelimit-Requests-Reset"), clk)
		rl.ResetTokens = headerTimeUntil(h.Get("Anthropic-Ratelimit-Tokens-Reset"), clk)
	}
	return rl
}

// headerInt parses a count, -1 when absent or malformed.
func headerInt(v string) int64 {
	if v == "" {
		return -1
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// headerDuration parses OpenAI's reset ("1s", "6m0s", "20ms"), 0 when absent or malformed.
func headerDuration(v string) time.Duration {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0
	}
	return d
}

// headerTimeUntil parses Anthropic's reset, an RFC 3339 time, as the time left until it.
func headerTimeUntil(v string, clk clock.Clock) time.Duration {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return 0
	}
	return max(t.Sub(clk.Now()), 0)
}
