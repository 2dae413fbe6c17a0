package health_test

import (
	"testing"

	"github.com/relais/relais/internal/health"
)

// TestOutcomes pins every outcome's name and whether it counts against a
// target. The names are a contract with rollups, metrics and detection: a
// new outcome must be added here, with a deliberate answer for Failed.
func TestOutcomes(t *testing.T) {
	t.Parallel()
	want := []struct {
		outcome health.Outcome
		name    string
		failed  bool
	}{
		{health.OK, "ok", false},
		{health.ConnError, "conn_error", true},
		{health.TimeoutHeader, "timeout_header", true},
		{health.TimeoutFirstToken, "timeout_first_token", true},
		{health.TimeoutIdle, "timeout_idle", true},
		{health.HTTP429, "http_429", true},
		{health.HTTP5xx, "http_5xx", true},
		{health.HTTP4xx, "http_4xx", false},
		{health.InbandError, "inband_error", true},
		{health.EmptyOutput, "empty_output", true},
		{health.Truncated, "truncated", true},
		{health.ClientCanceled, "client_canceled", false},
		{health.TimeoutAttempt, "timeout_attempt", true},
		{health.CheckFailed, "check_failed", true},
	}
	all := health.Outcomes()
	if len(all) != len(want) {
		t.Fatalf("Outcomes() has %d outcomes, this table %d: add the new one here", len(all), len(want))
	}
	seen := map[string]health.Outcome{}
	for i, o := range all {
		name := o.String()
		if name == "" || name == "unknown" {
			t.Errorf("outcome %d has no name (%q)", o, name)
		}
		if prev, dup := seen[name]; dup {
			t.Errorf("outcomes %d and %d share the name %q", prev, o, name)
		}
		seen[name] = o
		if w := want[i]; o != w.outcome || name != w.name || o.Failed() != w.failed {
			t.Errorf("Outcomes()[%d] = %d %q failed=%v, want %d %q failed=%v", i, o, name, o.Failed(), w.outcome, w.name, w.failed)
		}
	}
	if got := health.Outcome(len(all)).String(); got != "unknown" {
		t.Errorf("an outcome past the last reads %q, want unknown", got)
	}
}
