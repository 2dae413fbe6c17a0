package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/spf13/cobra"

	"github.com/relais/relais/internal/app"
	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/demo"
	"github.com/relais/relais/internal/provider/registry"
	"github.com/relais/relais/internal/provider/sim"
)

func demoCmd() *cobra.Command {
	var (
		printConfig bool
		listen      string
		adminListen string
		rate        float64
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run relais on a built-in config: simulated providers, synthetic traffic, a repeating script of failures",
		Long: `Run relais on a built-in config with simulated providers (no key, no network),
light synthetic traffic and a script of failures that repeats every few minutes:
the primary provider fails while the backup serves, then every chat target
fails for a while, then all recover. The log narrates each phase.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := os.MkdirTemp("", "relais-demo-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			raw, err := demo.Config(dir)
			if err != nil {
				return err
			}
			if printConfig {
				_, err := cmd.OutOrStdout().Write(raw)
				return err
			}
			cfg, err := config.Parse(raw, registry.Specs())
			if err != nil {
				return fmt.Errorf("built-in demo config: %w", err)
			}
			if listen != "" {
				cfg.Listen = listen
			}
			if adminListen != "" {
				cfg.Admin.Listen = adminListen
			}
			log := newLogger(cfg.Log, cmd.ErrOrStderr())
			return run(cmd.Context(), cfg, app.Options{Logger: log}, func(ctx context.Context, a *app.App) {
				printWelcome(cmd.OutOrStdout(), a.GatewayAddr(), a.AdminAddr(), dir)
				p, _ := a.Provider(demo.Primary)
				n := &demo.Narrator{Script: demo.Timeline(), Start: p.(*sim.Provider).Server().Start(), Clock: clock.Real{}, Logger: log}
				t := &demo.Traffic{BaseURL: "http://" + a.GatewayAddr(), Rate: rate, Logger: log}
				var wg sync.WaitGroup
				wg.Go(func() { _ = n.Run(ctx) })
				if rate > 0 {
					wg.Go(func() {
						if err := t.Run(ctx); err != nil {
							log.Error("demo traffic stopped", "err", err)
						}
					})
				}
				wg.Wait()
			})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&printConfig, "print-config", false, "print the demo's config (a commented example) and exit")
	f.StringVar(&listen, "listen", "", "gateway address (default 127.0.0.1:8080)")
	f.StringVar(&adminListen, "admin-listen", "", "admin address (default 127.0.0.1:9090)")
	f.Float64Var(&rate, "rate", 2, "synthetic requests per second (0 = none)")
	return cmd
}

func printWelcome(w io.Writer, gw, adm, dir string) {
	fmt.Fprintf(w, `
relais demo is running: simulated providers, no key, no network.

  OpenAI API                  http://%[1]s/v1   models: chat, embed
  Anthropic API               http://%[1]s      (POST /v1/messages)
  metrics                     http://%[2]s/metrics
  targets and breakers        http://%[2]s/admin/api/targets
  usage per key and model     http://%[2]s/admin/api/usage
  data                        %[3]s

Try it:
  curl -s http://%[1]s/v1/chat/completions -H 'Content-Type: application/json' \
    -d '{"model":"chat","messages":[{"role":"user","content":"Hello"}]}'
  curl -s http://%[1]s/v1/messages -H 'anthropic-version: 2023-06-01' \
    -d '{"model":"chat","max_tokens":100,"messages":[{"role":"user","content":"Hello"}]}'

The script repeats every 4 minutes; the log says what happens and when.
Watch failover: curl -s http://%[2]s/metrics | grep -E 'relais_(failovers|upstream_attempts)_total'
Stop with Ctrl-C.

`, gw, adm, dir)
}
