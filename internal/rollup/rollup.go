// Package rollup turns observations into per-minute aggregates, the only
// traffic history relais keeps (raw observations are never stored). Rollups
// feed the store (history, uptime bars, post-incident impact), SLO burn
// rates and the detectors.
package rollup

import (
	"time"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/relais/relais/internal/health"
)

// Series says what a rollup aggregates.
type Series uint8

const (
	// RouteTarget: the attempts of one route at one target (provider, model).
	// Probe observations of an ai check land here with an empty Route.
	RouteTarget Series = iota
	// RouteKey: the requests of one client key on one route (final attempts
	// only: what the client got).
	RouteKey
	// Check: the runs of one active check.
	Check
)

var seriesNames = [...]string{"route_target", "route_key", "check"}

func (s Series) String() string {
	if int(s) < len(seriesNames) {
		return seriesNames[s]
	}
	return "unknown"
}

// Key names one rollup row.
type Key struct {
	Series   Series
	Route    string // RouteTarget, RouteKey
	Provider string // RouteTarget
	Model    string // RouteTarget
	Client   string // RouteKey: the client key's name
	Check    string // Check: the check's name
}

// Rollup is one minute of one series.
type Rollup struct {
	Key
	Minute time.Time // start of the minute, UTC

	// Attempts counts every observation; Failed those whose outcome counts
	// against the upstream (health.Outcome.Failed).
	Attempts, Failed int64
	// Outcomes counts attempts by outcome class, indexed by health.Outcome.
	Outcomes [health.NumOutcomes]int64

	// Requests counts final attempts: requests answered (or failed) for the
	// client; Errors those whose final attempt failed, so the client got an
	// error; Fallback those served by another target than the route's first.
	Requests, Errors, Fallback int64

	// Latency is every attempt's latency in seconds, TTFT the time to first
	// event of stream attempts, Elapsed the whole request's time as the
	// client saw it (final attempts only). Nil when empty.
	Latency, TTFT, Elapsed *ddsketch.DDSketch

	InputTokens, OutputTokens, CachedTokens, OutputChars int64
	// Streaming time of stream attempts, for tokens per second.
	StreamSeconds float64
	StreamOutputTokens int64

	// RateLimit is the last rate-limit report of the minute, if any
	// (RemainingRequests and RemainingTokens are -1 when not reported).
	RateLimit health.RateLimit
	RateLimitAt time.Time
}
