package loadbench

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// StreamLoad is one measurement of streams through a path: times in
// milliseconds, CPU in microseconds of the gateway process per stream.
type StreamLoad struct {
	Streams      int     `json:"streams"`
	Errors       int     `json:"errors"`
	ErrorSample  string  `json:"error_sample,omitempty"`
	TTFTP50      float64 `json:"ttft_p50_ms"`
	TTFTP99      float64 `json:"ttft_p99_ms"`
	TTLTP50      float64 `json:"ttlt_p50_ms"`
	TTLTP99      float64 `json:"ttlt_p99_ms"`
	CPUPerStream float64 `json:"cpu_per_stream_us"`
}

func (l StreamLoad) String() string {
	s := fmt.Sprintf("%d streams, TTFT p50 %.3f ms p99 %.3f ms, TTLT p50 %.3f ms p99 %.3f ms, %d errors",
		l.Streams, l.TTFTP50, l.TTFTP99, l.TTLTP50, l.TTLTP99, l.Errors)
	if l.ErrorSample != "" {
		s += " (" + l.ErrorSample + ")"
	}
	return s
}

// streamLoad starts streams at a constant rate for the warm-up plus
// Duration, the rate that keeps about StreamConcurrency open at once.
// Constant arrivals, rather than clients that each start a stream when their
// last one ends, keep the streams from starting in bursts: the clients'
// streams all last as long, so they would start together, queue on the
// harness's core and show that wait as time to first token.
func (r *runner) streamLoad(ctx context.Context, ep *endpoint) (StreamLoad, error) {
	r.ups.setShape(streamShape{Chunks: r.o.StreamChunks, Gap: r.o.StreamGap})
	tr := newTransport(2 * r.o.StreamConcurrency)
	defer tr.CloseIdleConnections()
	s := &streamer{client: &http.Client{Transport: tr}, url: ep.base + "/v1/chat/completions", header: r.header, chunks: r.o.StreamChunks}
	length := time.Duration(r.o.StreamChunks-1) * r.o.StreamGap
	every := max(length/time.Duration(r.o.StreamConcurrency), time.Millisecond)

	var (
		mu      sync.Mutex
		results []streamResult
	)
	w, err := r.measure(ep, r.o.Duration, func(total time.Duration) {
		var wg sync.WaitGroup
		t := time.NewTicker(every)
		defer t.Stop()
		stop := time.Now().Add(total)
		for ctx.Err() == nil && time.Now().Before(stop) {
			wg.Go(func() {
				sctx, cancel := context.WithTimeout(ctx, length+requestTimeout)
				defer cancel()
				res := s.do(sctx, nil)
				mu.Lock()
				results = append(results, res)
				mu.Unlock()
			})
			<-t.C
		}
		wg.Wait()
	})
	if cerr := ctx.Err(); cerr != nil {
		return StreamLoad{}, cerr
	}
	if err != nil {
		return StreamLoad{}, err
	}
	return summarizeStreams(ep, results, w)
}

func summarizeStreams(ep *endpoint, results []streamResult, w window) (StreamLoad, error) {
	var l StreamLoad
	var ttft, ttlt []time.Duration
	for _, res := range results {
		if res.start.Before(w.from.at) {
			continue
		}
		l.Streams++
		if res.err != nil {
			l.Errors++
			if l.ErrorSample == "" {
				l.ErrorSample = res.err.Error()
			}
			continue
		}
		ttft = append(ttft, res.ttft)
		ttlt = append(ttlt, res.ttlt)
	}
	if len(ttft) == 0 {
		return l, fmt.Errorf("%s: no stream completed in the measured window (%d errors: %s)", ep.path, l.Errors, l.ErrorSample)
	}
	slices.Sort(ttft)
	slices.Sort(ttlt)
	l.TTFTP50, l.TTFTP99 = ms(quantile(ttft, .5)), ms(quantile(ttft, .99))
	l.TTLTP50, l.TTLTP99 = ms(quantile(ttlt, .5)), ms(quantile(ttlt, .99))
	l.CPUPerStream = w.cpuPer(l.Streams)
	return l, nil
}
