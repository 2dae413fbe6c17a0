package usage_test

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/health"
	"github.com/relais/relais/internal/usage"
)

// series gathers the counter family name from reg: value by labels, written
// name="value" in label-name order.
func series(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := make([]string, 0, len(m.GetLabel()))
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			out[strings.Join(labels, ",")] = m.GetCounter().GetValue()
		}
	}
	return out
}

var prices = []config.Price{
	{Model: "gpt-4o", Input: 2.5, Output: 10},
	{Provider: "azure", Model: "gpt-4o", Input: 5, Output: 20},
	{Provider: "groq", Model: "llama", Input: 0.5, Output: 1},
}

func TestCost(t *testing.T) {
	t.Parallel()
	p := usage.NewPrices(prices)
	tests := []struct {
		name            string
		provider, model string
		in, out         int
		cost            float64
		priced          bool
	}{
		{"model-only price", "openai", "gpt-4o", 1000, 500, (1000*2.5 + 500*10) / 1e6, true},
		{"provider and model beat model only", "azure", "gpt-4o", 1000, 500, (1000*5 + 500*20) / 1e6, true},
		{"provider price applies to its provider only", "together", "llama", 1000, 500, 0, false},
		{"provider price", "groq", "llama", 2_000_000, 1_000_000, 2, true},
		{"unknown model", "openai", "gpt-5", 1000, 500, 0, false},
		{"no tokens", "openai", "gpt-4o", 0, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cost, priced := p.Cost(tt.provider, tt.model, tt.in, tt.out)
			if priced != tt.priced || math.Abs(cost-tt.cost) > 1e-12 {
				t.Fatalf("Cost = %v, %v; want %v, %v", cost, priced, tt.cost, tt.priced)
			}
		})
	}
}

func TestCostNoTable(t *testing.T) {
	t.Parallel()
	if cost, priced := usage.NewPrices(nil).Cost("openai", "gpt-4o", 10, 10); priced || cost != 0 {
		t.Fatalf("empty table: %v, %v; want 0, false", cost, priced)
	}
}

// answered is an observation that counts: the final attempt, answered.
func answered(key, route, provider, model string, in, out, cached int) *health.Observation {
	return &health.Observation{Key: key, Route: route, Provider: provider, Model: model,
		Final: true, Outcome: health.OK, InputTokens: in, OutputTokens: out, CachedTokens: cached}
}

func TestObserveCountsCompletionsOnly(t *testing.T) {
	t.Parallel()
	type test struct {
		name   string
		change func(o *health.Observation)
		counts bool
	}
	tests := []test{
		{"final ok", func(*health.Observation) {}, true},
		{"final empty output", func(o *health.Observation) { o.Outcome = health.EmptyOutput }, true},
		{"ok but not final", func(o *health.Observation) { o.Final = false }, false},
		{"probe", func(o *health.Observation) { o.Probe = true }, false},
		{"probe marked final", func(o *health.Observation) { o.Probe, o.Final = true, true }, false},
	}
	for _, out := range health.Outcomes() {
		if out == health.OK || out == health.EmptyOutput {
			continue
		}
		tests = append(tests, test{"final " + out.String(), func(o *health.Observation) { o.Outcome = out }, false})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			a := usage.New(reg, usage.NewPrices(prices))
			o := answered("team-a", "chat", "openai", "gpt-4o", 100, 20, 10)
			tt.change(o)
			a.Observe(o)
			rows := len(series(t, reg, "relais_tokens_total"))
			if got := len(a.Rows()); tt.counts != (got == 1) || tt.counts != (rows == 3) {
				t.Fatalf("%d rows and %d token series; counted = %v", got, rows, tt.counts)
			}
		})
	}
}

func TestObserveMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	a := usage.New(reg, usage.NewPrices(prices))
	// Twice the same priced completion, once an unpriced one, and a failed
	// attempt of the same key and model that must leave no trace.
	a.Observe(answered("team-a", "chat", "openai", "gpt-4o", 1000, 500, 200))
	a.Observe(answered("team-a", "chat", "openai", "gpt-4o", 1000, 500, 0))
	a.Observe(answered("team-b", "local", "vllm", "qwen", 40, 2, 0))
	failed := answered("team-a", "chat", "openai", "gpt-4o", 999, 999, 999)
	failed.Outcome = health.HTTP5xx
	a.Observe(failed)

	wantTokens := map[string]float64{
		`key="team-a",kind="cached",model="gpt-4o",provider="openai",route="chat"`: 200,
		`key="team-a",kind="input",model="gpt-4o",provider="openai",route="chat"`:  2000,
		`key="team-a",kind="output",model="gpt-4o",provider="openai",route="chat"`: 1000,
		`key="team-b",kind="cached",model="qwen",provider="vllm",route="local"`:    0,
		`key="team-b",kind="input",model="qwen",provider="vllm",route="local"`:     40,
		`key="team-b",kind="output",model="qwen",provider="vllm",route="local"`:    2,
	}
	if got := series(t, reg, "relais_tokens_total"); !maps.Equal(got, wantTokens) {
		t.Errorf("relais_tokens_total = %v\nwant %v", got, wantTokens)
	}
	// The unpriced model has no cost series at all, rather than a zero that
	// would read as free.
	wantCost := map[string]float64{`key="team-a",model="gpt-4o",provider="openai",route="chat"`: 0.015}
	if got := series(t, reg, "relais_cost_usd_total"); !maps.Equal(got, wantCost) {
		t.Errorf("relais_cost_usd_total = %v, want %v", got, wantCost)
	}

	wantRows := []usage.Row{
		{Key: "team-a", Route: "chat", Provider: "openai", Model: "gpt-4o", Requests: 2, InputTokens: 2000, OutputTokens: 1000, CachedTokens: 200, CostUSD: 0.015},
		{Key: "team-b", Route: "local", Provider: "vllm", Model: "qwen", Requests: 1, InputTokens: 40, OutputTokens: 2},
	}
	if got := a.Rows(); !slices.Equal(got, wantRows) {
		t.Fatalf("Rows() = %+v\nwant %+v", got, wantRows)
	}
}

func TestSetPrices(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	a := usage.New(reg, usage.NewPrices(nil))
	a.Observe(answered("k", "r", "openai", "gpt-4o", 1000, 0, 0))
	if got := series(t, reg, "relais_cost_usd_total"); len(got) != 0 {
		t.Fatalf("unpriced: cost series %v, want none", got)
	}
	a.SetPrices(usage.NewPrices(prices))
	a.Observe(answered("k", "r", "openai", "gpt-4o", 1000, 0, 0))
	want := map[string]float64{`key="k",model="gpt-4o",provider="openai",route="r"`: 0.0025}
	if got := series(t, reg, "relais_cost_usd_total"); !maps.Equal(got, want) {
		t.Fatalf("after SetPrices: %v, want %v", got, want)
	}
	if rows := a.Rows(); len(rows) != 1 || rows[0].Requests != 2 || rows[0].CostUSD != 0.0025 {
		t.Fatalf("Rows() = %+v, want 2 requests costing 0.0025", rows)
	}
}

func TestRowsSorted(t *testing.T) {
	t.Parallel()
	// Listed out of order; each neighbour pair differs at a different level.
	want := [][4]string{
		{"", "chat", "openai", "gpt-4o"}, // an open gateway has no key name
		{"a", "chat", "openai", "gpt-4o"},
		{"a", "chat", "openai", "gpt-4o-mini"},
		{"a", "chat", "sim", "gpt-4o"},
		{"a", "embed", "openai", "text-embedding-3-small"},
		{"b", "chat", "openai", "gpt-4o"},
	}
	order := []int{4, 1, 5, 3, 0, 2}
	a := usage.New(prometheus.NewRegistry(), usage.NewPrices(nil))
	for _, i := range order {
		w := want[i]
		a.Observe(answered(w[0], w[1], w[2], w[3], 1, 1, 0))
	}
	var got [][4]string
	for _, r := range a.Rows() {
		got = append(got, [4]string{r.Key, r.Route, r.Provider, r.Model})
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Rows() order:\n%v\nwant\n%v", got, want)
	}
}

// TestConcurrentObserve runs under -race: Observe comes from the queue's
// consumer while the admin API reads Rows.
func TestConcurrentObserve(t *testing.T) {
	t.Parallel()
	a := usage.New(prometheus.NewRegistry(), usage.NewPrices(prices))
	const workers, each = 8, 200
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				a.Observe(answered("k", "r", "openai", "gpt-4o", 3, 2, 1))
				_ = a.Rows()
			}
		})
	}
	wg.Wait()
	rows := a.Rows()
	if len(rows) != 1 || rows[0].Requests != workers*each || rows[0].InputTokens != 3*workers*each {
		t.Fatalf("Rows() = %+v, want one row of %d requests", rows, workers*each)
	}
}
