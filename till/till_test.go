package till_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/config"
	"tillpay/money"
	"tillpay/sync/journal"
	"tillpay/till"
)

func TestOnlinePayment(t *testing.T) {
	r := newRig(t)
	before := r.balance(r.wallet)
	r.charge("12.50")
	if !r.scans.armed.Load() {
		t.Fatal("scanners not armed by Charge")
	}
	r.scan(r.code(r.wallet))
	ev := r.anyPayment()
	if ev.Status != till.StatusPaid || ev.Amount != "12.50" || ev.Currency != "CNY" || ev.Order == "" {
		t.Fatalf("payment event %+v", ev)
	}
	if got := r.balance(r.wallet); got != before-1250 {
		t.Fatalf("balance %d, want %d", got, before-1250)
	}
	p, err := r.j.Get(r.ctx, ev.Order)
	if err != nil || p.State != journal.StatePaid || !p.CodeMasked() {
		t.Fatalf("journal record %+v, %v", p, err)
	}
	// Nothing is armed now: another scan is reported, never charged.
	r.scan(r.code(r.wallet))
	e := r.expect(func(e till.Event) bool { return e.Event == till.EventError })
	if !strings.Contains(e.Reason, "no payment is waiting") || e.ReasonCode != till.ReasonNoPaymentWaiting {
		t.Fatalf("error %q (%s)", e.Reason, e.ReasonCode)
	}
	if got := r.balance(r.wallet); got != before-1250 {
		t.Fatalf("a scan while disarmed changed the balance to %d", got)
	}
	r.audit()
}

func TestForeignAndGarbageCodesKeepTheSaleArmed(t *testing.T) {
	r := newRig(t)
	r.charge("3")
	r.scan("28763443825664394") // Alipay's documented auth_code sample
	ev := r.payment(till.StatusDeclined)
	if ev.ReasonCode != till.ReasonForeignCode || !strings.Contains(ev.Reason, "Alipay") {
		t.Fatalf("foreign code: %+v", ev)
	}
	if !r.scans.armed.Load() {
		t.Fatal("not re-armed after a foreign code")
	}
	r.scan("120061098828009406") // WeChat Pay's documented sample
	if ev := r.payment(till.StatusDeclined); !strings.Contains(ev.Reason, "WeChat Pay") {
		t.Fatalf("wechat: %+v", ev)
	}
	r.scan("hello world")
	if ev := r.payment(till.StatusDeclined); ev.ReasonCode != till.ReasonNotACode {
		t.Fatalf("garbage: %+v", ev)
	}
	// The sale is still there: a real code pays it.
	r.scan(r.code(r.wallet))
	if ev := r.anyPayment(); ev.Status != till.StatusPaid || ev.Amount != "3.00" {
		t.Fatalf("after refusals: %+v", ev)
	}
}

func TestSameCodeTwice(t *testing.T) {
	r := newRig(t)
	code := r.code(r.wallet)
	r.charge("1")
	r.scan(code)
	r.payment(till.StatusPaid)
	r.charge("1")
	r.scan(code)
	ev := r.anyPayment()
	if ev.Status != till.StatusDeclined || ev.ReasonCode != "code_used" {
		t.Fatalf("second use of a code: %+v", ev)
	}
	r.audit()
}

func TestInsufficientBalanceIsDeclined(t *testing.T) {
	r := newRig(t)
	poor := r.addPayer("poor", 100, 0)
	r.charge("5")
	r.scan(r.code(poor))
	ev := r.anyPayment()
	if ev.Status != till.StatusDeclined || ev.ReasonCode != "insufficient_balance" || ev.Reason == "" {
		t.Fatalf("%+v", ev)
	}
	if r.balance(poor) != 100 {
		t.Fatal("balance changed")
	}
}

func TestBackendDownQueuesThenSettles(t *testing.T) {
	r := newRig(t)
	before := r.balance(r.wallet)
	r.stopBackend()
	r.charge("8.80")
	r.scan(r.code(r.wallet))
	ev := r.anyPayment()
	if ev.Status != till.StatusQueued || !ev.Offline || ev.Order == "" {
		t.Fatalf("with the backend down: %+v", ev)
	}
	// The next payment goes straight to the queue (the till knows it is offline).
	r.charge("1.20")
	r.scan(r.code(r.wallet))
	ev2 := r.payment(till.StatusQueued)
	if sync := r.expect(func(e till.Event) bool { return e.Event == till.EventSync }); *sync.Queued != 2 || sync.QueuedAmount != "10.00" {
		t.Fatalf("sync after queuing: %+v", sync)
	}
	st, err := r.j.OfflineStats(r.ctx)
	if err != nil || st.Count != 2 || st.Amount("CNY").Minor != 1000 {
		t.Fatalf("offline stats %+v, %v", st, err)
	}
	// Forwarding fails while it is down, and changes nothing.
	if _, err := r.fwd.Drain(r.ctx); err == nil {
		t.Fatal("forwarding succeeded with the backend down")
	}
	r.startBackend()
	n, err := r.fwd.Drain(r.ctx)
	if err != nil || n != 2 {
		t.Fatalf("drain: %d, %v", n, err)
	}
	for _, order := range []string{ev.Order, ev2.Order} {
		got := r.expect(func(e till.Event) bool { return e.Event == till.EventPayment && e.Order == order })
		if got.Status != till.StatusSettled {
			t.Fatalf("order %s: %+v", order, got)
		}
	}
	if got := r.balance(r.wallet); got != before-1000 {
		t.Fatalf("balance %d, want %d", got, before-1000)
	}
	// A second pass uploads nothing and charges nothing.
	if n, err := r.fwd.Drain(r.ctx); err != nil || n != 0 {
		t.Fatalf("second drain: %d, %v", n, err)
	}
	r.audit()
}

// A payment that reached the backend but whose answer was lost is queued
// under the same order number; the upload gets the first result back and
// the payer is charged once.
func TestLostAnswerIsQueuedAndChargedOnce(t *testing.T) {
	r := newRig(t, func(c *config.Config) { c.Payment.RequestTimeout.Duration = 200 * time.Millisecond })
	before := r.balance(r.wallet)
	r.dropAnswers.Store(true)
	r.charge("6")
	r.scan(r.code(r.wallet))
	ev := r.anyPayment()
	if ev.Status != till.StatusQueued || ev.Order == "" {
		t.Fatalf("%+v", ev)
	}
	if got := r.balance(r.wallet); got != before-600 {
		t.Fatalf("the backend took the payment: balance %d, want %d", got, before-600)
	}
	r.dropAnswers.Store(false)
	if n, err := r.fwd.Drain(r.ctx); err != nil || n != 1 {
		t.Fatalf("drain %d, %v", n, err)
	}
	got := r.expect(func(e till.Event) bool { return e.Event == till.EventPayment && e.Order == ev.Order })
	if got.Status != till.StatusSettled {
		t.Fatalf("%+v", got)
	}
	if b := r.balance(r.wallet); b != before-600 {
		t.Fatalf("balance %d after upload, want %d (charged once)", b, before-600)
	}
	r.audit()
}

// In require-online mode a payment with a lost answer is reported unknown
// and reversed when the till reconciles.
func TestLostAnswerRequireOnlineIsReversed(t *testing.T) {
	r := newRig(t, func(c *config.Config) {
		c.Offline.Mode = config.RequireOnline
		c.Payment.RequestTimeout.Duration = 200 * time.Millisecond
	})
	before := r.balance(r.wallet)
	r.dropAnswers.Store(true)
	r.charge("7")
	r.scan(r.code(r.wallet))
	ev := r.anyPayment()
	if ev.Status != till.StatusUnknown {
		t.Fatalf("%+v", ev)
	}
	r.dropAnswers.Store(false)
	r.till.Reconcile(r.ctx)
	got := r.expect(func(e till.Event) bool { return e.Event == till.EventPayment && e.Order == ev.Order })
	if got.Status != till.StatusCancelled || got.ReasonCode != till.ReasonReversed {
		t.Fatalf("%+v", got)
	}
	if b := r.balance(r.wallet); b != before {
		t.Fatalf("balance %d after reversal, want %d", b, before)
	}
	r.audit()
}

// A till whose clock is hours off records scan times on the backend's
// clock, so its queued codes still verify at upload.
func TestWrongTillClockDoesNotExpireOfflineCodes(t *testing.T) {
	r := newRigSkewed(t, 3*time.Hour, func(c *config.Config) { c.Offline.Mode = config.ForceOffline })
	if off := r.till.ClockOffset(); off < 3*time.Hour-time.Minute || off > 3*time.Hour+time.Minute {
		t.Fatalf("learned offset %v, want about 3h", off)
	}
	r.charge("4")
	r.scan(r.code(r.wallet))
	ev := r.payment(till.StatusQueued)
	p, err := r.j.Get(r.ctx, ev.Order)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.ScanTime.Sub(p.ScanLocal); d < 3*time.Hour-time.Minute || d > 3*time.Hour+time.Minute {
		t.Fatalf("scan time %v vs local %v: not on the backend's clock", p.ScanTime, p.ScanLocal)
	}
	if _, err := r.fwd.Drain(r.ctx); err != nil {
		t.Fatal(err)
	}
	got := r.expect(func(e till.Event) bool { return e.Event == till.EventPayment && e.Order == ev.Order })
	if got.Status != till.StatusSettled {
		t.Fatalf("%+v", got)
	}
}

func TestLateDecline(t *testing.T) {
	r := newRig(t, func(c *config.Config) { c.Offline.Mode = config.ForceOffline })
	poor := r.addPayer("broke", 50, 0)
	r.charge("2")
	r.scan(r.code(poor))
	ev := r.payment(till.StatusQueued)
	if _, err := r.fwd.Drain(r.ctx); err != nil {
		t.Fatal(err)
	}
	late := r.expect(func(e till.Event) bool { return e.Event == till.EventPayment && e.Order == ev.Order })
	if late.Status != till.StatusDeclinedLate || late.ReasonCode != "insufficient_balance" || late.Reason == "" {
		t.Fatalf("%+v", late)
	}
	r.till.Status(r.ctx)
	sync := r.expect(func(e till.Event) bool { return e.Event == till.EventSync })
	if sync.LateDeclines == nil || *sync.LateDeclines != 1 {
		t.Fatalf("sync event %+v", sync)
	}
	if err := r.till.Acknowledge(r.ctx, ev.Order); err != nil {
		t.Fatal(err)
	}
	sync = r.expect(func(e till.Event) bool { return e.Event == till.EventSync })
	if *sync.LateDeclines != 0 {
		t.Fatalf("after acknowledging: %+v", sync)
	}
}

func TestOfflineCreditCoversShortBalance(t *testing.T) {
	r := newRig(t, func(c *config.Config) { c.Offline.Mode = config.ForceOffline })
	rider := r.addPayer("rider", 100, 500)
	r.charge("2")
	r.scan(r.code(rider))
	ev := r.payment(till.StatusQueued)
	if _, err := r.fwd.Drain(r.ctx); err != nil {
		t.Fatal(err)
	}
	got := r.expect(func(e till.Event) bool { return e.Event == till.EventPayment && e.Order == ev.Order })
	if got.Status != till.StatusSettled {
		t.Fatalf("%+v", got)
	}
	if b := r.balance(rider); b != -100 {
		t.Fatalf("balance %d, want -100 (covered by offline credit)", b)
	}
	r.audit()
}

func TestOfflineLimits(t *testing.T) {
	r := newRig(t, func(c *config.Config) {
		c.Offline.Mode = config.ForceOffline
		c.Offline.MaxPayment = "10.00"
		c.Offline.MaxTotal = "15.00"
		c.Offline.MaxCount = 2
	})
	r.charge("10.01")
	r.scan(r.code(r.wallet))
	if ev := r.anyPayment(); ev.Status != till.StatusDeclined || ev.ReasonCode != till.ReasonOfflineLimit || !strings.Contains(ev.Reason, "10.00") {
		t.Fatalf("over the per-payment limit: %+v", ev)
	}
	r.charge("10")
	r.scan(r.code(r.wallet))
	r.payment(till.StatusQueued)
	r.charge("5.01")
	r.scan(r.code(r.wallet))
	if ev := r.anyPayment(); ev.Status != till.StatusDeclined || !strings.Contains(ev.Reason, "15.00") {
		t.Fatalf("over the total: %+v", ev)
	}
	r.charge("5")
	r.scan(r.code(r.wallet))
	r.payment(till.StatusQueued)
	r.charge("0.01")
	r.scan(r.code(r.wallet))
	if ev := r.anyPayment(); ev.Status != till.StatusDeclined || ev.ReasonCode != till.ReasonOfflineLimit {
		t.Fatalf("over the count: %+v", ev)
	}
	if st, _ := r.j.OfflineStats(r.ctx); st.Count != 2 {
		t.Fatalf("stored %d, want 2", st.Count)
	}
}

func TestRequireOnlineRefusesWhenDown(t *testing.T) {
	r := newRig(t, func(c *config.Config) { c.Offline.Mode = config.RequireOnline })
	r.stopBackend()
	r.charge("1")
	r.scan(r.code(r.wallet))
	ev := r.anyPayment()
	if ev.Status != till.StatusDeclined || ev.ReasonCode != till.ReasonOnlineOnly {
		t.Fatalf("%+v", ev)
	}
	if st, _ := r.j.OfflineStats(r.ctx); st.Count != 0 {
		t.Fatal("a payment was queued in require-online mode")
	}
}

func TestWaitingPayerConfirmed(t *testing.T) {
	r := newRig(t)
	r.charge("1500")
	r.scan(r.code(r.wallet))
	ev := r.payment(till.StatusWaitingPayer)
	if ev.Expires == nil || ev.Order == "" {
		t.Fatalf("%+v", ev)
	}
	pending, err := r.payer.Pending(r.ctx)
	if err != nil || len(pending) != 1 {
		t.Fatalf("pending %+v, %v", pending, err)
	}
	if _, err := r.payer.Confirm(r.ctx, pending[0].Order, true); err != nil {
		t.Fatal(err)
	}
	got := r.expect(func(e till.Event) bool {
		return e.Event == till.EventPayment && e.Order == ev.Order && e.Status != till.StatusWaitingPayer
	})
	if got.Status != till.StatusPaid {
		t.Fatalf("after confirmation: %+v", got)
	}
	r.audit()
}

func TestWaitingPayerTimesOut(t *testing.T) {
	r := newRig(t, func(c *config.Config) { c.Payment.WaitTimeout.Duration = 100_000_000 }) // 100 ms
	before := r.balance(r.wallet)
	r.charge("2000")
	r.scan(r.code(r.wallet))
	ev := r.payment(till.StatusWaitingPayer)
	got := r.expect(func(e till.Event) bool {
		return e.Event == till.EventPayment && e.Order == ev.Order && e.Status != till.StatusWaitingPayer
	})
	if got.Status != till.StatusCancelled {
		t.Fatalf("%+v", got)
	}
	if r.balance(r.wallet) != before {
		t.Fatal("balance changed")
	}
}

func TestCashierCancelsWhileWaiting(t *testing.T) {
	r := newRig(t)
	r.charge("1800")
	r.scan(r.code(r.wallet))
	ev := r.payment(till.StatusWaitingPayer)
	if err := r.till.Cancel(r.ctx); err != nil {
		t.Fatal(err)
	}
	got := r.expect(func(e till.Event) bool {
		return e.Event == till.EventPayment && e.Order == ev.Order && e.Status != till.StatusWaitingPayer
	})
	if got.Status != till.StatusCancelled {
		t.Fatalf("%+v", got)
	}
	// The payer can no longer confirm it: a late confirmation takes no
	// money.
	if o, err := r.payer.Confirm(r.ctx, ev.Order, true); err == nil && o.Status == api.StatusPaid {
		t.Fatalf("confirmed after cancel: %+v", o)
	}
	if pending, err := r.payer.Pending(r.ctx); err != nil || len(pending) != 0 {
		t.Fatalf("still pending after cancel: %+v %v", pending, err)
	}
}

func TestCancelArmedSale(t *testing.T) {
	r := newRig(t)
	if err := r.till.Cancel(r.ctx); !errors.Is(err, till.ErrNoSale) {
		t.Fatalf("cancel with no sale: %v", err)
	}
	r.charge("4")
	if err := r.till.Cancel(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.payment(till.StatusCancelled)
	if r.scans.armed.Load() {
		t.Fatal("scanners still armed after cancel")
	}
}

func TestRefunds(t *testing.T) {
	r := newRig(t)
	before := r.balance(r.wallet)
	r.charge("10")
	r.scan(r.code(r.wallet))
	ev := r.payment(till.StatusPaid)
	part := money.Amount{Minor: 300, Currency: "CNY"}
	if err := r.till.Refund(r.ctx, ev.Order, &part); err != nil {
		t.Fatal(err)
	}
	ref := r.expect(func(e till.Event) bool { return e.Event == till.EventRefund })
	if ref.Status != till.StatusPartRefunded || ref.Refunded != "3.00" {
		t.Fatalf("partial refund: %+v", ref)
	}
	too := money.Amount{Minor: 800, Currency: "CNY"}
	if err := r.till.Refund(r.ctx, ev.Order, &too); err == nil {
		t.Fatal("a refund above what is left was accepted")
	}
	if err := r.till.Refund(r.ctx, ev.Order, nil); err != nil {
		t.Fatal(err)
	}
	ref = r.expect(func(e till.Event) bool { return e.Event == till.EventRefund })
	if ref.Status != till.StatusRefunded || ref.Refunded != "10.00" {
		t.Fatalf("full refund: %+v", ref)
	}
	if got := r.balance(r.wallet); got != before {
		t.Fatalf("balance %d after full refund, want %d", got, before)
	}
	r.audit()
}

func TestChargeValidation(t *testing.T) {
	r := newRig(t)
	for _, a := range []money.Amount{{Minor: 0, Currency: "CNY"}, {Minor: -5, Currency: "CNY"}, {Minor: 100, Currency: "USD"}} {
		if err := r.till.Charge(r.ctx, a); err == nil {
			t.Errorf("Charge(%v) accepted", a)
		}
	}
}

func TestJournalFullRefusesPayment(t *testing.T) {
	// A real full disk: the journal lives on a small tmpfs that a filler
	// file then fills up.
	dir := t.TempDir()
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dir).Run(); err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root): %v", err)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	r := newRig(t, func(c *config.Config) { c.DataDir = dir })
	r.charge("1")
	r.scan(r.code(r.wallet))
	r.payment(till.StatusPaid)
	fill(t, filepath.Join(dir, "filler"))

	before := r.balance(r.wallet)
	r.charge("1")
	r.scan(r.code(r.wallet))
	ev := r.anyPayment()
	if ev.Status != till.StatusDeclined || ev.ReasonCode != till.ReasonJournal || !strings.Contains(ev.Reason, "full") {
		t.Fatalf("%+v", ev)
	}
	if r.balance(r.wallet) != before {
		t.Fatal("charged without a journal record")
	}
	// Space comes back: the till takes payments again.
	os.Remove(filepath.Join(dir, "filler"))
	r.charge("1")
	r.scan(r.code(r.wallet))
	if ev := r.anyPayment(); ev.Status != till.StatusPaid {
		t.Fatalf("after freeing space: %+v", ev)
	}
	r.audit()
}

// fill writes path until the file system is full.
func fill(t *testing.T, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}
