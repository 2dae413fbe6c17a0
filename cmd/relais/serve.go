package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/relais/relais/internal/app"
	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/provider/registry"
)

func serveCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway and the admin listener from a config file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path, registry.Specs())
			if err != nil {
				return err
			}
			log := newLogger(cfg.Log, os.Stderr)
			return run(cmd.Context(), cfg, app.Options{Path: path, Logger: log}, nil)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "relais.yaml", "config file")
	return cmd
}

// run starts the app, reloads on SIGHUP, and drains on SIGINT/SIGTERM.
// started, if not nil, runs once the listeners are up and stops with them.
func run(ctx context.Context, cfg *config.Config, opts app.Options, started func(ctx context.Context, a *app.App)) error {
	a, err := app.New(cfg, opts)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := a.Start(ctx); err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	extraDone := make(chan struct{})
	extraCtx, cancelExtra := context.WithCancel(ctx)
	go func() {
		defer close(extraDone)
		if started != nil {
			started(extraCtx, a)
		}
	}()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-hup:
			if err := a.Reload(ctx); err == nil {
				opts.Logger.Info("reloaded on SIGHUP")
			}
		}
	}
	cancelExtra()
	<-extraDone
	drainCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout.D())
	defer cancel()
	return a.Stop(drainCtx)
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		level = slog.LevelInfo
	}
	o := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, o))
	}
	return slog.New(slog.NewJSONHandler(w, o))
}

func checkCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate a config file; exit 1 listing every problem by its YAML path",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path, registry.Specs())
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: invalid config\n%v\n", path, err)
				return exitError{code: 1}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d providers, %d routes, %d keys)\n", path, len(cfg.Providers), len(cfg.Routes), len(cfg.Keys))
			return nil
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "relais.yaml", "config file")
	return cmd
}
