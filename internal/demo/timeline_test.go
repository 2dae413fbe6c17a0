package demo

import (
	"slices"
	"testing"
	"time"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/provider/sim"
)

func TestTimelineInvariants(t *testing.T) {
	t.Parallel()
	s := Timeline()
	if len(s.Phases) < 4 {
		t.Fatalf("%d phases, want at least 4", len(s.Phases))
	}
	if c := s.Cycle(); c < 3*time.Minute || c > 5*time.Minute {
		t.Errorf("cycle %s, want about 4m", c)
	}
	var names []string
	for i, p := range s.Phases {
		if want := time.Duration(0); i > 0 {
			want = s.Phases[i-1].To
			if p.From != want {
				t.Errorf("phase %d (%s) starts at %s, want %s: phases must be contiguous", i, p.Name, p.From, want)
			}
		} else if p.From != want {
			t.Errorf("the first phase starts at %s, want 0", p.From)
		}
		if p.To <= p.From || p.Name == "" || p.Narration == "" || slices.Contains(names, p.Name) {
			t.Errorf("phase %d: %+v", i, p)
		}
		names = append(names, p.Name)
		for name := range p.Faults {
			if !slices.Contains([]string{Primary, Backup, Embedder}, name) {
				t.Errorf("phase %s: fault for %q, not a demo provider", p.Name, name)
			}
		}
	}
	first, last := s.Phases[0], s.Phases[len(s.Phases)-1]
	if len(first.Faults) != 0 || len(last.Faults) != 0 {
		t.Error("the cycle must start healthy and end recovered")
	}
	// The story needs a phase where failover hides a fault and one where it
	// cannot: every chat target fails.
	var hidden, outage bool
	for _, p := range s.Phases {
		_, primary := p.Faults[Primary]
		_, backup := p.Faults[Backup]
		hidden = hidden || primary && !backup
		outage = outage || primary && backup
	}
	if !hidden || !outage {
		t.Errorf("failover hides a fault: %v; every chat target fails: %v", hidden, outage)
	}
}

func TestScriptAt(t *testing.T) {
	t.Parallel()
	s := Timeline()
	cycle := s.Cycle()
	tests := []struct {
		elapsed time.Duration
		want    string
	}{
		{0, "healthy"},
		{59 * time.Second, "healthy"},
		{60 * time.Second, "primary-down"},
		{2*time.Minute + 10*time.Second, "chat-outage"},
		{cycle - time.Nanosecond, "recovered"},
		{cycle, "healthy"},
		{3*cycle + 61*time.Second, "primary-down"},
		{-time.Second, "recovered"},
	}
	for _, tt := range tests {
		if i, p := s.At(tt.elapsed); p.Name != tt.want || s.Phases[i].Name != tt.want {
			t.Errorf("At(%s) = %d %q, want %q", tt.elapsed, i, p.Name, tt.want)
		}
	}
}

// TestScheduleFollowsScript runs each provider's derived schedule in a sim
// server and checks, second by second over two cycles, that the server's
// fault is the script's.
func TestScheduleFollowsScript(t *testing.T) {
	t.Parallel()
	s := Timeline()
	for _, name := range []string{Primary, Backup, Embedder} {
		spec := &sim.Spec{Schedule: s.Schedule(name)}
		if ps := spec.Validate(); len(ps) > 0 {
			t.Errorf("%s: derived schedule is invalid: %v", name, ps)
			continue
		}
		start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		srv := sim.NewServer(spec, clock.NewFake(start))
		for at := time.Duration(0); at < 2*s.Cycle(); at += time.Second {
			_, phase := s.At(at)
			want, faulty := phase.Faults[name]
			got, in := srv.Mode(start.Add(at))
			if in != faulty || got.Fault != want {
				t.Errorf("%s at %s (%s): sim plays %+v (%v), script says %+v (%v)", name, at, phase.Name, got.Fault, in, want, faulty)
				break
			}
		}
	}
}
