package demo

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/relais/relais/internal/clock"
)

func TestNarrator(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := clock.NewFake(start)
	var logs logBuffer
	script := Timeline()
	n := &Narrator{
		Script: script, Start: start, Clock: clk, Poll: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()

	wait := func(count int) []string {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if l := logs.lines(); len(l) >= count && l[0] != "" {
				return l
			}
		}
		t.Fatalf("want %d lines, got %q", count, logs.lines())
		return nil
	}
	want := func(line string, cycle time.Duration, i int) {
		t.Helper()
		p := script.Phases[i]
		for _, part := range []string{
			"level=" + strings.ToUpper(p.Level.String()),
			fmt.Sprintf("msg=%q", "demo: "+p.Narration),
			fmt.Sprintf("phase=%d/%d", i+1, len(script.Phases)),
			"name=" + p.Name,
			"until=" + start.Add(cycle+p.To).Format(time.TimeOnly),
		} {
			if !strings.Contains(line, part) {
				t.Errorf("line %q: want %s", line, part)
			}
		}
	}

	want(wait(1)[0], 0, 0)
	for i, p := range script.Phases[1:] {
		clk.Set(start.Add(p.From + time.Second))
		lines := wait(i + 2)
		want(lines[i+1], 0, i+1)
	}
	// The next cycle is told again from its first phase.
	clk.Set(start.Add(script.Cycle() + 5*time.Second))
	want(wait(len(script.Phases) + 1)[len(script.Phases)], script.Cycle(), 0)

	// A phase is told once, however often the clock is read.
	time.Sleep(20 * time.Millisecond)
	if got := len(logs.lines()); got != len(script.Phases)+1 {
		t.Errorf("%d lines after the clock stood still, want %d", got, len(script.Phases)+1)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestNarratorBeforeStart(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var logs logBuffer
	n := &Narrator{
		Script: Timeline(), Start: start, Clock: clock.NewFake(start.Add(-time.Minute)), Poll: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := n.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if l := logs.lines(); l[0] != "" {
		t.Errorf("narrated before the start: %q", l)
	}
}
