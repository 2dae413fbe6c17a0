package demo

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/provider/sim"
)

// fakeGateway answers like relais would, with a sim behind it: it names the
// provider that served in x-relais-provider, and one chat answer in three
// comes from the backup.
type fakeGateway struct {
	sim                          *sim.Server
	chat, streams, embeds, other atomic.Int64
	inFlight, maxInFlight        atomic.Int64
}

func (g *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	for {
		m := g.maxInFlight.Load()
		if n <= m || g.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	model := gjson.GetBytes(body, "model").Str
	switch {
	case r.URL.Path == "/v1/chat/completions" && model == ChatRoute:
		count := g.chat.Add(1)
		if gjson.GetBytes(body, "stream").Bool() {
			g.streams.Add(1)
		}
		provider := Primary
		if count%3 == 0 {
			provider = Backup
		}
		w.Header().Set("X-Relais-Provider", provider)
	case r.URL.Path == "/v1/embeddings" && model == EmbedRoute:
		g.embeds.Add(1)
		w.Header().Set("X-Relais-Provider", Embedder)
	default:
		g.other.Add(1)
	}
	g.sim.ServeHTTP(w, r)
}

var summary = regexp.MustCompile(`msg="demo: traffic" last=\S+ requests=(\d+) ok=(\d+) failed=(\d+) served_by_fallback=(\d+)`)

func TestTraffic(t *testing.T) {
	t.Parallel()
	gw := &fakeGateway{sim: sim.NewServer(&sim.Spec{ErrorRate: 0.2, Seed: 1}, clock.NewFake(time.Now()))}
	ts := httptest.NewServer(gw)
	defer ts.Close()
	var logs logBuffer
	const rate = 200.0
	tr := &Traffic{BaseURL: ts.URL, Rate: rate, Every: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	// Run until the summaries have counted enough requests, however slow the
	// machine is.
	var total, failed, fallback int
	for deadline := time.Now().Add(10 * time.Second); total < 40; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("summaries counted %d requests in 10s: %q", total, logs.lines())
		}
		total, failed, fallback = 0, 0, 0
		for _, line := range logs.lines() {
			m := summary.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			n := make([]int, 4)
			for i := range n {
				n[i], _ = strconv.Atoi(m[i+1])
			}
			if n[0] != n[1]+n[2] {
				t.Errorf("%q: requests must be ok + failed", line)
			}
			total, failed, fallback = total+n[0], failed+n[2], fallback+n[3]
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if n := gw.maxInFlight.Load(); n > maxInFlight {
		t.Errorf("%d requests in flight at once, want at most %d", n, maxInFlight)
	}
	for _, line := range logs.lines() {
		if !summary.MatchString(line) {
			t.Errorf("unexpected log line %q", line)
		}
	}
	sent := gw.chat.Load() + gw.embeds.Load()
	if gw.other.Load() != 0 || gw.streams.Load() == 0 || gw.streams.Load() == gw.chat.Load() || gw.embeds.Load() == 0 {
		t.Errorf("mix: chat %d (streams %d), embeddings %d, other %d", gw.chat.Load(), gw.streams.Load(), gw.embeds.Load(), gw.other.Load())
	}
	if limit := int64(rate*elapsed.Seconds()) + 2; sent > limit {
		t.Errorf("%d requests in %s, more than %v/s allows", sent, elapsed, rate)
	}
	if int64(total) > sent || failed == 0 || fallback == 0 {
		t.Errorf("summaries count %d requests (%d failed, %d by fallback) of %d sent", total, failed, fallback, sent)
	}
}

// TestTrafficStops: requests that never end do not keep Run past its context.
func TestTrafficStops(t *testing.T) {
	t.Parallel()
	hang := &sim.Spec{Schedule: sim.Schedule{Periods: []sim.Period{{To: 1 << 62, Fault: sim.Fault{Mode: sim.Hang}}}}}
	ts := httptest.NewServer(sim.NewServer(hang, clock.NewFake(time.Now())))
	defer ts.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	tr := &Traffic{BaseURL: ts.URL, Rate: 100, Logger: slog.New(slog.DiscardHandler)}
	if err := tr.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestTrafficRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		rate float64
		ok   bool
	}{
		{"http://127.0.0.1:8080", 0, true},
		{"http://localhost:8080/", 1, true},
		{"http://[::1]:8080", 1000, true},
		{"http://10.0.0.1:8080", 0, false},
		{"https://api.example.com", 0, false},
		{"ftp://127.0.0.1", 0, false},
		{"127.0.0.1:8080", 0, false},
		{"http://127.0.0.1:8080", -1, false},
		{"http://127.0.0.1:8080", 5000, false},
	}
	for _, tt := range tests {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := (&Traffic{BaseURL: tt.url, Rate: tt.rate}).Run(ctx)
		if (err == nil) != tt.ok {
			t.Errorf("Run with %q at %v/s: err %v, want ok %v", tt.url, tt.rate, err, tt.ok)
		}
	}
}
