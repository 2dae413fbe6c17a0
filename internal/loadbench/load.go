package loadbench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// fixedWorkers is vegeta's pool at a constant rate: it starts small and
// grows, up to this, only when responses slow down.
const (
	fixedWorkers    = 16
	maxFixedWorkers = 1000
	requestTimeout  = 10 * time.Second
)

// Load is one measurement of a path under vegeta. Times are in
// milliseconds, CPU in microseconds of the gateway process per request.
type Load struct {
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	ErrorSample string  `json:"error_sample,omitempty"`
	Rate        float64 `json:"achieved_rps"`
	P50         float64 `json:"p50_ms"`
	P90         float64 `json:"p90_ms"`
	P99         float64 `json:"p99_ms"`
	// The gateway child's figures; zero on the direct path.
	CPUPerRequest float64 `json:"cpu_per_request_us"`
	PeakRSS       float64 `json:"peak_rss_mib"`
	GatewayBusy   float64 `json:"gateway_cpu_busy"` // share of its core used
	// HarnessBusy is the share of a core the harness (load + upstream) used:
	// near 1 at maximum throughput, the generator was the bottleneck.
	HarnessBusy float64 `json:"harness_cpu_busy"`
	// UpstreamA is the rate of requests that reached the first target.
	UpstreamA float64 `json:"upstream_a_rps"`
}

func (l Load) String() string {
	s := fmt.Sprintf("%.0f req/s, p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, %d errors", l.Rate, l.P50, l.P90, l.P99, l.Errors)
	if l.CPUPerRequest > 0 {
		s += fmt.Sprintf(", gateway %.1f µs/req, peak RSS %.1f MiB", l.CPUPerRequest, l.PeakRSS)
	}
	if l.ErrorSample != "" {
		s += " (" + l.ErrorSample + ")"
	}
	return s
}

// mark is the state of the processes at one instant of a measurement.
type mark struct {
	at        time.Time
	gateway   time.Duration // CPU time of the gateway child; 0 on the direct path
	harness   time.Duration // CPU time of this process
	upstreamA int64         // requests upstream A has answered
	peakReset error         // why the gateway's peak RSS could not be reset
}

func (r *runner) mark(ep *endpoint) (mark, error) {
	m := mark{at: time.Now(), upstreamA: r.ups.a.requests.Load()}
	var err error
	if m.harness, err = cpuTime(os.Getpid()); err != nil {
		return m, err
	}
	if ep.child != nil {
		if m.gateway, err = cpuTime(ep.child.pid); err != nil {
			return m, err
		}
	}
	return m, nil
}

// window is the measured part of a run, after the warm-up.
type window struct{ from, to mark }

func (w window) seconds() float64 { return w.to.at.Sub(w.from.at).Seconds() }

func (w window) cpuPer(n int) float64 {
	if n == 0 {
		return 0
	}
	return float64((w.to.gateway - w.from.gateway).Microseconds()) / float64(n)
}

// measure runs load for the warm-up plus d: it marks the start of the
// measured window when the warm-up ends (and resets the gateway's peak RSS
// there), runs load, and marks the end once every request has finished.
func (r *runner) measure(ep *endpoint, d time.Duration, load func(total time.Duration)) (window, error) {
	var (
		w       window
		fromErr error
		marked  = make(chan struct{})
	)
	t := time.AfterFunc(r.o.Warmup, func() {
		defer close(marked)
		w.from, fromErr = r.mark(ep)
		if fromErr == nil && ep.child != nil {
			w.from.peakReset = resetPeak(ep.child.pid)
		}
	})
	load(r.o.Warmup + d)
	if t.Stop() {
		return window{}, errors.New("the load ended before its warm-up")
	}
	<-marked
	if fromErr != nil {
		return window{}, fromErr
	}
	if w.from.peakReset != nil {
		r.note("peak RSS not reset between measurements (%v): a peak is the child's highest so far", w.from.peakReset)
	}
	var err error
	w.to, err = r.mark(ep)
	return w, err
}

// hit is one vegeta result, reduced to what the report needs.
type hit struct {
	sent    time.Time
	latency time.Duration
	err     string // empty on a 2xx
}

// attack sends requests to ep for the warm-up plus d with vegeta: at rate
// per second, or as fast as workers allow when rate is 0.
func (r *runner) attack(ctx context.Context, ep *endpoint, rate, workers int, d time.Duration) (Load, error) {
	maxWorkers := maxFixedWorkers
	if rate == 0 {
		maxWorkers = workers
	}
	tr := newTransport(maxWorkers)
	defer tr.CloseIdleConnections()
	atk := vegeta.NewAttacker(
		vegeta.Client(&http.Client{Transport: tr, Timeout: requestTimeout}),
		vegeta.Workers(uint64(min(workers, maxWorkers))), //nolint:gosec // positive: Options.validate
		vegeta.MaxWorkers(uint64(maxWorkers)),            //nolint:gosec // positive: Options.validate
		vegeta.MaxBody(0),                                // the harness's CPU is for load, not for copying bodies
	)
	defer context.AfterFunc(ctx, func() { atk.Stop() })()
	targeter := vegeta.NewStaticTargeter(vegeta.Target{
		Method: http.MethodPost, URL: ep.base + "/v1/chat/completions", Body: []byte(chatRequest), Header: r.header,
	})
	pacer := vegeta.ConstantPacer{Freq: rate, Per: time.Second}

	hits := make([]hit, 0, expectedHits(rate, r.o.Warmup+d))
	w, err := r.measure(ep, d, func(total time.Duration) {
		for res := range atk.Attack(targeter, pacer, total, string(ep.path)) {
			h := hit{sent: res.Timestamp, latency: res.Latency, err: res.Error}
			if h.err == "" && res.Code/100 != 2 {
				h.err = fmt.Sprintf("HTTP %d", res.Code)
			}
			hits = append(hits, h)
		}
	})
	if cerr := ctx.Err(); cerr != nil {
		return Load{}, cerr
	}
	if err != nil {
		return Load{}, err
	}
	return r.summarize(ep, hits, w)
}

// expectedHits sizes the results up front: growing a large slice mid-run
// would copy it on the harness's only core.
func expectedHits(rate int, d time.Duration) int {
	if rate == 0 {
		return 1 << 16 // unpaced: a few seconds at the harness's ceiling
	}
	return int(float64(rate)*d.Seconds()*1.05) + 64
}

func (r *runner) summarize(ep *endpoint, hits []hit, w window) (Load, error) {
	var l Load
	lat := make([]time.Duration, 0, len(hits))
	for _, h := range hits {
		if h.sent.Before(w.from.at) {
			continue
		}
		lat = append(lat, h.latency)
		if h.err != "" {
			l.Errors++
			if l.ErrorSample == "" {
				l.ErrorSample = h.err
			}
		}
	}
	l.Requests = len(lat)
	if l.Requests == 0 {
		return l, fmt.Errorf("%s: no request completed in the measured window", ep.path)
	}
	slices.Sort(lat)
	secs := w.seconds()
	l.Rate = float64(l.Requests) / secs
	l.P50, l.P90, l.P99 = ms(quantile(lat, .5)), ms(quantile(lat, .9)), ms(quantile(lat, .99))
	l.HarnessBusy = (w.to.harness - w.from.harness).Seconds() / secs
	l.UpstreamA = float64(w.to.upstreamA-w.from.upstreamA) / secs
	if ep.child != nil {
		l.CPUPerRequest = w.cpuPer(l.Requests)
		l.GatewayBusy = (w.to.gateway - w.from.gateway).Seconds() / secs
		peak, err := memory(ep.child.pid, "VmHWM")
		if err != nil {
			return l, err
		}
		l.PeakRSS = mib(peak)
	}
	return l, nil
}

// quantile is the nearest-rank quantile q of sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// newTransport is the harness's client transport: keep-alive connections,
// one per concurrent request, on loopback with no proxy.
func newTransport(conns int) *http.Transport {
	d := &net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}
