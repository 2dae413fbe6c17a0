package admin

import (
	"net/http"
	"time"

	"github.com/relais/relais/internal/event"
)

// Event is one state event as the admin API lists it; Detail is the event
// itself, with every value its detector gave.
type Event struct {
	Type     string         `json:"type"`
	Severity event.Severity `json:"severity"`
	Kind     string         `json:"kind"`
	Name     string         `json:"name"`
	At       time.Time      `json:"at"`
	Summary  string         `json:"summary"`
	Detail   event.Event    `json:"detail"`
}

// events serves GET /admin/api/events: the last state events (status
// changes, anomalies, burn rates, forecasts), oldest first; ?type= keeps
// one type.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	only := r.URL.Query().Get("type")
	all := s.b.Events()
	out := make([]Event, 0, len(all))
	for _, e := range all {
		if only != "" && e.Type() != only {
			continue
		}
		out = append(out, Event{Type: e.Type(), Severity: e.Severity(), Kind: e.About().Kind, Name: e.About().Name,
			At: e.When(), Summary: e.Summary(), Detail: e})
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out})
}
