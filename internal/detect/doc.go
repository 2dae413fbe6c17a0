// Package detect turns traffic history into state events: anomalies
// against robust baselines, SLO error-budget burn rates, and forecasts of
// what will break soon (a latency or error trend, a provider's quota, a
// certificate).
//
// It owns the detectors and their in-memory state, the event types they
// publish (AnomalyDetected, BudgetBurn, Forecast) and the error budgets it
// reports (Budgets). Its inputs are the closed per-minute rollups (Minute,
// and Seed with history at start), the observations that carry rate-limit
// headers (Observe) and the certificates probes see (Certificate).
//
// It does not own component statuses (internal/health decides those, in
// seconds; detect works on closed minutes and catches what a status does
// not: a drift, a silent failure, a budget spent slowly), what happens to
// an event (alerting and incidents consume the bus), persistence (Seed
// takes rows the store read back), nor metrics (the app exports Budgets).
//
// Every firing condition is published once when it fires, again only if
// its severity rises, and once when it resolves; the resolution carries
// the severity the condition fired with, and each event type names its
// condition with Condition() so consumers can pair them.
package detect
