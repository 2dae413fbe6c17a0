package app

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/relais/relais/internal/event"
	"github.com/relais/relais/internal/health"
	"github.com/relais/relais/internal/rollup"
	"github.com/relais/relais/internal/store"
)

// recentEvents is how many events the admin API can list.
const recentEvents = 500

// openStore opens the history database: SQLite in data_dir.
func (a *App) openStore(ctx context.Context) error {
	path := filepath.Join(a.cfg.DataDir, "relais.db")
	st, err := store.Open(ctx, store.Options{Driver: string(store.SQLite), DSN: path, Logger: a.log})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	a.store = st
	return nil
}

// logEvents writes every state event to the log, one line each, and
// counts it. Status
// changes are logged where they happen (statusChanged), with their evidence.
func (a *App) logEvents(ctx context.Context) error {
	sub := a.bus.Subscribe("log")
	defer sub.Close()
	return sub.Run(ctx, func(e event.Event) {
		a.events.WithLabelValues(e.Type(), e.Severity().String()).Inc()
		if _, ok := e.(health.StatusChanged); ok {
			return
		}
		level := slog.LevelInfo
		if e.Severity() >= event.Warning {
			level = slog.LevelWarn
		}
		a.log.Log(ctx, level, e.Type()+": "+e.Summary(), "event", e.Type(), "severity", e.Severity().String(),
			"kind", e.About().Kind, "name", e.About().Name)
	})
}

// consumeObservations feeds every observation to its sinks until ctx ends,
// then hands the last, partial minute of rollups on: only once the queue is
// drained is that minute complete.
func (a *App) consumeObservations(ctx context.Context) {
	_ = a.obs.Run(ctx, a.usage, a.health, a.rollups, a.detect)
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	a.rollups.FlushAll(flushCtx)
}

var _ health.Sink = (*rollup.Aggregator)(nil)

// History reads stored history for the admin API.
func (a *App) History(ctx context.Context, q store.HistoryQuery) ([]store.Point, error) {
	return a.store.History(ctx, q)
}

// Events returns the last state events for the admin API.
func (a *App) Events() []event.Event { return a.recent.Events() }
