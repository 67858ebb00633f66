package journal

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/money"
)

var ctx = context.Background()

func TestCreateWritesRecordBeforeSend(t *testing.T) {
	j, c, path := newTest(t)
	on := mustCreate(t, j, newPay(1250, ModeOnline, c))
	off := mustCreate(t, j, newPay(800, ModeOffline, c))
	if on.Order != "T01-20260314-000001" || off.Order != "T01-20260314-000002" {
		t.Fatalf("orders = %s, %s", on.Order, off.Order)
	}
	if on.State != StateSending || off.State != StateQueued {
		t.Fatalf("states = %s, %s", on.State, off.State)
	}
	// Reopen: what Create returned is on disk, byte for byte.
	j.Close()
	j2 := openTest(t, path, c)
	got, err := j2.Get(ctx, off.Order)
	if err != nil {
		t.Fatal(err)
	}
	if got.Amount != cny(800) || got.Code != "134650328919428540" || got.Mode != ModeOffline ||
		!got.ScanTime.Equal(off.ScanTime) || got.RecordSig != off.RecordSig || got.Device != "serial:/dev/ttyACM0" || got.Symbology != "]Q1" {
		t.Fatalf("reopened record = %+v, created %+v", got, off)
	}
	req, err := j2.PayRequest(ctx, off.Order)
	if err != nil {
		t.Fatal(err)
	}
	if !req.Offline || req.Code != "134650328919428540" || req.Amount != cny(800) || !api.VerifyRecordSignature(testKey, req) {
		t.Fatalf("request = %+v", req)
	}
	ev, err := j2.Events(ctx, off.Order)
	if err != nil || len(ev) != 1 || ev[0].From != "" || ev[0].To != StateQueued {
		t.Fatalf("events = %+v, %v", ev, err)
	}
	if _, err := j2.Get(ctx, "T01-20260314-000099"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing order: %v", err)
	}
}

func TestCreateRefusesBadInputAndChangesNothing(t *testing.T) {
	j, c, _ := newTest(t)
	bad := []func(*NewPayment){
		func(n *NewPayment) { n.Amount = cny(0) },
		func(n *NewPayment) { n.Amount = money.Amount{Minor: 5, Currency: "XXX"} },
		func(n *NewPayment) { n.Amount = money.Amount{Minor: 5, Currency: "cny"} },
		func(n *NewPayment) { n.Code = "" },
		func(n *NewPayment) { n.Code = "1234\n5678" },
		func(n *NewPayment) { n.Code = "**************8540" },
		func(n *NewPayment) { n.Code = strings.Repeat("1", MaxCodeLen+1) },
		func(n *NewPayment) { n.Mode = "" },
		func(n *NewPayment) { n.ScanTime = time.Time{} },
	}
	for i, mut := range bad {
		np := newPay(100, ModeOnline, c)
		mut(&np)
		if _, err := j.Create(ctx, np); !errors.Is(err, ErrInvalid) {
			t.Errorf("case %d: error = %v, want ErrInvalid", i, err)
		}
	}
	if p := mustCreate(t, j, newPay(100, ModeOnline, c)); p.Order != "T01-20260314-000001" {
		t.Fatalf("bad input moved the counter: %s", p.Order)
	}
}

func TestOrderNumbersSurviveRestartAndClockStepBack(t *testing.T) {
	j, c, path := newTest(t)
	var orders []string
	add := func(j *Journal) {
		orders = append(orders, mustCreate(t, j, newPay(100, ModeOffline, c)).Order)
	}
	add(j)
	add(j)
	c.Add(24 * time.Hour) // next day: the counter starts again
	add(j)
	j.Close()
	c.Add(-72 * time.Hour) // the clock steps back three days across a restart
	j = openTest(t, path, c)
	add(j)
	c.Add(96 * time.Hour)
	add(j)
	want := []string{"T01-20260314-000001", "T01-20260314-000002", "T01-20260315-000001", "T01-20260315-000002", "T01-20260316-000001"}
	for i := range want {
		if orders[i] != want[i] {
			t.Fatalf("orders = %v, want %v", orders, want)
		}
	}
	// A day that runs out of numbers continues on the next day.
	rawExec(t, path, "UPDATE terminal SET order_seq = ?", MaxDaySeq)
	add(j)
	if got := orders[len(orders)-1]; got != "T01-20260317-000001" {
		t.Fatalf("after %d orders in a day: %s", MaxDaySeq, got)
	}
	for i := 1; i < len(orders); i++ {
		if orders[i-1] >= orders[i] {
			t.Fatalf("%s does not sort before %s", orders[i-1], orders[i])
		}
	}
}

func TestOpenRefusesAnotherTerminalAndNewerSchema(t *testing.T) {
	j, c, path := newTest(t)
	j.Close()
	opts := testOptions(c)
	opts.TerminalID = "T02"
	if _, err := Open(ctx, path, opts); !errors.Is(err, ErrTerminalMismatch) {
		t.Fatalf("other terminal: %v", err)
	}
	opts = testOptions(c)
	opts.TerminalKey = []byte("short")
	if _, err := Open(ctx, path, opts); !errors.Is(err, ErrInvalid) {
		t.Fatalf("short key: %v", err)
	}
	rawExec(t, path, "PRAGMA user_version = 99")
	if _, err := Open(ctx, path, testOptions(c)); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("newer schema: %v", err)
	}
}

func TestPragmas(t *testing.T) {
	j, _, _ := newTest(t)
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "busy_timeout": "5000", "user_version": strconv.Itoa(SchemaVersion)} {
		var got string
		if err := j.w.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q (%v), want %q", pragma, got, err, want)
		}
	}
	if err := j.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func TestTransitions(t *testing.T) {
	j, c, _ := newTest(t)
	all := States
	for _, mode := range []Mode{ModeOnline, ModeOffline} {
		for _, from := range all {
			for _, to := range all {
				p := mustCreate(t, j, newPay(100, mode, c))
				if err := driveTo(j, p, from); err != nil {
					continue // from is not reachable in this mode
				}
				before, _ := j.Get(ctx, p.Order)
				evBefore, _ := j.Events(ctx, p.Order)
				after, err := j.Transition(ctx, p.Order, Change{To: to, Reason: "test"})
				legal := checkMove(from, to, before.Mode) == nil
				if legal != (err == nil) {
					t.Fatalf("%s %s → %s: err = %v, legal = %v", mode, from, to, err, legal)
				}
				evAfter, _ := j.Events(ctx, p.Order)
				now, _ := j.Get(ctx, p.Order)
				if !legal {
					if !errors.Is(err, ErrIllegalTransition) || now.State != from || len(evAfter) != len(evBefore) || now.Code != before.Code {
						t.Fatalf("%s %s → %s refused but changed: %v, %+v", mode, from, to, err, now)
					}
					continue
				}
				if now.State != to || after.State != to || len(evAfter) != len(evBefore)+1 {
					t.Fatalf("%s %s → %s: state %s, events %d → %d", mode, from, to, now.State, len(evBefore), len(evAfter))
				}
				if last := evAfter[len(evAfter)-1]; last.From != from || last.To != to {
					t.Fatalf("event %+v", last)
				}
				if to.Final() != now.CodeMasked() {
					t.Fatalf("%s: code %q", to, now.Code)
				}
				if now.CodeMasked() && now.Code != "**************8540" {
					t.Fatalf("masked code %q", now.Code)
				}
			}
		}
	}
}

// driveTo moves a new payment to state s along legal moves.
func driveTo(j *Journal, p Payment, s State) error {
	paths := map[Mode]map[State][]State{
		ModeOnline: {
			StateSending: {}, StateUnknown: {StateUnknown}, StatePaid: {StatePaid}, StateDeclined: {StateDeclined},
			StateWaitingPayer: {StateWaitingPayer}, StateCancelled: {StateCancelled}, StateQueued: {StateQueued},
			StateForwarding: {StateQueued, StateForwarding}, StateRefunded: {StatePaid, StateRefunded},
			StatePartRefunded: {StatePaid, StatePartRefunded},
		},
		ModeOffline: {
			StateQueued: {}, StateForwarding: {StateForwarding}, StateSettled: {StateForwarding, StateSettled},
			StateDeclinedLate: {StateForwarding, StateDeclinedLate}, StateWaitingPayer: {StateForwarding, StateWaitingPayer},
			StateCancelled: {StateCancelled}, StateRefunded: {StateForwarding, StateSettled, StateRefunded},
			StatePartRefunded: {StateForwarding, StateSettled, StatePartRefunded},
		},
	}
	path, ok := paths[p.Mode][s]
	if !ok {
		return errors.New("unreachable")
	}
	for _, st := range path {
		if _, err := j.Transition(ctx, p.Order, Change{To: st}); err != nil {
			return err
		}
	}
	return nil
}

func TestEventsAreAppendOnly(t *testing.T) {
	j, c, path := newTest(t)
	p := mustCreate(t, j, newPay(100, ModeOnline, c))
	db := rawDB(t, path)
	if _, err := db.Exec("UPDATE events SET to_state = 'paid'"); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("UPDATE events: %v", err)
	}
	if _, err := db.Exec("DELETE FROM events"); err == nil {
		t.Fatal("DELETE FROM events succeeded")
	}
	if ev, _ := j.Events(ctx, p.Order); len(ev) != 1 {
		t.Fatalf("events = %+v", ev)
	}
}

func TestOnlineFlow(t *testing.T) {
	j, c, _ := newTest(t)
	p := mustCreate(t, j, newPay(1999, ModeOnline, c))
	first, err := j.BeginSend(ctx, p.Order)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.SendFailed(ctx, p.Order, errors.New("read tcp: i/o timeout")); err != nil {
		t.Fatal(err)
	}
	got, _ := j.Get(ctx, p.Order)
	if got.State != StateUnknown || got.Attempts != 1 || got.LastError != "read tcp: i/o timeout" {
		t.Fatalf("after timeout: %+v", got)
	}
	rec, err := j.ToReconcile(ctx)
	if err != nil || len(rec) != 1 || rec[0].Order != p.Order {
		t.Fatalf("ToReconcile = %v, %v", rec, err)
	}
	second, err := j.BeginSend(ctx, p.Order)
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := json.Marshal(first)
	b2, _ := json.Marshal(second)
	if string(b1) != string(b2) {
		t.Fatalf("re-send differs:\n%s\n%s", b1, b2)
	}
	// An answer for another amount is refused and changes nothing.
	o := api.Order{MerchantOrder: p.Order, Status: api.StatusPaid, Amount: cny(1), Refunded: cny(0)}
	if _, err := j.ApplyOrder(ctx, p.Order, o); !errors.Is(err, ErrMismatch) {
		t.Fatalf("mismatched answer: %v", err)
	}
	o.Amount = cny(1999)
	paid, err := j.ApplyOrder(ctx, p.Order, o)
	if err != nil || paid.State != StatePaid || paid.Settled.IsZero() || !paid.CodeMasked() || paid.Attempts != 2 {
		t.Fatalf("paid = %+v, %v", paid, err)
	}
	if _, err := j.ApplyOrder(ctx, p.Order, o); err != nil {
		t.Fatalf("repeated answer: %v", err)
	}
	if _, err := j.PayRequest(ctx, p.Order); !errors.Is(err, ErrCodeErased) {
		t.Fatalf("PayRequest of a final payment: %v", err)
	}
	if _, err := j.BeginSend(ctx, p.Order); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("BeginSend of a paid payment: %v", err)
	}
	// A request that never left the till turns into an offline payment.
	q := mustCreate(t, j, newPay(500, ModeOnline, c))
	q, err = j.NeverSent(ctx, q.Order, errors.New("connection refused"))
	if err != nil || q.State != StateQueued || q.Mode != ModeOffline {
		t.Fatalf("NeverSent: %+v, %v", q, err)
	}
	if req, err := j.PayRequest(ctx, q.Order); err != nil || !req.Offline {
		t.Fatalf("request of a never-sent payment: %+v, %v", req, err)
	}
}

func TestOfflineForwarding(t *testing.T) {
	j, c, _ := newTest(t)
	var ps []Payment
	for i := range 5 {
		ps = append(ps, mustCreate(t, j, newPay(int64(100*(i+1)), ModeOffline, c)))
		c.Add(time.Second)
	}
	q, err := j.Queue(ctx, 3)
	if err != nil || len(q) != 3 || q[0].Order != ps[0].Order || q[2].Order != ps[2].Order {
		t.Fatalf("Queue = %v, %v", q, err)
	}
	st, err := j.OfflineStats(ctx)
	if err != nil || st.Count != 5 || st.Amount("CNY") != cny(1500) || !st.OldestScan.Equal(ps[0].ScanTime) {
		t.Fatalf("stats = %+v, %v", st, err)
	}
	reqs, tampered, err := j.BeginForward(ctx, 2)
	if err != nil || len(tampered) != 0 || len(reqs) != 2 || reqs[0].MerchantOrder != ps[0].Order || !reqs[1].Offline {
		t.Fatalf("BeginForward = %v, %v, %v", reqs, tampered, err)
	}
	// Forwarding payments still count as stored.
	if st, _ := j.OfflineStats(ctx); st.Count != 5 {
		t.Fatalf("stats while forwarding = %+v", st)
	}
	// The upload got no answer: back to the queue, same bytes next time.
	if _, err := j.SendFailed(ctx, ps[0].Order, errors.New("EOF")); err != nil {
		t.Fatal(err)
	}
	again, _, err := j.BeginForward(ctx, 1)
	if err != nil || len(again) != 1 {
		t.Fatal(again, err)
	}
	b1, _ := json.Marshal(reqs[0])
	b2, _ := json.Marshal(again[0])
	if string(b1) != string(b2) {
		t.Fatalf("re-upload differs:\n%s\n%s", b1, b2)
	}
	settled, err := j.ApplyOrder(ctx, ps[0].Order, api.Order{MerchantOrder: ps[0].Order, Status: api.StatusPaid, Amount: cny(100)})
	if err != nil || settled.State != StateSettled || !settled.CodeMasked() {
		t.Fatalf("settled = %+v, %v", settled, err)
	}
	late, err := j.ApplyOrder(ctx, ps[1].Order, api.Order{MerchantOrder: ps[1].Order, Status: api.StatusDeclined,
		Reason: api.ReasonInsufficientBalance, Message: "The payer's balance is too low.", Amount: cny(200)})
	if err != nil || late.State != StateDeclinedLate || late.Reason != api.ReasonInsufficientBalance {
		t.Fatalf("late decline = %+v, %v", late, err)
	}
	if st, _ := j.OfflineStats(ctx); st.Count != 3 || st.Amount("CNY") != cny(1200) || !st.OldestScan.Equal(ps[2].ScanTime) {
		t.Fatalf("stats after settling = %+v", st)
	}
	ld, err := j.LateDeclines(ctx)
	if err != nil || len(ld) != 1 || ld[0].Order != ps[1].Order {
		t.Fatalf("LateDeclines = %v, %v", ld, err)
	}
	if _, err := j.Acknowledge(ctx, ps[2].Order); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("Acknowledge of a queued payment: %v", err)
	}
	ack, err := j.Acknowledge(ctx, ps[1].Order)
	if err != nil || ack.Acknowledged.IsZero() {
		t.Fatalf("Acknowledge = %+v, %v", ack, err)
	}
	if ld, _ := j.LateDeclines(ctx); len(ld) != 0 {
		t.Fatalf("LateDeclines after acknowledging = %v", ld)
	}
	if _, err := j.Transition(ctx, ps[2].Order, Change{To: StateSettled}); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("queued → settled without upload: %v", err)
	}
}

func TestTamperedAmountIsRefused(t *testing.T) {
	j, c, path := newTest(t)
	p := mustCreate(t, j, newPay(100, ModeOffline, c))
	other := mustCreate(t, j, newPay(300, ModeOffline, c))
	final := mustCreate(t, j, newPay(700, ModeOnline, c))
	if _, err := j.Transition(ctx, final.Order, Change{To: StatePaid}); err != nil {
		t.Fatal(err)
	}
	// Someone edits the file with sqlite3: 1.00 becomes 1000.00, 7.00 becomes 0.07.
	rawExec(t, path, "UPDATE payments SET amount_minor = 100000 WHERE order_no = ?", p.Order)
	rawExec(t, path, "UPDATE payments SET amount_minor = 7 WHERE order_no = ?", final.Order)

	if _, err := j.PayRequest(ctx, p.Order); !errors.Is(err, ErrTampered) {
		t.Fatalf("PayRequest of an edited record: %v", err)
	}
	// The request the edited row stands for does not carry a valid signature.
	edited, _ := j.Get(ctx, p.Order)
	forged := api.PayRequest{MerchantOrder: edited.Order, Code: edited.Code, Amount: edited.Amount,
		ScanTime: edited.ScanTime, Offline: true, RecordSig: edited.RecordSig}
	if api.VerifyRecordSignature(testKey, forged) {
		t.Fatal("the edited record's signature still verifies")
	}
	reqs, tampered, err := j.BeginForward(ctx, 10)
	if err != nil || len(reqs) != 1 || reqs[0].MerchantOrder != other.Order || len(tampered) != 1 || tampered[0] != p.Order {
		t.Fatalf("BeginForward = %v, %v, %v", reqs, tampered, err)
	}
	if got, _ := j.Get(ctx, p.Order); got.State != StateQueued {
		t.Fatalf("edited record moved to %s", got.State)
	}
	bad, err := j.Audit(ctx)
	if err != nil || len(bad) != 2 || bad[0] != p.Order || bad[1] != final.Order {
		t.Fatalf("Audit = %v, %v", bad, err)
	}
	z, err := j.ZReport(ctx, c.Now())
	if err != nil || len(z.Tampered) != 2 {
		t.Fatalf("ZReport.Tampered = %v, %v", z.Tampered, err)
	}
}

func TestRefunds(t *testing.T) {
	j, c, _ := newTest(t)
	p := mustCreate(t, j, newPay(1000, ModeOnline, c))
	if _, err := j.CreateRefund(ctx, p.Order, cny(100), "wrong item"); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("refund of an unpaid payment: %v", err)
	}
	if _, err := j.Transition(ctx, p.Order, Change{To: StatePaid}); err != nil {
		t.Fatal(err)
	}
	r1, err := j.CreateRefund(ctx, p.Order, cny(300), "wrong item")
	if err != nil || r1.No != p.Order+"-R01" || r1.State != RefundPending {
		t.Fatalf("CreateRefund = %+v, %v", r1, err)
	}
	if _, err := j.CreateRefund(ctx, p.Order, cny(701), ""); !errors.Is(err, ErrRefundExcess) {
		t.Fatalf("excess refund (pending counts): %v", err)
	}
	if _, err := j.CreateRefund(ctx, p.Order, money.Amount{Minor: 1, Currency: "USD"}, ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("refund in another currency: %v", err)
	}
	pend, err := j.PendingRefunds(ctx)
	if err != nil || len(pend) != 1 || pend[0].No != r1.No {
		t.Fatalf("PendingRefunds = %v, %v", pend, err)
	}
	req, err := j.BeginRefund(ctx, r1.No)
	if err != nil || req.RefundNo != r1.No || req.Amount != cny(300) {
		t.Fatalf("BeginRefund = %+v, %v", req, err)
	}
	resp := api.RefundResponse{RefundNo: r1.No, Amount: cny(300), Order: api.Order{MerchantOrder: p.Order,
		Status: api.StatusPartRefunded, Amount: cny(1000), Refunded: cny(300)}}
	if _, err := j.FinishRefund(ctx, r1.No, resp); err != nil {
		t.Fatal(err)
	}
	if _, err := j.FinishRefund(ctx, r1.No, resp); err != nil { // a repeated answer
		t.Fatal(err)
	}
	got, _ := j.Get(ctx, p.Order)
	if got.State != StatePartRefunded || got.Refunded != cny(300) {
		t.Fatalf("after a partial refund: %s %s", got.State, got.Refunded)
	}
	r2, _ := j.CreateRefund(ctx, p.Order, cny(200), "")
	if _, err := j.FailRefund(ctx, r2.No, "refund_excess", "too much"); err != nil {
		t.Fatal(err)
	}
	if _, err := j.FinishRefund(ctx, r2.No, api.RefundResponse{RefundNo: r2.No, Amount: cny(200)}); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("finishing a failed refund: %v", err)
	}
	r3, err := j.CreateRefund(ctx, p.Order, cny(700), "")
	if err != nil || r3.No != p.Order+"-R03" {
		t.Fatalf("third refund = %+v, %v", r3, err)
	}
	if _, err := j.FinishRefund(ctx, r3.No, api.RefundResponse{RefundNo: r3.No, Amount: cny(700)}); err != nil {
		t.Fatal(err)
	}
	got, _ = j.Get(ctx, p.Order)
	if got.State != StateRefunded || got.Refunded != cny(1000) {
		t.Fatalf("after refunding all: %s %s", got.State, got.Refunded)
	}
	rs, err := j.Refunds(ctx, p.Order)
	if err != nil || len(rs) != 3 || rs[0].State != RefundDone || rs[1].State != RefundFailed || rs[1].Reason != "refund_excess" {
		t.Fatalf("Refunds = %+v, %v", rs, err)
	}
	if pend, _ := j.PendingRefunds(ctx); len(pend) != 0 {
		t.Fatalf("pending after all answers: %v", pend)
	}
}
