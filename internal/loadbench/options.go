package loadbench

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Scenarios, in the order they run.
const (
	ScenarioFixed   = "fixed"         // constant rates through direct, baseline and relais
	ScenarioMax     = "max"           // the most requests per second one core serves
	ScenarioStream  = "stream"        // time to first and last token of streams
	ScenarioFailing = "failing"       // one of relais's two targets answers 503 to everything
	ScenarioScale   = "streams-scale" // thousands of long streams held open at once
	ScenarioSoak    = "soak"          // a long constant rate, for heap growth (not run by default)
)

var allScenarios = []string{ScenarioFixed, ScenarioMax, ScenarioStream, ScenarioFailing, ScenarioScale, ScenarioSoak}

// DefaultScenarios are the scenarios run when none are named: all but the soak.
func DefaultScenarios() []string {
	return []string{ScenarioFixed, ScenarioMax, ScenarioStream, ScenarioFailing, ScenarioScale}
}

// Options tune a benchmark run. DefaultOptions is the full run of issue 3,
// QuickOptions a smoke run of a few seconds.
type Options struct {
	// Binary is the relais executable the gateways run from: `relais serve`
	// for relais and `relais bench serve-baseline` for the baseline.
	Binary string
	// Version names the relais under test in the report.
	Version string
	// Rounds is how many times each measurement repeats, paths in rotating
	// order; the report gives medians over rounds.
	Rounds int
	// Warmup runs before every measurement and is not measured.
	Warmup time.Duration
	// Duration is the measured time of one path at one rate.
	Duration time.Duration
	// Rates are the constant rates of the fixed scenario, in requests per second.
	Rates []int
	// Scenarios to run (Scenario* names); they run in their canonical order.
	Scenarios []string

	// MaxWorkers are the worker counts tried for maximum throughput; the best counts.
	MaxWorkers []int

	// StreamConcurrency streams run at once in the stream scenario, each of
	// StreamChunks content chunks StreamGap apart.
	StreamConcurrency int
	StreamChunks      int
	StreamGap         time.Duration

	// FailingRate is the rate of the failing scenario.
	FailingRate int

	// ScaleStreams streams are held open at once through one gateway, the
	// upstream sending a token every ScaleGap for ScaleHold; they open at
	// ScaleRamp streams per second.
	ScaleStreams int
	ScaleHold    time.Duration
	ScaleGap     time.Duration
	ScaleRamp    int

	// SoakRate requests per second run for SoakDuration in the soak scenario.
	SoakRate     int
	SoakDuration time.Duration

	// Pin puts the gateway on one CPU and the harness on another (it needs two).
	Pin bool
	// Progress receives one line per measurement; nil discards them.
	Progress io.Writer
	// ProfileDir, when set, receives pprof profiles of relais under load: CPU
	// during its first max-throughput measurement, heap and goroutines while
	// the streams-scale streams are open.
	ProfileDir string
}

// DefaultOptions is the benchmark issue 3 asks for.
func DefaultOptions() Options {
	return Options{
		Rounds:            3,
		Warmup:            time.Second,
		Duration:          5 * time.Second,
		Rates:             []int{500, 1000, 3000},
		Scenarios:         DefaultScenarios(),
		MaxWorkers:        []int{64, 256},
		StreamConcurrency: 50,
		StreamChunks:      10,
		StreamGap:         20 * time.Millisecond,
		FailingRate:       1000,
		ScaleStreams:      8000,
		ScaleHold:         30 * time.Second,
		ScaleGap:          time.Second,
		ScaleRamp:         2000,
		SoakRate:          1000,
		SoakDuration:      10 * time.Minute,
		Pin:               true,
	}
}

// QuickOptions is a smoke run of every scenario in a few seconds: it proves
// the harness works, not how fast relais is.
func QuickOptions() Options {
	o := DefaultOptions()
	o.Rounds = 1
	o.Warmup = 100 * time.Millisecond
	o.Duration = 300 * time.Millisecond
	o.Rates = []int{100}
	o.MaxWorkers = []int{8}
	o.StreamConcurrency = 5
	o.StreamChunks = 3
	o.StreamGap = 10 * time.Millisecond
	o.FailingRate = 100
	o.ScaleStreams = 50
	o.ScaleHold = time.Second
	o.ScaleGap = 200 * time.Millisecond
	o.ScaleRamp = 1000
	o.SoakRate = 100
	o.SoakDuration = time.Second
	return o
}

func (o *Options) validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(o.Binary != "", "the relais binary is required")
	check(o.Rounds >= 1, "rounds must be at least 1")
	check(o.Warmup >= 0, "warm-up must not be negative")
	check(o.Duration > 0, "duration must be positive")
	check(len(o.Rates) > 0, "at least one rate is required")
	for _, r := range o.Rates {
		check(r > 0, "rate %d: must be positive", r)
	}
	check(len(o.MaxWorkers) > 0, "at least one worker count is required for the max scenario")
	for _, w := range o.MaxWorkers {
		check(w > 0, "max workers %d: must be positive", w)
	}
	for _, s := range o.Scenarios {
		check(slices.Contains(allScenarios, s), "unknown scenario %q (want %s)", s, strings.Join(allScenarios, ", "))
	}
	check(o.StreamConcurrency > 0 && o.StreamChunks > 0 && o.StreamGap >= 0, "stream: concurrency and chunks must be positive")
	check(o.FailingRate > 0, "failing rate must be positive")
	check(o.ScaleStreams > 0 && o.ScaleRamp > 0, "streams-scale: streams and ramp must be positive")
	check(o.ScaleGap > 0 && o.ScaleHold >= o.ScaleGap, "streams-scale: the hold must last at least one token gap")
	check(o.SoakRate > 0 && o.SoakDuration > 0, "soak: rate and duration must be positive")
	return errors.Join(errs...)
}

func (o *Options) runs(scenario string) bool { return slices.Contains(o.Scenarios, scenario) }
