package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/health"
	"github.com/relais/relais/internal/rollup"
)

var t0 = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

// The suite runs, case by case, against a fresh database of each dialect:
// TestSQLite and TestPostgres. Each case gets its own database (a file, or
// a schema), so cases run in parallel.
var suite = []struct {
	name string
	run  func(t *testing.T, o Options)
}{
	{"migrations down and up", testMigrations},
	{"write and merge", testWriteMerge},
	{"every outcome has its column", testOutcomeColumns},
	{"concurrent writers merge", testConcurrentWriters},
	{"history", testHistory},
	{"rollups", testRollups},
	{"prune", testPrune},
	{"retention loop", testRetention},
	{"reopen", testReopen},
}

func runSuite(t *testing.T, fresh func(t *testing.T) Options) {
	for _, c := range suite {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, fresh(t))
		})
	}
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	runSuite(t, func(t *testing.T) Options {
		return Options{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "data", "relais.db")}
	})
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	base := postgresDSN(t)
	runSuite(t, func(t *testing.T) Options {
		return Options{Driver: "postgres", DSN: freshSchema(t, base)}
	})
}

var postgres struct {
	once sync.Once
	err  error
}

// postgresDSN is the test server's DSN (RELAIS_TEST_POSTGRES or a local
// default); the test is skipped when no server answers within 2 s.
func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("RELAIS_TEST_POSTGRES")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	postgres.once.Do(func() {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			postgres.err = err
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		postgres.err = db.PingContext(ctx)
	})
	if postgres.err != nil {
		t.Skipf("no PostgreSQL at %s (set RELAIS_TEST_POSTGRES to a server's DSN to run these tests): %v", dsn, postgres.err)
	}
	return dsn
}

// freshSchema creates a schema dropped when t ends and returns base with
// its search_path set to it.
func freshSchema(t *testing.T, base string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "relais_test_" + hex.EncodeToString(b)
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		_ = db.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer db.Close()
		if _, err := db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	if u, err := url.Parse(base); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return base + " search_path=" + schema
}

func open(t *testing.T, o Options) *Store {
	t.Helper()
	s, err := Open(t.Context(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// aggregate turns observations into rows with the real aggregator.
func aggregate(t *testing.T, obs ...health.Observation) []rollup.Rollup {
	t.Helper()
	var rows []rollup.Rollup
	a := rollup.New(clock.NewFake(t0), func(_ context.Context, r []rollup.Rollup) { rows = append(rows, r...) })
	for _, o := range obs {
		if o.RateLimit == (health.RateLimit{}) {
			o.RateLimit = health.NoRateLimit
		}
		a.Observe(&o)
	}
	a.FlushAll(t.Context())
	return rows
}

// counts is rows without their sketches, for DeepEqual.
func counts(rows []rollup.Rollup) []rollup.Rollup {
	out := slices.Clone(rows)
	for i := range out {
		out[i].Latency, out[i].TTFT, out[i].Elapsed = nil, nil, nil
	}
	return out
}

func near(t *testing.T, name string, got, want float64) {
	t.Helper()
	// The sketch's 1 %, plus a rank among a hundred values.
	if math.Abs(got-want) > want*0.03 {
		t.Errorf("%s = %v, want %v ± 3 %%", name, got, want)
	}
}

func sketchQuantile(t *testing.T, sk *ddsketch.DDSketch, q float64) float64 {
	t.Helper()
	if sk == nil {
		t.Fatal("sketch is nil")
	}
	v, err := sk.GetValueAtQuantile(q)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func write(t *testing.T, s *Store, rows []rollup.Rollup) {
	t.Helper()
	if err := s.WriteRollups(t.Context(), rows); err != nil {
		t.Fatalf("WriteRollups: %v", err)
	}
}

func all(t *testing.T, s *Store, q HistoryQuery) []rollup.Rollup {
	t.Helper()
	rows, err := s.Rollups(t.Context(), q)
	if err != nil {
		t.Fatalf("Rollups: %v", err)
	}
	return rows
}

func testMigrations(t *testing.T, o Options) {
	s := open(t, o)
	ctx := t.Context()
	p, err := s.migrator(ctx)
	if err != nil {
		t.Fatal(err)
	}
	version := func() int64 {
		t.Helper()
		v, err := p.GetDBVersion(ctx)
		if err != nil {
			t.Fatalf("GetDBVersion: %v", err)
		}
		return v
	}
	tableExists := func() bool {
		var n int64
		return s.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM rollups").Scan(&n) == nil
	}
	latest := p.ListSources()[len(p.ListSources())-1].Version
	if v := version(); v != latest || !tableExists() {
		t.Fatalf("after Open: version %d (want %d), rollups table exists: %v", v, latest, tableExists())
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("DownTo(0): %v", err)
	}
	if v := version(); v != 0 || tableExists() {
		t.Fatalf("after down: version %d, rollups table exists: %v", v, tableExists())
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("Up: %v", err)
	}
	if v := version(); v != latest || !tableExists() {
		t.Fatalf("after up again: version %d, rollups table exists: %v", v, tableExists())
	}
	write(t, s, aggregate(t, health.Observation{Time: t0, Provider: "p", Model: "m"}))
}

func testWriteMerge(t *testing.T, o Options) {
	s := open(t, o)
	rl := func(remaining int64) health.RateLimit {
		return health.RateLimit{LimitRequests: 500, LimitTokens: 90000, RemainingRequests: remaining, RemainingTokens: remaining * 100,
			ResetRequests: 1500 * time.Millisecond, ResetTokens: 20 * time.Second}
	}
	// Two halves of one minute: latencies 1..50 ms, then 51..100 ms.
	half := func(from int, rlAt time.Duration, remaining int64) []health.Observation {
		var obs []health.Observation
		for i := from; i < from+50; i++ {
			o := health.Observation{
				Time: t0.Add(time.Duration(i%60) * time.Second), Route: "chat", Provider: "openai", Model: "gpt", Key: "web",
				Final: i%2 == 0, Fallback: i%10 == 0, Stream: i%4 == 0, Outcome: health.Outcome(i % int(health.NumOutcomes)),
				Latency: time.Duration(i) * time.Millisecond, Elapsed: time.Duration(2*i) * time.Millisecond,
				InputTokens: 10, OutputTokens: i, CachedTokens: 1, OutputChars: 4 * i,
			}
			if o.Stream {
				// Generation time in quarters of a second: sums stay exact.
				o.TTFT, o.Latency = time.Duration(i)*time.Millisecond, time.Duration(i)*time.Millisecond+250*time.Millisecond
			}
			obs = append(obs, o)
		}
		obs[0].RateLimit, obs[0].Time = rl(remaining), t0.Add(rlAt)
		return obs
	}
	first, second := half(1, 40*time.Second, 7), half(51, 10*time.Second, 9)

	write(t, s, aggregate(t, first...))
	write(t, s, aggregate(t, second...))
	got := all(t, s, HistoryQuery{Series: rollup.RouteTarget})
	want := aggregate(t, append(slices.Clone(first), second...)...)
	// The later report (first half, at 40 s) wins, whatever the order of writing.
	if !reflect.DeepEqual(counts(got), counts(want[:1])) {
		t.Fatalf("merged row:\n got %+v\nwant %+v", counts(got), counts(want[:1]))
	}
	if got[0].RateLimit != rl(7) || !got[0].RateLimitAt.Equal(t0.Add(40*time.Second)) {
		t.Errorf("rate limit %+v at %v, want the report of 40 s", got[0].RateLimit, got[0].RateLimitAt)
	}
	r := got[0]
	for name, c := range map[string]struct {
		sk   *ddsketch.DDSketch
		want float64
	}{"latency": {r.Latency, 100}, "ttft": {r.TTFT, 25}, "elapsed": {r.Elapsed, 50}} {
		if n := c.sk.GetCount(); n != c.want {
			t.Errorf("%s sketch holds %v values, want %v", name, n, c.want)
		}
	}
	// Latencies of non-streams are i ms: the merged median sits between
	// the halves.
	near(t, "merged elapsed p50", sketchQuantile(t, r.Elapsed, 0.5), 0.100)
	near(t, "merged latency p99", sketchQuantile(t, r.Latency, 0.99), sketchQuantile(t, want[0].Latency, 0.99))

	// The route_key row merged too, and the same key twice in one batch
	// adds up within the transaction.
	rk := all(t, s, HistoryQuery{Series: rollup.RouteKey, Client: "web"})
	if len(rk) != 1 || rk[0].Requests != 50 {
		t.Fatalf("route_key rows %+v, want one with 50 requests", counts(rk))
	}
	dup := aggregate(t, health.Observation{Time: t0, Route: "chat", Key: "web", Provider: "openai", Model: "gpt", Final: true})
	write(t, s, []rollup.Rollup{dup[1], dup[1]})
	if rk := all(t, s, HistoryQuery{Series: rollup.RouteKey, Client: "web"}); rk[0].Requests != 52 {
		t.Errorf("after a batch with the same row twice: %d requests, want 52", rk[0].Requests)
	}
}

func testOutcomeColumns(t *testing.T, o Options) {
	s := open(t, o)
	r := rollup.Rollup{Key: rollup.Key{Series: rollup.Check, Check: "all"}, Minute: t0, RateLimit: health.NoRateLimit}
	for i := range r.Outcomes {
		r.Outcomes[i] = int64(i + 1)
		r.Attempts += int64(i + 1)
	}
	write(t, s, []rollup.Rollup{r})
	got := all(t, s, HistoryQuery{Series: rollup.Check})
	if len(got) != 1 || got[0].Outcomes != r.Outcomes {
		t.Fatalf("outcomes read back %+v, want %v", counts(got), r.Outcomes)
	}
	points, err := s.History(t.Context(), HistoryQuery{Series: rollup.Check, Check: "all"})
	if err != nil {
		t.Fatal(err)
	}
	for _, oc := range health.Outcomes() {
		if n := points[0].Outcomes[oc.String()]; n != int64(oc)+1 {
			t.Errorf("history outcome %s = %d, want %d", oc, n, int64(oc)+1)
		}
	}
}

// testConcurrentWriters merges the same rows from two stores at once, as
// two replicas (or two processes on one SQLite file) would.
func testConcurrentWriters(t *testing.T, o Options) {
	a, b := open(t, o), open(t, o)
	rows := aggregate(t,
		health.Observation{Time: t0, Route: "chat", Provider: "openai", Model: "gpt", Final: true, Latency: time.Second},
		health.Observation{Time: t0, Route: "chat", Provider: "anthropic", Model: "claude", Final: true, Latency: time.Second},
		health.Observation{Time: t0.Add(time.Minute), Route: "chat", Provider: "openai", Model: "gpt", Final: true, Latency: time.Second},
	)
	const batches = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*batches)
	for _, s := range []*Store{a, b} {
		wg.Go(func() {
			for range batches {
				if err := s.WriteRollups(t.Context(), rows); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent write: %v", err)
	}
	got := append(all(t, a, HistoryQuery{Series: rollup.RouteTarget}), all(t, a, HistoryQuery{Series: rollup.RouteKey})...)
	if len(got) != 5 {
		t.Fatalf("got %d rows, want 5", len(got))
	}
	type id struct {
		rollup.Key
		minute int64
	}
	written := map[id]int64{}
	for _, r := range rows {
		written[id{r.Key, r.Minute.Unix()}] = r.Attempts
	}
	for _, r := range got {
		want := written[id{r.Key, r.Minute.Unix()}] * 2 * batches
		if r.Attempts != want || int64(r.Latency.GetCount()) != want {
			t.Errorf("%v %s/%s at %v: %d attempts, %v latencies; want %d", r.Series, r.Provider, r.Client, r.Minute, r.Attempts, r.Latency.GetCount(), want)
		}
	}
}

func testHistory(t *testing.T, o Options) {
	s := open(t, o)
	// Ten minutes of route chat (openai: three 100 ms streams a minute,
	// anthropic: one 300 ms failure) and of route embed; minute 4 silent.
	var obs []health.Observation
	for m := range 10 {
		if m == 4 {
			continue
		}
		at := t0.Add(time.Duration(m)*time.Minute + 30*time.Second)
		for range 3 {
			obs = append(obs, health.Observation{Time: at, Route: "chat", Provider: "openai", Model: "gpt", Key: "web", Final: true,
				Stream: true, Latency: 2100 * time.Millisecond, TTFT: 100 * time.Millisecond, Elapsed: 2100 * time.Millisecond,
				InputTokens: 10, OutputTokens: 100})
		}
		obs = append(obs,
			health.Observation{Time: at, Route: "chat", Provider: "anthropic", Model: "claude", Key: "batch", Final: true,
				Outcome: health.HTTP5xx, Latency: 300 * time.Millisecond, Elapsed: 300 * time.Millisecond},
			health.Observation{Time: at, Route: "embed", Provider: "openai", Model: "emb", Key: "web", Final: true, Latency: time.Second},
		)
	}
	write(t, s, aggregate(t, obs...))

	minutes := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m)*time.Minute))
		}
		return out
	}
	tests := []struct {
		name     string
		q        HistoryQuery
		starts   []time.Time
		requests []int64
		check    func(t *testing.T, p []Point)
	}{
		{
			name:     "one target by minute, silent minute absent",
			q:        HistoryQuery{Series: rollup.RouteTarget, Route: "chat", Provider: "openai", Model: "gpt"},
			starts:   minutes(0, 1, 2, 3, 5, 6, 7, 8, 9),
			requests: []int64{3, 3, 3, 3, 3, 3, 3, 3, 3},
			check: func(t *testing.T, p []Point) {
				near(t, "latency p50", p[0].LatencyP50, 2.1)
				near(t, "ttft p95", p[0].TTFTP95, 0.1)
				near(t, "tokens/s", p[0].TokensPerSecond, 50)
				if p[0].OutputTokens != 300 || p[0].InputTokens != 30 || p[0].Outcomes["ok"] != 3 || len(p[0].Outcomes) != 1 {
					t.Errorf("point %+v", p[0])
				}
			},
		},
		{
			name:     "a route's targets together, five-minute steps",
			q:        HistoryQuery{Series: rollup.RouteTarget, Route: "chat", Step: 5 * time.Minute},
			starts:   minutes(0, 5),
			requests: []int64{16, 20},
			check: func(t *testing.T, p []Point) {
				if p[1].Errors != 5 || p[1].Failed != 5 || p[1].Outcomes["http_5xx"] != 5 || p[1].Outcomes["ok"] != 15 {
					t.Errorf("second step %+v", p[1])
				}
				near(t, "latency p50", p[1].LatencyP50, 2.1)
				near(t, "latency p99", p[1].LatencyP99, 2.1)
				near(t, "latency p95", p[1].LatencyP95, 2.1)
				near(t, "elapsed p95", p[1].ElapsedP95, 2.1)
			},
		},
		{
			name:     "steps start at From, To is exclusive",
			q:        HistoryQuery{Series: rollup.RouteTarget, Route: "chat", From: t0.Add(2*time.Minute + 20*time.Second), To: t0.Add(8 * time.Minute), Step: 3 * time.Minute},
			starts:   minutes(2, 5),
			requests: []int64{8, 12},
		},
		{
			name:     "a client key across routes, one hour",
			q:        HistoryQuery{Series: rollup.RouteKey, Client: "web", Step: time.Hour},
			starts:   minutes(0),
			requests: []int64{36},
		},
		{
			name:     "a client key on one route",
			q:        HistoryQuery{Series: rollup.RouteKey, Route: "chat", Client: "batch", From: t0.Add(9 * time.Minute)},
			starts:   minutes(9),
			requests: []int64{1},
			check: func(t *testing.T, p []Point) {
				near(t, "latency p50 of failures", p[0].LatencyP50, 0.3)
				if p[0].TTFTP50 != 0 || p[0].TokensPerSecond != 0 {
					t.Errorf("no streams, yet TTFT p50 %v and %v tokens/s", p[0].TTFTP50, p[0].TokensPerSecond)
				}
			},
		},
		{
			name: "nothing in range",
			q:    HistoryQuery{Series: rollup.RouteTarget, From: t0.Add(time.Hour)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := s.History(t.Context(), tt.q)
			if err != nil {
				t.Fatalf("History: %v", err)
			}
			var starts []time.Time
			var requests []int64
			for _, pt := range p {
				starts, requests = append(starts, pt.Start), append(requests, pt.Requests)
			}
			if !slices.EqualFunc(starts, tt.starts, time.Time.Equal) || !slices.Equal(requests, tt.requests) {
				t.Fatalf("points at %v with %v requests; want %v with %v", starts, requests, tt.starts, tt.requests)
			}
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
	if _, err := s.History(t.Context(), HistoryQuery{Step: 90 * time.Second}); err == nil {
		t.Error("a 90 s step was accepted")
	}
}

func testRollups(t *testing.T, o Options) {
	s := open(t, o)
	rows := aggregate(t,
		health.Observation{Time: t0.Add(time.Minute), Route: "chat", Provider: "openai", Model: "gpt", Key: "web", Final: true},
		health.Observation{Time: t0, Route: "chat", Provider: "openai", Model: "gpt"},
		health.Observation{Time: t0, Provider: "openai", Model: "gpt", Probe: true, Check: "ai", Final: true},
	)
	write(t, s, rows)
	got := all(t, s, HistoryQuery{Series: rollup.RouteTarget, Provider: "openai", From: t0, To: t0.Add(2 * time.Minute)})
	var keys []string
	for _, r := range got {
		keys = append(keys, r.Minute.Format("15:04")+" "+r.Route)
	}
	if want := []string{"12:00 ", "12:00 chat", "12:01 chat"}; !slices.Equal(keys, want) {
		t.Fatalf("rows %q, want %q", keys, want)
	}
	check := all(t, s, HistoryQuery{Series: rollup.Check, Check: "ai"})
	if len(check) != 1 || check[0].Series != rollup.Check || check[0].Check != "ai" || check[0].Latency == nil {
		t.Fatalf("check rows %+v", counts(check))
	}
	if none := all(t, s, HistoryQuery{Series: rollup.RouteTarget, To: t0}); len(none) != 0 {
		t.Errorf("rows before t0: %+v", counts(none))
	}
}

func testPrune(t *testing.T, o Options) {
	s := open(t, o)
	var obs []health.Observation
	for m := range 3 {
		obs = append(obs, health.Observation{Time: t0.Add(time.Duration(m) * time.Minute), Route: "r", Provider: "p", Model: "m", Final: true})
	}
	write(t, s, aggregate(t, obs...)) // two rows a minute
	for _, step := range []struct {
		before  time.Time
		deleted int64
		left    int
	}{
		{t0, 0, 6},
		{t0.Add(time.Minute + 30*time.Second), 4, 2},
		{t0.Add(time.Minute + 30*time.Second), 0, 2},
		{t0.Add(time.Hour), 2, 0},
	} {
		n, err := s.Prune(t.Context(), step.before)
		if err != nil {
			t.Fatalf("Prune: %v", err)
		}
		left := len(all(t, s, HistoryQuery{Series: rollup.RouteTarget})) + len(all(t, s, HistoryQuery{Series: rollup.RouteKey}))
		if n != step.deleted || left != step.left {
			t.Errorf("Prune(%v) deleted %d leaving %d; want %d leaving %d", step.before, n, left, step.deleted, step.left)
		}
	}
}

func testRetention(t *testing.T, o Options) {
	s := open(t, o)
	write(t, s, aggregate(t,
		health.Observation{Time: t0, Provider: "p"},
		health.Observation{Time: t0.Add(DefaultRetention), Provider: "p"},
	))
	pruned := make(chan int64, 1)
	s.afterPrune = func(n int64, err error) {
		if err != nil {
			t.Errorf("prune: %v", err)
		}
		pruned <- n
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		done <- s.RunRetention(ctx, clock.NewFake(t0.Add(DefaultRetention+time.Minute)), 0, time.Hour)
	}()
	if n := <-pruned; n != 1 {
		t.Errorf("first prune deleted %d rows, want the one older than the default retention", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunRetention: %v", err)
	}
	if left := all(t, s, HistoryQuery{Series: rollup.RouteTarget}); len(left) != 1 || !left[0].Minute.Equal(t0.Add(DefaultRetention)) {
		t.Errorf("left %+v", counts(left))
	}
}

func testReopen(t *testing.T, o Options) {
	s, err := Open(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	rows := aggregate(t, health.Observation{Time: t0, Route: "chat", Provider: "p", Model: "m", Final: true, Latency: time.Second})
	write(t, s, rows)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = open(t, o)
	got := all(t, s, HistoryQuery{Series: rollup.RouteTarget})
	if !reflect.DeepEqual(counts(got), counts(rows[:1])) {
		t.Fatalf("after reopening:\n got %+v\nwant %+v", counts(got), counts(rows[:1]))
	}
	near(t, "latency p50", sketchQuantile(t, got[0].Latency, 0.5), 1)
}

// TestSQLiteFile checks the SQLite specifics: the connection's settings, a
// path that a URI would misread, and BYTEA columns holding real blobs.
func TestSQLiteFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a dir", "odd?name#1.db")
	s := open(t, Options{Driver: "sqlite", DSN: path})
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}
	ctx := t.Context()
	for pragma, want := range map[string]string{
		"journal_mode": "wal", "busy_timeout": "5000", "foreign_keys": "1", "synchronous": "1",
	} {
		var got string
		if err := s.DB().QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if !strings.EqualFold(got, want) {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	write(t, s, aggregate(t, health.Observation{Time: t0, Provider: "p", Latency: time.Second}))
	var latency, ttft string
	if err := s.DB().QueryRowContext(ctx, "SELECT typeof(latency), typeof(ttft) FROM rollups").Scan(&latency, &ttft); err != nil {
		t.Fatal(err)
	}
	if latency != "blob" || ttft != "null" {
		t.Errorf("latency is stored as %s, ttft as %s; want blob and null", latency, ttft)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{
		{Driver: "mysql", DSN: "x"},
		{Driver: "sqlite"},
		{Driver: "postgres"},
	} {
		if s, err := Open(t.Context(), o); err == nil {
			_ = s.Close()
			t.Errorf("Open(%+v) succeeded", o)
		}
	}
	// A file where the folder should be.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(t.Context(), Options{Driver: "sqlite", DSN: filepath.Join(file, "relais.db")}); err == nil {
		_ = s.Close()
		t.Error("Open of a database under a file succeeded")
	}
}

// A store that fails keeps the rollups and writes them with the next batch:
// a database outage loses no history.
func TestConsumeKeepsWhatFailed(t *testing.T) {
	t.Parallel()
	s := open(t, Options{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "relais.db")})
	ctx := t.Context()
	exec := func(q string) {
		t.Helper()
		if _, err := s.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	exec("ALTER TABLE rollups RENAME TO rollups_away")
	s.Consume(ctx, aggregate(t, health.Observation{Time: t0, Provider: "p", Latency: time.Second}))
	if s.Unsaved() != 1 {
		t.Fatalf("%d rollups kept after a failed write, want 1", s.Unsaved())
	}
	exec("ALTER TABLE rollups_away RENAME TO rollups")
	s.Consume(ctx, aggregate(t, health.Observation{Time: t0.Add(time.Minute), Provider: "p", Latency: time.Second}))
	if s.Unsaved() != 0 {
		t.Fatalf("%d rollups still unsaved", s.Unsaved())
	}
	var n int
	if err := s.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM rollups").Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d rows stored (%v), want both minutes", n, err)
	}
}
