package backend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"tillpay/internal/datasync"
	"tillpay/internal/sqliteconn"
)

// maxGroup is the most operations committed in one transaction.
const maxGroup = 1024

// maxLinger is the age of a group past which the writer, once the disk is
// free, commits it without waiting for more requests (see commit).
const maxLinger = time.Millisecond

// quietGap is how long the writer, lingering, waits for the next request
// before it commits.
const quietGap = 200 * time.Microsecond

// lingerLoad is how busy the processors must be for the writer to linger:
// below it, a wait would only add latency (see commit).
const lingerLoad = 0.6

// errClosed is returned for writes submitted after Close.
var errClosed = &Error{Status: 503, Code: "unavailable", Message: "the payment backend is shutting down"}

// txn is the writer's view of the open transaction, handed to each operation.
type txn struct {
	st    *store
	w     *writer
	after []func() // run once the transaction is durable
}

// exec runs a statement in the transaction.
func (t *txn) exec(query string, args ...any) (sqliteconn.Result, error) {
	res, err := t.st.wdb.Exec(query, args...)
	if err != nil {
		return res, fmt.Errorf("storage: %w", err)
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
	err := t.st.wdb.QueryRow(query, args, dest...)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("storage: %w", err)
	}
	return err
}

// rowOf is one query's row, for a function that scans it (see scanOrder).
type rowOf struct {
	t     *txn
	query string
	args  []any
}

func (r rowOf) Scan(dest ...any) error { return r.t.row(r.query, r.args, dest...) }

// onCommit runs f after the transaction is durable (and not if the
// operation fails or the commit does).
func (t *txn) onCommit(f func()) { t.after = append(t.after, f) }

// writeOp is one operation: it runs inside a savepoint, so an operation
// that returns an error leaves no trace while the others in its group
// commit.
type writeOp struct {
	fn    func(*txn) (any, error)
	batch bool // a payment: may leave deferred writes to the group's end
	res   any
	err   error
	after []func()
}

type writeReq struct {
	ops  []*writeOp
	done chan struct{}
	one  [1]*writeOp // backs ops for a single operation
	op   writeOp     // the single operation, allocated with the request
}

// writer is the single goroutine that owns the write connection.
//
// Durability. The connection runs with synchronous=NORMAL, so COMMIT writes
// the group's frames to the WAL without waiting for the disk; the syncer
// goroutine then fsyncs the WAL file and only after that answers the
// group's operations (and runs their onCommit work). One fsync covers every
// group committed before it started, and the writer runs the next group
// while the disk works. An answer therefore still means "on disk", as with
// synchronous=FULL; what may be lost on power failure is only a commit not
// yet answered. Reads that show state to a user wait for the same point
// (settle), so that nothing is shown that a power failure could take back.
type writer struct {
	st      *store
	def     deferred            // the open group's deferred writes
	multi   map[multiKey]string // texts of multi-row statements
	ch      chan *writeReq
	quit    chan struct{}
	stopped chan struct{}
	// observe reports each group's size and the time from its start until
	// it is durable.
	observe func(ops int, d time.Duration)

	walSync  *datasync.File  // syncs the WAL file
	syncCh   chan *syncBatch // committed groups waiting for their fsync
	inflight atomic.Int64    // groups handed to the syncer, not yet answered
	kick     chan struct{}   // the syncer answered some groups
	linger   *time.Timer     // commit's wait for more requests: the group's age
	quiet    *time.Timer     // and the gap since the last request
	last     int             // operations in the previous group
	load     loadMeter       // how busy the processors are
	busy     atomic.Bool     // the processors were busy at the last commit
	failed   atomic.Pointer[Error]
	log      *slog.Logger

	ckptNudge chan struct{} // the syncer asks for a checkpoint
	ckptStop  chan struct{}
	restart   atomic.Bool // the checkpointer asks the writer to finish one

	issued atomic.Uint64 // groups numbered (taken just before COMMIT makes changes visible)
	mu     sync.Mutex
	synced uint64        // groups durable (or failed) and answered
	moved  chan struct{} // closed and replaced when synced grows
}

// syncBatch is a group committed (or failed) waiting to be answered.
type syncBatch struct {
	seq   uint64
	group []*writeReq
	n     int
	start time.Time
	sync  bool // committed: answer after fsync
}

func newWriter(st *store, observe func(int, time.Duration), log *slog.Logger) *writer {
	w := &writer{st: st, ch: make(chan *writeReq, maxGroup), quit: make(chan struct{}),
		stopped: make(chan struct{}), observe: observe,
		def: deferred{delta: map[int64]int64{}, used: map[usedCode]struct{}{}}, multi: map[multiKey]string{},
		walSync: st.walSync, syncCh: make(chan *syncBatch, 256), moved: make(chan struct{}),
		kick: make(chan struct{}, 1), log: log,
		ckptNudge: make(chan struct{}, 1), ckptStop: make(chan struct{})}
	w.linger, w.quiet = time.NewTimer(time.Hour), time.NewTimer(time.Hour)
	w.linger.Stop()
	w.quiet.Stop()
	synced := make(chan struct{})
	checkpointed := make(chan struct{})
	go w.checkpointer(checkpointed)
	go w.syncer(synced)
	go w.run(synced, checkpointed)
	return w
}

// do runs the operations in order within one transaction (or more, if
// other writes are queued) and waits until they are durable.
func (w *writer) do(ctx context.Context, fns ...func(*txn) (any, error)) ([]*writeOp, error) {
	return w.submit(ctx, false, fns)
}

// doPay is do for payment operations, which may book transfers and
// notifications as deferred writes (see deferred.go).
func (w *writer) doPay(ctx context.Context, fns ...func(*txn) (any, error)) ([]*writeOp, error) {
	return w.submit(ctx, true, fns)
}

func (w *writer) submit(ctx context.Context, batch bool, fns []func(*txn) (any, error)) ([]*writeOp, error) {
	req := &writeReq{done: make(chan struct{})}
	if len(fns) == 1 {
		req.op = writeOp{fn: fns[0], batch: batch}
		req.one[0] = &req.op
		req.ops = req.one[:]
	} else {
		req.ops = make([]*writeOp, len(fns))
		for i, f := range fns {
			req.ops[i] = &writeOp{fn: f, batch: batch}
		}
	}
	// The queue is buffered, so that a request seldom waits to hand over
	// its operations while the writer is busy: it then sleeps only once,
	// until the answer.
	//
	// The common path does not ask the context for its Done channel: an
	// HTTP request's context makes that channel on first use and closes it
	// when the request ends, work on every payment for a channel that is
	// needed only when the queue is full. ctx.Err reads the same state
	// without it.
	select {
	case <-w.quit:
		return nil, errClosed
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case w.ch <- req:
	default:
		// The queue is full: wait for room, or for the caller to give up.
		select {
		case w.ch <- req:
		case <-w.quit:
			return nil, errClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	// Once queued, the operation runs to the end: wait for it, so that the
	// caller never reports an outcome different from the stored one. The
	// writer answers every request it took before it stops; one still
	// queued when it stopped never ran.
	select {
	case <-req.done:
	case <-w.stopped:
		select {
		case <-req.done:
		default:
			return nil, errClosed
		}
	}
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

// settle waits until every group started so far is durable (or failed):
// call it after a read and before showing what it read.
func (w *writer) settle(ctx context.Context) error {
	target := w.issued.Load()
	for {
		w.mu.Lock()
		done, moved := w.synced >= target, w.moved
		w.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-moved:
		case <-w.stopped:
			return errClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (w *writer) run(synced, checkpointed chan struct{}) {
	defer func() {
		close(w.syncCh)
		<-synced
		close(w.ckptStop)
		<-checkpointed
		close(w.stopped)
	}()
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

// commit runs a group in one transaction, commits it and hands it to the
// syncer. While the syncer is still making earlier groups durable, the
// writer keeps the transaction open and runs the operations that arrive
// meanwhile in it: it commits when the disk is free (or the group is full),
// so that groups grow with the load and each commit's log writes and fsync
// serve many operations.
func (w *writer) commit(group []*writeReq, n int) {
	b := &syncBatch{start: time.Now()}
	defer func() {
		b.group, b.n = group, n
		if b.seq == 0 {
			b.seq = w.issued.Add(1)
		}
		w.inflight.Add(1)
		w.syncCh <- b
	}()
	if e := w.failed.Load(); e != nil {
		fail(group, e)
		return
	}
	w.restartLog()
	t := &txn{st: w.st, w: w}
	// Most groups have no failing operation: run them without savepoints.
	// If one fails, roll the group back and run it again with a savepoint
	// around each operation (operations are decided by the database state
	// alone, so the second run sees what the first did).
	err := w.begin()
	failed := false
	if err == nil {
		err, failed = w.runOps(t, group, false)
	}
	stop := false
	for err == nil && !failed && !stop && n < maxGroup && w.inflight.Load() > 0 {
		select {
		case r := <-w.ch:
			group = append(group, r)
			n += len(r.ops)
			err, failed = w.runOps(t, group[len(group)-1:], false)
		case <-w.kick:
		case <-w.quit:
			stop = true
		}
	}
	// The disk is free: take in what is already queued. Then, while the
	// group is younger than maxLinger, take in more: the other goroutines
	// are parsing and checking further payments, which join this group
	// instead of waiting a whole fsync for the next one, so that a commit's
	// fixed work (log writes, fsync, wake-ups) is shared by more payments.
	//
	// If the processors are busy (lingerLoad) and this group or the
	// previous one holds more than one request, the writer waits on its
	// queue for as long as requests keep coming (each within quietGap of
	// the last) and runs each as it arrives: a send wakes it at once on the
	// sender's processor, so no backlog is left for it to run alone at the
	// end. Otherwise a wait would only add latency; the writer yields
	// instead, and goes on while each yield brings new requests. On a quiet
	// backend a yield returns at once and finds nothing, so a lone payment
	// is not held.
	take := func(r *writeReq) {
		group = append(group, r)
		n += len(r.ops)
		err, failed = w.runOps(t, group[len(group)-1:], false)
	}
	drain := func() {
		for err == nil && !failed && n < maxGroup {
			select {
			case r := <-w.ch:
				take(r)
			default:
				return
			}
		}
	}
	busy := w.load.busy() >= lingerLoad
	w.busy.Store(busy)
	if err == nil && !failed && !stop {
		drain()
		if linger := maxLinger - time.Since(b.start); linger > 0 && (n > 1 || w.last > 1) && busy {
			w.linger.Reset(linger)
			w.quiet.Reset(quietGap)
		wait:
			for err == nil && !failed && n < maxGroup {
				select {
				case r := <-w.ch:
					take(r)
					w.quiet.Reset(quietGap)
				case <-w.quiet.C:
					break wait
				case <-w.linger.C:
					break wait
				case <-w.quit:
					break wait
				}
			}
			w.linger.Stop()
			w.quiet.Stop()
		} else {
			for err == nil && !failed && n < maxGroup && time.Since(b.start) < maxLinger {
				runtime.Gosched()
				before := n
				if drain(); n == before {
					break
				}
			}
		}
	}
	w.last = n
	if err == nil && failed {
		if err = w.begin(); err == nil {
			err, _ = w.runOps(t, group, true)
		}
	}
	if err == nil {
		err = w.finish(t, b)
	}
	if err != nil {
		fail(group, &Error{Status: 503, Code: "unavailable", Message: "storage failed: " + err.Error()})
		return
	}
	b.sync = true
}

// fail sets every operation of a group to e.
func fail(group []*writeReq, e *Error) {
	for _, r := range group {
		for _, op := range r.ops {
			op.res, op.err, op.after = nil, e, nil
		}
	}
}

// syncer makes committed groups durable and answers them, in order.
func (w *writer) syncer(done chan struct{}) {
	defer close(done)
	for b := range w.syncCh {
		batches := []*syncBatch{b}
	more:
		for {
			select {
			case b, ok := <-w.syncCh:
				if !ok {
					break more
				}
				batches = append(batches, b)
			default:
				break more
			}
		}
		var serr *Error
		for _, b := range batches {
			if b.sync {
				serr = w.sync()
				break
			}
		}
		for _, b := range batches {
			if b.sync && serr != nil {
				fail(b.group, serr)
			}
			if b.sync && serr == nil && w.observe != nil {
				w.observe(b.n, time.Since(b.start))
			}
			for _, r := range b.group {
				for _, op := range r.ops {
					for _, f := range op.after {
						f()
					}
				}
				close(r.done)
			}
		}
		w.mu.Lock()
		w.synced = batches[len(batches)-1].seq
		close(w.moved)
		w.moved = make(chan struct{})
		w.mu.Unlock()
		// Let the goroutines just answered run before the writer learns
		// that the disk is free. Woken first, the writer would take this
		// processor's next turn and run the queued payments and the
		// commit, hundreds of microseconds, while the answers wait behind
		// it; answered first, they reach their terminals sooner, and the
		// payments those send next join the open group. (Measured at
		// concurrency 64 on two processors, in pairs of runs: 2 to 8 %
		// more payments a second; no change at 1 and 16.)
		runtime.Gosched()
		w.inflight.Add(-int64(len(batches)))
		w.nudgeCheckpointer()
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// sync fsyncs the WAL. After a failed fsync the kernel may have dropped the
// unwritten pages, so nothing more is committed: the writer refuses every
// write until the service is opened again and SQLite recovers the file.
func (w *writer) sync() *Error {
	if e := w.failed.Load(); e != nil {
		return e
	}
	// While the processors are busy, park during the sync instead of
	// holding one in the system call (see datasync).
	syncLog := w.walSync.Sync
	if w.busy.Load() {
		syncLog = w.walSync.SyncParked
	}
	if err := syncLog(); err != nil {
		e := &Error{Status: 503, Code: "unavailable", Message: "storage failed: syncing the log: " + err.Error()}
		w.failed.CompareAndSwap(nil, e)
		return w.failed.Load()
	}
	return nil
}

// begin opens the group's transaction.
func (w *writer) begin() error {
	w.def.reset()
	_, err := (&txn{st: w.st, w: w}).exec("BEGIN IMMEDIATE")
	return err
}

// runOps runs operations in the open transaction. Without savepoints it
// stops and rolls back at the first operation that fails (failed true);
// with them it undoes only the failing operations. err is a storage
// failure, after which the transaction is rolled back.
func (w *writer) runOps(t *txn, reqs []*writeReq, savepoints bool) (err error, failed bool) {
	for _, r := range reqs {
		for _, op := range r.ops {
			// Other operations see the payments before them written.
			if !op.batch {
				if err := t.flush(); err != nil {
					w.rollback()
					return err, false
				}
			}
			m := w.def.mark()
			if savepoints {
				if _, err := t.exec("SAVEPOINT op"); err != nil {
					w.rollback()
					return err, false
				}
			}
			t.after = nil
			op.res, op.err = runOp(op.fn, t)
			op.after = t.after
			if op.err == nil {
				if savepoints {
					if _, err := t.exec("RELEASE op"); err != nil {
						w.rollback()
						return err, false
					}
				}
				continue
			}
			op.res, op.after = nil, nil
			w.def.undo(m)
			if !savepoints {
				w.rollback()
				return nil, true
			}
			_, err1 := t.exec("ROLLBACK TO op")
			_, err2 := t.exec("RELEASE op")
			if err := errors.Join(err1, err2); err != nil {
				w.rollback()
				return err, false
			}
		}
	}
	return nil, false
}

// finish writes the deferred writes and commits. The group's sequence
// number is taken before COMMIT makes its changes visible, so that a
// reader's settle, taken after its read, covers whatever it saw.
func (w *writer) finish(t *txn, b *syncBatch) error {
	if err := t.flush(); err != nil {
		w.rollback()
		return err
	}
	b.seq = w.issued.Add(1)
	if _, err := t.exec("COMMIT"); err != nil {
		w.rollback()
		return err
	}
	return nil
}

func runOp(fn func(*txn) (any, error), t *txn) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("internal error: %v", p)
		}
	}()
	return fn(t)
}

func (w *writer) rollback() {
	w.def.reset()
	w.st.wdb.Exec("ROLLBACK") //nolint:errcheck // best effort after a failure
}
