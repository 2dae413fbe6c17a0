package loadbench

import (
	"fmt"
	"math"
)

// Target is one goal of issue 3 next to what this run measured.
type Target struct {
	Name     string `json:"name"`
	Measured string `json:"measured"`
	Goal     string `json:"goal"`
	Pass     bool   `json:"pass"`
}

// targets checks the goals of issue 3 whose figures this run measured.
// Ratios compare paths of the same run; the absolute goals hold at the
// highest fixed rate, 3000 req/s by default.
func targets(rep *Report) []Target {
	var ts []Target
	ts = append(ts, fixedTargets(rep)...)
	if relais, ok := find(rep.Max, PathRelais, func(m MaxRow) Path { return m.Path }); ok {
		base, _ := find(rep.Max, PathBaseline, func(m MaxRow) Path { return m.Path })
		x := ratio(relais.Median.Rate, base.Median.Rate)
		ts = append(ts, Target{"max req/s on one core, relais ÷ baseline",
			fmt.Sprintf("%.2f (%.0f ÷ %.0f)", x, relais.Median.Rate, base.Median.Rate), "≥ 0.9", x >= 0.9})
	}
	if relais, ok := find(rep.Stream, PathRelais, func(s StreamRow) Path { return s.Path }); ok {
		ts = append(ts, Target{"streaming: added time to first token (p50)",
			fmt.Sprintf("%.3f ms", relais.AddedTTFTP50), "< 1 ms", relais.AddedTTFTP50 < 1 && relais.Median.Errors == 0})
	}
	ts = append(ts, failingTargets(rep)...)
	ts = append(ts, scaleTargets(rep)...)
	if s := rep.Soak; s != nil {
		ts = append(ts, Target{fmt.Sprintf("soak: live heap at the end vs after %g s", s.EarlyAt),
			fmt.Sprintf("%+.1f %% (%.2f → %.2f MiB)", s.LiveChange, s.LiveEarly, s.LiveEnd), "±10 %",
			s.LiveEarly > 0 && math.Abs(s.LiveChange) <= 10})
	}
	return ts
}

func fixedTargets(rep *Report) []Target {
	var ts []Target
	errs := 0
	for _, f := range rep.Fixed {
		if f.Path != PathRelais {
			continue
		}
		errs += f.Median.Errors
		base, _ := rep.fixedRow(PathBaseline, f.Rate)
		x := ratio(f.Median.CPUPerRequest, base.Median.CPUPerRequest)
		ts = append(ts, Target{fmt.Sprintf("CPU/request relais ÷ baseline @%d/s", f.Rate),
			fmt.Sprintf("%.2f (%.1f ÷ %.1f µs)", x, f.Median.CPUPerRequest, base.Median.CPUPerRequest), "≤ 1.1", x > 0 && x <= 1.1})
	}
	top := rep.topRate()
	if relais, ok := rep.fixedRow(PathRelais, top); ok {
		ts = append(ts,
			Target{fmt.Sprintf("p99 overhead vs direct @%d/s", top),
				fmt.Sprintf("%.3f ms", relais.OverheadP99), "< 1 ms", relais.OverheadP99 < 1},
			Target{fmt.Sprintf("peak RSS @%d/s", top),
				fmt.Sprintf("%.1f MiB", relais.Median.PeakRSS), "< 50 MiB", relais.Median.PeakRSS > 0 && relais.Median.PeakRSS < 50},
			Target{"errors at fixed rates (relais)", fmt.Sprint(errs), "0", errs == 0},
		)
	}
	return ts
}

func failingTargets(rep *Report) []Target {
	relais, ok := find(rep.Failing, PathRelais, func(f FailingRow) Path { return f.Path })
	if !ok {
		return nil
	}
	base, _ := find(rep.Failing, PathBaseline, func(f FailingRow) Path { return f.Path })
	x := ratio(relais.Median.CPUPerRequest, base.Median.CPUPerRequest)
	return []Target{
		{fmt.Sprintf("one target failing: success @%d/s", relais.Rate),
			fmt.Sprintf("%.3f %%", relais.Success()), "100 %", relais.Median.Errors == 0 && relais.Median.Requests > 0},
		{"one target failing: CPU/request relais ÷ baseline (healthy)",
			fmt.Sprintf("%.2f (%.1f ÷ %.1f µs)", x, relais.Median.CPUPerRequest, base.Median.CPUPerRequest), "≤ 1.5", x > 0 && x <= 1.5},
	}
}

func scaleTargets(rep *Report) []Target {
	relais, ok := find(rep.Scale, PathRelais, func(s ScaleRow) Path { return s.Path })
	if !ok {
		return nil
	}
	base, _ := find(rep.Scale, PathBaseline, func(s ScaleRow) Path { return s.Path })
	x := ratio(relais.Median.PerStream, base.Median.PerStream)
	return []Target{
		{fmt.Sprintf("%d streams: memory per open stream relais ÷ baseline", relais.Median.Streams),
			fmt.Sprintf("%.2f (%.1f ÷ %.1f KiB)", x, relais.Median.PerStream, base.Median.PerStream), "≤ 0.6", x > 0 && x <= 0.6},
		{fmt.Sprintf("%d streams: errors (relais)", relais.Median.Streams),
			fmt.Sprint(relais.Median.Errors), "0", relais.Median.Errors == 0 && relais.Median.Open == relais.Median.Streams},
	}
}
