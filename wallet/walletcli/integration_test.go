package walletcli

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tillpay/backend"
	"tillpay/backend/api"
	"tillpay/backend/backendtest"
	"tillpay/backend/client"
	"tillpay/money"
	"tillpay/wallet"
)

// TestRealBackend runs the wallet against the real payment backend (its
// SQLite database in a temporary directory, its HTTP handler on loopback)
// with a till's terminal client paying with the wallet's codes.
func TestRealBackend(t *testing.T) {
	ctx := context.Background()
	srv := backendtest.Start(t) // its notifier fills the payers' inboxes
	demo := srv.Demo
	demoPath := filepath.Join(t.TempDir(), "demo.json")
	data, _ := json.Marshal(demo)
	if err := os.WriteFile(demoPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	till := srv.Terminal()

	h := &harness{t: t, state: filepath.Join(t.TempDir(), "w.json"),
		// The phone's clock is four hours fast.
		now: func() time.Time { return time.Now().Add(4 * time.Hour) }}
	if rc, out, errs := h.run("enrol", "--demo", demoPath, "--backend", srv.URL); rc != 0 {
		t.Fatalf("enrol: %d %q %q", rc, out, errs)
	}

	pay := func(order, code string, minor int64) api.Order {
		t.Helper()
		o, err := till.Pay(ctx, api.PayRequest{MerchantOrder: order, Code: code,
			Amount: money.Amount{Minor: minor, Currency: demo.Currency}, ScanTime: time.Now()})
		if err != nil {
			t.Fatalf("pay %s: %v", order, err)
		}
		return o
	}

	c1 := h.codeJSON()
	if o := pay("o-1", c1.Digits, 1234); o.Status != api.StatusPaid {
		t.Fatalf("first payment: %+v", o)
	}
	// The notification reaches the inbox a moment later.
	c2 := h.codeJSON()
	for deadline := time.Now().Add(10 * time.Second); c2.Digits == c1.Digits; c2 = h.codeJSON() {
		if time.Now().After(deadline) {
			t.Fatal("the wallet kept showing a used code")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if o := pay("o-2", c1.Digits, 100); o.Status != api.StatusDeclined || o.Reason != api.ReasonCodeUsed {
		t.Errorf("replayed code: %+v", o)
	}
	if o := pay("o-3", c2.Digits, 766); o.Status != api.StatusPaid {
		t.Fatalf("second payment: %+v", o)
	}

	rc, out, errs := h.run("inbox", "--all", "--json")
	var inbox api.InboxResponse
	if rc != 0 || json.Unmarshal([]byte(out), &inbox) != nil {
		t.Fatalf("inbox: %d %q %q", rc, out, errs)
	}
	if n := len(inbox.Notifications); n < 1 || inbox.Notifications[0].Kind != "debit" ||
		inbox.Notifications[0].Counter != c1.Counter || inbox.Notifications[0].KeyID != c1.KeyID {
		t.Errorf("inbox: %+v", inbox.Notifications)
	}
	rc, out, _ = h.run("balance", "--json")
	var bal api.BalanceResponse
	if rc != 0 || json.Unmarshal([]byte(out), &bal) != nil {
		t.Fatalf("balance: %d %q", rc, out)
	}
	if want := demo.Payer.Balance.Minor - 1234 - 766; bal.Balance.Minor != want {
		t.Errorf("balance %d, want %d", bal.Balance.Minor, want)
	}

	// Above the password-free limit the payer confirms in the wallet.
	c3 := h.codeJSON()
	for deadline := time.Now().Add(10 * time.Second); c3.Digits == c2.Digits; c3 = h.codeJSON() {
		if time.Now().After(deadline) {
			t.Fatal("the wallet kept showing a used code")
		}
		time.Sleep(20 * time.Millisecond)
	}
	o := pay("o-big", c3.Digits, backend.DefaultPasswordFreeLimit+1)
	if o.Status != api.StatusWaitingPayer {
		t.Fatalf("large payment: %+v", o)
	}
	// No money moved yet, but the code is used up: the wallet hears of it
	// and moves on at once, before any confirmation.
	for deadline := time.Now().Add(10 * time.Second); h.codeJSON().Digits == c3.Digits; {
		if time.Now().After(deadline) {
			t.Fatal("the wallet kept showing the code of a payment waiting for its payer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rc, out, _ = h.run("confirm")
	if rc != 0 || !strings.Contains(out, "o-big") {
		t.Fatalf("confirm list: %d %q", rc, out)
	}
	var order string
	for _, f := range strings.Fields(out) {
		if strings.Contains(f, "o-big") {
			order = f
		}
	}
	if rc, out, errs := h.run("confirm", order); rc != 0 {
		t.Fatalf("confirm %s: %d %q %q", order, rc, out, errs)
	}
	if o, err := till.Query(ctx, "o-big"); err != nil || o.Status != api.StatusPaid {
		t.Errorf("after confirmation: %+v %v", o, err)
	}
}

// realRig is a wallet enrolled as the demo payer of a real backend whose
// clock the test can move forward.
type realRig struct {
	*harness
	srv  *backendtest.Server
	till *client.Terminal
	skew atomic.Int64 // added to the backend's clock
	last codeJSON
}

func newRealRig(t *testing.T, opts ...backend.Option) *realRig {
	r := &realRig{}
	clock := func() time.Time { return time.Now().Add(time.Duration(r.skew.Load())) }
	r.srv = backendtest.Start(t, backendtest.WithBackendOptions(append([]backend.Option{backend.WithClock(clock)}, opts...)...))
	r.till = r.srv.Terminal()
	r.harness = &harness{t: t, state: filepath.Join(t.TempDir(), "w.json"), now: time.Now}
	demo := r.srv.Demo
	if rc, out, errs := r.run("enrol", "--backend", r.srv.URL, "--payer", demo.Payer.ID, "--password", demo.Payer.Password); rc != 0 {
		t.Fatalf("enrol: %d %q %q", rc, out, errs)
	}
	return r
}

// pay charges minor fen at the till with a fresh code of the wallet and
// returns the order's reference as the wallet names it.
func (r *realRig) pay(order string, minor int64) (string, api.Order) {
	r.t.Helper()
	c := r.codeJSON()
	if r.last.Digits != "" && c.Counter <= r.last.Counter {
		c = r.codeJSON("--next") // the last one was used; the inbox may not say so yet
	}
	r.last = c
	o, err := r.till.Pay(context.Background(), api.PayRequest{MerchantOrder: order, Code: c.Digits,
		Amount: money.Amount{Minor: minor, Currency: r.srv.Demo.Currency}, ScanTime: time.Now().Add(time.Duration(r.skew.Load()))})
	if err != nil {
		r.t.Fatalf("pay %s: %v", order, err)
	}
	return backend.DemoMerchantID + "/" + order, o
}

func (r *realRig) balance() int64 {
	r.t.Helper()
	b, err := r.srv.Payer().Balance(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return b.Balance.Minor
}

// TestConfirmTellsTheTruth: `wallet confirm` says what became of the
// payment, and fails when an approval did not pay.
func TestConfirmTellsTheTruth(t *testing.T) {
	r := newRealRig(t)
	ctx := context.Background()
	big := int64(backend.DefaultPasswordFreeLimit + 10000) // 1100.00 CNY: above the limit, waits for the payer

	// Approved and paid.
	ref, o := r.pay("ok1", big)
	if o.Status != api.StatusWaitingPayer {
		t.Fatalf("large payment: %+v", o)
	}
	before := r.balance()
	rc, out, errs := r.run("confirm", ref)
	if rc != 0 || !strings.Contains(out, "paid: "+ref+" 1100.00 CNY taken") || !strings.Contains(out, "balance "+money.Amount{Minor: before - big, Currency: "CNY"}.Decimal()) {
		t.Errorf("confirm paid: %d %q %q", rc, out, errs)
	}
	if r.balance() != before-big {
		t.Errorf("balance %d, want %d", r.balance(), before-big)
	}

	// More than the balance: the backend declines it.
	bal := r.balance()
	ref, _ = r.pay("ins1", bal+1)
	rc, out, errs = r.run("confirm", ref)
	if rc != 1 || strings.Contains(out+errs, "paid:") || !strings.Contains(errs, "declined: "+ref) || !strings.Contains(errs, "balance") {
		t.Errorf("confirm without the money: %d %q %q", rc, out, errs)
	}
	if q, err := r.till.Query(ctx, "ins1"); err != nil || q.Status != api.StatusDeclined || q.Reason != api.ReasonInsufficientBalance {
		t.Errorf("ins1 at the backend: %+v %v", q, err)
	}
	if r.balance() != bal {
		t.Errorf("balance moved: %d, was %d", r.balance(), bal)
	}

	// The cashier cancelled it first.
	ref, _ = r.pay("cxl1", big)
	if _, err := r.till.Cancel(ctx, "cxl1"); err != nil {
		t.Fatal(err)
	}
	rc, out, errs = r.run("confirm", ref, "--json")
	var got api.Order
	if rc != 1 || json.Unmarshal([]byte(out), &got) != nil || got.Status != api.StatusCancelled || got.Reason != api.ReasonCancelled ||
		!strings.Contains(errs, "cancelled: "+ref) || !strings.Contains(errs, "the shop cancelled") {
		t.Errorf("confirm after the shop cancelled: %d %q %q", rc, out, errs)
	}

	// A refusal is a success.
	ref, _ = r.pay("no1", big)
	if rc, out, errs := r.run("confirm", "--state", r.state, ref, "--decline"); rc != 0 || !strings.Contains(out, "declined: "+ref) {
		t.Errorf("confirm --decline: %d %q %q", rc, out, errs)
	}

	// Too late: the payment timed out before the payer answered.
	ref, _ = r.pay("late1", big)
	r.skew.Store(int64(2 * time.Minute)) // past the 60 s confirmation timeout
	rc, out, errs = r.run("confirm", ref)
	if rc != 1 || !strings.Contains(errs, "cancelled: "+ref) || !strings.Contains(errs, "not confirmed in time") {
		t.Errorf("confirm too late: %d %q %q", rc, out, errs)
	}
	if r.balance() != bal {
		t.Errorf("balance %d after refusals, want %d", r.balance(), bal)
	}
}

// TestBackendMoved: the backend comes back on another port; --backend
// points the wallet there, and it remembers.
func TestBackendMoved(t *testing.T) {
	r := newRealRig(t)
	moved := httptest.NewServer(r.srv.Service.Handler())
	t.Cleanup(moved.Close)
	r.srv.Stop()

	if rc, _, errs := r.run("balance"); rc != 1 || !strings.Contains(errs, "cannot reach the payment backend at "+r.srv.URL) ||
		!strings.Contains(errs, "add --backend") {
		t.Fatalf("balance at the old address: %d %q", rc, errs)
	}
	rc, out, errs := r.run("balance", "--backend", moved.URL)
	if rc != 0 || !strings.Contains(out, "balance") {
		t.Fatalf("balance --backend: %d %q %q", rc, out, errs)
	}
	st, err := wallet.LoadState(r.state)
	if err != nil || st.BackendURL != moved.URL {
		t.Fatalf("state after --backend: %q %v", st.BackendURL, err)
	}
	// Every later command uses the new address without the flag, and the
	// enrolment still stands: its codes pay.
	if r.till, err = client.NewTerminal(moved.URL, r.srv.Demo.Terminal.ID, r.srv.TerminalKey); err != nil {
		t.Fatal(err)
	}
	ref, o := r.pay("mv1", 1234)
	if o.Status != api.StatusPaid {
		t.Fatalf("payment after the move: %+v (%s)", o, ref)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		rc, out, errs = r.run("inbox")
		if rc != 0 {
			t.Fatalf("inbox: %d %q", rc, errs)
		}
		if strings.Contains(out, "12.34") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the payment never reached the inbox: %q", out)
		}
	}
	for _, cmd := range [][]string{{"code", "--json"}, {"show"}, {"confirm"}, {"inbox", "--all"}} {
		if rc, _, errs := r.run(append(cmd, "--backend", moved.URL)...); rc != 0 || strings.Contains(errs, "offline") {
			t.Errorf("%q --backend: %d %q", cmd, rc, errs)
		}
	}
}
