// Package admin serves the operators' listener: Prometheus metrics, liveness
// and readiness, and the token-protected admin API (targets and their
// breakers, drains, usage, reload). It holds no state of its own: it reads
// and steers the parts the app hands it.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/relais/relais/internal/detect"
	"github.com/relais/relais/internal/event"
	"github.com/relais/relais/internal/health"
	"github.com/relais/relais/internal/route"
	"github.com/relais/relais/internal/store"
	"github.com/relais/relais/internal/usage"
)

// Backend is what the admin API reads and steers.
type Backend interface {
	States() *route.States
	// Health is the passive status of targets and routes.
	Health() *health.Tracker
	Usage() *usage.Accounts
	// Budgets returns every SLO's error budget and burn rates.
	Budgets() []detect.Budget
	// Events returns the last state events, oldest first.
	Events() []event.Event
	// History reads stored per-minute history.
	History(ctx context.Context, q store.HistoryQuery) ([]store.Point, error)
	// Reload re-reads the config file and swaps it in, or returns why not.
	Reload(ctx context.Context) error
	Ready() bool
}

// Server is the admin HTTP handler.
type Server struct {
	b     Backend
	token [sha256.Size]byte
	open  bool // no token configured (allowed on loopback only)
	gath  prometheus.Gatherer
	pprof bool
}

// Options are the admin listener's settings.
type Options struct {
	// Token protects /admin/api and /debug/pprof. Empty leaves them open,
	// which config validation allows only on a loopback listener.
	Token string
	// Pprof serves Go's profiler at /debug/pprof/.
	Pprof bool
}

// New returns the admin handler.
func New(b Backend, gath prometheus.Gatherer, o Options) *Server {
	return &Server{b: b, token: sha256.Sum256([]byte(o.Token)), open: o.Token == "", gath: gath, pprof: o.Pprof}
}

// Handler returns the admin routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.gath, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.b.Ready() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /admin/api/targets", s.auth(s.targets))
	mux.Handle("GET /admin/api/status", s.auth(s.statuses))
	mux.Handle("GET /admin/api/history", s.auth(s.history))
	mux.Handle("GET /admin/api/events", s.auth(s.events))
	mux.Handle("GET /admin/api/slos", s.auth(s.slos))
	mux.Handle("POST /admin/api/targets/disable", s.auth(func(w http.ResponseWriter, r *http.Request) { s.setDisabled(w, r, true) }))
	mux.Handle("POST /admin/api/targets/enable", s.auth(func(w http.ResponseWriter, r *http.Request) { s.setDisabled(w, r, false) }))
	mux.Handle("GET /admin/api/usage", s.auth(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"usage": s.b.Usage().Rows()})
	}))
	mux.Handle("POST /admin/api/reload", s.auth(func(w http.ResponseWriter, r *http.Request) {
		if err := s.b.Reload(r.Context()); err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, apiErr("reload_refused", "config refused, the running config stays: "+err.Error()))
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded"})
	}))
	if s.pprof {
		mux.Handle("GET /debug/pprof/", s.auth(pprof.Index))
		mux.Handle("GET /debug/pprof/cmdline", s.auth(pprof.Cmdline))
		mux.Handle("GET /debug/pprof/profile", s.auth(pprof.Profile))
		mux.Handle("GET /debug/pprof/symbol", s.auth(pprof.Symbol))
		mux.Handle("GET /debug/pprof/trace", s.auth(pprof.Trace))
	}
	return mux
}

func (s *Server) auth(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.open {
			got, ok := bearer(r.Header.Get("Authorization"))
			sum := sha256.Sum256([]byte(got))
			if !ok || subtle.ConstantTimeCompare(sum[:], s.token[:]) != 1 {
				writeJSON(w, http.StatusUnauthorized, apiErr("unauthorized", "send the admin token as 'Authorization: Bearer <token>'"))
				return
			}
		}
		h(w, r)
	})
}

// bearer extracts the token of an Authorization header; the scheme is case-insensitive (RFC 9110).
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return token, true
}

// Target is one provider model as the admin API shows it.
type Target struct {
	Provider string `json:"provider"`
	Model    string `json:"model"`
	Breaker  string `json:"breaker"`
	// Status is the target's passive health, in Statuspage's words.
	Status    string     `json:"status"`
	OpenUntil *time.Time `json:"open_until,omitempty"`
	Disabled  bool       `json:"disabled"`
	// HeldOff: passive health holds traffic off it (one trial at a time).
	HeldOff bool `json:"held_off"`
	// LatencyMS is the median time its answers took to begin over the last
	// minute, as least_latency sees it. LatencyEWMAMS is its former name,
	// kept for clients of earlier versions.
	LatencyMS     float64 `json:"latency_ms"`
	LatencyEWMAMS float64 `json:"latency_ewma_ms"`
	// Traffic over the last 1 and 5 minutes, when there was any.
	OneMinute   *health.Window `json:"one_minute,omitempty"`
	FiveMinutes *health.Window `json:"five_minutes,omitempty"`
}

func (s *Server) targets(w http.ResponseWriter, _ *http.Request) {
	all := s.b.States().All()
	out := make([]Target, 0, len(all))
	hs := s.b.Health()
	windows := map[string]health.ComponentStatus{}
	for _, c := range hs.Statuses() {
		if c.Kind == health.KindTarget {
			windows[c.Name] = c
		}
	}
	for _, st := range all {
		latency := float64(st.Latency().Microseconds()) / 1000
		t := Target{Provider: st.Provider, Model: st.Model, Breaker: st.Breaker.State().String(),
			Status:   hs.TargetStatus(st.Provider, st.Model).String(),
			Disabled: st.Disabled(), HeldOff: st.Down(), LatencyMS: latency, LatencyEWMAMS: latency}
		if c, ok := windows[st.Provider+"/"+st.Model]; ok {
			t.OneMinute, t.FiveMinutes = &c.OneMinute, &c.FiveMinutes
		}
		if u := st.Breaker.OpenUntil(); t.Breaker == route.Open.String() && !u.IsZero() {
			t.OpenUntil = &u
		}
		out = append(out, t)
	}
	writeJSON(w, http.StatusOK, map[string]any{"targets": out})
}

// statuses lists the passive health of every target and route seen.
func (s *Server) statuses(w http.ResponseWriter, _ *http.Request) {
	type component struct {
		Kind   health.Kind `json:"kind"`
		Name   string      `json:"name"`
		Status string      `json:"status"`
		Since  *time.Time  `json:"since,omitempty"`
		// For a route, what clients got; for a target, what the provider did.
		OneMinute   health.Window `json:"one_minute"`
		FiveMinutes health.Window `json:"five_minutes"`
	}
	cs := s.b.Health().Statuses()
	out := make([]component, 0, len(cs))
	for _, c := range cs {
		cp := component{Kind: c.Kind, Name: c.Name, Status: c.Status.String(), OneMinute: c.OneMinute, FiveMinutes: c.FiveMinutes}
		if !c.Since.IsZero() {
			cp.Since = &c.Since
		}
		out = append(out, cp)
	}
	writeJSON(w, http.StatusOK, map[string]any{"components": out})
}

// setDisabled drains or restores the targets named by {"provider": …, "model": …};
// without a model, every model of the provider.
func (s *Server) setDisabled(w http.ResponseWriter, r *http.Request, disabled bool) {
	var sel struct {
		Provider string `json:"provider"`
		Model    string `json:"model"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sel); err != nil || sel.Provider == "" || dec.More() {
		writeJSON(w, http.StatusBadRequest, apiErr("bad_request", `send {"provider": "<name>", "model": "<model>"} (model optional: all models of the provider)`))
		return
	}
	var changed []Target
	for _, st := range s.b.States().All() {
		if st.Provider == sel.Provider && (sel.Model == "" || st.Model == sel.Model) {
			st.SetDisabled(disabled)
			changed = append(changed, Target{Provider: st.Provider, Model: st.Model, Breaker: st.Breaker.State().String(), Disabled: disabled})
		}
	}
	if len(changed) == 0 {
		writeJSON(w, http.StatusNotFound, apiErr("not_found", "no target matches provider "+sel.Provider+" model "+sel.Model))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"targets": changed})
}

func apiErr(code, msg string) map[string]any {
	return map[string]any{"error": map[string]string{"code": code, "message": msg}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
