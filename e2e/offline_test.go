package e2e

import (
	"testing"

	"tillpay/backend/api"
	"tillpay/till"
)

// syncQueued waits for a sync event reporting n queued payments.
func (tp *tillProc) syncQueued(n int) till.Event {
	tp.t.Helper()
	return tp.expect("sync event with queued payments", func(e till.Event) bool {
		return e.Event == till.EventSync && e.Queued != nil && *e.Queued == n
	})
}

// TestBackendOutageMidShift stops the backend process in the middle of a
// shift: payments are queued on the till; the backend comes back on the
// same port and the till settles the queue by itself, once each.
func TestBackendOutageMidShift(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	w := s.demoWallet()
	before := w.balance()
	gun := newScanGun(t)
	tp := s.startTill(gun, tillOpts{})

	tp.charge("5.00")
	gun.scan(t, w.code())
	tp.paymentIs(till.StatusPaid)

	// Codes need no network: make them first, then take the backend away.
	codes := []string{w.code(), w.code()}
	s.be.stop()
	var queued []till.Event
	for i, amount := range []string{"7.25", "1.10"} {
		tp.charge(amount)
		gun.scan(t, codes[i])
		p := tp.payment()
		if p.Status != till.StatusQueued || !p.Offline || p.Order == "" || p.Amount != amount {
			t.Fatalf("payment %d with the backend down: %+v, want queued %s offline", i, p, amount)
		}
		queued = append(queued, p)
	}
	tp.send("status")
	if ev := tp.syncQueued(2); ev.QueuedAmount != "8.35" {
		t.Errorf("queued amount %q, want 8.35", ev.QueuedAmount)
	}

	// Once the outage has lasted long enough to be shown, the till says
	// so; when the backend is back it forwards the queue by itself.
	tp.expect("sync event showing the till offline", func(e till.Event) bool {
		return e.Event == till.EventSync && e.Online != nil && !*e.Online
	})
	s.be.start()
	settled := map[string]bool{}
	for len(settled) < len(queued) {
		p := tp.paymentIs(till.StatusSettled)
		settled[p.Order] = true
	}
	for _, q := range queued {
		if !settled[q.Order] {
			t.Errorf("order %s was not settled", q.Order)
		}
		o, err := s.backendOrder(q.Order)
		if err != nil || o.Status != api.StatusPaid {
			t.Errorf("backend has %s as %+v (%v), want paid", q.Order, o, err)
		}
	}
	tp.send("status")
	tp.syncQueued(0)
	if got := w.balance(); got != before-500-725-110 {
		t.Errorf("payer balance %d, want %d", got, before-500-725-110)
	}
	tp.quit()
	s.audit()
}

// TestLateDecline queues a payment from a payer with no money while the
// backend is down; once it is back the cashier forwards the queue (sync):
// the upload is refused, and the till reports a late decline until the
// merchant acknowledges it.
func TestLateDecline(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	broke := s.addPayer("broke", "")
	if b := broke.balance(); b != 0 {
		t.Fatalf("new payer has balance %d", b)
	}
	gun := newScanGun(t)
	tp := s.startTill(gun, tillOpts{})

	code := broke.code()
	s.be.stop()
	tp.charge("9.99")
	gun.scan(t, code)
	q := tp.paymentIs(till.StatusQueued)

	s.be.start()
	tp.send("sync")
	p := tp.payment()
	if p.Status != till.StatusDeclinedLate || p.Order != q.Order || p.ReasonCode != api.ReasonInsufficientBalance {
		t.Fatalf("upload of a payment the payer cannot cover: %+v, want %s declined_late insufficient_balance", p, q.Order)
	}
	lateDeclines := func(n int) func(till.Event) bool {
		return func(e till.Event) bool {
			return e.Event == till.EventSync && e.LateDeclines != nil && *e.LateDeclines == n
		}
	}
	tp.send("status")
	tp.expect("sync event with one late decline", lateDeclines(1))
	tp.send("ack " + q.Order)
	tp.expect("sync event with no late decline", lateDeclines(0))
	tp.send("ack " + q.Order + "-no-such-order")
	if e := tp.expect("error", func(e till.Event) bool { return e.Event == till.EventError }); e.Reason == "" {
		t.Errorf("ack of an unknown order: an error with no reason")
	}
	o, err := s.backendOrder(q.Order)
	if err != nil || o.Status != api.StatusDeclined {
		t.Errorf("backend has %s as %+v (%v), want declined", q.Order, o, err)
	}
	if b := broke.balance(); b != 0 {
		t.Errorf("payer balance %d after a refused payment, want 0", b)
	}
	tp.quit()
	s.audit()
}
