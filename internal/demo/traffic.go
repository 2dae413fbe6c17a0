package demo

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"
)

// Traffic sends a light, steady mix of requests to the gateway so that the
// demo has users: chat (half of it streamed) and embeddings. It only talks
// to a loopback address: synthetic load must never reach a real gateway
// that spends real provider keys.
type Traffic struct {
	// BaseURL is the gateway, e.g. http://127.0.0.1:8080.
	BaseURL string
	// Rate is requests per second; default 2.
	Rate float64
	// ChatRoute and EmbedRoute are the models to ask for; Primary is the
	// provider that serves ChatRoute when all is well, so an answer from any
	// other provider (x-relais-provider) counts as a fallback. Default: the
	// demo config's.
	ChatRoute, EmbedRoute, Primary string
	// Client defaults to http.DefaultClient; every request is bounded anyway.
	Client *http.Client
	// Logger receives a summary every Every (default 30s).
	Logger *slog.Logger
	Every  time.Duration
}

const (
	// maxRate keeps the synthetic users light: they show the gateway at work,
	// they do not load-test it.
	maxRate = 1000
	// maxInFlight bounds concurrent requests: when the gateway is slow the
	// traffic waits rather than piles up.
	maxInFlight = 16
	// requestTimeout bounds one request, streams included.
	requestTimeout = 60 * time.Second
)

// prompts are what the synthetic users ask, in turn.
var prompts = [...]string{
	"Summarize our refund policy in two sentences.",
	"Write a friendly reply to a customer whose order is late.",
	"What are three ways to reduce cloud costs?",
	"Translate 'the service is back to normal' into French.",
	"Suggest a title for a post-incident report about a provider outage.",
}

// tally counts outcomes since the last summary.
type tally struct {
	mu                             sync.Mutex
	requests, ok, failed, fallback int
}

func (c *tally) add(ok, fallback bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	switch {
	case !ok:
		c.failed++
	case fallback:
		c.ok++
		c.fallback++
	default:
		c.ok++
	}
}

// take returns the counts and starts over.
func (c *tally) take() (requests, ok, failed, fallback int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	requests, ok, failed, fallback = c.requests, c.ok, c.failed, c.fallback
	c.requests, c.ok, c.failed, c.fallback = 0, 0, 0, 0
	return requests, ok, failed, fallback
}

// Run sends requests until ctx ends, then waits for those in flight (they
// end with ctx) and returns nil. It fails at once if BaseURL is not loopback.
func (t *Traffic) Run(ctx context.Context) error {
	if err := checkLoopback(t.BaseURL); err != nil {
		return err
	}
	rate := cmp.Or(t.Rate, 2)
	if rate <= 0 || rate > maxRate {
		return fmt.Errorf("demo traffic: rate must be above 0 and at most %d requests per second, got %v", maxRate, rate)
	}
	var (
		wg    sync.WaitGroup
		sem   = make(chan struct{}, maxInFlight)
		stats tally
		every = cmp.Or(t.Every, 30*time.Second)
	)
	send := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer send.Stop()
	report := time.NewTicker(every)
	defer report.Stop()
	defer wg.Wait()
	sent := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-report.C:
			t.summarize(ctx, &stats, every)
			continue
		case <-send.C:
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		i := sent
		sent++
		wg.Go(func() {
			defer func() { <-sem }()
			t.one(ctx, i, &stats)
		})
	}
}

// one sends the i-th request of the mix: three in ten are embeddings, the
// chat requests alternate between streamed and not.
func (t *Traffic) one(ctx context.Context, i int, stats *tally) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	prompt := prompts[i%len(prompts)]
	var path string
	var body any
	stream := false
	if i%10 < 3 {
		path = "/v1/embeddings"
		body = map[string]any{"model": cmp.Or(t.EmbedRoute, EmbedRoute), "input": prompt}
	} else {
		path = "/v1/chat/completions"
		stream = i%2 == 1
		req := map[string]any{
			"model":      cmp.Or(t.ChatRoute, ChatRoute),
			"messages":   []map[string]string{{"role": "user", "content": prompt}},
			"max_tokens": 40,
		}
		if stream {
			req["stream"] = true
			req["stream_options"] = map[string]bool{"include_usage": true}
		}
		body = req
	}
	ok, servedBy := t.post(ctx, path, body, stream)
	if !ok && ctx.Err() != nil {
		// Stopping is not a failure worth counting.
		return
	}
	chat := path == "/v1/chat/completions"
	stats.add(ok, chat && servedBy != "" && servedBy != cmp.Or(t.Primary, Primary))
}

// post sends one request and reports whether the user got a whole answer,
// and which provider served it.
func (t *Traffic) post(ctx context.Context, path string, body any, stream bool) (ok bool, servedBy string) {
	b, err := json.Marshal(body)
	if err != nil {
		return false, ""
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(t.BaseURL, "/")+path, bytes.NewReader(b))
	if err != nil {
		return false, ""
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := cmp.Or(t.Client, http.DefaultClient).Do(req)
	if err != nil {
		return false, ""
	}
	defer resp.Body.Close()
	servedBy = resp.Header.Get("X-Relais-Provider")
	if resp.StatusCode/100 != 2 {
		_, _ = io.Copy(io.Discard, resp.Body) // lets the connection be reused
		return false, servedBy
	}
	if !stream {
		_, err := io.Copy(io.Discard, resp.Body)
		return err == nil, servedBy
	}
	// A stream is whole when it reaches [DONE] without an error event.
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, found := strings.CutPrefix(sc.Text(), "data: ")
		switch {
		case !found:
		case data == "[DONE]":
			return true, servedBy
		case gjson.Get(data, "error").Type != gjson.Null: // missing is Null too
			return false, servedBy
		}
	}
	return false, servedBy
}

// summarize logs the counts since the last summary and resets them.
func (t *Traffic) summarize(ctx context.Context, s *tally, every time.Duration) {
	requests, ok, failed, fallback := s.take()
	level := slog.LevelInfo
	if failed > 0 {
		level = slog.LevelWarn
	}
	cmp.Or(t.Logger, slog.Default()).Log(ctx, level, "demo: traffic",
		"last", every,
		"requests", requests,
		"ok", ok,
		"failed", failed,
		"served_by_fallback", fallback)
}

func checkLoopback(base string) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("demo traffic: base URL %q is not an http(s) URL", base)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("demo traffic: base URL %q is not a loopback address", base)
	}
	return nil
}
