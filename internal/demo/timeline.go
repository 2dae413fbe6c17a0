package demo

import (
	"log/slog"
	"time"

	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/provider/sim"
)

// The demo's providers and routes, named once for the config, the script and
// the traffic.
const (
	Primary  = "primary"
	Backup   = "backup"
	Embedder = "embedder"

	ChatRoute  = "chat"
	EmbedRoute = "embed"
)

// Phase is one stretch of the demo cycle and the faults played during it.
type Phase struct {
	// Name is a short stable id, e.g. "primary-down".
	Name string
	// From and To are offsets in the cycle: [From, To).
	From, To time.Duration
	// Level is how bad the phase is for the people watching the log.
	Level slog.Level
	// Narration says what to notice, in one line.
	Narration string
	// Faults maps a provider name to what it does wrong during the phase.
	Faults map[string]sim.Fault
}

// Script is the demo's story: contiguous phases from 0 to the cycle's end,
// repeating from the sims' start.
type Script struct {
	Phases []Phase
}

// Timeline returns the demo's script, about four minutes long: healthy;
// primary down while backup serves (users see nothing); primary rate limited
// while embeddings slow down; every chat target failing (users are hurt);
// recovery.
func Timeline() Script {
	down := func(status int) sim.Fault { return sim.Fault{Mode: sim.Down, Status: status} }
	return Script{Phases: []Phase{
		{
			Name: "healthy", From: 0, To: 60 * time.Second, Level: slog.LevelInfo,
			Narration: "all providers are healthy; primary serves chat",
		},
		{
			Name: "primary-down", From: 60 * time.Second, To: 90 * time.Second, Level: slog.LevelWarn,
			Narration: "primary is down (503); backup serves chat, users see nothing",
			Faults:    map[string]sim.Fault{Primary: down(503)},
		},
		{
			Name: "primary-rate-limited", From: 90 * time.Second, To: 120 * time.Second, Level: slog.LevelWarn,
			Narration: "primary is rate limited (429, Retry-After 10s) and embeddings are slow; backup serves chat, users only wait a little longer for embeddings",
			Faults: map[string]sim.Fault{
				Primary:  {Mode: sim.RateLimit, RetryAfter: config.Duration(10 * time.Second)},
				Embedder: {Mode: sim.Slow, Latency: config.Duration(time.Second)},
			},
		},
		{
			Name: "chat-outage", From: 120 * time.Second, To: 150 * time.Second, Level: slog.LevelError,
			Narration: "every chat provider fails (primary 503, backup 500); chat users get errors",
			Faults:    map[string]sim.Fault{Primary: down(503), Backup: down(500)},
		},
		{
			Name: "recovered", From: 150 * time.Second, To: 240 * time.Second, Level: slog.LevelInfo,
			Narration: "all providers have recovered; primary serves chat again once its breaker closes",
		},
	}}
}

// Cycle is the length of one run of the script.
func (s Script) Cycle() time.Duration {
	if len(s.Phases) == 0 {
		return 0
	}
	return s.Phases[len(s.Phases)-1].To
}

// At returns the phase in force at elapsed since the start, and its index.
func (s Script) At(elapsed time.Duration) (int, Phase) {
	cycle := s.Cycle()
	if cycle <= 0 {
		return 0, Phase{}
	}
	elapsed %= cycle
	if elapsed < 0 {
		elapsed += cycle
	}
	for i, p := range s.Phases {
		if elapsed < p.To {
			return i, p
		}
	}
	return len(s.Phases) - 1, s.Phases[len(s.Phases)-1]
}

// Schedule is the sim schedule that plays provider's part of the script:
// one period per phase in which it has a fault.
func (s Script) Schedule(provider string) sim.Schedule {
	sc := sim.Schedule{Cycle: config.Duration(s.Cycle())}
	for _, p := range s.Phases {
		if f, ok := p.Faults[provider]; ok {
			sc.Periods = append(sc.Periods, sim.Period{From: config.Duration(p.From), To: config.Duration(p.To), Fault: f})
		}
	}
	return sc
}
