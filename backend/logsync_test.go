package backend

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/backend/client"
	"tillpay/internal/datasync"
)

// TestLogSyncFailure breaks the log's fsync, both the plain call and the
// parked one: the operation in that group is answered 503, every later
// write is refused, reads go on, and once the backend is opened again the
// terminal's retry of a refused payment under the same order number is
// charged once.
func TestLogSyncFailure(t *testing.T) {
	for _, parked := range []bool{false, true} {
		t.Run(fmt.Sprintf("parked=%v", parked), func(t *testing.T) {
			dir := t.TempDir()
			e := newEnvIn(t, dir)
			w := e.payer("ann", 10_000)
			if o := e.pay("o-1", e.code(w), 100); o.Status != api.StatusPaid {
				t.Fatalf("first payment %s/%s", o.Status, o.Reason)
			}
			// fdatasync of a pipe fails (EINVAL), as a failing disk's would.
			r, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			defer pw.Close()
			broken := datasync.Open(pw)
			defer broken.Close()
			aio := broken.Parks()
			// Swap the log's syncer inside the writer, and make it see the
			// processors as idle or as busy, which picks the sync. The swap's
			// own group is the first to sync through it.
			_, err = e.svc.w.do1(e.ctx, func(t *txn) (any, error) {
				t.w.walSync = broken
				t.w.load = fakeLoad(parked)
				return nil, nil
			})
			var se *Error
			if !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable {
				t.Fatalf("operation in the group whose sync failed: %v, want 503", err)
			}
			if runtime.GOOS == "linux" && aio && broken.Parks() == parked {
				t.Errorf("parked=%v, but the sync that failed was the other one", parked)
			}
			// Later writes are refused: a payment, an admin change.
			code := e.code(w)
			_, err = e.term.Pay(e.ctx, api.PayRequest{MerchantOrder: "o-2", Code: code, Amount: cny(200)})
			var ae *client.APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable {
				t.Fatalf("payment after the failed sync: %v, want 503", err)
			}
			if _, err := e.svc.AddTerminal(e.ctx, "shop"); err == nil {
				t.Error("a write after the failed sync succeeded")
			}
			// Reads are still answered.
			if got := e.balance("ann"); got != 10_000-100 {
				t.Errorf("balance %d, want 9900", got)
			}
			if err := e.svc.Close(); err != nil && !errors.Is(err, context.Canceled) {
				t.Logf("closing after the failure: %v", err)
			}

			// Open again: SQLite recovers the log. The terminal retries.
			e2 := reopenEnv(t, dir, e)
			o, err := e2.term.Pay(e2.ctx, api.PayRequest{MerchantOrder: "o-2", Code: code, Amount: cny(200)})
			if err != nil {
				t.Fatalf("retry after reopening: %v", err)
			}
			if o.Status != api.StatusPaid {
				t.Fatalf("retry: %s/%s, want paid", o.Status, o.Reason)
			}
			if got := e2.balance("ann"); got != 10_000-300 {
				t.Fatalf("balance after the retry %d, want 9700: charged once", got)
			}
			e2.audit()
		})
	}
}

// fakeLoad is a load meter that reads the processors as all busy, or idle,
// from its next reading on.
func fakeLoad(busy bool) loadMeter {
	var now, used time.Duration
	m := loadMeter{
		now: func() time.Duration { now += 10 * time.Millisecond; return now },
		cpu: func() (time.Duration, bool) {
			if busy {
				used += 20 * time.Millisecond
			}
			return used, true
		},
		procs: func() int { return 2 },
	}
	m.busy() // the first reading starts the first period
	return m
}

// reopenEnv opens e's database again, with e's key, clock and terminal.
func reopenEnv(t *testing.T, dir string, e *env) *env {
	t.Helper()
	svc, err := Open(e.ctx, dir+"/backend.db", e.key, WithClock(e.clk.Now), WithPasswordIterations(1000))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	term, err := client.NewTerminal(srv.URL, e.tc.ID, e.tc.Key, client.WithClock(e.clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, svc: svc, clk: e.clk, srv: srv, term: term, tc: e.tc, ctx: e.ctx, key: e.key, dbDir: dir}
}
