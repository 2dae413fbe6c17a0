package route

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/provider"
)

// Caps is a set of capabilities a request needs or a target has.
type Caps uint8

const (
	Tools Caps = 1 << iota
	Vision
	JSONSchema

	allCaps = Tools | Vision | JSONSchema
)

var capNames = map[string]Caps{"tools": Tools, "vision": Vision, "json_schema": JSONSchema}

// ParseCaps turns config names into a set; no names means unknown, taken as all.
func ParseCaps(names []string) Caps {
	if len(names) == 0 {
		return allCaps
	}
	var c Caps
	for _, n := range names {
		c |= capNames[n]
	}
	return c
}

// Needs is what a request asks of a target.
type Needs struct {
	Caps Caps
	// Tokens is an estimate of the prompt's size, compared with max_context.
	Tokens int
}

// TargetState is what relais knows about one provider model, shared by every
// route that uses it and kept across config reloads.
type TargetState struct {
	Provider string
	Model    string
	Breaker  *Breaker
	disabled atomic.Bool
	// latency is the median time the target's answers took to begin over
	// the last minute (from passive health's sketches), in ns; 0 = unknown.
	latency atomic.Int64
	// down: passive health judges the target major_outage. Requests skip
	// it like an open breaker, but one request every DownTrialEvery is let
	// through (nextTrial, unix ns) so that it can show it recovered even
	// when no probe watches it.
	down      atomic.Bool
	nextTrial atomic.Int64
}

// DownTrialEvery spaces the trial requests a target in major_outage gets.
const DownTrialEvery = 5 * time.Second

// Disabled reports whether an operator drained the target.
func (s *TargetState) Disabled() bool { return s.disabled.Load() }

// SetDisabled drains (true) or restores (false) the target. Requests already
// sent finish; new ones skip it.
func (s *TargetState) SetDisabled(v bool) { s.disabled.Store(v) }

// SetLatency sets how fast the target answers, for least_latency; 0 = unknown.
func (s *TargetState) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// Latency returns how fast the target answers, 0 when unknown.
func (s *TargetState) Latency() time.Duration { return time.Duration(s.latency.Load()) }

// SetDown records passive health's verdict: down (major_outage) or not.
// The first trial comes DownTrialEvery after now.
func (s *TargetState) SetDown(down bool, now time.Time) {
	if down {
		s.nextTrial.Store(now.Add(DownTrialEvery).UnixNano())
	}
	s.down.Store(down)
}

// Down reports whether passive health judges the target major_outage.
func (s *TargetState) Down() bool { return s.down.Load() }

// Admit reports whether passive health lets a request go to the target
// now: always when it is not down, else once per DownTrialEvery.
func (s *TargetState) Admit(now time.Time) bool {
	if !s.down.Load() {
		return true
	}
	next := s.nextTrial.Load()
	if now.UnixNano() < next {
		return false
	}
	return s.nextTrial.CompareAndSwap(next, now.Add(DownTrialEvery).UnixNano())
}

// Target is one entry of a route.
type Target struct {
	*TargetState
	Upstream   provider.Provider
	Weight     int
	Caps       Caps
	MaxContext int
	// Prefill: the target declared it continues a final assistant message.
	Prefill bool
	// Index is the target's position in the route as configured; 0 is the first choice.
	Index int
}

// Serves reports whether the target can take a request with these needs.
func (t *Target) Serves(n Needs) bool {
	if n.Caps&^t.Caps != 0 {
		return false
	}
	return t.MaxContext == 0 || n.Tokens <= t.MaxContext
}

// Strategy orders a route's targets for one request.
type Strategy uint8

const (
	Priority Strategy = iota
	Weighted
	LeastLatency
)

// Route is one model alias.
type Route struct {
	Name     string
	Strategy Strategy
	Targets  []*Target
	// Passthrough routes are made on the fly for "<provider>/<model>".
	Passthrough bool
	// Continue: text streams cut after content continue on another target.
	Continue   bool
	restricted bool
}

// Restricted reports whether some target declares limited capabilities or a
// context size, so requests must be inspected for what they need.
func (r *Route) Restricted() bool { return r.restricted }

// MaxTargets bounds a route's size so ordering can use a stack array.
const MaxTargets = 16

// Order writes the targets to try, best first, into dst (pass a [MaxTargets]
// array's slice to keep it off the heap). Drained targets and those that
// cannot serve the request are left out; open breakers stay in: the attempt
// loop asks each breaker in turn.
func (r *Route) Order(dst []*Target, n Needs) []*Target {
	dst = dst[:0]
	for _, t := range r.Targets {
		if !t.Disabled() && t.Serves(n) {
			dst = append(dst, t)
		}
	}
	switch r.Strategy {
	case Weighted:
		weightedShuffle(dst)
	case LeastLatency:
		// Unknown latencies sort first so new targets get measured.
		sort.SliceStable(dst, func(i, j int) bool { return dst[i].Latency() < dst[j].Latency() })
	}
	return dst
}

// weightedShuffle orders targets by a weighted random draw without replacement
// (Efraimidis–Spirakis keys), so the first choice follows the weights and the
// fallbacks too.
func weightedShuffle(ts []*Target) {
	var keys [MaxTargets]float64
	for i, t := range ts {
		if t.Weight <= 0 {
			keys[i] = math.Inf(-1)
			continue
		}
		keys[i] = math.Log(rand.Float64()) / float64(t.Weight)
	}
	// Insertion sort: routes are short and this keeps it allocation-free.
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && keys[j] > keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}

// Router holds every route of one config generation.
type Router struct {
	routes      map[string]*Route
	names       []string
	providers   map[string]provider.Provider
	passthrough map[string]bool
	states      *States
	bc          BreakerConfig
	pass        sync.Map // "<provider>/<model>" -> *Route, made on first use
	passCount   atomic.Int32
}

// maxPassthrough bounds the passthrough routes remembered, since clients choose their names.
const maxPassthrough = 1024

// States keeps TargetStates by provider and model across config generations,
// so a reload does not reset breakers or drains.
type States struct {
	clk clock.Clock
	mu  sync.Mutex
	m   map[string]*TargetState
	cfg BreakerConfig
}

// NewStates returns an empty store.
func NewStates(clk clock.Clock) *States {
	return &States{clk: clk, m: make(map[string]*TargetState)}
}

// Get returns the state of a provider model, creating it with cfg's breaker.
func (s *States) Get(providerName, model string, cfg BreakerConfig) *TargetState {
	key := providerName + "\x00" + model
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[key]
	if !ok {
		st = &TargetState{Provider: providerName, Model: model, Breaker: NewBreaker(cfg, s.clk)}
		s.m[key] = st
	} else if st.Breaker.cfg != cfg {
		// New breaker settings take effect; a target open now stays open.
		// The breaker is changed in place, never replaced: requests of the
		// previous config generation share this TargetState and read
		// st.Breaker without a lock, and a half-open trial in flight must
		// stay the only one.
		st.Breaker.reconfigure(cfg)
	}
	return st
}

// Lookup returns the state of a provider model, if it is known.
func (s *States) Lookup(providerName, model string) (*TargetState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[providerName+"\x00"+model]
	return st, ok
}

// All returns every known target state, sorted by provider then model.
func (s *States) All() []*TargetState {
	s.mu.Lock()
	out := make([]*TargetState, 0, len(s.m))
	for _, st := range s.m {
		out = append(out, st)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Provider != out[j].Provider {
			return out[i].Provider < out[j].Provider
		}
		return out[i].Model < out[j].Model
	})
	return out
}

// BreakerConfigFrom converts the config section.
func BreakerConfigFrom(c config.Breaker) BreakerConfig {
	return BreakerConfig{FailureRatio: c.FailureRatio, MinRequests: c.MinRequests, Window: c.Window.D(), OpenFor: c.OpenFor.D()}
}

var strategies = map[string]Strategy{"priority": Priority, "weighted": Weighted, "least_latency": LeastLatency}

// NewRouter builds the routes of cfg over already built providers. cfg must
// have passed Validate.
func NewRouter(cfg *config.Config, providers map[string]provider.Provider, states *States) *Router {
	bc := BreakerConfigFrom(cfg.Breaker)
	r := &Router{
		routes:      make(map[string]*Route, len(cfg.Routes)),
		providers:   providers,
		passthrough: make(map[string]bool),
		states:      states,
		bc:          bc,
	}
	for _, p := range cfg.Providers {
		if p.Passthrough {
			r.passthrough[p.Name] = true
		}
	}
	for _, rc := range cfg.Routes {
		rt := &Route{Name: rc.Model, Strategy: strategies[rc.Strategy], Continue: rc.ContinueStreams}
		for i, tc := range rc.Targets {
			if i == MaxTargets {
				break
			}
			rt.Targets = append(rt.Targets, &Target{
				TargetState: states.Get(tc.Provider, tc.Model, bc),
				Upstream:    providers[tc.Provider],
				Weight:      tc.Weight,
				Caps:        ParseCaps(tc.Capabilities),
				MaxContext:  tc.MaxContext,
				Prefill:     slices.Contains(tc.Capabilities, config.CapabilityPrefill),
				Index:       i,
			})
			if tc.MaxContext > 0 || len(tc.Capabilities) > 0 {
				rt.restricted = true
			}
		}
		r.routes[rc.Model] = rt
		r.names = append(r.names, rc.Model)
	}
	sort.Strings(r.names)
	return r
}

// Lookup finds the route for the model a client sent: a configured route, or
// "<provider>/<model>" on a provider with passthrough on.
func (r *Router) Lookup(model string) (*Route, bool) {
	if rt, ok := r.routes[model]; ok {
		return rt, true
	}
	pname, pmodel, ok := strings.Cut(model, "/")
	if !ok || pmodel == "" || !r.passthrough[pname] {
		return nil, false
	}
	if v, ok := r.pass.Load(model); ok {
		return v.(*Route), true
	}
	remember := r.passCount.Add(1) <= maxPassthrough
	st := &TargetState{Provider: pname, Model: pmodel, Breaker: NewBreaker(r.bc, r.states.clk)}
	if remember {
		st = r.states.Get(pname, pmodel, r.bc)
	}
	rt := &Route{Name: model, Passthrough: true, Targets: []*Target{{
		TargetState: st,
		Upstream:    r.providers[pname],
		Weight:      1,
		Caps:        allCaps,
	}}}
	if !remember {
		return rt, true
	}
	v, _ := r.pass.LoadOrStore(model, rt)
	return v.(*Route), true
}

// Names lists the configured routes, sorted.
func (r *Router) Names() []string { return r.names }
