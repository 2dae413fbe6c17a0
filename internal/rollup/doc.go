// Package rollup turns observations into per-minute aggregates, the only
// traffic history relais keeps (raw observations are never stored). Rollups
// feed the store (history, uptime bars, post-incident impact), SLO burn
// rates and the detectors.
//
// It owns the Rollup row (what one minute of one series holds), the
// Aggregator that builds rows from health observations and closes each
// minute a grace period after it ends, and Merge, the one definition of how
// two partial rows of the same minute add up.
//
// It does not own persistence (internal/store writes and merges rows),
// windows over the last minutes for routing (internal/health) or what a
// consumer makes of the rows (internal/detect). It never blocks the hot
// path: observations reach it through health.Queue, off the request.
package rollup
