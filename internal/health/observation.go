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
	numOutcomes
)

var outcomeNames = [numOutcomes]string{
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
}

func (o Outcome) String() string {
	if o < numOutcomes {
		return outcomeNames[o]
	}
	return "unknown"
}

// Outcomes lists every outcome, for pre-resolving metric label children.
func Outcomes() []Outcome {
	out := make([]Outcome, numOutcomes)
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

// RateLimit is what the provider said about its limits, when it said it.
// -1 means not reported.
type RateLimit struct {
	RemainingRequests int64
	RemainingTokens   int64
	ResetRequests     time.Duration
	ResetTokens       time.Duration
}

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
	// Tokens as reported by the provider's usage.
	InputTokens  int
	OutputTokens int
	CachedTokens int
	OutputChars  int
	// Fallback is true when a target other than the route's first choice served the request.
	Fallback  bool
	Stream    bool
	Probe     bool
	RateLimit RateLimit
}
