package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/relais/relais/internal/loadbench"
)

// benchFlags are the flags of `relais bench`.
type benchFlags struct {
	out          string
	rounds       int
	duration     time.Duration
	warmup       time.Duration
	rates        []int
	scenarios    []string
	streams      int
	streamsHold  time.Duration
	soakDuration time.Duration
	quick        bool
	pin          bool
}

func benchCmd() *cobra.Command {
	f := &benchFlags{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load benchmark: relais against a plain reverse proxy and the bare upstream, on loopback",
		Long: `Measure what relais adds to a request. A fake OpenAI upstream and the load
generator run in this process; the gateway under test (relais, or a plain
httputil.ReverseProxy as the baseline) runs as a child process of this binary.
On two or more CPUs the gateway is pinned to one CPU and the harness to another,
each with GOMAXPROCS=1. Paths are measured in rotating order over rounds; the
report gives medians and the project's targets with PASS or MISS; relais's
CPU profile under maximum load and its heap with thousands of streams open are
kept beside the report (relais-*.pprof).

The benchmark needs the machine to itself, runs on 127.0.0.1 only, and stops by
itself (about 9 minutes with the defaults, a few seconds with --quick).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bin, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find the relais binary: %w", err)
			}
			o := f.options(cmd)
			o.Binary, o.Version, o.Progress, o.ProfileDir = bin, versionString(), cmd.ErrOrStderr(), f.out
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, err := loadbench.Run(ctx, o)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), rep.Markdown())
			if f.out == "" {
				return nil
			}
			if err := rep.WriteFiles(f.out); err != nil {
				return fmt.Errorf("write the report: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "report written to %s/report.md and %s/report.json\n", f.out, f.out)
			return nil
		},
	}
	f.register(cmd)
	cmd.AddCommand(serveBaselineCmd())
	return cmd
}

func (f *benchFlags) register(cmd *cobra.Command) {
	d := loadbench.DefaultOptions()
	fl := cmd.Flags()
	fl.StringVar(&f.out, "out", "bench-results", "directory for report.md and report.json (empty: print only)")
	fl.IntVar(&f.rounds, "rounds", d.Rounds, "rounds; the report gives medians over them")
	fl.DurationVar(&f.duration, "duration", d.Duration, "measured time of each path at each rate")
	fl.DurationVar(&f.warmup, "warmup", d.Warmup, "unmeasured warm-up before each measurement")
	fl.IntSliceVar(&f.rates, "rates", d.Rates, "constant rates of the fixed scenario, requests per second")
	fl.StringSliceVar(&f.scenarios, "scenarios", d.Scenarios, "scenarios to run: fixed, max, stream, failing, streams-scale, soak")
	fl.IntVar(&f.streams, "streams", d.ScaleStreams, "streams held open at once in streams-scale")
	fl.DurationVar(&f.streamsHold, "streams-hold", d.ScaleHold, "how long each streams-scale stream lasts (one token a second)")
	fl.DurationVar(&f.soakDuration, "soak-duration", d.SoakDuration, "length of the soak scenario")
	fl.BoolVar(&f.quick, "quick", false, "a smoke run of every scenario in seconds (tiny rates and durations; flags given explicitly still apply)")
	fl.BoolVar(&f.pin, "pin", d.Pin, "pin the gateway and the harness to separate CPUs")
}

// options starts from the default or the quick run and applies the flags
// that were given.
func (f *benchFlags) options(cmd *cobra.Command) loadbench.Options {
	o := loadbench.DefaultOptions()
	if f.quick {
		o = loadbench.QuickOptions()
	}
	set := map[string]func(){
		"rounds":        func() { o.Rounds = f.rounds },
		"duration":      func() { o.Duration = f.duration },
		"warmup":        func() { o.Warmup = f.warmup },
		"rates":         func() { o.Rates = f.rates },
		"scenarios":     func() { o.Scenarios = f.scenarios },
		"streams":       func() { o.ScaleStreams = f.streams },
		"streams-hold":  func() { o.ScaleHold = f.streamsHold },
		"soak-duration": func() { o.SoakDuration = f.soakDuration },
		"pin":           func() { o.Pin = f.pin },
	}
	for name, apply := range set {
		if cmd.Flags().Changed(name) {
			apply()
		}
	}
	return o
}

// serveBaselineCmd runs the baseline proxy as a child of `relais bench`.
func serveBaselineCmd() *cobra.Command {
	var o loadbench.BaselineOptions
	cmd := &cobra.Command{
		Use:    "serve-baseline",
		Short:  "Run the benchmark's baseline: a plain httputil.ReverseProxy",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Logger = slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
			return loadbench.ServeBaseline(ctx, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Listen, "listen", "127.0.0.1:0", "proxy address")
	fl.StringVar(&o.AdminListen, "admin-listen", "127.0.0.1:0", "address of /metrics (go_goroutines)")
	fl.StringVar(&o.Upstream, "upstream", "", "base URL of the upstream, such as http://127.0.0.1:8081")
	fl.StringVar(&o.UpstreamKey, "upstream-key", "", "key sent upstream as Authorization: Bearer")
	_ = cmd.MarkFlagRequired("upstream")
	return cmd
}
