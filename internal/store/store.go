package store

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"

	"github.com/relais/relais/internal/rollup"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Dialect names the database behind a Store.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Options says which database to open.
type Options struct {
	// Driver is "sqlite" or "postgres".
	Driver string
	// DSN is a file path for SQLite (its folder is created), a PostgreSQL
	// URL or key=value string for PostgreSQL.
	DSN string
	// MaxOpenConns bounds PostgreSQL's pool (default 10). SQLite always
	// uses one connection (see Open).
	MaxOpenConns int
	// Logger receives the store's own events (migrations applied, rows
	// pruned, a failed write of rollups). Nil discards them.
	Logger *slog.Logger
}

// Store is an open database with its schema up to date. Safe for
// concurrent use.
type Store struct {
	db      *sql.DB
	dialect Dialect
	log     *slog.Logger

	// afterPrune, when set (by tests), hears each prune of RunRetention.
	afterPrune func(n int64, err error)

	// unsaved holds rollups whose write failed (the database was down or
	// locked), retried with the next batch; see Consume.
	unsavedMu sync.Mutex
	unsaved   []rollup.Rollup
}

//go:embed migrations/*.sql
var migrations embed.FS

// sqliteBusyTimeout is how long a statement waits for another process
// holding the file's write lock (a backup, the CLI) before failing.
const sqliteBusyTimeout = 5 * time.Second

// Open opens the database and migrates its schema up to the latest version.
//
// SQLite runs with one connection for reads and writes: SQLite allows one
// writer at a time anyway, and with a single connection relais's own parts
// never contend for the write lock (no SQLITE_BUSY between them), and a
// transaction from DB() can never wait on another connection of ours.
// Writes are small and come once a minute; the cost is that a long read
// delays a write, which is acceptable off the request path. WAL lets other
// processes (backups, the CLI) read while relais writes, synchronous=NORMAL
// is durable across process crashes in WAL mode and much cheaper than FULL,
// and transactions begin IMMEDIATE so one that reads then writes cannot
// fail on a lock upgrade when another process writes.
func Open(ctx context.Context, o Options) (*Store, error) {
	s := &Store{log: o.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var err error
	switch o.Driver {
	case string(SQLite):
		s.dialect = SQLite
		s.db, err = openSQLite(o.DSN)
	case string(Postgres):
		s.dialect = Postgres
		s.db, err = openPostgres(o.DSN, o.MaxOpenConns)
	default:
		return nil, fmt.Errorf("store: unknown driver %q (want sqlite or postgres)", o.Driver)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", o.Driver, err)
	}
	if err := s.db.PingContext(ctx); err != nil {
		_ = s.db.Close()
		return nil, fmt.Errorf("store: connect to %s: %w", o.Driver, err)
	}
	if err := s.migrateUp(ctx); err != nil {
		_ = s.db.Close()
		return nil, err
	}
	return s, nil
}

func openSQLite(path string) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("empty database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	// A file: URI, so that a path with '?' or '#' stays a path.
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

func openPostgres(dsn string, maxOpen int) (*sql.DB, error) {
	if dsn == "" {
		return nil, errors.New("empty DSN")
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	maxOpen = cmp.Or(maxOpen, 10)
	db.SetMaxOpenConns(maxOpen)
	db.SetMaxIdleConns(min(maxOpen, 4))
	// Let a failed-over or restarted server's connections be replaced.
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(time.Hour)
	return db, nil
}

// migrator returns the goose provider of the embedded migrations.
func (s *Store) migrator(ctx context.Context) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	var opts []goose.ProviderOption
	dialect := database.DialectSQLite3
	if s.dialect == Postgres {
		dialect = database.DialectPostgres
		// Replicas starting together migrate one after the other: the
		// others wait on an advisory lock, then find nothing to do. The
		// lock is the schema's, so that relais instances (or tests) in
		// other schemas of the database do not wait for each other.
		var schema string
		if err := s.db.QueryRowContext(ctx, "SELECT COALESCE(current_schema(), '')").Scan(&schema); err != nil {
			return nil, err
		}
		id := int64(crc32.ChecksumIEEE([]byte("relais migrations " + schema)))
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(id), lock.WithLockTimeout(1, 600))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(dialect, s.db, fsys, opts...)
}

func (s *Store) migrateUp(ctx context.Context) error {
	p, err := s.migrator(ctx)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	// p.Close would close our db: the provider is simply dropped.
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate up: %w", err)
	}
	if len(results) > 0 {
		names := make([]string, len(results))
		for i, r := range results {
			names[i] = r.Source.Path
		}
		s.log.Info("store migrated", "dialect", string(s.dialect), "migrations", strings.Join(names, ","))
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// DB is the database, for features that keep their own tables (added by
// migrations in this package's folder). With SQLite it has one connection:
// never run a query while holding another's Rows open or outside a
// transaction you hold, or it waits forever.
func (s *Store) DB() *sql.DB { return s.db }

// Dialect says which database DB is.
func (s *Store) Dialect() Dialect { return s.dialect }
