package backend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// maxGroup is the most operations committed in one transaction.
const maxGroup = 1024

// errClosed is returned for writes submitted after Close.
var errClosed = &Error{Status: 503, Code: "unavailable", Message: "the payment backend is shutting down"}

// txn is the writer's view of the open transaction, handed to each operation.
type txn struct {
	ctx   context.Context
	st    *store
	after []func() // run once the transaction is durable
}

func (t *txn) stmt(query string) (*sql.Stmt, error) {
	if st, ok := t.st.stmts[query]; ok {
		return st, nil
	}
	st, err := t.st.wconn.PrepareContext(t.ctx, query)
	if err != nil {
		return nil, fmt.Errorf("preparing %q: %w", query, err)
	}
	t.st.stmts[query] = st
	return st, nil
}

func (t *txn) exec(query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	res, err := st.ExecContext(t.ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	return res, nil
}

// insert runs an INSERT and returns the new row id.
func (t *txn) insert(query string, args ...any) (int64, error) {
	res, err := t.exec(query, args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// row runs a one-row query; sql.ErrNoRows is returned as is.
func (t *txn) row(query string, args []any, dest ...any) error {
	st, err := t.stmt(query)
	if err != nil {
		return err
	}
	err = st.QueryRowContext(t.ctx, args...).Scan(dest...)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("storage: %w", err)
	}
	return err
}

func (t *txn) query(query string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(t.ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	return rows, nil
}

// onCommit runs f after the transaction is durable (and not if the
// operation fails or the commit does).
func (t *txn) onCommit(f func()) { t.after = append(t.after, f) }

// writeOp is one operation: it runs inside a savepoint, so an operation
// that returns an error leaves no trace while the others in its group
// commit.
type writeOp struct {
	fn    func(*txn) (any, error)
	res   any
	err   error
	after []func()
}

type writeReq struct {
	ops  []*writeOp
	done chan struct{}
}

// writer is the single goroutine that owns the write connection.
type writer struct {
	st      *store
	ch      chan *writeReq
	quit    chan struct{}
	stopped chan struct{}
	// observe reports each committed group's size and commit time.
	observe func(ops int, d time.Duration)
}

func newWriter(st *store, observe func(int, time.Duration)) *writer {
	w := &writer{st: st, ch: make(chan *writeReq), quit: make(chan struct{}),
		stopped: make(chan struct{}), observe: observe}
	go w.run()
	return w
}

// do runs the operations in order within one transaction (or more, if
// other writes are queued) and waits until they are durable.
func (w *writer) do(ctx context.Context, fns ...func(*txn) (any, error)) ([]*writeOp, error) {
	req := &writeReq{done: make(chan struct{})}
	for _, f := range fns {
		req.ops = append(req.ops, &writeOp{fn: f})
	}
	select {
	case w.ch <- req:
	case <-w.quit:
		return nil, errClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// Once taken, the operation runs to the end: wait for it, so that the
	// caller never reports an outcome different from the stored one.
	<-req.done
	return req.ops, nil
}

// do1 runs one operation.
func (w *writer) do1(ctx context.Context, fn func(*txn) (any, error)) (any, error) {
	ops, err := w.do(ctx, fn)
	if err != nil {
		return nil, err
	}
	return ops[0].res, ops[0].err
}

func (w *writer) stop() {
	close(w.quit)
	<-w.stopped
}

func (w *writer) run() {
	defer close(w.stopped)
	for {
		var first *writeReq
		select {
		case first = <-w.ch:
		case <-w.quit:
			return
		}
		group := []*writeReq{first}
		n := len(first.ops)
	gather:
		for n < maxGroup {
			select {
			case r := <-w.ch:
				group = append(group, r)
				n += len(r.ops)
			default:
				break gather
			}
		}
		w.commit(group, n)
	}
}

func (w *writer) commit(group []*writeReq, n int) {
	start := time.Now()
	ctx := context.Background()
	// Most groups have no failing operation: run them without savepoints.
	// If one fails, roll the group back and run it again with a savepoint
	// around each operation (operations are decided by the database state
	// alone, so the second run sees what the first did).
	err, failed := w.attempt(ctx, group, false)
	if err == nil && failed {
		err, _ = w.attempt(ctx, group, true)
	}
	if err != nil {
		e := &Error{Status: 503, Code: "unavailable", Message: "storage failed: " + err.Error()}
		for _, r := range group {
			for _, op := range r.ops {
				op.res, op.err, op.after = nil, e, nil
			}
			close(r.done)
		}
		return
	}
	if w.observe != nil {
		w.observe(n, time.Since(start))
	}
	for _, r := range group {
		for _, op := range r.ops {
			for _, f := range op.after {
				f()
			}
		}
		close(r.done)
	}
}

// attempt runs the group in one transaction. Without savepoints it stops
// and rolls back at the first operation that fails (failed true); with
// them it commits the operations that succeed. err is a storage failure.
func (w *writer) attempt(ctx context.Context, group []*writeReq, savepoints bool) (err error, failed bool) {
	t := &txn{ctx: ctx, st: w.st}
	if _, err := w.st.wconn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err, false
	}
	for _, r := range group {
		for _, op := range r.ops {
			if savepoints {
				if _, err := t.exec("SAVEPOINT op"); err != nil {
					w.rollback(ctx)
					return err, false
				}
			}
			t.after = nil
			op.res, op.err = runOp(op.fn, t)
			op.after = t.after
			if op.err == nil {
				if savepoints {
					if _, err := t.exec("RELEASE op"); err != nil {
						w.rollback(ctx)
						return err, false
					}
				}
				continue
			}
			op.res, op.after = nil, nil
			if !savepoints {
				w.rollback(ctx)
				return nil, true
			}
			_, err1 := t.exec("ROLLBACK TO op")
			_, err2 := t.exec("RELEASE op")
			if err := errors.Join(err1, err2); err != nil {
				w.rollback(ctx)
				return err, false
			}
		}
	}
	if _, err := w.st.wconn.ExecContext(ctx, "COMMIT"); err != nil {
		w.rollback(ctx)
		return err, false
	}
	return nil, false
}

func runOp(fn func(*txn) (any, error), t *txn) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("internal error: %v", p)
		}
	}()
	return fn(t)
}

func (w *writer) rollback(ctx context.Context) {
	w.st.wconn.ExecContext(ctx, "ROLLBACK") //nolint:errcheck // best effort after a failure
}
