package walletcli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tillpay/backend"
	"tillpay/backend/api"
	"tillpay/backend/backendtest"
	"tillpay/money"
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
