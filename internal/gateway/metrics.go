package gateway

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relais/relais/internal/health"
	"github.com/relais/relais/internal/route"
)

// Metrics are the gateway's Prometheus series. Label values come from config
// (routes, providers, models) or small fixed sets, so cardinality is bounded.
type Metrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	ttft      *prometheus.HistogramVec
	attempts  *prometheus.CounterVec
	failovers *prometheus.CounterVec
	rejects   *prometheus.CounterVec
	skips     *prometheus.CounterVec
	malformd  *prometheus.CounterVec
	continued *prometheus.CounterVec

	// Children resolved once per target: WithLabelValues hashes on every call.
	mu      sync.RWMutex
	targets map[*route.TargetState]*targetMetrics
}

type targetMetrics struct {
	attempts  [16]prometheus.Counter
	skips     prometheus.Counter
	malformed prometheus.Counter
}

var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}

// NewMetrics registers the gateway's series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relais_requests_total", Help: "Client requests answered, by route and HTTP status.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "relais_request_duration_seconds", Help: "Time from a client request to its last byte, by route.", Buckets: latencyBuckets,
		}, []string{"route"}),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "relais_time_to_first_token_seconds", Help: "Streams: time from the request to the first content sent to the client, by route.", Buckets: latencyBuckets,
		}, []string{"route"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relais_upstream_attempts_total", Help: "Attempts sent to providers, by provider, model and outcome.",
		}, []string{"provider", "model", "outcome"}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relais_failovers_total", Help: "Requests served by a target other than their first choice, by route.",
		}, []string{"route"}),
		rejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relais_rejected_requests_total", Help: "Requests refused before routing, by reason (unauthorized, rate_limited, overloaded, client_canceled).",
		}, []string{"reason"}),
		skips: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relais_breaker_skips_total", Help: "Times a target was skipped without a network call: its breaker was open or cooling, or passive health found it in major_outage (between trials).",
		}, []string{"provider", "model"}),
		malformd: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relais_sse_malformed_events_total", Help: "Stream events from providers that were not valid JSON and were skipped.",
		}, []string{"provider", "model"}),
		continued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relais_stream_continuations_total", Help: "Streams cut after content that relais tried to continue on another target, by route and result (ok, failed).",
		}, []string{"route", "result"}),
		targets: make(map[*route.TargetState]*targetMetrics),
	}
	reg.MustRegister(m.requests, m.duration, m.ttft, m.attempts, m.failovers, m.rejects, m.skips, m.malformd, m.continued)
	return m
}

func (m *Metrics) target(t *route.Target) *targetMetrics {
	m.mu.RLock()
	tm := m.targets[t.TargetState]
	m.mu.RUnlock()
	if tm != nil {
		return tm
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if tm = m.targets[t.TargetState]; tm != nil {
		return tm
	}
	tm = &targetMetrics{
		skips:     m.skips.WithLabelValues(t.Provider, t.Model),
		malformed: m.malformd.WithLabelValues(t.Provider, t.Model),
	}
	for _, o := range health.Outcomes() {
		tm.attempts[o] = m.attempts.WithLabelValues(t.Provider, t.Model, o.String())
	}
	m.targets[t.TargetState] = tm
	return tm
}

func (m *Metrics) attempt(t *route.Target, o health.Outcome) { m.target(t).attempts[o].Inc() }
func (m *Metrics) skip(t *route.Target)                      { m.target(t).skips.Inc() }
func (m *Metrics) malformed(t *route.Target)                 { m.target(t).malformed.Inc() }
func (m *Metrics) rejected(reason string)                    { m.rejects.WithLabelValues(reason).Inc() }

func (m *Metrics) request(req *request) {
	if req.route == nil {
		return
	}
	m.requests.WithLabelValues(req.route.Name, strconv.Itoa(req.status)).Inc()
	m.duration.WithLabelValues(req.route.Name).Observe(req.elapsed.Seconds())
	if req.ttft > 0 {
		m.ttft.WithLabelValues(req.route.Name).Observe(req.ttft.Seconds())
	}
	if req.served != nil && req.served != req.first {
		m.failovers.WithLabelValues(req.route.Name).Inc()
	}
}
