// Package health owns what relais knows about the state of its upstreams.
// For now it defines the Observation contract (one per attempt) and the
// bounded, non-blocking queue that carries observations from the hot path to
// their consumers. Windows, statuses and probes build on it.
package health

import (
	"time"
)

// Outcome classifies how an attempt ended. The names are part of the contract
// with rollups, metrics and detection: never rename one.
type Outcome uint8

const (
	OK Outcome = iota
	ConnError
	TimeoutHeader
	TimeoutFirstToken
	TimeoutIdle
	HTTP429
	HTTP5xx
	HTTP4xx
	InbandError
	EmptyOutput
	Truncated
	ClientCanceled
	// TimeoutAttempt is a non-streaming attempt that hit timeouts.attempt or the request deadline.
	TimeoutAttempt
	// CheckFailed is an active check whose target answered but whose
	// conditions did not hold (a 500, a wrong body, a certificate too close
	// to expiry).
	CheckFailed
	// NumOutcomes is the number of outcome classes, for arrays indexed by Outcome.
	NumOutcomes
)

var outcomeNames = [NumOutcomes]string{
	OK:                "ok",
	ConnError:         "conn_error",
	TimeoutHeader:     "timeout_header",
	TimeoutFirstToken: "timeout_first_token",
	TimeoutIdle:       "timeout_idle",
	HTTP429:           "http_429",
	HTTP5xx:           "http_5xx",
	HTTP4xx:           "http_4xx",
	InbandError:       "inband_error",
	EmptyOutput:       "empty_output",
	Truncated:         "truncated",
	ClientCanceled:    "client_canceled",
	TimeoutAttempt:    "timeout_attempt",
	CheckFailed:       "check_failed",
}

func (o Outcome) String() string {
	if o < NumOutcomes {
		return outcomeNames[o]
	}
	return "unknown"
}

// Outcomes lists every outcome, for pre-resolving metric label children.
func Outcomes() []Outcome {
	out := make([]Outcome, NumOutcomes)
	for i := range out {
		out[i] = Outcome(i)
	}
	return out
}

// Failed reports whether the outcome counts against the target's health.
// A client's own bad request or cancellation does not.
func (o Outcome) Failed() bool {
	return o != OK && o != HTTP4xx && o != ClientCanceled
}

// RateLimit is what the provider said about its limits, when it said it
// (OpenAI's x-ratelimit-* or Anthropic's anthropic-ratelimit-* headers).
// -1 means not reported; a zero reset means not reported.
type RateLimit struct {
	LimitRequests     int64
	LimitTokens       int64
	RemainingRequests int64
	RemainingTokens   int64
	// ResetRequests and ResetTokens: how long until the quota is full again.
	ResetRequests time.Duration
	ResetTokens   time.Duration
}

// NoRateLimit is a RateLimit with nothing reported.
var NoRateLimit = RateLimit{LimitRequests: -1, LimitTokens: -1, RemainingRequests: -1, RemainingTokens: -1}

// Reported says whether the provider reported any remaining quota.
func (r RateLimit) Reported() bool { return r.RemainingRequests >= 0 || r.RemainingTokens >= 0 }

// Observation is one attempt at one target, from the gateway or a probe.
type Observation struct {
	Time      time.Time // when the attempt started
	RequestID string
	Route     string
	Provider  string
	Model     string // the provider's model
	Key       string // client key name; empty for an open gateway or a probe
	Attempt   int    // 1-based, across the whole request
	Final     bool   // this attempt's result went to the client
	Outcome   Outcome
	Status    int // HTTP status from upstream; 0 when none arrived
	Latency   time.Duration
	TTFT      time.Duration // streams: time to first event; 0 otherwise
	// Elapsed is the time from the request's arrival to the end of this
	// attempt: on the final attempt, what the client waited.
	Elapsed time.Duration
	// Tokens as reported by the provider's usage.
	InputTokens  int
	OutputTokens int
	CachedTokens int
	OutputChars  int
	// Fallback is true when a target other than the route's first choice served the request.
	Fallback bool
	Stream   bool
	Probe    bool
	// Check names the active check that made a probe observation.
	Check     string
	RateLimit RateLimit
}
