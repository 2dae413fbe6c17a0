package loadbench

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunQuick runs every scenario at a tiny scale through real gateway
// processes. It checks that every figure is produced and nothing failed,
// never how fast anything is.
func TestRunQuick(t *testing.T) {
	o := QuickOptions()
	o.Binary = relaisBinary
	o.Version = "test"
	o.Pin = false // the test shares the machine; pinning is the CLI's
	o.Scenarios = append(DefaultScenarios(), ScenarioSoak)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}

	for _, f := range rep.Fixed {
		checkLoad(t, "fixed "+string(f.Path), f.Path, f.Median)
	}
	for _, m := range rep.Max {
		checkLoad(t, "max "+string(m.Path), m.Path, m.Median)
	}
	for _, f := range rep.Failing {
		checkLoad(t, "failing "+string(f.Path), f.Path, f.Median)
	}
	for _, s := range rep.Stream {
		l := s.Median
		if l.Streams == 0 || l.Errors != 0 || l.TTFTP50 <= 0 || l.TTLTP50 < l.TTFTP50 {
			t.Errorf("stream %s: %+v", s.Path, l)
		}
	}
	for _, s := range rep.Scale {
		m := s.Median
		// The baseline holds one HTTP/1.1 upstream connection per stream;
		// relais multiplexes its streams over HTTP/2.
		wantConns := m.Streams
		if s.Path == PathRelais {
			wantConns = 1
		}
		if m.Open != m.Streams || m.Errors != 0 || m.IdleRSS <= 0 || m.OpenRSS <= 0 || m.IdleGoroutines <= 0 || m.UpstreamConns < wantConns {
			t.Errorf("streams-scale %s: %+v", s.Path, m)
		}
	}
	if s := rep.Soak; s == nil || s.Load.Errors != 0 || s.HeapEarly <= 0 || s.HeapEnd <= 0 {
		t.Errorf("soak: %+v", s)
	}
	if len(rep.Fixed) != 3 || len(rep.Max) != 3 || len(rep.Stream) != 3 || len(rep.Failing) != 2 || len(rep.Scale) != 2 {
		t.Errorf("rows: %d fixed, %d max, %d stream, %d failing, %d streams-scale", len(rep.Fixed), len(rep.Max), len(rep.Stream), len(rep.Failing), len(rep.Scale))
	}
	if len(rep.Targets) != 11 {
		t.Errorf("%d targets, want 11: %+v", len(rep.Targets), rep.Targets)
	}
	checkFiles(t, rep)
}

func checkLoad(t *testing.T, name string, p Path, l Load) {
	t.Helper()
	if l.Requests == 0 || l.Errors != 0 || l.Rate <= 0 || l.P50 <= 0 || l.P99 < l.P50 {
		t.Errorf("%s: %+v", name, l)
	}
	// With 10 ms ticks instead of schedstat, a short window may hold no tick.
	precise := strings.HasPrefix(cpuSource(), "schedstat")
	if p != PathDirect && (precise && (l.CPUPerRequest <= 0 || l.GatewayBusy <= 0) || l.PeakRSS <= 0) {
		t.Errorf("%s: gateway figures missing: %+v", name, l)
	}
}

func checkFiles(t *testing.T, rep *Report) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	if err := rep.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, section := range []string{"### Targets", "### Fixed rates", "### Maximum throughput", "### Streaming", "### One of two targets failing", "### Many long streams", "### Soak"} {
		if !strings.Contains(string(md), section) {
			t.Errorf("report.md has no %q", section)
		}
	}
	js, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Targets) != len(rep.Targets) {
		t.Errorf("report.json has %d targets, want %d", len(back.Targets), len(rep.Targets))
	}
}
