package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/relais/relais/internal/config"
)

// Spec is the `type: sim` provider's own options.
type Spec struct {
	// Dialect is the API the sim speaks: openai (default: /chat/completions,
	// /embeddings, /models) or anthropic (/v1/messages, /v1/models, errors
	// and streams in Anthropic's shape).
	Dialect string `yaml:"dialect"`
	// Latency is the time until the response headers. A non-streaming answer
	// arrives when the same answer streamed would have ended (see TTFT and
	// TokensPerSecond), so both kinds of call take as long for the same work.
	Latency config.Duration `yaml:"latency"`
	// TTFT is the time from the request to the first content token of a
	// stream; it is never earlier than Latency.
	TTFT config.Duration `yaml:"ttft"`
	// TokensPerSecond paces the tokens after the first (one token is one word
	// of the simulated text). 0 sends them all at once.
	TokensPerSecond float64 `yaml:"tokens_per_second"`
	// ErrorRate is the probability (0..1) that a request outside the schedule's
	// periods gets an ErrorStatus answer.
	ErrorRate float64 `yaml:"error_rate"`
	// ErrorStatus is the status of those random errors; default 503.
	ErrorStatus int `yaml:"error_status"`
	// Seed makes the text, the embeddings and the random errors repeatable.
	Seed int64 `yaml:"seed"`
	// Models are listed at /models; default sim-chat and sim-embed (anthropic:
	// sim-chat). Any model name is served, listed or not.
	Models   []string `yaml:"models"`
	Schedule Schedule `yaml:"schedule"`
}

// Schedule is a list of bad periods that repeats every Cycle, measured from
// the server's start. A zero Cycle plays the periods once.
type Schedule struct {
	Cycle   config.Duration `yaml:"cycle"`
	Periods []Period        `yaml:"periods"`
}

// Period is one fault over [From, To) of the cycle.
type Period struct {
	From  config.Duration `yaml:"from"`
	To    config.Duration `yaml:"to"`
	Fault `yaml:",inline"`
}

// Fault is how the server misbehaves during a period.
type Fault struct {
	Mode Mode `yaml:"mode"`
	// Status is what mode down answers; default 503.
	Status int `yaml:"status,omitempty"`
	// RetryAfter is what mode rate_limit announces; default 1s.
	RetryAfter config.Duration `yaml:"retry_after,omitempty"`
	// Latency is what mode slow adds before anything is sent.
	Latency config.Duration `yaml:"latency,omitempty"`
}

// Mode names a fault.
type Mode string

const (
	// Down answers Status with an error body in the dialect's shape.
	Down Mode = "down"
	// RateLimit answers 429 with Retry-After and the dialect's rate limit
	// headers (x-ratelimit-*, anthropic-ratelimit-*).
	RateLimit Mode = "rate_limit"
	// Slow adds Latency before the answer.
	Slow Mode = "slow"
	// CutStream sends the first content chunk of a stream, then drops the
	// connection; other calls lose the connection without an answer.
	CutStream Mode = "cut_stream"
	// Hang never answers; the request ends only when the client gives up.
	Hang Mode = "hang"
	// Empty answers 200 with no content.
	Empty Mode = "empty"
	// InbandError answers a stream 200, then sends an error event before any
	// content, as an overloaded provider does mid-stream; other calls get
	// what mode down answers with status 500.
	InbandError Mode = "inband_error"
)

var modes = []Mode{Down, RateLimit, Slow, CutStream, Hang, Empty, InbandError}

// The dialects the sim speaks.
const (
	dialectOpenAI    = "openai"
	dialectAnthropic = "anthropic"
)

func modeNames() string {
	names := make([]string, len(modes))
	for i, m := range modes {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}

const (
	defaultErrorStatus = 503
	defaultRetryAfter  = time.Second
)

func defaultModels(dialect string) []string {
	if dialect == dialectAnthropic {
		// Anthropic has no embeddings.
		return []string{"sim-chat"}
	}
	return []string{"sim-chat", "sim-embed"}
}

var _ config.ProviderSpec = (*Spec)(nil)

// Validate returns every problem, with paths relative to the provider entry.
func (s *Spec) Validate() []config.Problem {
	var ps []config.Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, config.Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if s.Dialect != "" && s.Dialect != dialectOpenAI && s.Dialect != dialectAnthropic {
		add("dialect", "unknown dialect %q (want %s or %s)", s.Dialect, dialectOpenAI, dialectAnthropic)
	}
	if s.Latency < 0 {
		add("latency", "must not be negative")
	}
	if s.TTFT < 0 {
		add("ttft", "must not be negative")
	}
	if s.TokensPerSecond < 0 {
		add("tokens_per_second", "must not be negative")
	}
	if s.ErrorRate < 0 || s.ErrorRate > 1 {
		add("error_rate", "must be between 0 and 1, got %v", s.ErrorRate)
	}
	if s.ErrorStatus != 0 && (s.ErrorStatus < 400 || s.ErrorStatus > 599) {
		add("error_status", "must be an HTTP error status (400-599), got %d", s.ErrorStatus)
	}
	for i, m := range s.Models {
		if m == "" {
			add(fmt.Sprintf("models[%d]", i), "must not be empty")
		}
	}
	cycle := s.Schedule.Cycle
	if cycle < 0 {
		add("schedule.cycle", "must not be negative")
	}
	for i, p := range s.Schedule.Periods {
		at := func(field string) string { return fmt.Sprintf("schedule.periods[%d].%s", i, field) }
		switch {
		case p.From < 0:
			add(at("from"), "must not be negative")
		case p.To <= p.From:
			add(at("to"), "must be after from (%s)", p.From)
		case cycle > 0 && p.To > cycle:
			add(at("to"), "must not be after the cycle (%s)", cycle)
		}
		for j, q := range s.Schedule.Periods[:i] {
			if p.From < q.To && q.From < p.To {
				add(at("from"), "overlaps periods[%d]", j)
			}
		}
		if !slices.Contains(modes, p.Mode) {
			add(at("mode"), "unknown mode %q (want one of: %s)", p.Mode, modeNames())
		}
		if p.Status != 0 {
			if p.Mode != Down {
				add(at("status"), "applies only to mode down")
			} else if p.Status < 400 || p.Status > 599 {
				add(at("status"), "must be an HTTP error status (400-599), got %d", p.Status)
			}
		}
		if p.RetryAfter != 0 && p.Mode != RateLimit {
			add(at("retry_after"), "applies only to mode rate_limit")
		} else if p.RetryAfter < 0 {
			add(at("retry_after"), "must not be negative")
		}
		if p.Mode == Slow && p.Latency <= 0 {
			add(at("latency"), "is required for mode slow (for example 2s)")
		} else if p.Latency != 0 && p.Mode != Slow {
			add(at("latency"), "applies only to mode slow")
		}
	}
	return ps
}

// withDefaults returns a copy with every default filled in, sharing nothing
// with s.
func (s *Spec) withDefaults() Spec {
	c := *s
	if c.Dialect == "" {
		c.Dialect = dialectOpenAI
	}
	if c.ErrorStatus == 0 {
		c.ErrorStatus = defaultErrorStatus
	}
	if len(c.Models) == 0 {
		c.Models = defaultModels(c.Dialect)
	} else {
		c.Models = slices.Clone(c.Models)
	}
	c.Schedule.Periods = slices.Clone(c.Schedule.Periods)
	for i := range c.Schedule.Periods {
		p := &c.Schedule.Periods[i]
		if p.Mode == Down && p.Status == 0 {
			p.Status = defaultErrorStatus
		}
		if p.Mode == RateLimit && p.RetryAfter == 0 {
			p.RetryAfter = config.Duration(defaultRetryAfter)
		}
	}
	return c
}

// at returns the period in force at elapsed time since the start.
func (s *Schedule) at(elapsed time.Duration) (Period, bool) {
	if elapsed < 0 {
		return Period{}, false
	}
	if s.Cycle > 0 {
		elapsed %= s.Cycle.D()
	}
	for _, p := range s.Periods {
		if p.From.D() <= elapsed && elapsed < p.To.D() {
			return p, true
		}
	}
	return Period{}, false
}
