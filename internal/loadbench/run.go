package loadbench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// Path is a way from the client to the fake upstream.
type Path string

// The paths compared. Direct is the floor the others are measured against.
const (
	PathDirect   Path = "direct"   // client → upstream
	PathBaseline Path = "baseline" // client → httputil.ReverseProxy → upstream
	PathRelais   Path = "relais"   // client → relais → upstream
)

var (
	allPaths     = []Path{PathDirect, PathBaseline, PathRelais}
	gatewayPaths = []Path{PathBaseline, PathRelais}
)

// runner holds what every scenario shares.
type runner struct {
	o      Options
	setup  *Setup
	config string // relais's config file
	ups    *upstreams
	gwCPU  int // CPU the gateways start on; -1 when not pinned
	header http.Header
	probe  *http.Client // checks and scrapes
	log    io.Writer
}

// Run measures the scenarios of o and returns the report. It starts the
// fake upstreams in this process and every gateway as a child process of
// o.Binary; it stops them all, and removes its temporary files, before it
// returns, also when ctx ends.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("bench options: %w", err)
	}
	rep := &Report{Setup: newSetup(o)}
	r := &runner{o: o, setup: &rep.Setup, gwCPU: -1, log: o.Progress, header: http.Header{
		"Content-Type":  {"application/json"},
		"Authorization": {"Bearer " + clientKey},
	}}
	if r.log == nil {
		r.log = io.Discard
	}
	cleanup, err := r.prepare(ctx)
	defer cleanup()
	if err != nil {
		return nil, err
	}
	if err := r.scenarios(ctx, rep); err != nil {
		return nil, err
	}
	rep.Targets = targets(rep)
	rep.Setup.Elapsed = time.Since(rep.Setup.Started).Round(time.Second).Seconds()
	return rep, nil
}

// prepare pins this process, starts the upstreams and writes relais's
// config. cleanup undoes, in reverse order, whatever was done, also when
// prepare failed half-way.
func (r *runner) prepare(ctx context.Context) (cleanup func(), err error) {
	var undo []func()
	cleanup = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	if r.o.Pin {
		restore, err := r.pin()
		if err != nil {
			return cleanup, err
		}
		undo = append(undo, restore)
	}
	undo = append(undo, quietGC())
	dir, err := os.MkdirTemp("", "relais-bench-")
	if err != nil {
		return cleanup, err
	}
	undo = append(undo, func() { _ = os.RemoveAll(dir) })
	if r.ups, err = startUpstreams(ctx, streamShape{Chunks: r.o.StreamChunks, Gap: r.o.StreamGap}); err != nil {
		return cleanup, err
	}
	undo = append(undo, r.ups.close)
	tr := newTransport(4)
	undo = append(undo, tr.CloseIdleConnections)
	r.probe = &http.Client{Transport: tr, Timeout: 5 * time.Second}

	r.config = filepath.Join(dir, "relais.yaml")
	cfg := relaisConfig(filepath.Join(dir, "data"), r.ups.a.url(), r.ups.b.url(), max(512, r.o.ScaleStreams+512))
	return cleanup, os.WriteFile(r.config, cfg, 0o600)
}

func (r *runner) scenarios(ctx context.Context, rep *Report) error {
	steps := []struct {
		name string
		run  func(context.Context, *Report) error
	}{
		{ScenarioFixed, r.fixed},
		{ScenarioMax, r.maxThroughput},
		{ScenarioStream, r.stream},
		{ScenarioFailing, r.failing},
		{ScenarioScale, r.streamsScale},
		{ScenarioSoak, r.soak},
	}
	for _, s := range steps {
		if !r.o.runs(s.name) {
			continue
		}
		if err := s.run(ctx, rep); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// pin puts this process on one CPU with GOMAXPROCS=1 and keeps another CPU
// for the gateways; without two CPUs it runs unpinned and says so.
func (r *runner) pin() (restore func(), err error) {
	gw, harness, ok := cpuPair()
	if !ok {
		r.note("not pinned: fewer than two CPUs available")
		return func() {}, nil
	}
	unpin, err := pinProcess(harness)
	if err != nil {
		return nil, err
	}
	prev := runtime.GOMAXPROCS(1)
	r.gwCPU = gw
	r.setup.Pinned, r.setup.GatewayCPU, r.setup.HarnessCPU = true, gw, harness
	r.setup.HarnessGOMAXPROCS = 1
	return func() {
		runtime.GOMAXPROCS(prev)
		unpin()
	}, nil
}

// The harness's GC: with one core, each collection delays the requests in
// flight and shows in every path's tail latency, the direct one included.
// Collecting 8 times less often keeps the harness's pauses out of the
// figures; the soft limit bounds the memory this costs.
const (
	harnessGOGC     = 800
	harnessMemLimit = 2 << 30
)

// quietGC applies the harness's GC settings and returns a function that
// restores the previous ones.
func quietGC() (restore func()) {
	gc := debug.SetGCPercent(harnessGOGC)
	limit := debug.SetMemoryLimit(harnessMemLimit)
	return func() {
		debug.SetGCPercent(gc)
		debug.SetMemoryLimit(limit)
	}
}

// endpoint is a path under test: where requests go and, for a gateway, its
// process.
type endpoint struct {
	path  Path
	base  string // http://host:port
	child *child // nil on the direct path
}

// withEndpoint starts a fresh gateway for p (so its peak RSS is its own),
// checks that it answers, runs fn, and stops it.
func (r *runner) withEndpoint(ctx context.Context, p Path, fn func(*endpoint) error) error {
	ep := &endpoint{path: p, base: r.ups.a.url()}
	if p != PathDirect {
		c, err := startChild(ctx, string(p), r.o.Binary, r.args(p), r.gwCPU)
		if err != nil {
			return err
		}
		defer c.stop()
		ep.child, ep.base = c, "http://"+c.gateway
		r.describeChild(c)
	}
	if err := r.check(ctx, ep); err != nil {
		return err
	}
	if err := fn(ep); err != nil {
		return err
	}
	if ep.child != nil {
		return ep.child.alive()
	}
	return nil
}

// args are the command lines of the gateways: relais's own serve, and the
// hidden bench subcommand that runs ServeBaseline.
func (r *runner) args(p Path) []string {
	if p == PathRelais {
		return []string{"serve", "--config", r.config}
	}
	return []string{"bench", "serve-baseline", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
		"--upstream", r.ups.a.url(), "--upstream-key", upstreamKey}
}

// check sends one request through ep and expects a chat completion back.
func (r *runner) check(ctx context.Context, ep *endpoint) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.base+"/v1/chat/completions", strings.NewReader(chatRequest))
	if err != nil {
		return err
	}
	req.Header = r.header.Clone()
	resp, err := r.probe.Do(req)
	if err != nil {
		return fmt.Errorf("%s: first request: %w", ep.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s: first request: %w", ep.path, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"object":"chat.completion"`) {
		return fmt.Errorf("%s: first request: HTTP %d: %.300s", ep.path, resp.StatusCode, body)
	}
	return nil
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.log, format+"\n", args...)
}

// note adds a remark to the report's setup, once.
func (r *runner) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	if !slices.Contains(r.setup.Notes, n) {
		r.setup.Notes = append(r.setup.Notes, n)
		r.logf("note: %s", n)
	}
}

// rotate returns s starting at its element n (mod its length), so each
// round measures the paths in another order and none always goes first.
func rotate[T any](s []T, n int) []T {
	k := n % len(s)
	return append(slices.Clone(s[k:]), s[:k]...)
}

func (r *runner) round(i int) string { return fmt.Sprintf("round %d/%d", i+1, r.o.Rounds) }
