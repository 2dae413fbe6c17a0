package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/health"
	"github.com/relais/relais/internal/rollup"
)

// DefaultRetention is how long rollups are kept when no retention is set.
const DefaultRetention = 90 * 24 * time.Hour

// The rollups table's columns, in the order rowArgs and scan use them.
var (
	keyColumns   = []string{"series", "route", "provider", "model", "client", "check_name", "minute"}
	valueColumns = func() []string {
		cols := []string{"attempts", "failed", "requests", "errors", "fallback"}
		for _, o := range health.Outcomes() {
			cols = append(cols, outcomeColumn(o))
		}
		return append(cols,
			"latency", "ttft", "elapsed",
			"input_tokens", "output_tokens", "cached_tokens", "output_chars", "stream_seconds", "stream_output_tokens",
			"rl_limit_requests", "rl_limit_tokens", "rl_remaining_requests", "rl_remaining_tokens",
			"rl_reset_requests_ms", "rl_reset_tokens_ms", "rl_at_ms")
	}()

	insertRollup = "INSERT INTO rollups (" + strings.Join(keyColumns, ", ") + ", " + strings.Join(valueColumns, ", ") +
		") VALUES (" + placeholders(1, len(keyColumns)+len(valueColumns)) +
		") ON CONFLICT (" + strings.Join(keyColumns, ", ") + ") DO NOTHING"
	selectRollup = "SELECT " + strings.Join(valueColumns, ", ") + " FROM rollups WHERE " + keyMatch
	updateRollup = func() string {
		set := make([]string, len(valueColumns))
		for i, c := range valueColumns {
			set[i] = c + " = $" + strconv.Itoa(len(keyColumns)+1+i)
		}
		return "UPDATE rollups SET " + strings.Join(set, ", ") + " WHERE " + keyMatch
	}()
	keyMatch = func() string {
		m := make([]string, len(keyColumns))
		for i, c := range keyColumns {
			m[i] = c + " = $" + strconv.Itoa(i+1)
		}
		return strings.Join(m, " AND ")
	}()
)

func outcomeColumn(o health.Outcome) string { return "outcome_" + o.String() }

// placeholders returns "$from, …, $(from+n-1)".
func placeholders(from, n int) string {
	p := make([]string, n)
	for i := range p {
		p[i] = "$" + strconv.Itoa(from+i)
	}
	return strings.Join(p, ", ")
}

// minuteOf is t's minute as stored: unix seconds, floored to the minute.
func minuteOf(t time.Time) int64 {
	s := t.Unix()
	return s - ((s%60)+60)%60
}

// rowArgs are r's key then value columns.
func rowArgs(r *rollup.Rollup) []any {
	args := make([]any, 0, len(keyColumns)+len(valueColumns))
	args = append(args, r.Series.String(), r.Route, r.Provider, r.Model, r.Client, r.Check, minuteOf(r.Minute))
	args = append(args, r.Attempts, r.Failed, r.Requests, r.Errors, r.Fallback)
	for _, n := range r.Outcomes {
		args = append(args, n)
	}
	var at int64
	if !r.RateLimitAt.IsZero() {
		at = r.RateLimitAt.UnixMilli()
	}
	rl := r.RateLimit
	return append(args,
		encodeSketch(r.Latency), encodeSketch(r.TTFT), encodeSketch(r.Elapsed),
		r.InputTokens, r.OutputTokens, r.CachedTokens, r.OutputChars, r.StreamSeconds, r.StreamOutputTokens,
		rl.LimitRequests, rl.LimitTokens, rl.RemainingRequests, rl.RemainingTokens,
		rl.ResetRequests.Milliseconds(), rl.ResetTokens.Milliseconds(), at)
}

// scanner reads value columns into a Rollup; finish decodes what cannot be
// scanned in place.
type scanner struct {
	r                                *rollup.Rollup
	latency, ttft, elapsed           []byte
	resetRequests, resetTokens, atMs int64
}

func newScanner(r *rollup.Rollup) *scanner { return &scanner{r: r} }

// dest are the scan targets of valueColumns.
func (s *scanner) dest() []any {
	r := s.r
	d := make([]any, 0, len(valueColumns))
	d = append(d, &r.Attempts, &r.Failed, &r.Requests, &r.Errors, &r.Fallback)
	for i := range r.Outcomes {
		d = append(d, &r.Outcomes[i])
	}
	rl := &r.RateLimit
	return append(d,
		&s.latency, &s.ttft, &s.elapsed,
		&r.InputTokens, &r.OutputTokens, &r.CachedTokens, &r.OutputChars, &r.StreamSeconds, &r.StreamOutputTokens,
		&rl.LimitRequests, &rl.LimitTokens, &rl.RemainingRequests, &rl.RemainingTokens,
		&s.resetRequests, &s.resetTokens, &s.atMs)
}

func (s *scanner) finish() error {
	r := s.r
	var err error
	if r.Latency, err = decodeSketch(s.latency); err != nil {
		return fmt.Errorf("latency sketch: %w", err)
	}
	if r.TTFT, err = decodeSketch(s.ttft); err != nil {
		return fmt.Errorf("ttft sketch: %w", err)
	}
	if r.Elapsed, err = decodeSketch(s.elapsed); err != nil {
		return fmt.Errorf("elapsed sketch: %w", err)
	}
	r.RateLimit.ResetRequests = time.Duration(s.resetRequests) * time.Millisecond
	r.RateLimit.ResetTokens = time.Duration(s.resetTokens) * time.Millisecond
	r.RateLimitAt = time.Time{}
	if s.atMs != 0 {
		r.RateLimitAt = time.UnixMilli(s.atMs).UTC()
	}
	return nil
}

// encodeSketch is the DDSketch binary encoding, index mapping included so
// a row stays readable if a later version changes accuracy; nil (NULL)
// for no data.
func encodeSketch(sk *ddsketch.DDSketch) any {
	if sk == nil || sk.IsEmpty() {
		return nil
	}
	var b []byte
	sk.Encode(&b, false)
	return b
}

// decodeSketch decodes into a rollup.NewSketch, so that what it returns
// merges with the aggregator's sketches; a sketch of another mapping is an
// error, not a silent mix.
func decodeSketch(b []byte) (*ddsketch.DDSketch, error) {
	if len(b) == 0 {
		return nil, nil
	}
	sk := rollup.NewSketch()
	if err := sk.DecodeAndMergeWith(b); err != nil {
		return nil, err
	}
	return sk, nil
}

// WriteRollups adds rows to the store in one transaction. A row whose
// series, key and minute are already stored is merged into it (counts add,
// sketches merge, the later rate-limit report wins): a minute may arrive in
// parts (late observations) and from several replicas.
func (s *Store) WriteRollups(ctx context.Context, rows []rollup.Rollup) (err error) {
	if len(rows) == 0 {
		return nil
	}
	// Rows are written in one order everywhere, so that two replicas
	// merging the same minutes in PostgreSQL lock rows in the same order
	// and cannot deadlock.
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		if c := cmp.Compare(minuteOf(rows[i].Minute), minuteOf(rows[j].Minute)); c != 0 {
			return c
		}
		return rollup.CompareKeys(rows[i].Key, rows[j].Key)
	})

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: write rollups: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	w := rollupWriter{tx: tx}
	if w.insert, err = tx.PrepareContext(ctx, insertRollup); err != nil {
		return fmt.Errorf("store: write rollups: %w", err)
	}
	sel := selectRollup
	if s.dialect == Postgres {
		// Hold the row until the merged one is written: a concurrent
		// writer (another replica) merges after us, not over us.
		sel += " FOR UPDATE"
	}
	if w.selectOne, err = tx.PrepareContext(ctx, sel); err != nil {
		return fmt.Errorf("store: write rollups: %w", err)
	}
	if w.update, err = tx.PrepareContext(ctx, updateRollup); err != nil {
		return fmt.Errorf("store: write rollups: %w", err)
	}
	for _, i := range order {
		if err := w.write(ctx, &rows[i]); err != nil {
			r := &rows[i]
			return fmt.Errorf("store: write rollup %s %q/%q/%q/%q/%q at %s: %w",
				r.Series, r.Route, r.Provider, r.Model, r.Client, r.Check, r.Minute.UTC().Format(time.RFC3339), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: write rollups: commit: %w", err)
	}
	return nil
}

type rollupWriter struct {
	tx                        *sql.Tx
	insert, selectOne, update *sql.Stmt
}

// write inserts r, or merges it into the stored row. Inserting first makes
// the usual case (a new minute) one statement. The merge itself happens in
// Go, since SQL cannot merge sketches.
func (w *rollupWriter) write(ctx context.Context, r *rollup.Rollup) error {
	args := rowArgs(r)
	// A row pruned between the insert and the select is inserted again on
	// the next round; retention deletes old minutes, so two rounds are the
	// most that can happen.
	for range 3 {
		res, err := w.insert.ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			return nil
		}
		stored := rollup.Rollup{Key: r.Key, Minute: time.Unix(minuteOf(r.Minute), 0).UTC()}
		sc := newScanner(&stored)
		err = w.selectOne.QueryRowContext(ctx, args[:len(keyColumns)]...).Scan(sc.dest()...)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return err
		}
		if err := sc.finish(); err != nil {
			return err
		}
		rollup.Merge(&stored, r)
		_, err = w.update.ExecContext(ctx, rowArgs(&stored)...)
		return err
	}
	return errors.New("row kept disappearing")
}

// Consume writes rows, logging a failure: it is a rollup.Consumer.
//
// A batch that cannot be written is kept and retried with the next ones, so
// a database that is down for a while loses no history; past maxUnsaved
// rows (days of history for a large deployment) the oldest are let go,
// said in the log, rather than let memory grow without bound.
func (s *Store) Consume(ctx context.Context, rows []rollup.Rollup) {
	s.unsavedMu.Lock()
	defer s.unsavedMu.Unlock()
	batch := rows
	if len(s.unsaved) > 0 {
		batch = append(s.unsaved, rows...)
	}
	if err := s.WriteRollups(ctx, batch); err != nil {
		if over := len(batch) - maxUnsaved; over > 0 {
			s.log.Error("rollups lost: the store has been failing for too long", "rows", over)
			batch = batch[over:]
		}
		s.unsaved = slices.Clone(batch)
		s.log.Error("rollups not stored yet; retrying with the next minute", "rows", len(batch), "err", err)
		return
	}
	if len(s.unsaved) > 0 {
		s.log.Info("rollups stored after earlier failures", "rows", len(s.unsaved))
		s.unsaved = nil
	}
}

// maxUnsaved bounds the rollups kept while the store fails.
const maxUnsaved = 100_000

// Unsaved returns how many rollups wait for the store to accept them.
func (s *Store) Unsaved() int {
	s.unsavedMu.Lock()
	defer s.unsavedMu.Unlock()
	return len(s.unsaved)
}

var _ rollup.Consumer = (*Store)(nil).Consume

// HistoryQuery selects rollups of one series.
type HistoryQuery struct {
	Series rollup.Series
	// Route, Provider, Model, Client and Check select rows with that value;
	// empty selects every value, and History adds them together.
	Route, Provider, Model, Client, Check string
	// From and To bound the minutes: those that overlap [From, To). A zero
	// From or To leaves that side open.
	From, To time.Time
	// Step is the length of History's points, a multiple of a minute (0 is
	// one minute). Steps start at From (floored to its minute), or at the
	// unix epoch when From is zero. Rollups ignores it.
	Step time.Duration
}

// where is q's WHERE clause and its arguments.
func (q HistoryQuery) where() (string, []any) {
	conds := []string{"series = $1"}
	args := []any{q.Series.String()}
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, cond+" $"+strconv.Itoa(len(args)))
	}
	for _, f := range []struct{ col, v string }{
		{"route", q.Route}, {"provider", q.Provider}, {"model", q.Model}, {"client", q.Client}, {"check_name", q.Check},
	} {
		if f.v != "" {
			add(f.col+" =", f.v)
		}
	}
	if !q.From.IsZero() {
		add("minute >=", minuteOf(q.From))
	}
	if !q.To.IsZero() {
		// A minute overlaps [From, To) when it starts before To.
		to := q.To.Unix()
		if q.To.Nanosecond() > 0 {
			to++
		}
		add("minute <", to)
	}
	return strings.Join(conds, " AND "), args
}

// Point is one step of history.
type Point struct {
	Start                              time.Time
	Attempts, Failed                   int64
	Requests, Errors, Fallback         int64
	Outcomes                           map[string]int64 // non-zero counts only
	LatencyP50, LatencyP95, LatencyP99 float64          // seconds; 0 when no data
	TTFTP50, TTFTP95                   float64
	ElapsedP95                         float64
	InputTokens, OutputTokens          int64
	// TokensPerSecond is the generation speed of streams with output; 0
	// when there were none.
	TokensPerSecond float64
}

// History returns q's rows added together by step, in time order. Steps
// with no row have no point.
func (s *Store) History(ctx context.Context, q HistoryQuery) ([]Point, error) {
	step := cmp.Or(q.Step, time.Minute)
	if step < 0 || step%time.Minute != 0 {
		return nil, fmt.Errorf("store: history step %v is not a whole number of minutes", q.Step)
	}
	stepS := int64(step / time.Second)
	var origin int64
	if !q.From.IsZero() {
		origin = minuteOf(q.From)
	}
	where, args := q.where()
	rows, err := s.db.QueryContext(ctx, "SELECT minute, "+strings.Join(valueColumns, ", ")+
		" FROM rollups WHERE "+where+" ORDER BY minute", args...)
	if err != nil {
		return nil, fmt.Errorf("store: history: %w", err)
	}
	defer func() { _ = rows.Close() }()

	var (
		points []Point
		acc    rollup.Rollup // the current step, merged
		start  int64
		have   bool
	)
	for rows.Next() {
		var (
			r      rollup.Rollup
			minute int64
		)
		sc := newScanner(&r)
		if err := rows.Scan(append([]any{&minute}, sc.dest()...)...); err != nil {
			return nil, fmt.Errorf("store: history: %w", err)
		}
		if err := sc.finish(); err != nil {
			return nil, fmt.Errorf("store: history: minute %d: %w", minute, err)
		}
		b := origin + floorDiv(minute-origin, stepS)*stepS
		switch {
		case !have || b != start:
			if have {
				points = append(points, pointOf(start, &acc))
			}
			acc, start, have = r, b, true // r is ours: no need to copy its sketches
		default:
			rollup.Merge(&acc, &r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: history: %w", err)
	}
	if have {
		points = append(points, pointOf(start, &acc))
	}
	return points, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func pointOf(start int64, r *rollup.Rollup) Point {
	p := Point{
		Start:    time.Unix(start, 0).UTC(),
		Attempts: r.Attempts, Failed: r.Failed,
		Requests: r.Requests, Errors: r.Errors, Fallback: r.Fallback,
		LatencyP50: quantile(r.Latency, 0.5), LatencyP95: quantile(r.Latency, 0.95), LatencyP99: quantile(r.Latency, 0.99),
		TTFTP50: quantile(r.TTFT, 0.5), TTFTP95: quantile(r.TTFT, 0.95),
		ElapsedP95:  quantile(r.Elapsed, 0.95),
		InputTokens: r.InputTokens, OutputTokens: r.OutputTokens,
	}
	for o, n := range r.Outcomes {
		if n == 0 {
			continue
		}
		if p.Outcomes == nil {
			p.Outcomes = map[string]int64{}
		}
		p.Outcomes[health.Outcome(o).String()] = n
	}
	if r.StreamSeconds > 0 {
		p.TokensPerSecond = float64(r.StreamOutputTokens) / r.StreamSeconds
	}
	return p
}

func quantile(sk *ddsketch.DDSketch, q float64) float64 {
	if sk == nil {
		return 0
	}
	v, err := sk.GetValueAtQuantile(q)
	if err != nil {
		return 0 // empty
	}
	return v
}

// Rollups returns the stored rows that q selects, ordered by minute then
// key (q.Step is ignored): what detectors load to start warm.
func (s *Store) Rollups(ctx context.Context, q HistoryQuery) ([]rollup.Rollup, error) {
	where, args := q.where()
	rows, err := s.db.QueryContext(ctx, "SELECT "+strings.Join(keyColumns, ", ")+", "+strings.Join(valueColumns, ", ")+
		" FROM rollups WHERE "+where+" ORDER BY minute, "+strings.Join(keyColumns[:len(keyColumns)-1], ", "), args...)
	if err != nil {
		return nil, fmt.Errorf("store: rollups: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []rollup.Rollup
	for rows.Next() {
		var (
			r      rollup.Rollup
			series string
			minute int64
		)
		sc := newScanner(&r)
		dest := append([]any{&series, &r.Route, &r.Provider, &r.Model, &r.Client, &r.Check, &minute}, sc.dest()...)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("store: rollups: %w", err)
		}
		if r.Series, err = rollup.ParseSeries(series); err != nil {
			return nil, fmt.Errorf("store: rollups: %w", err)
		}
		r.Minute = time.Unix(minute, 0).UTC()
		if err := sc.finish(); err != nil {
			return nil, fmt.Errorf("store: rollups: %s at %s: %w", r.Series, r.Minute.Format(time.RFC3339), err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: rollups: %w", err)
	}
	return out, nil
}

// Prune deletes the rollups of minutes that began before before, and says
// how many rows went.
func (s *Store) Prune(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, "DELETE FROM rollups WHERE minute < $1", before.Unix())
	if err != nil {
		return 0, fmt.Errorf("store: prune rollups: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: prune rollups: %w", err)
	}
	return n, nil
}

// RunRetention prunes rollups older than retention (DefaultRetention when
// zero) now and then every every (an hour when zero), until ctx ends.
func (s *Store) RunRetention(ctx context.Context, clk clock.Clock, retention, every time.Duration) error {
	retention = cmp.Or(retention, DefaultRetention)
	t := time.NewTicker(cmp.Or(every, time.Hour))
	defer t.Stop()
	for {
		n, err := s.Prune(ctx, clk.Now().Add(-retention))
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("rollup retention failed", "err", err)
		case n > 0:
			s.log.Info("rollups pruned", "rows", n, "retention", retention.String())
		}
		if s.afterPrune != nil {
			s.afterPrune(n, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
