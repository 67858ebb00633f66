// Package sqliteconn drives one SQLite connection straight through
// modernc.org/sqlite's C library, for the goroutine that owns it: each
// statement is prepared once and kept, arguments are bound without
// database/sql's conversions, rows are read without its bookkeeping, and
// the connection has no mutex of its own (SQLITE_OPEN_NOMUTEX), since one
// goroutine uses it at a time.
//
// It is for a hot path that runs a few statements very often, such as a
// database's single writer. It reads one row at most per statement (a
// statement's further rows are ignored) and runs one statement per call.
// Anything else is better served by database/sql and the modernc.org/sqlite
// driver, which can share the same database file.
//
// A Conn must not be used by two goroutines at once.
package sqliteconn

import (
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrNoRows is returned by QueryRow when the statement gives no row; it is
// database/sql's, so that callers test for both alike.
var ErrNoRows = sql.ErrNoRows

// errClosed is returned for calls on a closed Conn.
var errClosed = errors.New("sqlite: the connection is closed")

// Error is an error that SQLite reported.
type Error struct {
	Code int    // the extended result code, e.g. 2067 for SQLITE_CONSTRAINT_UNIQUE
	Msg  string // SQLite's description of the code and of this error
}

func (e *Error) Error() string { return fmt.Sprintf("sqlite: %s (%d)", e.Msg, e.Code) }

// Primary is the primary result code (the low byte of Code), e.g. 19 for
// SQLITE_CONSTRAINT.
func (e *Error) Primary() int { return e.Code & 0xff }

// Result is what Exec reports.
type Result struct {
	lastID, changes int64
}

// LastInsertId is the rowid of the connection's most recent successful
// INSERT (which need not be this statement's, as in SQLite).
func (r Result) LastInsertId() (int64, error) { return r.lastID, nil }

// RowsAffected is how many rows the statement inserted, updated or deleted.
func (r Result) RowsAffected() (int64, error) { return r.changes, nil }

// Conn is one SQLite connection.
type Conn struct {
	tls   *libc.TLS
	db    uintptr // sqlite3*
	stmts map[string]*stmt
	// arena is C memory holding the text and blob arguments of the
	// statement being run, bound without a copy (SQLITE_STATIC): every
	// call binds, steps and resets its statement before it returns.
	arena    uintptr
	arenaCap int
	slot     uintptr // 8 bytes of C memory for out-parameters
}

// stmt is a prepared statement kept for its text.
type stmt struct {
	p       uintptr // sqlite3_stmt*
	params  int
	columns int
}

// Open opens the database file at path for reading and writing (creating
// it if needed) and runs each of pragmas as "PRAGMA " + pragma, e.g.
// "journal_mode = WAL".
func Open(path string, pragmas ...string) (*Conn, error) {
	c := &Conn{tls: libc.NewTLS(), stmts: map[string]*stmt{}}
	c.slot = sqlite3.Xsqlite3_malloc64(c.tls, 8)
	if c.slot == 0 {
		c.tls.Close()
		return nil, errors.New("sqlite: out of memory")
	}
	name, err := c.cString(path)
	if err != nil {
		c.Close()
		return nil, err
	}
	rc := sqlite3.Xsqlite3_open_v2(c.tls, name, c.slot,
		sqlite3.SQLITE_OPEN_READWRITE|sqlite3.SQLITE_OPEN_CREATE|sqlite3.SQLITE_OPEN_NOMUTEX|sqlite3.SQLITE_OPEN_EXRESCODE, 0)
	sqlite3.Xsqlite3_free(c.tls, name)
	c.db = c.readSlot()
	if rc != sqlite3.SQLITE_OK {
		err := c.err(rc)
		c.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	for _, p := range pragmas {
		if _, err := c.Exec("PRAGMA " + p); err != nil {
			c.Close()
			return nil, fmt.Errorf("opening %s: PRAGMA %s: %w", path, p, err)
		}
	}
	return c, nil
}

// Close finalizes the kept statements and closes the connection.
func (c *Conn) Close() error {
	if c.tls == nil {
		return nil
	}
	for q, st := range c.stmts {
		sqlite3.Xsqlite3_finalize(c.tls, st.p)
		delete(c.stmts, q)
	}
	var err error
	if c.db != 0 {
		if rc := sqlite3.Xsqlite3_close_v2(c.tls, c.db); rc != sqlite3.SQLITE_OK {
			err = c.err(rc)
		}
		c.db = 0
	}
	sqlite3.Xsqlite3_free(c.tls, c.arena)
	sqlite3.Xsqlite3_free(c.tls, c.slot)
	c.arena, c.arenaCap, c.slot = 0, 0, 0
	c.tls.Close()
	c.tls = nil
	return err
}

// Exec runs one statement to its end with args bound to its parameters in
// order (?NNN names the NNN-th argument).
func (c *Conn) Exec(query string, args ...any) (Result, error) {
	st, err := c.run(query, args)
	if err != nil {
		return Result{}, err
	}
	rc := sqlite3.Xsqlite3_step(c.tls, st.p)
	for rc == sqlite3.SQLITE_ROW {
		rc = sqlite3.Xsqlite3_step(c.tls, st.p)
	}
	if rc != sqlite3.SQLITE_DONE {
		err = c.err(rc)
	}
	r := Result{lastID: sqlite3.Xsqlite3_last_insert_rowid(c.tls, c.db), changes: sqlite3.Xsqlite3_changes64(c.tls, c.db)}
	c.done(st)
	if err != nil {
		return Result{}, err
	}
	return r, nil
}

// QueryRow runs one statement and stores the columns of its first row in
// dest (see Scan for the types it takes); it returns ErrNoRows if there is
// no row.
func (c *Conn) QueryRow(query string, args []any, dest ...any) error {
	st, err := c.run(query, args)
	if err != nil {
		return err
	}
	defer c.done(st)
	switch rc := sqlite3.Xsqlite3_step(c.tls, st.p); rc {
	case sqlite3.SQLITE_ROW:
	case sqlite3.SQLITE_DONE:
		return ErrNoRows
	default:
		return c.err(rc)
	}
	if len(dest) != st.columns {
		return fmt.Errorf("sqlite: %d destinations for %d columns", len(dest), st.columns)
	}
	for i, d := range dest {
		if err := c.scan(st.p, i, d); err != nil {
			return err
		}
	}
	return nil
}

// run returns query's statement, prepared on first use, with args bound.
func (c *Conn) run(query string, args []any) (*stmt, error) {
	if c.tls == nil {
		return nil, errClosed
	}
	st, ok := c.stmts[query]
	if !ok {
		var err error
		if st, err = c.prepare(query); err != nil {
			return nil, err
		}
		c.stmts[query] = st
	}
	if err := c.bind(st, args); err != nil {
		c.done(st)
		return nil, err
	}
	return st, nil
}

// done makes st ready for its next use. Its text and blob parameters still
// point into the arena, which later calls overwrite: no statement is
// stepped without all its parameters bound again first (see bind). (The
// bindings are not cleared: sqlite3_clear_bindings marks a statement whose
// plan depends on a parameter's value as expired, so that every later run
// would compile it again.)
func (c *Conn) done(st *stmt) {
	sqlite3.Xsqlite3_reset(c.tls, st.p)
}

// prepare compiles query, which must hold exactly one statement.
func (c *Conn) prepare(query string) (*stmt, error) {
	z, err := c.cString(query)
	if err != nil {
		return nil, err
	}
	defer sqlite3.Xsqlite3_free(c.tls, z)
	tail := sqlite3.Xsqlite3_malloc64(c.tls, 8)
	if tail == 0 {
		return nil, errors.New("sqlite: out of memory")
	}
	defer sqlite3.Xsqlite3_free(c.tls, tail)
	rc := sqlite3.Xsqlite3_prepare_v3(c.tls, c.db, z, int32(len(query)), sqlite3.SQLITE_PREPARE_PERSISTENT, c.slot, tail)
	if rc != sqlite3.SQLITE_OK {
		return nil, fmt.Errorf("preparing %q: %w", query, c.err(rc))
	}
	p := c.readSlot()
	if p == 0 {
		return nil, fmt.Errorf("preparing %q: no statement in it", query)
	}
	rest := int(readPtr(tail) - z)
	if rest < len(query) && strings.TrimSpace(strings.TrimRight(query[rest:], "; \t\r\n")) != "" {
		sqlite3.Xsqlite3_finalize(c.tls, p)
		return nil, fmt.Errorf("preparing %q: one statement at a time", query)
	}
	return &stmt{
		p:       p,
		params:  int(sqlite3.Xsqlite3_bind_parameter_count(c.tls, p)),
		columns: int(sqlite3.Xsqlite3_column_count(c.tls, p)),
	}, nil
}

// cString copies s into C memory with a terminating zero; the caller frees
// it with sqlite3_free.
func (c *Conn) cString(s string) (uintptr, error) {
	p := sqlite3.Xsqlite3_malloc64(c.tls, uint64(len(s))+1)
	if p == 0 {
		return 0, errors.New("sqlite: out of memory")
	}
	b := libc.GoBytes(p, len(s)+1)
	copy(b, s)
	b[len(s)] = 0
	return p, nil
}

// readSlot reads the pointer SQLite left in c.slot.
func (c *Conn) readSlot() uintptr { return readPtr(c.slot) }

// readPtr reads a pointer stored in C memory at p.
func readPtr(p uintptr) uintptr {
	if ptrBits == 32 {
		return uintptr(binary.NativeEndian.Uint32(libc.GoBytes(p, 4)))
	}
	return uintptr(binary.NativeEndian.Uint64(libc.GoBytes(p, 8)))
}

// ptrBits is the size of a pointer in bits.
const ptrBits = 32 << (^uintptr(0) >> 63)

// err turns a result code into an *Error with SQLite's message.
func (c *Conn) err(rc int32) error {
	msg := libc.GoString(sqlite3.Xsqlite3_errstr(c.tls, rc))
	code := int(rc)
	if c.db != 0 {
		if ext := sqlite3.Xsqlite3_extended_errcode(c.tls, c.db); ext&0xff == rc&0xff {
			code = int(ext)
			if m := libc.GoString(sqlite3.Xsqlite3_errmsg(c.tls, c.db)); m != "" && m != msg {
				msg += ": " + m
			}
		}
	}
	return &Error{Code: code, Msg: msg}
}
