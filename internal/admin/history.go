package admin

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/relais/relais/internal/rollup"
	"github.com/relais/relais/internal/store"
)

// maxHistoryPoints bounds one answer: a week of minutes.
const maxHistoryPoints = 7 * 24 * 60

// HistoryPoint is one step of history as the admin API shows it.
type HistoryPoint struct {
	Start    time.Time `json:"start"`
	Attempts int64     `json:"attempts"`
	Failed   int64     `json:"failed"`
	// Requests, Errors and Fallback count what clients got (final attempts).
	Requests   int64            `json:"requests"`
	Errors     int64            `json:"errors"`
	Fallback   int64            `json:"fallback"`
	ErrorRatio float64          `json:"error_ratio"`
	Outcomes   map[string]int64 `json:"outcomes,omitempty"`
	// Quantiles in milliseconds, 0 when there was no data.
	LatencyP50      float64 `json:"latency_p50_ms"`
	LatencyP95      float64 `json:"latency_p95_ms"`
	LatencyP99      float64 `json:"latency_p99_ms"`
	TTFTP50         float64 `json:"ttft_p50_ms"`
	TTFTP95         float64 `json:"ttft_p95_ms"`
	ElapsedP95      float64 `json:"elapsed_p95_ms"`
	InputTokens     int64   `json:"input_tokens"`
	OutputTokens    int64   `json:"output_tokens"`
	TokensPerSecond float64 `json:"tokens_per_second"`
}

// history serves GET /admin/api/history: stored per-minute history of a
// route×target, route×key or check series, added up by step.
//
//	series   route_target (default) | route_key | check
//	route, provider, model, key, check   select rows (empty: all, added together)
//	target   provider/model, the same as provider and model
//	from, to RFC 3339 times, or ages such as 1h, 90m, 7d (default: the last hour)
//	step     1m (default), 5m, 1h, 1d: a whole number of minutes
func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	q, err := historyQuery(r.URL.Query(), time.Now())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiErr("bad_request", err.Error()))
		return
	}
	points, err := s.b.History(r.Context(), q)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiErr("store_error", "reading history: "+err.Error()))
		return
	}
	out := make([]HistoryPoint, len(points))
	for i, p := range points {
		out[i] = HistoryPoint{Start: p.Start, Attempts: p.Attempts, Failed: p.Failed, Requests: p.Requests, Errors: p.Errors,
			Fallback: p.Fallback, Outcomes: p.Outcomes,
			LatencyP50: p.LatencyP50 * 1000, LatencyP95: p.LatencyP95 * 1000, LatencyP99: p.LatencyP99 * 1000,
			TTFTP50: p.TTFTP50 * 1000, TTFTP95: p.TTFTP95 * 1000, ElapsedP95: p.ElapsedP95 * 1000,
			InputTokens: p.InputTokens, OutputTokens: p.OutputTokens, TokensPerSecond: p.TokensPerSecond}
		// A route's error ratio is what clients got; a target's or a
		// check's, what its attempts did.
		if q.Series != rollup.Check && p.Requests > 0 && q.Provider == "" {
			out[i].ErrorRatio = float64(p.Errors) / float64(p.Requests)
		} else if p.Attempts > 0 {
			out[i].ErrorRatio = float64(p.Failed) / float64(p.Attempts)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"series": q.Series.String(), "from": q.From, "to": q.To, "step": q.Step.String(), "points": out,
	})
}

func historyQuery(v url.Values, now time.Time) (store.HistoryQuery, error) {
	var q store.HistoryQuery
	if name := v.Get("series"); name != "" {
		s, err := rollup.ParseSeries(name)
		if err != nil {
			return q, fmt.Errorf("series: unknown %q (want route_target, route_key or check)", name)
		}
		q.Series = s
	}
	q.Route, q.Provider, q.Model, q.Client, q.Check = v.Get("route"), v.Get("provider"), v.Get("model"), v.Get("key"), v.Get("check")
	if target := v.Get("target"); target != "" {
		p, m, ok := strings.Cut(target, "/")
		if !ok || p == "" || m == "" {
			return q, fmt.Errorf("target: want provider/model, got %q", target)
		}
		q.Provider, q.Model = p, m
	}
	var err error
	if q.To, err = instant(v.Get("to"), now, now); err != nil {
		return q, fmt.Errorf("to: %w", err)
	}
	if q.From, err = instant(v.Get("from"), q.To.Add(-time.Hour), now); err != nil {
		return q, fmt.Errorf("from: %w", err)
	}
	if !q.From.Before(q.To) {
		return q, fmt.Errorf("from (%s) must be before to (%s)", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	q.Step = time.Minute
	if step := v.Get("step"); step != "" {
		if q.Step, err = duration(step); err != nil || q.Step <= 0 || q.Step%time.Minute != 0 {
			return q, fmt.Errorf("step: want a whole number of minutes such as 1m, 5m, 1h or 1d, got %q", step)
		}
	}
	if n := q.To.Sub(q.From) / q.Step; n > maxHistoryPoints {
		return q, fmt.Errorf("from..to holds %d steps of %s, more than %d: use a larger step or a shorter range", n, q.Step, maxHistoryPoints)
	}
	return q, nil
}

// instant reads an RFC 3339 time or an age ("1h", "-1h", "7d": that long
// before now); empty gives def.
func instant(s string, def, now time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := duration(strings.TrimPrefix(s, "-"))
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time or an age such as 1h or 7d, got %q", s)
	}
	return now.Add(-d), nil
}

// duration parses Go durations plus whole days ("7d").
func duration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, err
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(cmp.Or(s, "x"))
}
