// Package app builds relais's parts from a config, starts them, reloads
// them and stops them in order. cmd/relais only parses flags and hands over.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"regexp"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/relais/relais/internal/admin"
	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/detect"
	"github.com/relais/relais/internal/event"
	"github.com/relais/relais/internal/gateway"
	"github.com/relais/relais/internal/health"
	"github.com/relais/relais/internal/limit"
	"github.com/relais/relais/internal/provider"
	"github.com/relais/relais/internal/provider/registry"
	"github.com/relais/relais/internal/rollup"
	"github.com/relais/relais/internal/route"
	"github.com/relais/relais/internal/store"
	"github.com/relais/relais/internal/usage"
)

// observationQueue is how many observations may wait for their consumers.
const observationQueue = 8192

// App is one running relais.
type App struct {
	path   string // config file, re-read on reload; empty for a config given as bytes
	log    *slog.Logger
	clk    clock.Clock
	reg    *prometheus.Registry
	obs    *health.Queue
	usage  *usage.Accounts
	health *health.Tracker
	status *prometheus.GaugeVec   // relais_component_status
	events *prometheus.CounterVec // relais_events_total

	// State events flow on bus; recent keeps the last ones for the admin
	// API. rollups turns observations into per-minute history in store.
	bus     *event.Bus
	recent  *event.Recent
	rollups *rollup.Aggregator
	store   *store.Store
	detect  *detect.Detector

	states *route.States
	gw     *gateway.Gateway

	retiredMu sync.Mutex
	mu        sync.Mutex // serialises reloads
	cfg       *config.Config
	providers map[string]builtProvider

	gwLn, adminLn   net.Listener
	gwSrv, adminSrv *http.Server
	ready           bool
	readyMu         sync.RWMutex
	wg              sync.WaitGroup
	cancel          context.CancelFunc
	retired         map[provider.Provider]*time.Timer // replaced by a reload, closed after a grace period
}

type builtProvider struct {
	cfg config.Provider
	p   provider.Provider
}

// Options tune New.
type Options struct {
	// Path is the config file Reload re-reads.
	Path   string
	Logger *slog.Logger
	Clock  clock.Clock
}

// liveHeap selects go_gc_heap_live_bytes from the runtime's metrics.
var liveHeap = regexp.MustCompile(`^/gc/heap/live:bytes$`)

// New builds every part from cfg, which must have passed validation.
func New(cfg *config.Config, opts Options) (*App, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	a := &App{path: opts.Path, log: opts.Logger, clk: opts.Clock, reg: prometheus.NewRegistry(),
		states: route.NewStates(opts.Clock), providers: map[string]builtProvider{}}
	a.reg.MustRegister(collectors.NewGoCollector(
		// The live heap after the last GC is what says whether memory grows
		// with traffic; heap_inuse also counts garbage not yet collected.
		collectors.WithGoCollectorRuntimeMetrics(collectors.GoRuntimeMetricsRule{Matcher: liveHeap}),
	), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	dropped := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "relais_observations_dropped_total", Help: "Observations dropped because their queue was full (requests are never slowed for them).",
	})
	a.reg.MustRegister(dropped)
	a.obs = health.NewQueue(observationQueue, dropped.Inc)
	a.usage = usage.New(a.reg, usage.NewPrices(cfg.Prices))
	a.status = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "relais_component_status",
		Help: "Passive health of each target (provider/model) and route: 0 operational, 1 degraded_performance, 2 partial_outage, 3 major_outage.",
	}, []string{"kind", "name"})
	a.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "relais_events_total", Help: "State events published: status changes, anomalies, error budget burns, forecasts.",
	}, []string{"type", "severity"})
	a.reg.MustRegister(a.status, a.events)
	a.bus = event.New()
	a.recent = event.NewRecent(a.bus, recentEvents)
	a.health = health.NewTracker(a.clk, health.DefaultThresholds(), a.statusChanged)
	a.health.SetRefusing(func(provider, model string) bool {
		st, ok := a.states.Lookup(provider, model)
		return ok && st.Breaker.State() == route.Open
	})

	var err error
	if a.detect, err = a.newDetector(cfg); err != nil {
		return nil, err
	}
	rt, err := a.build(cfg)
	if err != nil {
		a.closeProviders()
		return nil, err
	}
	a.cfg = cfg
	a.gw = gateway.New(rt, a.obs, gateway.NewMetrics(a.reg), a.log, a.clk)
	a.reg.MustRegister(newStateCollector(a))
	return a, nil
}

// build makes the runtime of a config generation, reusing providers whose
// config did not change (their connections and, for sims, their listeners).
func (a *App) build(cfg *config.Config) (*gateway.Runtime, error) {
	keys, err := limit.NewKeys(cfg.Keys, a.clk)
	if err != nil {
		return nil, err
	}
	if a.gw != nil {
		keys.Inherit(a.gw.Runtime().Keys)
	}
	next := make(map[string]builtProvider, len(cfg.Providers))
	byName := make(map[string]provider.Provider, len(cfg.Providers))
	for _, pc := range cfg.Providers {
		if old, ok := a.providers[pc.Name]; ok && reflect.DeepEqual(old.cfg, pc) {
			next[pc.Name] = old
			byName[pc.Name] = old.p
			continue
		}
		p, err := registry.New(pc, cfg.Timeouts.Connect)
		if err != nil {
			for name, b := range next {
				if a.providers[name].p != b.p {
					_ = b.p.Close()
				}
			}
			return nil, err
		}
		next[pc.Name] = builtProvider{cfg: pc, p: p}
		byName[pc.Name] = p
	}
	for name, old := range a.providers {
		if n, ok := next[name]; !ok || n.p != old.p {
			a.retire(old.p, cfg.ShutdownTimeout.D())
		}
	}
	a.providers = next
	return &gateway.Runtime{
		Router:    route.NewRouter(cfg, byName, a.states),
		Keys:      keys,
		Admission: a.admission(cfg.Limits),
		Timeouts:  cfg.Timeouts,
		Retries:   cfg.Retries,
		MaxBody:   int64(cfg.MaxBodySize),
		LogBodies: cfg.Log.Bodies,
	}, nil
}

// admission keeps the running admission control when its limits did not
// change, so a reload never lets more requests in than configured.
func (a *App) admission(l config.Limits) *limit.Admission {
	if a.gw != nil && a.cfg.Limits == l {
		return a.gw.Runtime().Admission
	}
	return limit.NewAdmission(l.MaxInFlight, l.Queue, l.QueueTimeout.D())
}

// Start binds both listeners and starts serving. It returns once listening.
func (a *App) Start(ctx context.Context) error {
	if err := a.openStore(ctx); err != nil {
		return err
	}
	if err := a.seedDetector(ctx); err != nil {
		_ = a.store.Close()
		return err
	}
	var err error
	if a.gwLn, err = net.Listen("tcp", a.cfg.Listen); err != nil {
		_ = a.store.Close()
		return fmt.Errorf("gateway listener: %w", err)
	}
	if a.adminLn, err = net.Listen("tcp", a.cfg.Admin.Listen); err != nil {
		_ = a.gwLn.Close()
		_ = a.store.Close()
		return fmt.Errorf("admin listener: %w", err)
	}
	if len(a.cfg.Keys) == 0 {
		a.log.Warn("no client keys configured: the gateway is open to anyone who can reach it", "listen", a.gwLn.Addr().String())
	}
	a.gwSrv = newServer(a.gw.Handler(), a.log)
	adm := admin.New(a, a.reg, admin.Options{Token: a.cfg.Admin.Token.Value(), Pprof: a.cfg.Admin.Pprof})
	a.adminSrv = newServer(adm.Handler(), a.log)

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	a.rollups = rollup.New(a.clk, a.store.Consume, a.detect.Minute)
	a.wg.Add(9)
	go func() { defer a.wg.Done(); _ = a.detect.Run(runCtx) }()
	go func() { defer a.wg.Done(); a.consumeObservations(runCtx) }()
	go func() { defer a.wg.Done(); _ = a.rollups.Run(runCtx) }()
	go func() { defer a.wg.Done(); _ = a.recent.Run(runCtx) }()
	go func() { defer a.wg.Done(); _ = a.logEvents(runCtx) }()
	go func() {
		defer a.wg.Done()
		_ = a.store.RunRetention(runCtx, a.clk, store.DefaultRetention, time.Hour)
	}()
	go func() { defer a.wg.Done(); a.tickHealth(runCtx) }()
	go func() { defer a.wg.Done(); a.serve(a.gwSrv, a.gwLn, "gateway") }()
	go func() { defer a.wg.Done(); a.serve(a.adminSrv, a.adminLn, "admin") }()
	a.setReady(true)
	a.log.Info("relais started", "gateway", a.gwLn.Addr().String(), "admin", a.adminLn.Addr().String(),
		"routes", len(a.cfg.Routes), "providers", len(a.cfg.Providers))
	return nil
}

// tickHealth re-evaluates statuses every second, so they recover while
// traffic is quiet.
func (a *App) tickHealth(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.health.Tick()
			a.updateLatencies()
		}
	}
}

// updateLatencies gives least_latency each target's median time to answer
// over the last minute. A target without traffic in that minute becomes
// unknown, which least_latency tries first: a slow target is measured again
// about once a minute, so it wins traffic back when it gets faster.
func (a *App) updateLatencies() {
	seen := map[*route.TargetState]bool{}
	a.health.Responsiveness(func(provider, model string, d time.Duration) {
		if st, ok := a.states.Lookup(provider, model); ok {
			st.SetLatency(d)
			seen[st] = true
		}
	})
	for _, st := range a.states.All() {
		if !seen[st] {
			st.SetLatency(0)
		}
	}
}

// statusChanged logs a component's new status and exports it. A target in
// major_outage is held off by routing, with trials, until it recovers.
func (a *App) statusChanged(ev health.StatusChanged) {
	a.bus.Publish(ev)
	a.status.WithLabelValues(string(ev.Kind), ev.Name).Set(float64(ev.To))
	if ev.Kind == health.KindTarget {
		if st, ok := a.states.Lookup(ev.Provider, ev.Model); ok {
			st.SetDown(ev.To == health.MajorOutage, ev.At)
		}
	}
	level := slog.LevelInfo
	if ev.To > ev.From {
		level = slog.LevelWarn
	}
	a.log.Log(context.Background(), level, "status changed: "+ev.Text,
		"kind", ev.Kind, "name", ev.Name, "from", ev.From.String(), "to", ev.To.String(),
		"requests", ev.Requests, "failures", ev.Failures, "window", ev.Window.String(), "in_a_row", ev.InARow)
}

// Health exposes passive health to the admin API.
func (a *App) Health() *health.Tracker { return a.health }

func newServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// No WriteTimeout: streams last as long as the model writes; the
		// gateway's own timeouts bound them.
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 1 << 20,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func (a *App) serve(srv *http.Server, ln net.Listener, name string) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.log.Error("listener stopped", "listener", name, "err", err)
	}
}

// GatewayAddr is the gateway's bound address (useful with ":0").
func (a *App) GatewayAddr() string { return a.gwLn.Addr().String() }

// AdminAddr is the admin listener's bound address.
func (a *App) AdminAddr() string { return a.adminLn.Addr().String() }

// Stop drains: readiness goes down, new connections are refused, in-flight
// requests and streams finish until ctx ends, then the rest is closed.
func (a *App) Stop(ctx context.Context) error {
	a.setReady(false)
	a.log.Info("relais stopping: draining in-flight requests")
	err := a.gwSrv.Shutdown(ctx)
	if err != nil {
		a.log.Warn("drain deadline reached; closing remaining connections", "err", err)
		_ = a.gwSrv.Close()
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = a.adminSrv.Shutdown(shutCtx)
	a.cancel()
	a.wg.Wait()
	a.closeProviders()
	if err := a.store.Close(); err != nil {
		a.log.Error("closing the store", "err", err)
	}
	a.log.Info("relais stopped")
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("drain: %w", err)
	}
	return nil
}

func (a *App) closeProviders() {
	for _, b := range a.providers {
		_ = b.p.Close()
	}
	a.retiredMu.Lock()
	defer a.retiredMu.Unlock()
	for p, t := range a.retired {
		if t.Stop() {
			_ = p.Close()
		}
	}
	a.retired = nil
}

// retire closes a provider that a reload replaced once the requests that
// started on it had time to finish.
func (a *App) retire(p provider.Provider, grace time.Duration) {
	a.retiredMu.Lock()
	defer a.retiredMu.Unlock()
	if a.retired == nil {
		a.retired = make(map[provider.Provider]*time.Timer)
	}
	a.retired[p] = time.AfterFunc(grace, func() {
		a.retiredMu.Lock()
		delete(a.retired, p)
		a.retiredMu.Unlock()
		_ = p.Close()
	})
}

// Reload re-reads the config file, validates it and swaps it in. On any
// problem the running config stays and the error says why.
func (a *App) Reload(_ context.Context) error {
	if a.path == "" {
		return errors.New("this server was not started from a config file")
	}
	cfg, err := config.Load(a.path, registry.Specs())
	if err != nil {
		a.log.Error("config reload refused; the running config stays", "err", err)
		return err
	}
	return a.Apply(cfg)
}

// Apply swaps in an already validated config.
func (a *App) Apply(cfg *config.Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if cfg.Listen != a.cfg.Listen || cfg.Admin.Listen != a.cfg.Admin.Listen {
		a.log.Warn("listen addresses changed in config; they take effect at the next restart")
	}
	rt, err := a.build(cfg)
	if err != nil {
		a.log.Error("config reload refused; the running config stays", "err", err)
		return err
	}
	a.gw.Swap(rt)
	a.usage.SetPrices(usage.NewPrices(cfg.Prices))
	a.cfg = cfg
	a.log.Info("config reloaded", "routes", len(cfg.Routes), "providers", len(cfg.Providers))
	return nil
}

func (a *App) setReady(v bool) {
	a.readyMu.Lock()
	a.ready = v
	a.readyMu.Unlock()
}

// Ready reports whether the app serves and is not draining.
func (a *App) Ready() bool {
	a.readyMu.RLock()
	defer a.readyMu.RUnlock()
	return a.ready
}

// States exposes target states to the admin API.
func (a *App) States() *route.States { return a.states }

// Usage exposes the usage table to the admin API.
func (a *App) Usage() *usage.Accounts { return a.usage }

// Provider returns a running provider by name (for the demo's sims).
func (a *App) Provider(name string) (provider.Provider, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, ok := a.providers[name]
	return b.p, ok
}
