package app

import (
	"context"
	"fmt"
	"time"

	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/detect"
	"github.com/relais/relais/internal/rollup"
	"github.com/relais/relais/internal/store"
)

// seedHistory is how much stored history the detectors replay at start:
// the longest burn-rate window.
const seedHistory = 3 * 24 * time.Hour

// newDetector builds the detectors for cfg.
func (a *App) newDetector(cfg *config.Config) (*detect.Detector, error) {
	attempt := cfg.Timeouts.Attempt.D()
	opts := detect.Options{
		// A trend aims at the attempt timeout: a target whose p95 latency
		// climbs toward it is about to fail requests.
		TargetLimit: func(string, string) time.Duration { return attempt },
	}
	d, err := detect.New(a.clk, opts, a.bus.Publish)
	if err != nil {
		return nil, fmt.Errorf("detection: %w", err)
	}
	return d, nil
}

// seedDetector replays recent history into the detectors, so burn rates,
// baselines and open conditions survive a restart.
func (a *App) seedDetector(ctx context.Context) error {
	now := a.clk.Now()
	rows, err := a.store.Rollups(ctx, store.HistoryQuery{Series: rollup.RouteTarget, From: now.Add(-seedHistory), To: now})
	if err != nil {
		return fmt.Errorf("reading history for detection: %w", err)
	}
	a.detect.Seed(rows)
	if len(rows) > 0 {
		a.log.Info("detection resumed from stored history", "rows", len(rows))
	}
	return nil
}

// Budgets returns every SLO's error budget for the admin API.
func (a *App) Budgets() []detect.Budget { return a.detect.Budgets() }
