package backend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"tillpay/internal/datasync"
	"tillpay/internal/sqliteconn"
)

// schema is the database layout. Times are Unix nanoseconds, amounts minor
// units of the backend's currency.
//
// meta holds 'key_check' (a value sealed under the master key),
// 'inbox_delivered' (see outbox) and 'currency', the ISO 4217 code of every
// account, recorded when the database is made (see Open).
const schema = `
CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
	id       INTEGER PRIMARY KEY,
	kind     TEXT NOT NULL,       -- payer, merchant, funding
	owner    TEXT NOT NULL,
	currency TEXT NOT NULL,
	balance  INTEGER NOT NULL DEFAULT 0,
	UNIQUE (kind, owner)
);
CREATE TABLE IF NOT EXISTS merchants (
	id      TEXT PRIMARY KEY,
	name    TEXT NOT NULL,
	account INTEGER NOT NULL REFERENCES accounts(id),
	created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS terminals (
	id         TEXT PRIMARY KEY,
	merchant   TEXT NOT NULL REFERENCES merchants(id),
	key_sealed BLOB NOT NULL,
	created    INTEGER NOT NULL,
	revoked    INTEGER            -- NULL while active
);
-- Keyed by id alone (WITHOUT ROWID): every payment finds its payer with one
-- B-tree descent instead of two. Databases made before keep a rowid table,
-- which works the same.
CREATE TABLE IF NOT EXISTS payers (
	id             TEXT PRIMARY KEY,
	name           TEXT NOT NULL,
	pw_hash        TEXT NOT NULL,
	account        INTEGER NOT NULL REFERENCES accounts(id),
	free_limit     INTEGER NOT NULL,
	offline_credit INTEGER NOT NULL,
	webhook        TEXT NOT NULL DEFAULT '',
	created        INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS enrolments (
	key_id       INTEGER PRIMARY KEY, -- never reused, revoked ones included
	payer        TEXT NOT NULL REFERENCES payers(id),
	seed_sealed  BLOB NOT NULL,
	created      INTEGER NOT NULL,
	revoked      INTEGER,             -- NULL while current
	failures     INTEGER NOT NULL DEFAULT 0,
	locked_until INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS enrolments_current ON enrolments(payer) WHERE revoked IS NULL;
CREATE TABLE IF NOT EXISTS used_codes (
	key_id  INTEGER NOT NULL,
	counter INTEGER NOT NULL,
	at      INTEGER NOT NULL,
	PRIMARY KEY (key_id, counter)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS orders (
	id             INTEGER PRIMARY KEY,
	merchant       TEXT NOT NULL,
	merchant_order TEXT NOT NULL,
	terminal       TEXT NOT NULL,
	code_hash      BLOB,                 -- NULL for an order cancelled before any payment arrived
	code_masked    TEXT NOT NULL DEFAULT '',
	amount         INTEGER NOT NULL,
	currency       TEXT NOT NULL,
	status         TEXT NOT NULL,
	reason         TEXT NOT NULL DEFAULT '',
	message        TEXT NOT NULL DEFAULT '',
	payer          TEXT NOT NULL DEFAULT '',
	key_id         INTEGER,
	counter        INTEGER,
	offline        INTEGER NOT NULL DEFAULT 0,
	scan_time      INTEGER NOT NULL,
	created        INTEGER NOT NULL,
	updated        INTEGER NOT NULL,
	expires        INTEGER,              -- set while waiting for the payer
	refunded       INTEGER NOT NULL DEFAULT 0,
	UNIQUE (merchant, merchant_order)
);
CREATE INDEX IF NOT EXISTS orders_waiting ON orders(expires) WHERE status = 'waiting_payer';
CREATE INDEX IF NOT EXISTS orders_waiting_payer ON orders(payer) WHERE status = 'waiting_payer';
CREATE TABLE IF NOT EXISTS refunds (
	merchant  TEXT NOT NULL,
	refund_no TEXT NOT NULL,
	order_id  INTEGER NOT NULL REFERENCES orders(id),
	amount    INTEGER NOT NULL,
	created   INTEGER NOT NULL,
	PRIMARY KEY (merchant, refund_no)
) WITHOUT ROWID;
-- Every transfer debits one account and credits another: the two legs of a
-- double-entry booking. An account's balance is its credits minus its debits.
CREATE TABLE IF NOT EXISTS transfers (
	id       INTEGER PRIMARY KEY,
	debit    INTEGER NOT NULL REFERENCES accounts(id),
	credit   INTEGER NOT NULL REFERENCES accounts(id),
	amount   INTEGER NOT NULL CHECK (amount > 0),
	kind     TEXT NOT NULL,              -- topup, payment, refund
	order_id INTEGER,
	created  INTEGER NOT NULL,
	CHECK (debit <> credit)
);
-- Notifications to payers, written in the same transaction as the change.
-- Those up to the mark 'inbox_delivered' in meta are in the payers' inboxes,
-- which relies on ids only growing: rows are never deleted. hook_done is set
-- from the start for a payer without a webhook.
CREATE TABLE IF NOT EXISTS outbox (
	id            INTEGER PRIMARY KEY,
	payer         TEXT NOT NULL,
	body          TEXT NOT NULL,
	created       INTEGER NOT NULL,
	hook_done     INTEGER NOT NULL DEFAULT 0,
	hook_attempts INTEGER NOT NULL DEFAULT 0,
	hook_next     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_hook ON outbox(hook_next) WHERE hook_done = 0;
-- A payer's inbox: the notifications delivered to it, by outbox id (the
-- body stays in the outbox, which keeps every row). Keyed by payer first, so
-- that one B-tree both takes deliveries and serves a payer's reads.
CREATE TABLE IF NOT EXISTS inbox (
	payer TEXT NOT NULL,
	id    INTEGER NOT NULL,             -- the outbox id: delivery is idempotent
	PRIMARY KEY (payer, id)
) WITHOUT ROWID;
`

// pragmas are a connection's settings, each run as "PRAGMA " + it. The
// writer's connection runs with synchronous=NORMAL: in WAL mode a commit
// then writes the log without waiting for the disk, and the writer's syncer
// fsyncs the log before it answers (see writer), so a payment answered
// "paid" survives power loss exactly as with synchronous=FULL, while one
// fsync serves all the groups committed during the previous one.
// Checkpoints still sync the log before copying it into the database and
// the database after.
func pragmas(readOnly bool) []string {
	p := []string{"journal_mode(WAL)"}
	if readOnly {
		p = append(p, "synchronous(FULL)")
	} else {
		// The writer does not checkpoint: the checkpointer does, on its
		// own connection, beside the writer (see checkpoint.go).
		p = append(p, "synchronous(NORMAL)", "wal_autocheckpoint(0)")
	}
	// Memory-map the file (256 MiB) so that index lookups in a large
	// database read pages without copying them through the page cache.
	p = append(p, "busy_timeout(10000)", "foreign_keys(1)", "mmap_size(268435456)")
	if readOnly {
		p = append(p, "query_only(1)")
	}
	return p
}

// dsn builds a modernc.org/sqlite data source name with pragmas(readOnly).
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	for _, p := range pragmas(readOnly) {
		q.Add("_pragma", p)
	}
	return "file:" + path + "?" + q.Encode()
}

// store holds the database handles: one connection for the writer goroutine
// and a pool of read-only connections.
//
// The writer's connection is driven straight through SQLite's library
// (package sqliteconn), not through database/sql: the writer runs every
// payment's statements one after another on one goroutine, and
// database/sql's conversions, locks and per-call bookkeeping, with the
// driver's, cost about a third as much as SQLite's own work there.
type store struct {
	path    string
	wal     *os.File       // the WAL file, kept open for fsync
	walSync *datasync.File // syncs wal
	wdb     *sqliteconn.Conn
	ckpt    *sql.DB // one connection that only checkpoints
	read    *sql.DB
	rstmts  map[string]*sql.Stmt // prepared on read
}

func openStore(ctx context.Context, path string) (*store, error) {
	if path == "" {
		return nil, errors.New("no database path")
	}
	// The schema and its migrations run through database/sql, before the
	// writer's own connection opens.
	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	defer w.Close()
	conn, err := w.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, schema); err != nil {
		return nil, fmt.Errorf("creating schema in %s: %w", path, err)
	}
	if err := migrate(ctx, conn); err != nil {
		return nil, fmt.Errorf("updating the layout of %s: %w", path, err)
	}
	// Opened while conn is: the last connection to close would remove
	// the log that openWAL keeps open.
	wdb, err := sqliteconn.Open(path, pragmas(false)...)
	if err != nil {
		return nil, err
	}
	wal, err := openWAL(wdb, path)
	if err != nil {
		wdb.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		wal.Close()
		wdb.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0)*2)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	ck, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		r.Close()
		wal.Close()
		wdb.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	ck.SetMaxOpenConns(1)
	return &store{path: path, wal: wal, walSync: datasync.Open(wal), wdb: wdb, ckpt: ck, read: r,
		rstmts: map[string]*sql.Stmt{}}, nil
}

func (s *store) close() error {
	for _, st := range s.rstmts {
		st.Close()
	}
	err := s.wdb.Close()
	err = errors.Join(err, s.ckpt.Close(), s.read.Close(), s.walSync.Close(), s.wal.Close())
	return err
}

// openWAL opens the database's WAL file for the writer's fsyncs. It checks
// that the database is in WAL mode and makes the file's directory entry
// durable. SQLite keeps the file (same inode) while the writer's connection
// is open: it rewinds the log rather than replacing it.
func openWAL(conn *sqliteconn.Conn, path string) (*os.File, error) {
	var mode string
	if err := conn.QueryRow("PRAGMA journal_mode", nil, &mode); err != nil {
		return nil, fmt.Errorf("reading the journal mode of %s: %w", path, err)
	}
	if mode != "wal" {
		return nil, fmt.Errorf("%s: journal mode is %s, want wal", path, mode)
	}
	f, err := os.OpenFile(path+"-wal", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("opening the log of %s: %w", path, err)
	}
	dir, err := os.Open(filepath.Dir(path))
	if err == nil {
		err = dir.Sync()
		dir.Close()
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("syncing the directory of %s: %w", path, err)
	}
	return f, nil
}

// rstmt returns the read statement for query, prepared once on the pool.
func (s *Service) rstmt(ctx context.Context, query string) (*sql.Stmt, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if st, ok := s.st.rstmts[query]; ok {
		return st, nil
	}
	st, err := s.st.read.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("preparing %q: %w", query, err)
	}
	s.st.rstmts[query] = st
	return st, nil
}

// readRow runs a one-row read outside the writer and waits until what it
// read is durable (see writer.settle).
func (s *Service) readRow(ctx context.Context, query string, args []any, dest ...any) error {
	err := s.readRowNow(ctx, query, args, dest...)
	if err == nil || isNoRows(err) {
		if serr := s.w.settle(ctx); serr != nil {
			return serr
		}
	}
	return err
}

// readRowNow is readRow without waiting for durability, for reads whose
// result the writer checks again before anything depends on it.
func (s *Service) readRowNow(ctx context.Context, query string, args []any, dest ...any) error {
	st, err := s.rstmt(ctx, query)
	if err != nil {
		return err
	}
	return st.QueryRowContext(ctx, args...).Scan(dest...)
}
