package sim

import (
	"slices"
	"testing"
	"time"

	"github.com/relais/relais/internal/config"
)

func dur(d time.Duration) config.Duration { return config.Duration(d) }

func TestValidate(t *testing.T) {
	t.Parallel()
	period := func(from, to time.Duration, f Fault) Period {
		return Period{From: dur(from), To: dur(to), Fault: f}
	}
	tests := []struct {
		name string
		spec Spec
		want []string // problem paths
	}{
		{name: "zero value", spec: Spec{}},
		{name: "dialects", spec: Spec{Dialect: "openai"}},
		{name: "anthropic", spec: Spec{Dialect: "anthropic"}},
		{name: "unknown dialect", spec: Spec{Dialect: "claude"}, want: []string{"dialect"}},
		{name: "inband_error takes no status", spec: Spec{Schedule: Schedule{Periods: []Period{period(0, time.Second, Fault{Mode: InbandError, Status: 500})}}},
			want: []string{"schedule.periods[0].status"}},
		{name: "full", spec: Spec{
			Latency: dur(time.Second), TTFT: dur(2 * time.Second), TokensPerSecond: 40,
			Dialect: "anthropic", ErrorRate: 0.1, ErrorStatus: 500, Seed: 7, Models: []string{"a"},
			Schedule: Schedule{Cycle: dur(5 * time.Minute), Periods: []Period{
				period(0, time.Minute, Fault{Mode: Down, Status: 502}),
				period(time.Minute, 2*time.Minute, Fault{Mode: RateLimit, RetryAfter: dur(time.Second)}),
				period(2*time.Minute, 3*time.Minute, Fault{Mode: Slow, Latency: dur(time.Second)}),
				period(3*time.Minute, 4*time.Minute, Fault{Mode: Hang}),
				period(4*time.Minute, 5*time.Minute, Fault{Mode: InbandError}),
			}},
		}},
		{name: "negative durations and rates",
			spec: Spec{Latency: -1, TTFT: -1, TokensPerSecond: -1, ErrorRate: 1.5, ErrorStatus: 200},
			want: []string{"latency", "ttft", "tokens_per_second", "error_rate", "error_status"}},
		{name: "empty model name",
			spec: Spec{Models: []string{"a", ""}},
			want: []string{"models[1]"}},
		{name: "period bounds",
			spec: Spec{Schedule: Schedule{Cycle: dur(time.Minute), Periods: []Period{
				period(-time.Second, time.Second, Fault{Mode: Down}),
				period(2*time.Second, 2*time.Second, Fault{Mode: Down}),
				period(10*time.Second, 2*time.Minute, Fault{Mode: Down}),
			}}},
			want: []string{"schedule.periods[0].from", "schedule.periods[1].to", "schedule.periods[2].to"}},
		{name: "negative cycle",
			spec: Spec{Schedule: Schedule{Cycle: -1}},
			want: []string{"schedule.cycle"}},
		{name: "overlap",
			spec: Spec{Schedule: Schedule{Periods: []Period{
				period(0, time.Minute, Fault{Mode: Down}),
				period(30*time.Second, 2*time.Minute, Fault{Mode: Empty}),
			}}},
			want: []string{"schedule.periods[1].from"}},
		{name: "unknown mode",
			spec: Spec{Schedule: Schedule{Periods: []Period{period(0, time.Second, Fault{Mode: "broken"})}}},
			want: []string{"schedule.periods[0].mode"}},
		{name: "fields of other modes",
			spec: Spec{Schedule: Schedule{Periods: []Period{
				period(0, time.Second, Fault{Mode: Empty, Status: 503, RetryAfter: dur(time.Second), Latency: dur(time.Second)}),
			}}},
			want: []string{"schedule.periods[0].status", "schedule.periods[0].retry_after", "schedule.periods[0].latency"}},
		{name: "bad status, slow without latency",
			spec: Spec{Schedule: Schedule{Periods: []Period{
				period(0, time.Second, Fault{Mode: Down, Status: 302}),
				period(time.Second, 2*time.Second, Fault{Mode: Slow}),
			}}},
			want: []string{"schedule.periods[0].status", "schedule.periods[1].latency"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, p := range tt.spec.Validate() {
				got = append(got, p.Path)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("problem paths = %q, want %q (%v)", got, tt.want, tt.spec.Validate())
			}
		})
	}
}

func TestScheduleAt(t *testing.T) {
	t.Parallel()
	periods := []Period{
		{From: dur(10 * time.Second), To: dur(20 * time.Second), Fault: Fault{Mode: Down}},
		{From: dur(20 * time.Second), To: dur(30 * time.Second), Fault: Fault{Mode: Empty}},
	}
	repeating := Schedule{Cycle: dur(time.Minute), Periods: periods}
	once := Schedule{Periods: periods}
	tests := []struct {
		name    string
		s       Schedule
		elapsed time.Duration
		want    Mode // "" = no period
	}{
		{"before start", repeating, -15 * time.Second, ""},
		{"healthy", repeating, 5 * time.Second, ""},
		{"from is inclusive", repeating, 10 * time.Second, Down},
		{"to is exclusive", repeating, 20 * time.Second, Empty},
		{"after last", repeating, 45 * time.Second, ""},
		{"next cycle", repeating, time.Minute + 15*time.Second, Down},
		{"tenth cycle", repeating, 10*time.Minute + 25*time.Second, Empty},
		{"once", once, 15 * time.Second, Down},
		{"once, no repeat", once, time.Minute + 15*time.Second, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, ok := tt.s.at(tt.elapsed)
			if p.Mode != tt.want || ok != (tt.want != "") {
				t.Errorf("at(%s) = %q, %v; want %q", tt.elapsed, p.Mode, ok, tt.want)
			}
		})
	}
}

func TestWithDefaults(t *testing.T) {
	t.Parallel()
	s := Spec{Schedule: Schedule{Periods: []Period{
		{To: dur(time.Second), Fault: Fault{Mode: Down}},
		{From: dur(time.Second), To: dur(2 * time.Second), Fault: Fault{Mode: RateLimit}},
	}}}
	d := s.withDefaults()
	if d.ErrorStatus != 503 || !slices.Equal(d.Models, []string{"sim-chat", "sim-embed"}) {
		t.Errorf("defaults: error_status %d, models %v", d.ErrorStatus, d.Models)
	}
	if d.Schedule.Periods[0].Status != 503 || d.Schedule.Periods[1].RetryAfter.D() != time.Second {
		t.Errorf("period defaults: %+v", d.Schedule.Periods)
	}
	if s.Schedule.Periods[0].Status != 0 {
		t.Error("withDefaults changed the caller's spec")
	}
}
