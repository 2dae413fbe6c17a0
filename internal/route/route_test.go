package route

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/config"
)

func testRouter(t *testing.T) *Router {
	t.Helper()
	cfg := &config.Config{
		Providers: []config.Provider{{Name: "a", Type: "openai"}, {Name: "b", Type: "openai", Passthrough: true}},
		Routes: []config.Route{
			{Model: "chat", Strategy: "priority", Targets: []config.Target{
				{Provider: "a", Model: "big", Weight: 1, Capabilities: []string{"tools", "vision"}, MaxContext: 1000},
				{Provider: "b", Model: "small", Weight: 1, Capabilities: []string{"tools"}},
				{Provider: "b", Model: "any", Weight: 1},
			}},
			{Model: "split", Strategy: "weighted", Targets: []config.Target{
				{Provider: "a", Model: "big", Weight: 3},
				{Provider: "b", Model: "small", Weight: 1},
				{Provider: "b", Model: "never", Weight: 0},
			}},
		},
	}
	config.Defaults(cfg)
	cfg.Routes[1].Targets[2].Weight = 0 // Defaults cannot tell an intended 0 in a config built in code
	return NewRouter(cfg, nil, NewStates(clock.Real{}))
}

func names(ts []*Target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Provider + "/" + t.Model
	}
	return out
}

func TestOrderFiltersByNeedsAndDrains(t *testing.T) {
	t.Parallel()
	r := testRouter(t)
	chat, _ := r.Lookup("chat")
	var buf [MaxTargets]*Target
	tests := []struct {
		name  string
		needs Needs
		want  string
	}{
		{"plain", Needs{}, "[a/big b/small b/any]"},
		{"vision", Needs{Caps: Vision}, "[a/big b/any]"},
		{"tools and json schema", Needs{Caps: Tools | JSONSchema}, "[b/any]"},
		{"too long for big", Needs{Tokens: 5000}, "[b/small b/any]"},
	}
	for _, tt := range tests {
		if got := names(chat.Order(buf[:0], tt.needs)); fmtSlice(got) != tt.want {
			t.Errorf("%s: got %v, want %s", tt.name, got, tt.want)
		}
	}
	chat.Targets[0].SetDisabled(true)
	if got := names(chat.Order(buf[:0], Needs{})); fmtSlice(got) != "[b/small b/any]" {
		t.Errorf("drained target still ordered: %v", got)
	}
	// Drains are per provider model, so every route using it sees the drain.
	split, _ := r.Lookup("split")
	for range 50 {
		for _, n := range names(split.Order(buf[:0], Needs{})) {
			if n == "a/big" {
				t.Fatal("drained a/big ordered in another route")
			}
		}
	}
}

func fmtSlice(s []string) string {
	out := "["
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out + "]"
}

func TestWeightedFollowsWeights(t *testing.T) {
	t.Parallel()
	r := testRouter(t)
	split, _ := r.Lookup("split")
	var buf [MaxTargets]*Target
	first := map[string]int{}
	const n = 4000
	for range n {
		o := split.Order(buf[:0], Needs{})
		first[o[0].Provider+"/"+o[0].Model]++
		if last := o[len(o)-1]; last.Model != "never" {
			t.Fatalf("a weight-0 target must come last, got order %v", names(o))
		}
	}
	share := float64(first["a/big"]) / n
	if share < 0.68 || share > 0.82 {
		t.Errorf("weight 3:1 gave a/big first %.2f of the time, want about 0.75", share)
	}
}

func TestLookupPassthrough(t *testing.T) {
	t.Parallel()
	r := testRouter(t)
	if _, ok := r.Lookup("a/whatever"); ok {
		t.Error("provider a has no passthrough, yet a/whatever resolved")
	}
	rt, ok := r.Lookup("b/llama3.1:8b")
	if !ok || len(rt.Targets) != 1 || rt.Targets[0].Model != "llama3.1:8b" || rt.Targets[0].Provider != "b" {
		t.Fatalf("passthrough route = %+v, %v", rt, ok)
	}
	again, _ := r.Lookup("b/llama3.1:8b")
	if again.Targets[0].Breaker != rt.Targets[0].Breaker {
		t.Error("the same passthrough model must keep one breaker")
	}
	if _, ok := r.Lookup("b/"); ok {
		t.Error("empty passthrough model resolved")
	}
	if _, ok := r.Lookup("nope"); ok {
		t.Error("unknown model resolved")
	}
}

func TestStatesSurviveRebuild(t *testing.T) {
	t.Parallel()
	r := testRouter(t)
	chat, _ := r.Lookup("chat")
	chat.Targets[1].Breaker.Cooldown(Normal, 0)
	chat.Targets[2].SetDisabled(true)
	cfg := &config.Config{
		Providers: []config.Provider{{Name: "b", Type: "openai"}},
		Routes:    []config.Route{{Model: "other", Targets: []config.Target{{Provider: "b", Model: "small"}, {Provider: "b", Model: "any"}}}},
	}
	config.Defaults(cfg)
	r2 := NewRouter(cfg, nil, r.states)
	other, _ := r2.Lookup("other")
	if other.Targets[0].Breaker.State() != Open {
		t.Error("breaker state lost across a rebuild")
	}
	if !other.Targets[1].Disabled() {
		t.Error("drain lost across a rebuild")
	}
}

// A target passive health finds down is skipped, but gets one trial
// request every DownTrialEvery, so it can earn its way back.
func TestDownTargetGetsTrials(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s := &TargetState{Provider: "p", Model: "m"}
	if !s.Admit(now) || !s.Admit(now) {
		t.Fatal("a healthy target refused")
	}
	s.SetDown(true, now)
	if s.Admit(now) || s.Admit(now.Add(DownTrialEvery-time.Millisecond)) {
		t.Fatal("a down target admitted before its trial was due")
	}
	at := now.Add(DownTrialEvery)
	if !s.Admit(at) {
		t.Fatal("trial refused when due")
	}
	if s.Admit(at) {
		t.Fatal("two trials in one period")
	}
	if !s.Admit(at.Add(DownTrialEvery)) {
		t.Fatal("next trial refused")
	}
	s.SetDown(false, at)
	if !s.Admit(at) || s.Down() {
		t.Fatal("a recovered target refused")
	}
}

// Concurrent requests share one trial.
func TestDownTrialIsOne(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s := &TargetState{}
	s.SetDown(true, now.Add(-DownTrialEvery))
	var admitted atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.Admit(now) {
				admitted.Add(1)
			}
		}()
	}
	wg.Wait()
	if admitted.Load() != 1 {
		t.Fatalf("%d trials admitted at once, want 1", admitted.Load())
	}
}
