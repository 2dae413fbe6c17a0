package loadbench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Scale is one streams-scale measurement: many long streams held open at
// once through one gateway process.
type Scale struct {
	Streams     int    `json:"streams"`
	Open        int    `json:"open_at_sample"` // streams open when the gateway was read
	Errors      int    `json:"errors"`
	ErrorSample string `json:"error_sample,omitempty"`
	// RSS of the gateway before the streams and with them open (MiB), and
	// the difference per open stream (KiB).
	IdleRSS   float64 `json:"idle_rss_mib"`
	OpenRSS   float64 `json:"open_rss_mib"`
	PerStream float64 `json:"rss_per_stream_kib"`
	// Of that, goroutine stacks and heap in use (KiB per open stream): what
	// a profile should explain.
	StackPerStream float64 `json:"stack_per_stream_kib"`
	HeapPerStream  float64 `json:"heap_per_stream_kib"`
	// Goroutines of the gateway, idle and with the streams open.
	IdleGoroutines      float64 `json:"idle_goroutines"`
	OpenGoroutines      float64 `json:"open_goroutines"`
	GoroutinesPerStream float64 `json:"goroutines_per_stream"`
	// UpstreamConns is how many connections the gateway held to the upstream.
	UpstreamConns int `json:"upstream_conns"`
}

func (s Scale) String() string {
	str := fmt.Sprintf("%d/%d open, RSS %.1f → %.1f MiB (%.1f KiB/stream: stacks %.1f, heap %.1f), %.2f goroutines/stream, %d upstream conns, %d errors",
		s.Open, s.Streams, s.IdleRSS, s.OpenRSS, s.PerStream, s.StackPerStream, s.HeapPerStream, s.GoroutinesPerStream, s.UpstreamConns, s.Errors)
	if s.ErrorSample != "" {
		str += " (" + s.ErrorSample + ")"
	}
	return str
}

// scaleFiles is the file descriptors a process needs beyond its streams.
const scaleFiles = 256

// scale opens ScaleStreams streams through ep at ScaleRamp a second; once
// every stream has its first token (and one more token gap has passed, so
// each has been through a write), it reads the gateway's RSS, goroutines and
// upstream connections, then waits for every stream to end.
func (r *runner) scale(ctx context.Context, ep *endpoint) (Scale, error) {
	n := r.o.ScaleStreams
	if err := checkOpenFiles(ep.child.pid, 2*n+scaleFiles); err != nil {
		return Scale{}, err
	}
	chunks := int(r.o.ScaleHold / r.o.ScaleGap)
	r.ups.setShape(streamShape{Chunks: chunks, Gap: r.o.ScaleGap})
	idle, err := r.readGateway(ctx, ep)
	if err != nil {
		return Scale{}, err
	}
	s := Scale{Streams: n, IdleRSS: idle.rss, IdleGoroutines: idle.goroutines}

	tr := newTransport(n)
	defer tr.CloseIdleConnections()
	st := &streamer{client: &http.Client{Transport: tr}, url: ep.base + "/v1/chat/completions", header: r.header, chunks: chunks}
	sctx, cancel := context.WithTimeout(ctx, r.rampTime()+r.o.ScaleHold+2*requestTimeout)
	defer cancel()
	h := r.hold(sctx, st, n)
	open, err := r.readGateway(sctx, ep)
	if err == nil {
		err = r.profile(sctx, ep, "heap?gc=1", "relais-scale-heap.pprof")
	}
	if err == nil {
		err = r.profile(sctx, ep, "goroutine", "relais-scale-goroutine.pprof")
	}
	s.Open = int(h.live.Load())
	s.UpstreamConns = int(r.ups.a.open.Load())
	if err != nil {
		cancel() // no figure to wait for
	}
	s.Errors, s.ErrorSample = h.wait()
	if cerr := ctx.Err(); cerr != nil {
		return s, cerr
	}
	if err != nil {
		return s, err
	}
	s.OpenRSS, s.OpenGoroutines = open.rss, open.goroutines
	if s.Open > 0 {
		s.PerStream = (s.OpenRSS - s.IdleRSS) * 1024 / float64(s.Open)
		s.StackPerStream = (open.stack - idle.stack) * 1024 / float64(s.Open)
		s.HeapPerStream = (open.heap - idle.heap) * 1024 / float64(s.Open)
		s.GoroutinesPerStream = (s.OpenGoroutines - s.IdleGoroutines) / float64(s.Open)
	}
	return s, nil
}

func (r *runner) rampTime() time.Duration {
	return time.Duration(r.o.ScaleStreams) * time.Second / time.Duration(r.o.ScaleRamp)
}

// heldStreams are streams running at once.
type heldStreams struct {
	live    atomic.Int64 // open now: first token received, not ended
	settled atomic.Int64 // opened or failed before opening
	wg      sync.WaitGroup
	results chan streamResult
}

// hold starts n streams at ScaleRamp a second and returns once every one
// has its first token or has failed, and one more token gap has passed.
func (r *runner) hold(ctx context.Context, st *streamer, n int) *heldStreams {
	h := &heldStreams{results: make(chan streamResult, n)}
	r.ramp(ctx, n, func() {
		h.wg.Go(func() {
			opened := false
			res := st.do(ctx, func() { opened = true; h.live.Add(1); h.settled.Add(1) })
			if opened {
				h.live.Add(-1)
			} else {
				h.settled.Add(1)
			}
			h.results <- res
		})
	})
	for h.settled.Load() < int64(n) && ctx.Err() == nil {
		sleep(ctx, 50*time.Millisecond)
	}
	sleep(ctx, r.o.ScaleGap)
	return h
}

// wait waits for every stream to end and counts the failed ones.
func (h *heldStreams) wait() (errs int, sample string) {
	h.wg.Wait()
	close(h.results)
	for res := range h.results {
		if res.err != nil {
			errs++
			if sample == "" {
				sample = res.err.Error()
			}
		}
	}
	return errs, sample
}

// ramp calls start n times at ScaleRamp a second, in batches every 10 ms.
func (r *runner) ramp(ctx context.Context, n int, start func()) {
	const tick = 10 * time.Millisecond
	perTick := max(1, r.o.ScaleRamp/int(time.Second/tick))
	t := time.NewTicker(tick)
	defer t.Stop()
	for i := 0; i < n; {
		for j := 0; j < perTick && i < n; j++ {
			start()
			i++
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// gatewayReading is the gateway's memory and goroutines at one instant.
type gatewayReading struct {
	rss, stack, heap float64 // MiB
	goroutines       float64
}

func (r *runner) readGateway(ctx context.Context, ep *endpoint) (gatewayReading, error) {
	rss, err := memory(ep.child.pid, "VmRSS")
	if err != nil {
		return gatewayReading{}, err
	}
	vs, err := r.scrapeAll(ctx, ep.child.admin, "go_goroutines", "go_memstats_stack_inuse_bytes", "go_memstats_heap_inuse_bytes")
	return gatewayReading{rss: mib(rss), goroutines: vs[0], stack: vs[1] / (1 << 20), heap: vs[2] / (1 << 20)}, err
}

// checkOpenFiles fails early when this process or the gateway could not
// hold the streams: each needs a descriptor per stream on either side. (Go
// raises a process's soft limit to its hard limit at start.)
func checkOpenFiles(pid, need int) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("open files limit: %w", err)
	}
	child, err := softOpenFiles(pid)
	if err != nil {
		return err
	}
	if have := min(lim.Cur, child); have < uint64(need) { //nolint:gosec // positive: Options.validate
		return fmt.Errorf("streams-scale needs %d open files per process, the limit is %d: lower --streams or raise the limit (ulimit -Hn)", need, have)
	}
	return nil
}

func softOpenFiles(pid int) (uint64, error) {
	soft, _, ok := strings.Cut(openFilesLimit(pid), " ")
	n, err := strconv.ParseUint(soft, 10, 64)
	if !ok || err != nil {
		return 0, fmt.Errorf("open files limit of %d: unreadable /proc/%d/limits", pid, pid)
	}
	return n, nil
}

// selfOpenFiles describes this process's limit for the report.
func selfOpenFiles() string { return openFilesLimit(os.Getpid()) }
