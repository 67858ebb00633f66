package e2e

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/money"
	"tillpay/sync/journal"
	"tillpay/till"
)

// TestKill9DuringPayment kills the till with SIGKILL at random moments of
// a payment (0–40 ms after the scan gun sent the code: before the journal
// write, between it and the request, while the backend answers, before the
// answer is recorded), restarts it on the same data directory each time,
// and checks afterwards that the till and the backend agree on every
// payment, that the payers paid exactly what the journal says was paid, and
// that the backend's ledger balances.
func TestKill9DuringPayment(t *testing.T) {
	t.Parallel()
	online, offline, uploads := 20, 6, 4
	if testing.Short() {
		online, offline, uploads = 8, 3, 2
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>7))

	s := newShop(t)
	// A wallet makes ten codes a minute: enough payers for the rounds.
	wallets := []*walletCLI{s.demoWallet()}
	for i := 1; i < (online+offline+8)/9; i++ {
		wallets = append(wallets, s.addPayer(fmt.Sprintf("payer-%d", i), "1000.00"))
	}
	start := map[string]int64{}
	for _, w := range wallets {
		start[w.payer] = w.balance()
	}
	gun := newScanGun(t)
	dataDir := filepath.Join(t.TempDir(), "till")
	firstDay := time.Now()
	round := 0
	// pay charges, scans a fresh code and kills the till at a random moment
	// up to limit after the code's last byte was written.
	pay := func(limit time.Duration) {
		tp := s.startTill(gun, tillOpts{dataDir: dataDir})
		tp.charge(fmt.Sprintf("%d.%02d", 1+round, 1+rng.IntN(99)))
		code := wallets[round%len(wallets)].code()
		round++
		delay := time.Duration(rng.Int64N(int64(limit)))
		gun.scan(t, code)
		time.Sleep(delay) // the kill's random moment, not a wait for an event
		tp.kill9()
	}

	// Online payments: a local payment's work takes a few milliseconds, so
	// every other round aims there.
	for r := 0; r < online; r++ {
		if r%2 == 0 {
			pay(4 * time.Millisecond)
		} else {
			pay(40 * time.Millisecond)
		}
	}
	// Offline payments, then their upload, killed while it runs.
	s.be.stop()
	for r := 0; r < offline; r++ {
		pay(8 * time.Millisecond)
	}
	s.be.start()
	for r := 0; r < uploads; r++ {
		tp := s.startTill(gun, tillOpts{dataDir: dataDir})
		time.Sleep(time.Duration(rng.Int64N(int64(20 * time.Millisecond))))
		tp.kill9()
	}

	// A last start reconciles what the killed runs left open.
	tp := s.startTill(gun, tillOpts{dataDir: dataDir})
	tp.send("status")
	tp.syncQueued(0)
	tp.quit()

	s.audit()
	payments := readJournal(t, s, dataDir, firstDay, time.Now())
	if len(payments) == 0 {
		t.Fatal("the journal holds no payment: no kill came late enough")
	}
	states := map[journal.State]int{}
	paidBy := map[string]int64{}
	var paidTotal int64
	for _, p := range payments {
		states[p.State]++
		if p.State.Open() || p.State == journal.StateQueued {
			t.Errorf("order %s is still %s after the restarted till reconciled", p.Order, p.State)
			continue
		}
		o, err := s.backendOrder(p.Order)
		if err != nil {
			t.Errorf("order %s (%s in the journal): backend query: %v", p.Order, p.State, err)
			continue
		}
		if want := backendStatusOf(p.State); o.Status != want {
			t.Errorf("order %s is %s in the journal but %s at the backend (want %s)", p.Order, p.State, o.Status, want)
		}
		// An order number the backend first saw in a reversal carries no amount.
		if o.Amount != p.Amount && !(p.State == journal.StateCancelled && o.Amount.Minor == 0) {
			t.Errorf("order %s: journal amount %s, backend %s", p.Order, p.Amount, o.Amount)
		}
		if p.State == journal.StatePaid || p.State == journal.StateSettled {
			paidTotal += p.Amount.Minor
			paidBy[o.PayerID] += p.Amount.Minor
		}
	}
	t.Logf("%d payments, %d uploads killed: journal states %v", round, uploads, summary(states))
	if n := s.auditOrders(); n != len(payments) {
		t.Errorf("the backend has %d orders, the journal %d payments", n, len(payments))
	}
	var spent int64
	for _, w := range wallets {
		got := w.balance()
		spent += start[w.payer] - got
		if want := start[w.payer] - paidBy[w.payer]; got != want {
			t.Errorf("payer %s: balance %d, want %d (start %d less %d paid in the journal)", w.payer, got, want, start[w.payer], paidBy[w.payer])
		}
	}
	if spent != paidTotal {
		t.Errorf("payers spent %d fen in all, the journal says %d were paid", spent, paidTotal)
	}
}

// backendStatusOf is the backend status a journal state stands for.
func backendStatusOf(s journal.State) string {
	switch s {
	case journal.StatePaid, journal.StateSettled:
		return api.StatusPaid
	case journal.StateDeclined, journal.StateDeclinedLate:
		return api.StatusDeclined
	case journal.StatePartRefunded:
		return api.StatusPartRefunded
	}
	return string(s) // cancelled, refunded, waiting_payer
}

func summary(m map[journal.State]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	out := ""
	for _, k := range keys {
		out += fmt.Sprintf("%s=%d ", k, m[journal.State(k)])
	}
	return out
}

// readJournal opens a stopped till's journal read-only and returns the
// payments of the local days from..to.
func readJournal(t *testing.T, s *shop, dataDir string, from, to time.Time) []journal.Payment {
	t.Helper()
	key, err := hex.DecodeString(s.demo.Terminal.Key)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	j, err := journal.Open(ctx, filepath.Join(dataDir, "journal.db"), journal.Options{ReadOnly: true, TerminalID: s.demo.Terminal.ID, TerminalKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if bad, err := j.Audit(ctx); err != nil || len(bad) > 0 {
		t.Errorf("journal audit: %v %v", bad, err)
	}
	var out []journal.Payment
	seen := map[string]bool{}
	defer func() {
		// Which kill points the run hit, from the records' audit trails.
		steps := map[string]int{}
		for _, p := range out {
			evs, err := j.Events(ctx, p.Order)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				if e.From != "" {
					steps[string(e.From)+"→"+string(e.To)]++
				}
			}
		}
		t.Logf("journal transitions: %v", steps)
	}()
	for d := from; ; d = d.AddDate(0, 0, 1) {
		ps, err := j.Day(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if !seen[p.Order] {
				seen[p.Order] = true
				out = append(out, p)
			}
		}
		if d.Format("2006-01-02") >= to.Format("2006-01-02") {
			return out
		}
	}
}

// TestRestartReversesOpenPayments sets up, deterministically, the two
// states a kill can leave an online payment in: written but never sent,
// and sent and paid at the backend but its answer never recorded. The
// restarted till reverses both: nothing is charged, and both records close.
func TestRestartReversesOpenPayments(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	w := s.demoWallet()
	before := w.balance()
	gun := newScanGun(t)
	dataDir := filepath.Join(t.TempDir(), "till")
	s.startTill(gun, tillOpts{dataDir: dataDir}).quit()

	// What the killed till left: two records in state sending.
	key, err := hex.DecodeString(s.demo.Terminal.Key)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	j, err := journal.Open(ctx, filepath.Join(dataDir, "journal.db"), journal.Options{TerminalID: s.demo.Terminal.ID, TerminalKey: key})
	if err != nil {
		t.Fatal(err)
	}
	newPayment := func(minor int64) journal.Payment {
		p, err := j.Create(ctx, journal.NewPayment{Amount: money.Amount{Minor: minor, Currency: "CNY"}, Code: w.code(),
			Device: "serial:" + gun.path, Symbology: "unknown", ScanTime: time.Now(), Mode: journal.ModeOnline})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	unsent := newPayment(420)
	sent := newPayment(310)
	req, err := j.BeginSend(ctx, sent.Order)
	if err != nil {
		t.Fatal(err)
	}
	if o, err := s.term.Pay(ctx, req); err != nil || o.Status != api.StatusPaid {
		t.Fatalf("sending %s: %+v %v", sent.Order, o, err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if got := w.balance(); got != before-310 {
		t.Fatalf("balance %d after the sent payment, want %d", got, before-310)
	}

	tp := s.startTill(gun, tillOpts{dataDir: dataDir})
	reversed := map[string]bool{}
	for len(reversed) < 2 {
		p := tp.expect("a reversal", func(e till.Event) bool { return e.Event == till.EventPayment })
		if p.Status != till.StatusCancelled || p.ReasonCode != till.ReasonReversed {
			t.Fatalf("after the restart: %+v, want cancelled (reversed)", p)
		}
		reversed[p.Order] = true
	}
	if !reversed[unsent.Order] || !reversed[sent.Order] {
		t.Fatalf("reversed %v, want %s and %s", reversed, unsent.Order, sent.Order)
	}
	tp.quit()

	for _, p := range readJournal(t, s, dataDir, time.Now(), time.Now()) {
		if p.State != journal.StateCancelled {
			t.Errorf("journal has %s as %s, want cancelled", p.Order, p.State)
		}
	}
	if o, err := s.backendOrder(unsent.Order); err != nil || o.Status != api.StatusCancelled {
		t.Errorf("backend has the unsent %s as %+v (%v), want cancelled", unsent.Order, o, err)
	}
	if o, err := s.backendOrder(sent.Order); err != nil || o.Status != api.StatusCancelled || o.Refunded.Minor != 310 {
		t.Errorf("backend has the sent %s as %+v (%v), want cancelled and refunded 3.10", sent.Order, o, err)
	}
	if got := w.balance(); got != before {
		t.Errorf("balance %d after the reversals, want %d", got, before)
	}
	s.audit()
}
