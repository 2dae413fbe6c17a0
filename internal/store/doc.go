// Package store owns relais's persistence: the database connection (SQLite,
// embedded, by default; PostgreSQL for several replicas), the versioned
// schema (goose migrations in migrations/, one set for both dialects) and
// the queries. Today it keeps the per-minute rollups: it merges rows written
// twice for one minute, answers history queries by merging rows into steps,
// and deletes rows past their retention.
//
// It does not own what the rows mean (internal/rollup defines and builds
// them) nor when they are written (the rollup aggregator's consumers). No
// other package writes SQL: later features (incidents, the outbox) add their
// tables by adding migrations to the same folder and their queries here.
//
// Queries use $1, $2… placeholders in both dialects: PostgreSQL's own, and
// the SQLite driver binds $N to the N-th argument.
package store
