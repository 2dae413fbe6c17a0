package loadbench

import (
	"fmt"
	"strings"
)

// Markdown renders the report: the setup, the targets, then one table per
// scenario.
func (rep *Report) Markdown() string {
	var b strings.Builder
	b.WriteString("## relais load benchmark\n\n")
	rep.writeSetup(&b)
	if len(rep.Targets) > 0 {
		b.WriteString("### Targets (issue 3)\n\n")
		rows := make([][]string, len(rep.Targets))
		for i, t := range rep.Targets {
			verdict := "MISS"
			if t.Pass {
				verdict = "PASS"
			}
			rows[i] = []string{t.Name, t.Measured, t.Goal, "**" + verdict + "**"}
		}
		table(&b, []string{"target", "measured", "goal", ""}, rows)
	}
	rep.writeFixed(&b)
	rep.writeMax(&b)
	rep.writeStream(&b)
	rep.writeFailing(&b)
	rep.writeScale(&b)
	rep.writeSoak(&b)
	return b.String()
}

func (rep *Report) writeSetup(b *strings.Builder) {
	s := rep.Setup
	fmt.Fprintf(b, "- **Machine**: %s, %d CPUs, Linux %s, %s; under test: %s.\n", s.CPUModel, s.CPUs, s.Kernel, s.Go, s.Relais)
	if s.Pinned {
		fmt.Fprintf(b, "- **Pinning**: the gateway (relais or the baseline, a child process started afresh per path and round) "+
			"on CPU %d with GOMAXPROCS=%d (read back from its /proc status: Cpus_allowed_list %s); the harness (vegeta and the "+
			"fake upstreams, one process) on CPU %d with GOMAXPROCS=%d and %s.\n",
			s.GatewayCPU, s.GatewayGOMAXPROCS, s.GatewayCPUsAllowed, s.HarnessCPU, s.HarnessGOMAXPROCS, s.HarnessGC)
	} else {
		fmt.Fprintf(b, "- **Pinning**: none; the gateway runs with GOMAXPROCS=%d, the harness with %d and %s.\n", s.GatewayGOMAXPROCS, s.HarnessGOMAXPROCS, s.HarnessGC)
	}
	fmt.Fprintf(b, "- **Method**: %d round(s), paths in rotating order; each measurement %gs after a %gs warm-up, on 127.0.0.1; "+
		"medians over rounds (requests and errors: totals). Overheads are against the direct path of the same round. "+
		"CPU time of the gateway process from %s. Open files: harness %s, gateway %s.\n",
		s.Rounds, s.Duration, s.Warmup, s.CPUTime, s.HarnessOpenFiles, s.GatewayOpenFiles)
	fmt.Fprintf(b, "- **Run**: started %s, took %s.\n", s.Started.Format("2006-01-02 15:04:05 MST"), seconds(s.Elapsed))
	for _, n := range s.Notes {
		fmt.Fprintf(b, "- Note: %s.\n", n)
	}
	b.WriteString("\n")
}

func (rep *Report) writeFixed(b *strings.Builder) {
	if len(rep.Fixed) == 0 {
		return
	}
	b.WriteString("### Fixed rates\n\n")
	var rows [][]string
	for _, f := range rep.Fixed {
		l := f.Median
		rows = append(rows, []string{string(f.Path), fmt.Sprint(f.Rate), f0(l.Rate), f3(l.P50), f3(l.P90), f3(l.P99),
			gw(f.Path, f3(f.OverheadP50)), gw(f.Path, f3(f.OverheadP99)), fmt.Sprint(l.Errors),
			gw(f.Path, f1(l.CPUPerRequest)), gw(f.Path, f1(l.PeakRSS))})
	}
	table(b, []string{"path", "rate/s", "achieved/s", "p50 ms", "p90 ms", "p99 ms", "+p50 ms", "+p99 ms", "errors", "CPU µs/req", "peak RSS MiB"}, rows)
	for _, f := range rep.Fixed {
		errorNote(b, fmt.Sprintf("%s @%d/s", f.Path, f.Rate), f.Median.Errors, f.Median.ErrorSample)
	}
}

func (rep *Report) writeMax(b *strings.Builder) {
	if len(rep.Max) == 0 {
		return
	}
	b.WriteString("### Maximum throughput, gateway on one core\n\n")
	var rows [][]string
	for _, m := range rep.Max {
		l := m.Median
		rows = append(rows, []string{string(m.Path), f0(l.Rate), fmt.Sprint(m.Workers), gw(m.Path, f1(l.CPUPerRequest)),
			gw(m.Path, pct(l.GatewayBusy)), pct(l.HarnessBusy), f3(l.P50), f3(l.P99), fmt.Sprint(l.Errors)})
	}
	table(b, []string{"path", "req/s", "workers", "CPU µs/req", "gateway core busy", "harness core busy", "p50 ms", "p99 ms", "errors"}, rows)
	for _, m := range rep.Max {
		errorNote(b, string(m.Path), m.Median.Errors, m.Median.ErrorSample)
	}
	b.WriteString("A harness core near 100 % busy means the load generator and upstream, not the gateway, set the ceiling; compare with the direct path.\n\n")
}

func (rep *Report) writeStream(b *strings.Builder) {
	if len(rep.Stream) == 0 {
		return
	}
	b.WriteString("### Streaming\n\n")
	var rows [][]string
	for _, s := range rep.Stream {
		l := s.Median
		rows = append(rows, []string{string(s.Path), fmt.Sprint(l.Streams), f3(l.TTFTP50), f3(l.TTFTP99), f3(l.TTLTP50), f3(l.TTLTP99),
			gw(s.Path, f3(s.AddedTTFTP50)), gw(s.Path, f3(s.AddedTTFTP99)), gw(s.Path, f3(s.AddedTTLTP50)),
			fmt.Sprint(l.Errors), gw(s.Path, f1(l.CPUPerStream))})
	}
	table(b, []string{"path", "streams", "TTFT p50 ms", "TTFT p99 ms", "TTLT p50 ms", "TTLT p99 ms", "+TTFT p50", "+TTFT p99", "+TTLT p50", "errors", "CPU µs/stream"}, rows)
	for _, s := range rep.Stream {
		errorNote(b, string(s.Path), s.Median.Errors, s.Median.ErrorSample)
	}
	b.WriteString("TTFT is the time to the first event carrying content, which the upstream sends right after its role event; " +
		"TTLT adds the upstream's gaps between chunks, each with up to about 1 ms of timer jitter on the harness.\n\n")
}

func (rep *Report) writeFailing(b *strings.Builder) {
	if len(rep.Failing) == 0 {
		return
	}
	b.WriteString("### One of two targets failing\n\n")
	var rows [][]string
	for _, f := range rep.Failing {
		l := f.Median
		rows = append(rows, []string{string(f.Path), f.UpstreamA, fmt.Sprint(f.Rate), f0(l.Rate), fmt.Sprintf("%.3f %%", f.Success()),
			f3(l.P50), f3(l.P99), f1(l.CPUPerRequest), f1(l.UpstreamA), fmt.Sprint(l.Errors)})
	}
	table(b, []string{"path", "upstream A", "rate/s", "achieved/s", "success", "p50 ms", "p99 ms", "CPU µs/req", "req/s reaching A", "errors"}, rows)
	for _, f := range rep.Failing {
		errorNote(b, string(f.Path), f.Median.Errors, f.Median.ErrorSample)
	}
}

func (rep *Report) writeScale(b *strings.Builder) {
	if len(rep.Scale) == 0 {
		return
	}
	b.WriteString("### Many long streams held open\n\n")
	var rows [][]string
	for _, s := range rep.Scale {
		m := s.Median
		rows = append(rows, []string{string(s.Path), fmt.Sprintf("%d / %d", m.Open, m.Streams), f1(m.IdleRSS), f1(m.OpenRSS), f1(m.PerStream),
			f1(m.StackPerStream), f1(m.HeapPerStream), f2(m.GoroutinesPerStream), fmt.Sprint(m.UpstreamConns), fmt.Sprint(m.Errors)})
	}
	table(b, []string{"path", "open", "idle RSS MiB", "RSS open MiB", "KiB/stream", "of which stacks", "of which heap", "goroutines/stream", "upstream conns", "errors"}, rows)
	for _, s := range rep.Scale {
		errorNote(b, string(s.Path), s.Median.Errors, s.Median.ErrorSample)
	}
}

func (rep *Report) writeSoak(b *strings.Builder) {
	s := rep.Soak
	if s == nil {
		return
	}
	b.WriteString("### Soak\n\n")
	table(b, []string{"rate/s", "duration", "achieved/s", "p99 ms", "CPU µs/req", "errors", fmt.Sprintf("live heap at %g s MiB", s.EarlyAt), "live heap at end MiB", "change", "heap in use MiB (early → end)"},
		[][]string{{fmt.Sprint(s.Rate), seconds(s.Duration), f0(s.Load.Rate), f3(s.Load.P99), f1(s.Load.CPUPerRequest), fmt.Sprint(s.Load.Errors),
			f2(s.LiveEarly), f2(s.LiveEnd), fmt.Sprintf("%+.1f %%", s.LiveChange), f1(s.HeapEarly) + " → " + f1(s.HeapEnd)}})
	errorNote(b, "soak", s.Load.Errors, s.Load.ErrorSample)
}

// errorNote says what the first error of a row was, under its table.
func errorNote(b *strings.Builder, row string, errs int, sample string) {
	if errs > 0 {
		fmt.Fprintf(b, "Errors, %s: %d, the first: `%s`.\n\n", row, errs, sample)
	}
}

func table(b *strings.Builder, head []string, rows [][]string) {
	b.WriteString("| " + strings.Join(head, " | ") + " |\n|")
	for range head {
		b.WriteString(" --- |")
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	b.WriteString("\n")
}

// gw shows a gateway's figure, and a dash on the direct path, which has no
// gateway process and is the reference of the overheads.
func gw(p Path, s string) string {
	if p == PathDirect {
		return "—"
	}
	return s
}

func f0(v float64) string  { return fmt.Sprintf("%.0f", v) }
func f1(v float64) string  { return fmt.Sprintf("%.1f", v) }
func f2(v float64) string  { return fmt.Sprintf("%.2f", v) }
func f3(v float64) string  { return fmt.Sprintf("%.3f", v) }
func pct(v float64) string { return fmt.Sprintf("%.0f %%", 100*v) }

func seconds(s float64) string {
	if s >= 60 {
		return fmt.Sprintf("%dm%02ds", int(s)/60, int(s)%60)
	}
	return fmt.Sprintf("%gs", s)
}
