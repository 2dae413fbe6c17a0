package detect

import (
	"fmt"
	"math"
	"time"

	"github.com/relais/relais/internal/event"
)

// The events carry their severity in a field named Level: the name
// Severity belongs to the event.Event method. A resolution keeps the Level
// its condition fired with, so a consumer that filters on severity (an
// alert rule for warnings and worse) also sees the resolution of what it
// took in.
//
// Every condition has a stable identity, Condition(): the key a consumer
// uses to match a resolution to its firing. A condition is published when it
// fires, again only when its severity rises, and once when it resolves.

// Signals judged for anomalies and trends, per target. The names are part of
// the contract with alert rules: never rename one.
const (
	SignalErrorRatio   = "error_ratio"                // failed attempts / attempts, empty and truncated answers aside
	SignalLatencyP95   = "latency_p95"                // seconds
	SignalTTFTP95      = "ttft_p95"                   // seconds
	SignalOutputTokens = "output_tokens_per_response" //nolint:gosec // a signal's name, not a credential; output tokens per answered attempt
	SignalEmptyRate    = "empty_output_rate"          // (empty_output + truncated) / attempts
)

// Signals of quota forecasts.
const (
	SignalRequests = "requests"
	SignalTokens   = "tokens"
	// SignalExpiry is the certificate forecasts' signal.
	SignalExpiry = "expiry"
)

// Kinds of Forecast.
const (
	ForecastTrend       = "trend"
	ForecastQuota       = "quota"
	ForecastCertificate = "certificate"
)

// Objectives of an SLO.
const (
	ObjectiveAvailability = "availability"
	ObjectiveLatency      = "latency"
)

// AnomalyDetected says that a target's signal left its robust baseline
// (Resolved false), or came back to it (Resolved true).
type AnomalyDetected struct {
	Subject event.Subject // a target: "provider/model"
	Signal  string        // one of the Signal* constants
	// Value is the signal in the minute that decided (ratios as fractions,
	// latencies in seconds); Baseline and MAD the median and the median
	// absolute deviation of the baseline minutes.
	Value, Baseline, MAD float64
	// Deviation is (Value-Baseline) in robust standard deviations
	// (1.4826·MAD): how many "sigmas". Zero when MAD is zero (a flat
	// baseline), where Ratio says more.
	Deviation float64
	// Ratio is Value/Baseline; zero when Baseline is zero.
	Ratio float64
	// Since is the start of the first anomalous minute.
	Since time.Time
	// At is the end of the minute that decided.
	At       time.Time
	Level    event.Severity
	Resolved bool
	// Stale is set on a resolution decided by the lack of traffic to judge
	// rather than by a normal minute.
	Stale bool
	Text  string
}

var _ event.Event = AnomalyDetected{}

func (ev AnomalyDetected) Type() string             { return "anomaly" }
func (ev AnomalyDetected) About() event.Subject     { return ev.Subject }
func (ev AnomalyDetected) Severity() event.Severity { return ev.Level }
func (ev AnomalyDetected) When() time.Time          { return ev.At }
func (ev AnomalyDetected) Summary() string          { return ev.Text }
func (ev AnomalyDetected) Condition() string {
	return "anomaly/" + ev.Subject.String() + "/" + ev.Signal
}

// BudgetBurn says that a route spends its error budget too fast over both
// windows of a multi-window alert (Resolved false), or no longer does.
type BudgetBurn struct {
	Route     string
	Objective string  // ObjectiveAvailability or ObjectiveLatency
	Target    float64 // the objective, e.g. 0.999
	// LatencyThreshold is the latency objective's threshold; zero for availability.
	LatencyThreshold time.Duration
	// Window names the window pair: "fast", "medium" or "slow" by default.
	Window                  string
	LongWindow, ShortWindow time.Duration
	// BurnLong and BurnShort are the burn rates over the two windows: the
	// bad fraction divided by the budget (1-Target). 1 spends the budget
	// exactly over the SLO window.
	BurnLong, BurnShort float64
	// Threshold is the burn rate both windows must reach.
	Threshold float64
	// BudgetLeft is the fraction of the whole SLO window's budget left,
	// negative once overspent.
	BudgetLeft float64
	// Since is when the condition fired; At the end of the minute that decided.
	Since, At time.Time
	Level     event.Severity
	Resolved  bool
	Text      string
}

var _ event.Event = BudgetBurn{}

func (ev BudgetBurn) Type() string { return "budget_burn" }
func (ev BudgetBurn) About() event.Subject {
	return event.Subject{Kind: "route", Name: ev.Route}
}
func (ev BudgetBurn) Severity() event.Severity { return ev.Level }
func (ev BudgetBurn) When() time.Time          { return ev.At }
func (ev BudgetBurn) Summary() string          { return ev.Text }
func (ev BudgetBurn) Condition() string {
	return "budget_burn/route " + ev.Route + "/" + ev.Objective + "/" + ev.Window
}

// Forecast says that something will cross a line soon if nothing changes:
// a trend (latency or errors rising toward a threshold), a quota (a
// provider's rate limit running out before it resets) or a certificate
// (expiring).
type Forecast struct {
	Kind    string        // ForecastTrend, ForecastQuota or ForecastCertificate
	Subject event.Subject // a target, or a check for certificates
	Signal  string
	// Current is the value now: trend, the fitted value in the signal's
	// unit; quota, the remaining requests or tokens; certificate, the
	// seconds left before expiry.
	Current float64
	// Threshold is the line: trend, the signal's threshold; quota, zero
	// (exhaustion); certificate, the warning lead time in seconds.
	Threshold float64
	// Limit is the quota's limit (quota only; zero when not reported).
	Limit float64
	// Rate is how fast Current moves toward the line: trend, per hour;
	// quota, consumed per minute.
	Rate float64
	// BreachAt is when the line is crossed: the projected breach, the
	// projected exhaustion (zero when remaining is low but not falling) or
	// the certificate's NotAfter.
	BreachAt time.Time
	// ResetAt is when the quota is full again (quota only).
	ResetAt time.Time
	// Since is when the forecast fired; At when it was decided.
	Since, At time.Time
	Level     event.Severity
	Resolved  bool
	Text      string
}

var _ event.Event = Forecast{}

func (ev Forecast) Type() string             { return "forecast" }
func (ev Forecast) About() event.Subject     { return ev.Subject }
func (ev Forecast) Severity() event.Severity { return ev.Level }
func (ev Forecast) When() time.Time          { return ev.At }
func (ev Forecast) Summary() string          { return ev.Text }
func (ev Forecast) Condition() string {
	return "forecast/" + ev.Kind + "/" + ev.Subject.String() + "/" + ev.Signal
}

// signalNames are the signals as people read them.
var signalNames = map[string]string{
	SignalErrorRatio:   "error ratio",
	SignalLatencyP95:   "p95 latency",
	SignalTTFTP95:      "p95 time to first token",
	SignalOutputTokens: "output tokens per response",
	SignalEmptyRate:    "empty-output rate",
}

// formatValue writes a signal's value in its unit.
func formatValue(signal string, v float64) string {
	switch signal {
	case SignalErrorRatio, SignalEmptyRate:
		return percent(v)
	case SignalLatencyP95, SignalTTFTP95:
		return seconds(v)
	}
	return fmt.Sprintf("%.0f", v)
}

func percent(v float64) string {
	if v != 0 && math.Abs(v) < 0.1 {
		return fmt.Sprintf("%.1f%%", v*100)
	}
	return fmt.Sprintf("%.0f%%", v*100)
}

func seconds(v float64) string {
	if math.Abs(v) < 1 {
		return fmt.Sprintf("%.0fms", v*1000)
	}
	return fmt.Sprintf("%.2fs", v)
}

// clockTime writes a time for a summary: minutes are what detection sees.
func clockTime(t time.Time) string { return t.UTC().Format("15:04 UTC") }

// dayTime writes a time that may be days away.
func dayTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func anomalyText(ev AnomalyDetected) string {
	name := signalNames[ev.Signal]
	switch {
	case ev.Resolved:
		return fmt.Sprintf("%s: %s back to %s (baseline %s; anomalous since %s)",
			ev.Subject, name, formatValue(ev.Signal, ev.Value), formatValue(ev.Signal, ev.Baseline), clockTime(ev.Since))
	}
	return fmt.Sprintf("%s: %s %s (baseline %s, since %s)",
		ev.Subject, name, formatValue(ev.Signal, ev.Value), formatValue(ev.Signal, ev.Baseline), clockTime(ev.Since))
}

func burnText(ev BudgetBurn) string {
	what := fmt.Sprintf("availability (%s)", percentTarget(ev.Target))
	if ev.Objective == ObjectiveLatency {
		what = fmt.Sprintf("latency (%s under %s)", percentTarget(ev.Target), ev.LatencyThreshold)
	}
	if ev.Resolved {
		return fmt.Sprintf("route %s: %s error budget no longer burning at %.4g× (%s %.1f×, %s %.1f×); %s of the budget left",
			ev.Route, what, ev.Threshold, shortDuration(ev.LongWindow), ev.BurnLong, shortDuration(ev.ShortWindow), ev.BurnShort, percent(ev.BudgetLeft))
	}
	return fmt.Sprintf("route %s: %s error budget burning %.1f× over %s and %.1f× over %s (%s burn, threshold %.4g×); %s of the budget left",
		ev.Route, what, ev.BurnLong, shortDuration(ev.LongWindow), ev.BurnShort, shortDuration(ev.ShortWindow), ev.Window, ev.Threshold, percent(ev.BudgetLeft))
}

// percentTarget writes an objective with the digits it needs: 99.9%, 99.95%.
func percentTarget(v float64) string { return fmt.Sprintf("%.4g%%", v*100) }

// shortDuration writes 5m, 1h, 3d rather than 5m0s, 1h0m0s, 72h0m0s.
func shortDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

func trendText(ev Forecast, reason string) string {
	name := signalNames[ev.Signal]
	if ev.Resolved {
		return fmt.Sprintf("%s: %s no longer forecast to reach %s: %s (now %s)",
			ev.Subject, name, formatValue(ev.Signal, ev.Threshold), reason, formatValue(ev.Signal, ev.Current))
	}
	rate := formatValue(ev.Signal, ev.Rate)
	return fmt.Sprintf("%s: %s %s rising %s per hour, forecast to reach %s at %s",
		ev.Subject, name, formatValue(ev.Signal, ev.Current), rate, formatValue(ev.Signal, ev.Threshold), clockTime(ev.BreachAt))
}

func quotaText(ev Forecast, reason string) string {
	left := fmt.Sprintf("%.0f %s left", ev.Current, ev.Signal)
	if ev.Limit > 0 {
		left = fmt.Sprintf("%.0f of %.0f %s left (%s)", ev.Current, ev.Limit, ev.Signal, percent(ev.Current/ev.Limit))
	}
	if ev.Resolved {
		return fmt.Sprintf("%s: %s quota no longer forecast to run out: %s; %s", ev.Subject, ev.Signal, reason, left)
	}
	if ev.BreachAt.IsZero() {
		if ev.ResetAt.IsZero() {
			return fmt.Sprintf("%s: %s quota low: %s", ev.Subject, ev.Signal, left)
		}
		return fmt.Sprintf("%s: %s quota low: %s, resets at %s", ev.Subject, ev.Signal, left, ev.ResetAt.UTC().Format("15:04:05 UTC"))
	}
	reset := ""
	if !ev.ResetAt.IsZero() {
		reset = ", before its reset at " + ev.ResetAt.UTC().Format("15:04:05 UTC")
	}
	return fmt.Sprintf("%s: %s quota forecast to run out at %s%s: %s, using %.0f a minute",
		ev.Subject, ev.Signal, ev.BreachAt.UTC().Format("15:04:05 UTC"), reset, left, ev.Rate)
}

func certText(ev Forecast) string {
	if ev.Resolved {
		return fmt.Sprintf("check %s: certificate renewed, valid until %s", ev.Subject.Name, dayTime(ev.BreachAt))
	}
	if ev.Current <= 0 {
		return fmt.Sprintf("check %s: certificate expired at %s", ev.Subject.Name, dayTime(ev.BreachAt))
	}
	left := time.Duration(ev.Current * float64(time.Second))
	return fmt.Sprintf("check %s: certificate expires in %s, at %s", ev.Subject.Name, daysLeft(left), dayTime(ev.BreachAt))
}

func daysLeft(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.Round(time.Minute).String()
}
