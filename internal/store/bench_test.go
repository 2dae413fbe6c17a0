package store

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/relais/relais/internal/health"
	"github.com/relais/relais/internal/rollup"
)

// benchRows is one minute of a busy gateway: 50 targets and 50 keys, each
// row with a latency sketch.
func benchRows(minute time.Time) []rollup.Rollup {
	rows := make([]rollup.Rollup, 0, 100)
	for i := range 50 {
		for _, k := range []rollup.Key{
			{Series: rollup.RouteTarget, Route: "chat", Provider: fmt.Sprint("p", i), Model: "m"},
			{Series: rollup.RouteKey, Route: "chat", Client: fmt.Sprint("key", i)},
		} {
			r := rollup.Rollup{Key: k, Minute: minute, Attempts: 100, Requests: 100, RateLimit: health.NoRateLimit, Latency: rollup.NewSketch()}
			r.Outcomes[health.OK] = 100
			for j := range 100 {
				_ = r.Latency.Add(float64(j+1) / 100)
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// BenchmarkWriteRollups writes a minute of 100 rows into SQLite: new rows
// (the usual case) and rows merged into stored ones (late observations).
func BenchmarkWriteRollups(b *testing.B) {
	for _, merge := range []bool{false, true} {
		b.Run(map[bool]string{false: "insert", true: "merge"}[merge], func(b *testing.B) {
			s, err := Open(b.Context(), Options{Driver: "sqlite", DSN: filepath.Join(b.TempDir(), "relais.db")})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				minute := t0.Add(time.Duration(i) * time.Minute)
				if merge {
					minute = t0
				}
				if err := s.WriteRollups(b.Context(), benchRows(minute)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
