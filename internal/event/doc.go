// Package event is the in-process bus that carries state events (a status
// changed, an anomaly, an error budget burning, a forecast, a check failing)
// from detection to their consumers: alerting for the team, incidents for the
// users, the log and the dashboards.
//
// Event types live with the package that produces them (health, detect);
// consumers switch on the concrete type. The bus never drops an event and
// never blocks a publisher: each subscriber has its own unbounded queue, so a
// slow consumer delays only itself. Observations, which are many and may be
// dropped, do not travel here (see health.Queue).
package event
