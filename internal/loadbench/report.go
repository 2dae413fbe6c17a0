package loadbench

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
)

// Report is a benchmark run: its setup, the targets of issue 3 with the
// measured figures, and every scenario's rows. A row's Median holds the
// medians over rounds of each figure, except requests, streams and errors,
// which are totals; Rounds holds each round's own figures.
type Report struct {
	Setup   Setup        `json:"setup"`
	Targets []Target     `json:"targets"`
	Fixed   []FixedRow   `json:"fixed,omitempty"`
	Max     []MaxRow     `json:"max,omitempty"`
	Stream  []StreamRow  `json:"stream,omitempty"`
	Failing []FailingRow `json:"failing,omitempty"`
	Scale   []ScaleRow   `json:"streams_scale,omitempty"`
	Soak    *Soak        `json:"soak,omitempty"`
}

// FixedRow is one path at one constant rate. The overheads are over the
// direct path of the same round (then the median over rounds), in ms.
type FixedRow struct {
	Path        Path    `json:"path"`
	Rate        int     `json:"rate"`
	Median      Load    `json:"median"`
	OverheadP50 float64 `json:"overhead_p50_ms"`
	OverheadP99 float64 `json:"overhead_p99_ms"`
	Rounds      []Load  `json:"rounds"`
}

// MaxRow is one path's maximum throughput; Workers is the best worker
// count of each round.
type MaxRow struct {
	Path    Path   `json:"path"`
	Median  Load   `json:"median"`
	Workers []int  `json:"workers"`
	Rounds  []Load `json:"rounds"`
}

// StreamRow is one path's streams; the added times are over the direct path
// of the same round, in ms.
type StreamRow struct {
	Path         Path         `json:"path"`
	Median       StreamLoad   `json:"median"`
	AddedTTFTP50 float64      `json:"added_ttft_p50_ms"`
	AddedTTFTP99 float64      `json:"added_ttft_p99_ms"`
	AddedTTLTP50 float64      `json:"added_ttlt_p50_ms"`
	Rounds       []StreamLoad `json:"rounds"`
}

// FailingRow is one gateway at the failing scenario's rate, with the state
// of upstream A (relais's first target, the baseline's only one).
type FailingRow struct {
	Path      Path   `json:"path"`
	UpstreamA string `json:"upstream_a"`
	Rate      int    `json:"rate"`
	Median    Load   `json:"median"`
	Rounds    []Load `json:"rounds"`
}

// Success is the share of requests answered with a 2xx, in percent.
func (f FailingRow) Success() float64 {
	if f.Median.Requests == 0 {
		return 0
	}
	return 100 * float64(f.Median.Requests-f.Median.Errors) / float64(f.Median.Requests)
}

// ScaleRow is one gateway holding many streams.
type ScaleRow struct {
	Path   Path    `json:"path"`
	Median Scale   `json:"median"`
	Rounds []Scale `json:"rounds"`
}

// WriteFiles writes report.md and report.json into dir, creating it.
func (rep *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(js, '\n'), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(rep.Markdown()), 0o600)
}

func (rep *Report) fixedRow(p Path, rate int) (FixedRow, bool) {
	i := slices.IndexFunc(rep.Fixed, func(f FixedRow) bool { return f.Path == p && f.Rate == rate })
	if i < 0 {
		return FixedRow{}, false
	}
	return rep.Fixed[i], true
}

// topRate is the highest fixed rate measured, where the absolute targets
// apply (issue 3 sets them at 3000 req/s).
func (rep *Report) topRate() int {
	top := 0
	for _, f := range rep.Fixed {
		top = max(top, f.Rate)
	}
	return top
}

func find[T any](rows []T, p Path, path func(T) Path) (T, bool) {
	for _, r := range rows {
		if path(r) == p {
			return r, true
		}
	}
	var zero T
	return zero, false
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

func medianBy[T any](ts []T, f func(T) float64) float64 {
	xs := make([]float64, len(ts))
	for i, t := range ts {
		xs[i] = f(t)
	}
	return median(xs)
}

// medianDiff is the median over rounds of f(a[i]) - f(b[i]): a path against
// the direct path measured in the same round, under the same conditions.
func medianDiff[T any](a, b []T, f func(T) float64) float64 {
	n := min(len(a), len(b))
	xs := make([]float64, n)
	for i := range n {
		xs[i] = f(a[i]) - f(b[i])
	}
	return median(xs)
}

func sumBy[T any](ts []T, f func(T) int) int {
	n := 0
	for _, t := range ts {
		n += f(t)
	}
	return n
}

func firstSample[T any](ts []T, f func(T) string) string {
	for _, t := range ts {
		if s := f(t); s != "" {
			return s
		}
	}
	return ""
}

func medianLoad(ls []Load) Load {
	return Load{
		Requests:      sumBy(ls, func(l Load) int { return l.Requests }),
		Errors:        sumBy(ls, func(l Load) int { return l.Errors }),
		ErrorSample:   firstSample(ls, func(l Load) string { return l.ErrorSample }),
		Rate:          medianBy(ls, func(l Load) float64 { return l.Rate }),
		P50:           medianBy(ls, func(l Load) float64 { return l.P50 }),
		P90:           medianBy(ls, func(l Load) float64 { return l.P90 }),
		P99:           medianBy(ls, func(l Load) float64 { return l.P99 }),
		CPUPerRequest: medianBy(ls, func(l Load) float64 { return l.CPUPerRequest }),
		PeakRSS:       medianBy(ls, func(l Load) float64 { return l.PeakRSS }),
		GatewayBusy:   medianBy(ls, func(l Load) float64 { return l.GatewayBusy }),
		HarnessBusy:   medianBy(ls, func(l Load) float64 { return l.HarnessBusy }),
		UpstreamA:     medianBy(ls, func(l Load) float64 { return l.UpstreamA }),
	}
}

func medianStreamLoad(ls []StreamLoad) StreamLoad {
	return StreamLoad{
		Streams:      sumBy(ls, func(l StreamLoad) int { return l.Streams }),
		Errors:       sumBy(ls, func(l StreamLoad) int { return l.Errors }),
		ErrorSample:  firstSample(ls, func(l StreamLoad) string { return l.ErrorSample }),
		TTFTP50:      medianBy(ls, func(l StreamLoad) float64 { return l.TTFTP50 }),
		TTFTP99:      medianBy(ls, func(l StreamLoad) float64 { return l.TTFTP99 }),
		TTLTP50:      medianBy(ls, func(l StreamLoad) float64 { return l.TTLTP50 }),
		TTLTP99:      medianBy(ls, func(l StreamLoad) float64 { return l.TTLTP99 }),
		CPUPerStream: medianBy(ls, func(l StreamLoad) float64 { return l.CPUPerStream }),
	}
}

func medianScale(ss []Scale) Scale {
	return Scale{
		Streams:             sumBy(ss, func(s Scale) int { return s.Streams }) / max(len(ss), 1),
		Open:                int(medianBy(ss, func(s Scale) float64 { return float64(s.Open) })),
		Errors:              sumBy(ss, func(s Scale) int { return s.Errors }),
		ErrorSample:         firstSample(ss, func(s Scale) string { return s.ErrorSample }),
		IdleRSS:             medianBy(ss, func(s Scale) float64 { return s.IdleRSS }),
		OpenRSS:             medianBy(ss, func(s Scale) float64 { return s.OpenRSS }),
		PerStream:           medianBy(ss, func(s Scale) float64 { return s.PerStream }),
		StackPerStream:      medianBy(ss, func(s Scale) float64 { return s.StackPerStream }),
		HeapPerStream:       medianBy(ss, func(s Scale) float64 { return s.HeapPerStream }),
		IdleGoroutines:      medianBy(ss, func(s Scale) float64 { return s.IdleGoroutines }),
		OpenGoroutines:      medianBy(ss, func(s Scale) float64 { return s.OpenGoroutines }),
		GoroutinesPerStream: medianBy(ss, func(s Scale) float64 { return s.GoroutinesPerStream }),
		UpstreamConns:       int(medianBy(ss, func(s Scale) float64 { return float64(s.UpstreamConns) })),
	}
}

// ratio is a/b, or 0 when b is 0 (a figure that was not measured).
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
