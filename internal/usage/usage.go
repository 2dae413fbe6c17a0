// Package usage accounts tokens and cost per client key, route and model from
// the gateway's observations, for metrics and the admin API. It runs off the
// hot path, as a health.Sink.
package usage

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/health"
)

// Prices maps a provider model to its cost.
type Prices struct {
	byTarget map[[2]string]config.Price // provider, model
	byModel  map[string]config.Price
}

// NewPrices indexes the config's price table.
func NewPrices(ps []config.Price) *Prices {
	p := &Prices{byTarget: map[[2]string]config.Price{}, byModel: map[string]config.Price{}}
	for _, pr := range ps {
		if pr.Provider == "" {
			p.byModel[pr.Model] = pr
		} else {
			p.byTarget[[2]string{pr.Provider, pr.Model}] = pr
		}
	}
	return p
}

// Cost returns the USD cost of a usage, and whether a price was known.
func (p *Prices) Cost(provider, model string, in, out int) (float64, bool) {
	pr, ok := p.byTarget[[2]string{provider, model}]
	if !ok {
		pr, ok = p.byModel[model]
	}
	if !ok {
		return 0, false
	}
	return (float64(in)*pr.Input + float64(out)*pr.Output) / 1e6, true
}

// Row is the usage of one key on one route and provider model.
type Row struct {
	Key          string  `json:"key"`
	Route        string  `json:"route"`
	Provider     string  `json:"provider"`
	Model        string  `json:"model"`
	Requests     int64   `json:"requests"`
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CachedTokens int64   `json:"cached_tokens"`
	CostUSD      float64 `json:"cost_usd"`
}

type rowKey struct{ key, route, provider, model string }

// Accounts is the running usage table.
type Accounts struct {
	prices atomic.Pointer[Prices]
	tokens *prometheus.CounterVec
	cost   *prometheus.CounterVec

	mu   sync.Mutex
	rows map[rowKey]*Row
}

var _ health.Sink = (*Accounts)(nil)

// New registers the usage series on reg.
func New(reg prometheus.Registerer, prices *Prices) *Accounts {
	a := &Accounts{
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relais_tokens_total", Help: "Tokens of answered requests, by client key, route, provider, model and kind (input, output, cached).",
		}, []string{"key", "route", "provider", "model", "kind"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relais_cost_usd_total", Help: "Cost of answered requests from the config's price table, in US dollars.",
		}, []string{"key", "route", "provider", "model"}),
		rows: make(map[rowKey]*Row),
	}
	a.prices.Store(prices)
	reg.MustRegister(a.tokens, a.cost)
	return a
}

// SetPrices installs a reloaded price table.
func (a *Accounts) SetPrices(p *Prices) { a.prices.Store(p) }

// Observe counts the attempt that answered a request; failed attempts are not completions.
func (a *Accounts) Observe(o *health.Observation) {
	if !o.Final || o.Probe || (o.Outcome != health.OK && o.Outcome != health.EmptyOutput) {
		return
	}
	cost, priced := a.prices.Load().Cost(o.Provider, o.Model, o.InputTokens, o.OutputTokens)
	k := rowKey{o.Key, o.Route, o.Provider, o.Model}
	a.mu.Lock()
	r := a.rows[k]
	if r == nil {
		r = &Row{Key: o.Key, Route: o.Route, Provider: o.Provider, Model: o.Model}
		a.rows[k] = r
	}
	r.Requests++
	r.InputTokens += int64(o.InputTokens)
	r.OutputTokens += int64(o.OutputTokens)
	r.CachedTokens += int64(o.CachedTokens)
	r.CostUSD += cost
	a.mu.Unlock()

	a.tokens.WithLabelValues(o.Key, o.Route, o.Provider, o.Model, "input").Add(float64(o.InputTokens))
	a.tokens.WithLabelValues(o.Key, o.Route, o.Provider, o.Model, "output").Add(float64(o.OutputTokens))
	a.tokens.WithLabelValues(o.Key, o.Route, o.Provider, o.Model, "cached").Add(float64(o.CachedTokens))
	if priced {
		a.cost.WithLabelValues(o.Key, o.Route, o.Provider, o.Model).Add(cost)
	}
}

// Rows returns the table sorted by key, route, provider, model.
func (a *Accounts) Rows() []Row {
	a.mu.Lock()
	out := make([]Row, 0, len(a.rows))
	for _, r := range a.rows {
		out = append(out, *r)
	}
	a.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if x.Key != y.Key {
			return x.Key < y.Key
		}
		if x.Route != y.Route {
			return x.Route < y.Route
		}
		if x.Provider != y.Provider {
			return x.Provider < y.Provider
		}
		return x.Model < y.Model
	})
	return out
}
