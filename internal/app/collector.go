package app

import (
	"github.com/prometheus/client_golang/prometheus"
)

// stateCollector reports breaker states, drains and admission at scrape time,
// so the hot path never updates a gauge for them.
type stateCollector struct {
	a        *App
	breaker  *prometheus.Desc
	disabled *prometheus.Desc
	inFlight *prometheus.Desc
	queued   *prometheus.Desc
	unsaved  *prometheus.Desc
	budget   *prometheus.Desc
	burn     *prometheus.Desc
}

func newStateCollector(a *App) *stateCollector {
	return &stateCollector{
		a: a,
		breaker: prometheus.NewDesc("relais_breaker_state",
			"Circuit breaker state per target: 0 closed, 1 open (or cooling down), 2 half-open.", []string{"provider", "model"}, nil),
		disabled: prometheus.NewDesc("relais_target_disabled",
			"1 when an operator drained the target.", []string{"provider", "model"}, nil),
		inFlight: prometheus.NewDesc("relais_in_flight_requests", "Requests being served.", nil, nil),
		queued:   prometheus.NewDesc("relais_queued_requests", "Requests waiting for an in-flight slot.", nil, nil),
		unsaved: prometheus.NewDesc("relais_rollups_unsaved",
			"Per-minute rollups kept in memory because the store refused them; retried every minute.", nil, nil),
		budget: prometheus.NewDesc("relais_slo_error_budget_remaining",
			"Fraction of each SLO's error budget left over its window (negative once overspent).", []string{"route", "objective"}, nil),
		burn: prometheus.NewDesc("relais_slo_burn_rate",
			"Error budget burn rate over each alert's long window (1 spends the budget exactly over the SLO window).", []string{"route", "objective", "window"}, nil),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.breaker
	ch <- c.disabled
	ch <- c.inFlight
	ch <- c.queued
	ch <- c.unsaved
	ch <- c.budget
	ch <- c.burn
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.a.states.All() {
		ch <- prometheus.MustNewConstMetric(c.breaker, prometheus.GaugeValue, float64(st.Breaker.State()), st.Provider, st.Model)
		d := 0.0
		if st.Disabled() {
			d = 1
		}
		ch <- prometheus.MustNewConstMetric(c.disabled, prometheus.GaugeValue, d, st.Provider, st.Model)
	}
	adm := c.a.gw.Runtime().Admission
	ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(adm.InFlight()))
	ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(adm.Queued()))
	for _, b := range c.a.detect.Budgets() {
		ch <- prometheus.MustNewConstMetric(c.budget, prometheus.GaugeValue, b.Left, b.Route, b.Objective)
		for _, br := range b.Burns {
			ch <- prometheus.MustNewConstMetric(c.burn, prometheus.GaugeValue, br.BurnLong, b.Route, b.Objective, br.Window)
		}
	}
	if c.a.store != nil {
		ch <- prometheus.MustNewConstMetric(c.unsaved, prometheus.GaugeValue, float64(c.a.store.Unsaved()))
	}
}
