// Package gateway serves the AI API: it authenticates client keys, applies
// admission control and per-key limits, finds the route, and runs the attempt
// loop over the route's targets (retries, failover, cooldowns, breakers)
// within one deadline budget, copying streams event by event. It publishes
// one health.Observation per attempt and writes one access-log line per
// request. It never touches a database.
package gateway
