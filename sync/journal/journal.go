package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Options configure a journal.
type Options struct {
	// TerminalID names the till in order numbers (see CheckTerminalID). A
	// journal file belongs to one terminal: opening it under another id
	// fails with ErrTerminalMismatch.
	TerminalID string
	// TerminalKey signs records (api.RecordSignature); at least 16 bytes.
	TerminalKey []byte
	// Now is the till's clock; time.Now when nil.
	Now func() time.Time
	// Location is the local calendar of order numbers and day reports;
	// time.Local when nil.
	Location *time.Location
	// BusyTimeout is how long a write waits for a lock held by another
	// connection; 5 s when zero.
	BusyTimeout time.Duration
	// ReadOnly opens the file without writing to it (for reports); every
	// write then fails with ErrStorage.
	ReadOnly bool
	// Logger receives storage failures and tampered records; slog.Default
	// when nil.
	Logger *slog.Logger
}

// Journal is an open payment journal. Its methods are safe for concurrent
// use; all writes go through one connection, one transaction at a time.
type Journal struct {
	path     string
	terminal string
	key      []byte
	now      func() time.Time
	loc      *time.Location
	log      *slog.Logger
	w        *sql.DB // the one writer
	r        *sql.DB // readers (query_only)

	// Checkpoints run on their own connection, off the commit path, so that
	// a payment's commit never waits for the main file's fsync.
	ckpt     *sql.DB
	commits  atomic.Int64
	kick     chan struct{}
	stop     chan struct{}
	stopped  chan struct{}
	stopOnce sync.Once
}

// checkpointEvery is how many commits start a background checkpoint.
const checkpointEvery = 256

// Open opens or creates the journal file at path, brings its schema up to
// date and checks that it belongs to opts.TerminalID.
func Open(ctx context.Context, path string, opts Options) (*Journal, error) {
	if err := CheckTerminalID(opts.TerminalID); err != nil {
		return nil, err
	}
	if len(opts.TerminalKey) < 16 {
		return nil, fmt.Errorf("%w: terminal key must have at least 16 bytes", ErrInvalid)
	}
	j := &Journal{
		terminal: opts.TerminalID,
		key:      append([]byte(nil), opts.TerminalKey...),
		now:      opts.Now,
		loc:      opts.Location,
		log:      opts.Logger,
	}
	if j.now == nil {
		j.now = time.Now
	}
	if j.loc == nil {
		j.loc = time.Local
	}
	if j.log == nil {
		j.log = slog.Default()
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("journal path %q: %w", path, err)
	}
	j.path = abs
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = 5 * time.Second
	}
	if j.w, err = sql.Open("sqlite", dsn(abs, busy, opts.ReadOnly, false)); err != nil {
		return nil, err
	}
	j.w.SetMaxOpenConns(1)
	j.w.SetMaxIdleConns(1)
	j.w.SetConnMaxLifetime(0)
	j.w.SetConnMaxIdleTime(0)
	if j.r, err = sql.Open("sqlite", dsn(abs, busy, opts.ReadOnly, true)); err != nil {
		j.w.Close()
		return nil, err
	}
	j.r.SetMaxOpenConns(4)
	if err := j.setup(ctx, opts.ReadOnly); err != nil {
		j.Close()
		return nil, err
	}
	if !opts.ReadOnly {
		if j.ckpt, err = sql.Open("sqlite", dsn(abs, busy, false, false)); err != nil {
			j.Close()
			return nil, err
		}
		j.ckpt.SetMaxOpenConns(1)
		j.kick, j.stop, j.stopped = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
		go j.checkpointer()
	}
	return j, nil
}

// checkpointer copies the write-ahead log into the main file in the
// background (PASSIVE: it never blocks the writer). A failure is logged and
// retried at the next kick; the log keeps every commit meanwhile.
func (j *Journal) checkpointer() {
	defer close(j.stopped)
	for {
		select {
		case <-j.stop:
			return
		case <-j.kick:
		}
		if _, err := j.ckpt.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
			j.log.Warn("payment journal checkpoint failed", "path", j.path, "err", err)
		}
	}
}

func (j *Journal) committed() {
	if j.kick != nil && j.commits.Add(1)%checkpointEvery == 0 {
		select {
		case j.kick <- struct{}{}:
		default:
		}
	}
}

// dsn builds the modernc.org/sqlite data source name. Every connection gets
// the busy timeout, foreign keys and synchronous=FULL (see the package doc);
// the writer puts the file in WAL mode and begins IMMEDIATE transactions so
// that a transaction never has to upgrade its lock half-way.
func dsn(path string, busy time.Duration, readOnly, reader bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	// A till's journal is small and its reads are short: each connection
	// keeps 256 KiB of pages (SQLite's default is 2 MiB, times six
	// connections) and the operating system's file cache holds the rest.
	q.Add("_pragma", "cache_size(-256)")
	switch {
	case readOnly:
		q.Set("mode", "ro")
	case reader:
		q.Add("_pragma", "query_only(1)")
	default:
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "wal_autocheckpoint(0)") // see checkpointer
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Path is the journal file's absolute path.
func (j *Journal) Path() string { return j.path }

// Terminal is the terminal id the journal numbers orders for.
func (j *Journal) Terminal() string { return j.terminal }

// Close closes the journal. Every committed change is already on disk.
func (j *Journal) Close() error {
	var errs []error
	j.stopOnce.Do(func() {
		if j.stop != nil {
			close(j.stop)
			<-j.stopped
		}
	})
	if j.ckpt != nil {
		errs = append(errs, j.ckpt.Close())
	}
	if j.r != nil {
		errs = append(errs, j.r.Close())
	}
	if j.w != nil {
		errs = append(errs, j.w.Close())
	}
	return errors.Join(errs...)
}

// migrations are applied in order; the file's user_version counts how many
// it has. Never edit one that has shipped: append a new one.
var migrations = []string{
	// 1: the first schema.
	`
CREATE TABLE terminal (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	terminal   TEXT    NOT NULL,
	order_day  TEXT    NOT NULL,          -- YYYYMMDD of the last order number
	order_seq  INTEGER NOT NULL,          -- its counter
	created    INTEGER NOT NULL,
	checked    INTEGER                    -- last Check, unix ns
);
CREATE TABLE payments (
	id             INTEGER PRIMARY KEY,   -- creation order
	order_no       TEXT    NOT NULL UNIQUE,
	amount_minor   INTEGER NOT NULL CHECK (amount_minor > 0),
	currency       TEXT    NOT NULL,
	refunded_minor INTEGER NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0 AND refunded_minor <= amount_minor),
	code           TEXT    NOT NULL,      -- full until final, then masked
	device         TEXT    NOT NULL,
	symbology      TEXT    NOT NULL,
	scan_time      INTEGER NOT NULL,      -- unix ns, backend clock (the till's estimate)
	scan_local     INTEGER NOT NULL,      -- unix ns, till clock
	mode           TEXT    NOT NULL CHECK (mode IN ('online', 'offline')),
	record_sig     TEXT    NOT NULL,
	seal           TEXT    NOT NULL,
	state          TEXT    NOT NULL,
	reason         TEXT    NOT NULL DEFAULT '',
	message        TEXT    NOT NULL DEFAULT '',
	backend_status TEXT    NOT NULL DEFAULT '',
	attempts       INTEGER NOT NULL DEFAULT 0,
	last_error     TEXT    NOT NULL DEFAULT '',
	created        INTEGER NOT NULL,
	updated        INTEGER NOT NULL,
	settled        INTEGER,
	acknowledged   INTEGER
);
CREATE INDEX payments_state ON payments (state, id);
CREATE INDEX payments_created ON payments (created);
CREATE TABLE refunds (
	refund_no    TEXT    PRIMARY KEY,
	order_no     TEXT    NOT NULL REFERENCES payments (order_no),
	n            INTEGER NOT NULL,
	amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
	currency     TEXT    NOT NULL,
	state        TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
	reason       TEXT    NOT NULL DEFAULT '',
	message      TEXT    NOT NULL DEFAULT '',
	attempts     INTEGER NOT NULL DEFAULT 0,
	created      INTEGER NOT NULL,
	updated      INTEGER NOT NULL,
	UNIQUE (order_no, n)
);
CREATE INDEX refunds_state ON refunds (state);
CREATE INDEX refunds_created ON refunds (created);
CREATE TABLE events (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	order_no   TEXT    NOT NULL REFERENCES payments (order_no),
	refund_no  TEXT    NOT NULL DEFAULT '',
	from_state TEXT    NOT NULL,
	to_state   TEXT    NOT NULL,
	reason     TEXT    NOT NULL DEFAULT '',
	time       INTEGER NOT NULL
);
CREATE INDEX events_order ON events (order_no, id);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
	BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
	BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
`,
	// 2: indexes that keep the offline totals cheap while many payments are
	// queued (the till checks its offline limits on every offline scan).
	`
CREATE INDEX payments_offline ON payments (state, currency, amount_minor);
CREATE INDEX payments_state_scan ON payments (state, scan_time);
`,
}

// SchemaVersion is the schema version this package writes.
var SchemaVersion = len(migrations)

func (j *Journal) setup(ctx context.Context, readOnly bool) error {
	if readOnly {
		var v int
		if err := j.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return wrapStorage("opened", err)
		}
		if v != SchemaVersion {
			return fmt.Errorf("%w: schema version %d, this till reads %d", ErrSchemaTooNew, v, SchemaVersion)
		}
		return j.checkTerminal(ctx, j.r)
	}
	var mode string
	if err := j.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return wrapStorage("opened", err)
	}
	if mode != "wal" {
		return &StorageError{Op: "opened", Reason: "it cannot use write-ahead logging on this disk", Err: fmt.Errorf("journal_mode is %s", mode)}
	}
	err := j.tx(ctx, "opened", func(tx *sql.Tx) error {
		var v int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return err
		}
		if v > len(migrations) {
			return fmt.Errorf("%w: schema version %d, this till knows %d", ErrSchemaTooNew, v, len(migrations))
		}
		for i := v; i < len(migrations); i++ {
			if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
				return fmt.Errorf("journal migration %d: %w", i+1, err)
			}
		}
		if v < len(migrations) {
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO terminal (id, terminal, order_day, order_seq, created) VALUES (1, ?, '00000000', 0, ?)
			 ON CONFLICT (id) DO NOTHING`, j.terminal, j.now().UnixNano())
		return err
	})
	if err != nil {
		return err
	}
	return j.checkTerminal(ctx, j.w)
}

func (j *Journal) checkTerminal(ctx context.Context, db *sql.DB) error {
	var term string
	err := db.QueryRowContext(ctx, "SELECT terminal FROM terminal WHERE id = 1").Scan(&term)
	if err != nil {
		return wrapStorage("read", err)
	}
	if term != j.terminal {
		return fmt.Errorf("%w: the file %s is the journal of terminal %q, not %q", ErrTerminalMismatch, j.path, term, j.terminal)
	}
	return nil
}

// tx runs fn in one IMMEDIATE transaction on the writer and commits it; on
// any error nothing is changed. Storage failures come back as *StorageError.
func (j *Journal) tx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := j.w.BeginTx(ctx, nil)
	if err != nil {
		return j.fail(op, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return j.fail(op, err)
	}
	if err := tx.Commit(); err != nil {
		return j.fail(op, err)
	}
	j.committed()
	return nil
}

func (j *Journal) fail(op string, err error) error {
	err = wrapStorage(op, err)
	var se *StorageError
	if errors.As(err, &se) {
		j.log.Error("payment journal storage failure", "path", j.path, "op", op, "reason", se.Reason, "err", se.Err)
	}
	return err
}

// Check verifies that the journal can be read and written: SQLite's
// quick_check, then a committed write. The till calls it at start and
// refuses to take payments when it fails (ErrStorage).
func (j *Journal) Check(ctx context.Context) error {
	rows, err := j.w.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return j.fail("read", err)
	}
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return j.fail("read", err)
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Close(); err != nil {
		return j.fail("read", err)
	}
	if err := rows.Err(); err != nil {
		return j.fail("read", err)
	}
	if len(problems) > 0 {
		return j.fail("read", &StorageError{Op: "read", Reason: "the journal file is damaged", Err: fmt.Errorf("quick_check: %v", problems)})
	}
	return j.tx(ctx, "written", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE terminal SET checked = ? WHERE id = 1", j.now().UnixNano())
		return err
	})
}
