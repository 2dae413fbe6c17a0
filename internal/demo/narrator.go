package demo

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/relais/relais/internal/clock"
)

// Narrator logs one line each time the script moves to another phase, so
// that someone watching `relais demo` knows what should happen next.
type Narrator struct {
	Script Script
	// Start is the origin of the sims' schedules (sim.Server.Start), so that
	// the narration and the faults change together.
	Start  time.Time
	Clock  clock.Clock
	Logger *slog.Logger
	// Poll is how often the clock is read, in real time; the clock has no
	// timers of its own. Default 1s.
	Poll time.Duration
}

// Run narrates until ctx ends.
func (n *Narrator) Run(ctx context.Context) error {
	tick := time.NewTicker(cmp.Or(n.Poll, time.Second))
	defer tick.Stop()
	last := -1
	for {
		last = n.tell(ctx, last)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// tell logs the phase in force if it is not the one told last; a step
// counts phases since the start, so each cycle's phases are told again.
func (n *Narrator) tell(ctx context.Context, last int) int {
	cycle := n.Script.Cycle()
	elapsed := n.Clock.Now().Sub(n.Start)
	if cycle <= 0 || elapsed < 0 {
		return last
	}
	round := int(elapsed / cycle)
	i, p := n.Script.At(elapsed)
	step := round*len(n.Script.Phases) + i
	if step == last {
		return last
	}
	until := n.Start.Add(time.Duration(round)*cycle + p.To)
	n.Logger.Log(ctx, p.Level, "demo: "+p.Narration,
		"phase", fmt.Sprintf("%d/%d", i+1, len(n.Script.Phases)),
		"name", p.Name,
		"until", until.Format(time.TimeOnly))
	return step
}
