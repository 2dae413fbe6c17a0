package admin

import (
	"net/http"
	"strconv"
	"time"
)

// SLO is one route objective and its error budget as the admin API shows it.
type SLO struct {
	Route     string  `json:"route"`
	Objective string  `json:"objective"` // availability | latency
	Target    float64 `json:"target"`    // e.g. 0.999
	// LatencyThresholdMS is the latency objective's threshold.
	LatencyThresholdMS float64   `json:"latency_threshold_ms,omitempty"`
	Window             string    `json:"window"`
	From               time.Time `json:"from"`
	Until              time.Time `json:"until"`
	Good               int64     `json:"good"`
	Total              int64     `json:"total"`
	// BudgetLeft is the fraction of the error budget left; negative once
	// overspent.
	BudgetLeft float64 `json:"budget_left"`
	Burns      []Burn  `json:"burn_rates"`
}

// Burn is one multiwindow burn-rate alert's state.
type Burn struct {
	Window        string  `json:"window"` // fast | medium | slow
	Long          string  `json:"long"`
	Short         string  `json:"short"`
	BurnLong      float64 `json:"burn_long"`
	BurnShort     float64 `json:"burn_short"`
	LongRequests  int64   `json:"long_requests"`
	ShortRequests int64   `json:"short_requests"`
	Threshold     float64 `json:"threshold"`
	Firing        bool    `json:"firing"`
}

// slos serves GET /admin/api/slos: every route objective, its error budget
// left and its burn rates.
func (s *Server) slos(w http.ResponseWriter, _ *http.Request) {
	budgets := s.b.Budgets()
	out := make([]SLO, 0, len(budgets))
	for _, b := range budgets {
		o := SLO{Route: b.Route, Objective: b.Objective, Target: b.Target, Window: days(b.Window),
			From: b.From, Until: b.Until, Good: b.Good, Total: b.Total, BudgetLeft: b.Left, Burns: []Burn{}}
		if b.LatencyThreshold > 0 {
			o.LatencyThresholdMS = float64(b.LatencyThreshold) / float64(time.Millisecond)
		}
		for _, br := range b.Burns {
			o.Burns = append(o.Burns, Burn{Window: br.Window, Long: days(br.Long), Short: days(br.Short),
				BurnLong: br.BurnLong, BurnShort: br.BurnShort, LongRequests: br.LongRequests, ShortRequests: br.ShortRequests,
				Threshold: br.Threshold, Firing: br.Firing})
		}
		out = append(out, o)
	}
	writeJSON(w, http.StatusOK, map[string]any{"slos": out})
}

// days writes whole days as "30d", other durations as Go does.
func days(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		return strconv.Itoa(int(d/day)) + "d"
	}
	return d.String()
}
