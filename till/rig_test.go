package till_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tillpay/backend"
	"tillpay/backend/backendtest"
	"tillpay/backend/client"
	"tillpay/config"
	"tillpay/money"
	"tillpay/scanner"
	"tillpay/sync/forward"
	"tillpay/sync/journal"
	"tillpay/till"
	"tillpay/wallet"
)

// rig is a till wired to a real payment backend over real HTTP on
// loopback, with real SQLite files, and a real enrolled wallet.
type rig struct {
	t      *testing.T
	ctx    context.Context
	be     *backendtest.Server
	svc    *backend.Service
	addr   string
	term   *client.Terminal
	j      *journal.Journal
	till   *till.Till
	events <-chan till.Event
	conn   *fakeConn
	fwd    *forward.Forwarder
	scans  *fakeScanners
	// dropAnswers makes the backend process payment requests but never
	// answer them, as when a connection dies after the request arrived.
	dropAnswers atomic.Bool
	wallet      *wallet.Wallet
	payer       *client.Payer
}

// fakeConn stands in for the connectivity monitor (tested on its own):
// the test says whether the backend is reachable.
type fakeConn struct{ down atomic.Bool }

func (c *fakeConn) Reachable() bool { return !c.down.Load() }
func (c *fakeConn) Online() bool    { return !c.down.Load() }
func (c *fakeConn) Report(err error) {
	if err != nil {
		c.down.Store(true)
	} else {
		c.down.Store(false)
	}
}

// fakeScanners records arming.
type fakeScanners struct{ armed atomic.Bool }

func (s *fakeScanners) Arm()    { s.armed.Store(true) }
func (s *fakeScanners) Disarm() { s.armed.Store(false) }

type rigOption func(*config.Config)

func newRig(t *testing.T, opts ...rigOption) *rig {
	t.Helper()
	return newRigSkewed(t, 0, opts...)
}

// newRigSkewed is newRig with the backend's clock skew ahead of the
// till's (and the wallet's) own clock.
func newRigSkewed(t *testing.T, skew time.Duration, opts ...rigOption) *rig {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	r := &rig{t: t, ctx: ctx}
	r.be = backendtest.Start(t,
		backendtest.WithBackendOptions(backend.WithConfirmTimeout(time.Minute),
			backend.WithClock(func() time.Time { return time.Now().Add(skew) })),
		backendtest.WithHandler(func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if r.dropAnswers.Load() && req.URL.Path == "/v1/pay" {
					h.ServeHTTP(httptest.NewRecorder(), req)
					<-req.Context().Done() // the answer is lost
					return
				}
				h.ServeHTTP(w, req)
			})
		}))
	r.svc, r.addr = r.be.Service, strings.TrimPrefix(r.be.URL, "http://")
	demo, tkey, url := r.be.Demo, r.be.TerminalKey, r.be.URL
	r.term = r.be.Terminal(client.WithHTTPClient(&http.Client{Timeout: 5 * time.Second}))
	r.payer, r.wallet = r.enrol(demo.Payer.ID, demo.Payer.Password)
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Payment.PollInterval.Duration = 20 * time.Millisecond
	cfg.Payment.RequestTimeout.Duration = 3 * time.Second
	for _, o := range opts {
		o(&cfg)
	}
	var err error
	r.j, err = journal.Open(ctx, filepath.Join(cfg.DataDir, "journal.db"), journal.Options{TerminalID: demo.Terminal.ID, TerminalKey: tkey, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.j.Close() })
	r.conn = &fakeConn{}
	r.scans = &fakeScanners{}
	var tl *till.Till
	r.fwd = forward.New(r.j, r.term, forward.Options{Logger: quiet, Reachable: r.conn.Report, OnResult: func(p journal.Payment) { tl.Forwarded(p) }})
	tl, err = till.New(till.Options{Config: cfg, Journal: r.j, Backend: r.term, BackendURL: url, Monitor: r.conn,
		Scanners: r.scans, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	r.till = tl
	var cancel func()
	r.events, cancel = tl.Subscribe()
	t.Cleanup(func() { tl.Close(); cancel() })
	if err := tl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	r.expect(func(e till.Event) bool { return e.Event == till.EventReady })
	return r
}

var quiet = slog.New(slog.DiscardHandler)

// stopBackend closes the backend's listener: connections are refused.
func (r *rig) stopBackend() { r.be.Stop() }

// startBackend listens again at the same address.
func (r *rig) startBackend() { r.be.Restart() }

// enrol enrols a payer's wallet in the test's temporary directory.
func (r *rig) enrol(id, password string) (*client.Payer, *wallet.Wallet) {
	r.t.Helper()
	url := "http://" + r.addr
	p, err := client.NewPayer(url, id, password)
	if err != nil {
		r.t.Fatal(err)
	}
	w, err := wallet.Enrol(r.ctx, filepath.Join(r.t.TempDir(), "wallet.json"), wallet.Credentials{BackendURL: url, PayerID: id, Password: password}, p)
	if err != nil {
		r.t.Fatal(err)
	}
	return p, w
}

// addPayer creates another payer with balance (fen) and offline credit.
func (r *rig) addPayer(id string, balance, credit int64) *wallet.Wallet {
	r.t.Helper()
	if err := r.svc.AddPayer(r.ctx, backend.NewPayer{ID: id, Password: "password-" + id, PasswordFreeLimit: 100000, OfflineCredit: credit}); err != nil {
		r.t.Fatal(err)
	}
	if balance > 0 {
		if _, err := r.svc.TopUp(r.ctx, id, money.Amount{Minor: balance, Currency: "CNY"}); err != nil {
			r.t.Fatal(err)
		}
	}
	_, w := r.enrol(id, "password-"+id)
	return w
}

// code returns a fresh code of w.
func (r *rig) code(w *wallet.Wallet) string {
	r.t.Helper()
	c, err := w.Next()
	if err != nil {
		r.t.Fatal(err)
	}
	return c.Digits
}

// scan delivers a scan as the scanner manager would.
func (r *rig) scan(label string) {
	use := scanner.NotArmed
	if r.scans.armed.Swap(false) {
		use = scanner.ForPayment
	}
	now := time.Now()
	r.till.HandleScanner(scanner.Event{Kind: scanner.EventScan, Device: "sim:test", Time: now, Use: use,
		Scan: scanner.Scan{Label: label, Raw: []byte(label + "\r"), Symbology: scanner.QR, Device: "sim:test", FirstByte: now, LastByte: now, Delivered: now}})
}

func (r *rig) charge(amount string) {
	r.t.Helper()
	a, err := money.Parse(amount, "CNY")
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.till.Charge(r.ctx, a); err != nil {
		r.t.Fatal(err)
	}
	r.expect(func(e till.Event) bool { return e.Event == till.EventArmed })
}

// expect waits for the first event that matches, failing after a while.
func (r *rig) expect(match func(till.Event) bool) till.Event {
	r.t.Helper()
	timeout := time.After(15 * time.Second)
	var seen []string
	for {
		select {
		case e := <-r.events:
			if match(e) {
				return e
			}
			seen = append(seen, e.Event+"/"+e.Status+"/"+e.Reason)
		case <-timeout:
			r.t.Fatalf("no matching event; saw %v", seen)
		}
	}
}

func (r *rig) payment(status string) till.Event {
	r.t.Helper()
	return r.expect(func(e till.Event) bool { return e.Event == till.EventPayment && e.Status == status })
}

func (r *rig) anyPayment() till.Event {
	r.t.Helper()
	return r.expect(func(e till.Event) bool { return e.Event == till.EventPayment })
}

// audit checks the backend's books.
func (r *rig) audit() {
	r.t.Helper()
	rep, err := r.svc.Audit(r.ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	if !rep.OK() {
		r.t.Fatalf("backend audit failed: %+v", rep)
	}
}

func (r *rig) balance(w *wallet.Wallet) int64 {
	r.t.Helper()
	p, err := client.NewPayer("http://"+r.addr, w.State().PayerID, w.State().Password)
	if err != nil {
		r.t.Fatal(err)
	}
	b, err := p.Balance(r.ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	return b.Balance.Minor
}

var errAny = errors.New("any")
