package e2e

import (
	"bufio"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/till"
)

// TestOnlinePayment takes one payment through the whole stack: a code made
// by the wallet, read by the scan gun on a pseudo-terminal, paid at the
// backend, recorded in the journal and shown in the Z report.
func TestOnlinePayment(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	w := s.demoWallet()
	before := w.balance()
	gun := newScanGun(t)
	tp := s.startTill(gun, tillOpts{})

	tp.charge("12.50")
	code := w.code()
	gun.scan(t, code)
	sc := tp.expect("scan", func(e till.Event) bool { return e.Event == till.EventScan })
	if sc.Code != "**************"+code[14:] {
		t.Errorf("scan event shows code %q, want it masked but for %s", sc.Code, code[14:])
	}
	if !strings.HasPrefix(sc.Device, "serial:") || sc.LatencyUS == nil {
		t.Errorf("scan event device %q latency %v", sc.Device, sc.LatencyUS)
	}
	p := tp.payment()
	if p.Status != till.StatusPaid || p.Amount != "12.50" || p.Currency != "CNY" || p.Order == "" || p.Offline {
		t.Fatalf("payment event %+v, want paid 12.50 CNY online", p)
	}
	if got := w.balance(); got != before-1250 {
		t.Errorf("payer balance %d, want %d", got, before-1250)
	}
	o, err := s.backendOrder(p.Order)
	if err != nil || o.Status != api.StatusPaid || o.Amount.Minor != 1250 {
		t.Errorf("backend has order %s as %+v (%v), want paid 12.50", p.Order, o, err)
	}

	// A partial refund goes back to the payer.
	tp.send("refund " + p.Order + " 2.50")
	r := tp.expect("refund", func(e till.Event) bool { return e.Event == till.EventRefund })
	if r.Status != till.StatusPartRefunded || r.Refunded != "2.50" || r.Order != p.Order {
		t.Errorf("refund event %+v, want partially_refunded with 2.50 refunded", r)
	}
	if got := w.balance(); got != before-1000 {
		t.Errorf("payer balance after the refund %d, want %d", got, before-1000)
	}
	// A mistaken command is refused and changes nothing.
	tp.send("charge twelve")
	if e := tp.expect("error", func(e till.Event) bool { return e.Event == till.EventError || e.Event == till.EventArmed }); e.Event != till.EventError {
		t.Errorf("charge twelve: %+v, want an error", e)
	}

	// The till is idle again and says so.
	tp.send("status")
	st := tp.expect("status", func(e till.Event) bool { return e.Event == till.EventStatus })
	if st.Status != "idle" {
		t.Errorf("status after the payment: %q, want idle", st.Status)
	}

	// The Z report reads the journal while the till runs.
	out := s.mustRun("report", "--day", time.Now().Format("2006-01-02"), "--csv", "--config", tp.config, "--data-dir", tp.dataDir)
	if !reportHas(t, out, p.Order, "partially_refunded", "12.50") {
		t.Errorf("Z report does not list %s as partially_refunded 12.50:\n%s", p.Order, out)
	}
	tp.quit()
	s.audit()
}

// reportHas reports whether the CSV Z report has a row naming order with
// the state and amount.
func reportHas(t *testing.T, report, order, state, amount string) bool {
	t.Helper()
	r := csv.NewReader(strings.NewReader(report))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("Z report is not CSV: %v\n%s", err, report)
	}
	for _, row := range rows {
		var hasOrder, hasState, hasAmount bool
		for _, c := range row {
			hasOrder = hasOrder || c == order
			hasState = hasState || c == state
			hasAmount = hasAmount || c == amount
		}
		if hasOrder && hasState && hasAmount {
			return true
		}
	}
	return false
}

// TestWaitingPayerConfirmed pays an amount above the payer's password-free
// limit: the till waits, the payer confirms in the wallet, the till sees
// it paid.
func TestWaitingPayerConfirmed(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	w := s.demoWallet()
	before := w.balance()
	gun := newScanGun(t)
	tp := s.startTill(gun, tillOpts{waitTimeout: 30 * time.Second})

	tp.charge("1500.00")
	gun.scan(t, w.code())
	wp := tp.payment()
	if wp.Status != till.StatusWaitingPayer || wp.Expires == nil || wp.Order == "" {
		t.Fatalf("payment event %+v, want waiting_payer with expires", wp)
	}
	if d := time.Until(*wp.Expires); d < 20*time.Second || d > 31*time.Second {
		t.Errorf("expires in %v, want about the 30 s wait_timeout", d)
	}
	tp.send("status")
	st := tp.expect("status", func(e till.Event) bool { return e.Event == till.EventStatus })
	if st.Status != till.StatusWaitingPayer || st.Order != wp.Order {
		t.Errorf("status while waiting: %+v", st)
	}
	w.confirm(s.demo.Merchant.ID + "/" + wp.Order)
	p := tp.payment()
	if p.Status != till.StatusPaid || p.Order != wp.Order {
		t.Fatalf("after confirming: %+v, want %s paid", p, wp.Order)
	}
	if got := w.balance(); got != before-150000 {
		t.Errorf("payer balance %d, want %d", got, before-150000)
	}
	tp.quit()
	s.audit()
}

// TestWaitingPayerTimedOut lets a payment wait past the till's
// wait_timeout: the till cancels it at the backend and nothing is charged.
func TestWaitingPayerTimedOut(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	w := s.demoWallet()
	before := w.balance()
	gun := newScanGun(t)
	tp := s.startTill(gun, tillOpts{waitTimeout: 1500 * time.Millisecond})

	tp.charge("2000.00")
	gun.scan(t, w.code())
	wp := tp.paymentIs(till.StatusWaitingPayer)
	p := tp.payment()
	if p.Status != till.StatusCancelled || p.Order != wp.Order {
		t.Fatalf("after the wait timeout: %+v, want %s cancelled", p, wp.Order)
	}
	o, err := s.backendOrder(wp.Order)
	if err != nil || o.Status != api.StatusCancelled {
		t.Errorf("backend has %s as %+v (%v), want cancelled", wp.Order, o, err)
	}
	// Confirming now is too late: the wallet is told, nothing is charged.
	if _, _, code := s.run("", "wallet", "confirm", s.demo.Merchant.ID+"/"+wp.Order, "--state", w.state); code == 0 {
		o, _ := s.backendOrder(wp.Order)
		if o.Status != api.StatusCancelled {
			t.Errorf("a late confirmation changed the order to %s", o.Status)
		}
	}
	if got := w.balance(); got != before {
		t.Errorf("payer balance %d, want %d (nothing charged)", got, before)
	}
	tp.quit()
	s.audit()
}

// TestForeignCodeRefused scans an Alipay code from the recorded samples:
// the till refuses it on the spot, stays armed, and takes a real code next.
func TestForeignCodeRefused(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	w := s.demoWallet()
	gun := newScanGun(t)
	tp := s.startTill(gun, tillOpts{})
	samples := fixtureCodes(t)
	if len(samples["alipay"]) == 0 || len(samples["wechat"]) == 0 {
		t.Fatalf("no Alipay or WeChat Pay samples in the fixtures: %v", samples)
	}

	tp.charge("8.00")
	for _, provider := range []string{"alipay", "wechat"} {
		gun.scan(t, samples[provider][0])
		p := tp.payment()
		if p.Status != till.StatusDeclined || p.ReasonCode != till.ReasonForeignCode || p.Order != "" {
			t.Fatalf("%s code: %+v, want declined foreign_code with no order", provider, p)
		}
	}
	tp.send("status")
	st := tp.expect("status", func(e till.Event) bool { return e.Event == till.EventStatus })
	if st.Status != "armed" || st.Amount != "8.00" {
		t.Fatalf("after foreign codes the till is %+v, want still armed for 8.00", st)
	}
	gun.scan(t, w.code())
	if p := tp.payment(); p.Status != till.StatusPaid || p.Amount != "8.00" {
		t.Fatalf("a tillpay code after them: %+v, want paid", p)
	}
	tp.quit()
	if n := s.auditOrders(); n != 1 {
		t.Errorf("backend has %d orders, want 1 (foreign codes never sent)", n)
	}
}

// fixtureCodes reads the recorded payment-code samples by provider.
func fixtureCodes(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "fixtures", "codes.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for first := true; sc.Scan(); first = false {
		cols := strings.Split(sc.Text(), "\t")
		if first || len(cols) < 2 {
			continue
		}
		out[cols[0]] = append(out[cols[0]], cols[1])
	}
	return out
}

// TestSameCodeTwice scans a code that has paid once again: at once (the
// scan gun's double read, dropped by the till) and after the no-rescan
// window (refused by the backend as used). The payer is charged once.
func TestSameCodeTwice(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	w := s.demoWallet()
	before := w.balance()
	gun := newScanGun(t)
	tp := s.startTill(gun, tillOpts{})

	tp.charge("3.30")
	code := w.code()
	gun.scan(t, code)
	first := tp.paymentIs(till.StatusPaid)

	tp.charge("3.30")
	gun.scan(t, code)
	lastScan := time.Now()
	e := tp.expect("error", func(e till.Event) bool { return e.Event == till.EventError || e.Event == till.EventPayment })
	if e.Event != till.EventError || !strings.Contains(e.Reason, "again") || e.ReasonCode != till.ReasonDuplicateScan {
		t.Fatalf("an immediate rescan gave %+v, want an error saying it was scanned again", e)
	}
	tp.send("status")
	if st := tp.expect("status", func(e till.Event) bool { return e.Event == till.EventStatus }); st.Status != "armed" {
		t.Fatalf("after the double read the till is %q, want still armed", st.Status)
	}

	// The no-rescan window (3 s) is a clock rule, not an event: wait it out.
	time.Sleep(time.Until(lastScan.Add(3100 * time.Millisecond)))
	gun.scan(t, code)
	p := tp.payment()
	if p.Status != till.StatusDeclined || p.ReasonCode != api.ReasonCodeUsed || p.Order == "" || p.Order == first.Order {
		t.Fatalf("a used code: %+v, want declined code_used under a new order", p)
	}
	if got := w.balance(); got != before-330 {
		t.Errorf("payer balance %d, want %d (charged once)", got, before-330)
	}
	tp.quit()
	s.audit()
}
