package backend

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/backend/client"
)

func TestPayerConfirmation(t *testing.T) {
	e := newEnv(t, WithConfirmTimeout(60*time.Second))
	w := e.payer("hana", 500_000)
	// Above the password-free limit (¥1,000): waits for the payer.
	o := e.pay("h-1", e.code(w), 150_000)
	wantStatus(t, o, api.StatusWaitingPayer, "")
	if o.Expires == nil || !o.Expires.Equal(e.clk.Now().Add(60*time.Second)) {
		t.Fatalf("expires %v", o.Expires)
	}
	var pend api.PendingResponse
	if code := e.payerCall(w, http.MethodGet, api.PathPending, nil, &pend); code != 200 || len(pend.Payments) != 1 ||
		pend.Payments[0].Order != "shop/h-1" || pend.Payments[0].Merchant != "Corner Shop" || pend.Payments[0].Amount != cny(150_000) {
		t.Fatalf("pending: %d %+v", code, pend)
	}
	if got := e.balance("hana"); got != 500_000 {
		t.Fatalf("charged before confirmation: %d", got)
	}
	var conf api.Order
	if code := e.payerCall(w, http.MethodPost, api.PathConfirm, api.ConfirmRequest{Order: "shop/h-1", Approve: true}, &conf); code != 200 {
		t.Fatalf("confirm: HTTP %d", code)
	}
	wantStatus(t, conf, api.StatusPaid, "")
	q, _ := e.term.Query(e.ctx, "h-1")
	wantStatus(t, q, api.StatusPaid, "")
	if got := e.balance("hana"); got != 350_000 {
		t.Fatalf("balance %d", got)
	}
	// Confirming again changes nothing.
	e.payerCall(w, http.MethodPost, api.PathConfirm, api.ConfirmRequest{Order: "shop/h-1", Approve: true}, &conf)
	if got := e.balance("hana"); got != 350_000 {
		t.Fatalf("balance %d after a second confirmation", got)
	}

	// Declined by the payer.
	wantStatus(t, e.pay("h-2", e.code(w), 120_000), api.StatusWaitingPayer, "")
	e.payerCall(w, http.MethodPost, api.PathConfirm, api.ConfirmRequest{Order: "shop/h-2", Approve: false}, &conf)
	wantStatus(t, conf, api.StatusDeclined, api.ReasonPayerDeclined)

	// Not confirmed in time: closed lazily on query.
	wantStatus(t, e.pay("h-3", e.code(w), 120_000), api.StatusWaitingPayer, "")
	e.clk.Advance(61 * time.Second)
	q, _ = e.term.Query(e.ctx, "h-3")
	wantStatus(t, q, api.StatusCancelled, api.ReasonPayerTimeout)
	e.payerCall(w, http.MethodPost, api.PathConfirm, api.ConfirmRequest{Order: "shop/h-3", Approve: true}, &conf)
	wantStatus(t, conf, api.StatusCancelled, api.ReasonPayerTimeout)

	// ... and by the sweeper.
	wantStatus(t, e.pay("h-4", e.code(w), 120_000), api.StatusWaitingPayer, "")
	e.clk.Advance(61 * time.Second)
	if n, err := e.svc.Sweep(e.ctx); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	q, _ = e.term.Query(e.ctx, "h-4")
	wantStatus(t, q, api.StatusCancelled, api.ReasonPayerTimeout)
	if got := e.balance("hana"); got != 350_000 {
		t.Fatalf("balance %d", got)
	}
	// Someone else's payment cannot be confirmed.
	other := e.payer("ivan", 0)
	wantStatus(t, e.pay("h-5", e.code(w), 120_000), api.StatusWaitingPayer, "")
	if code := e.payerCall(other, http.MethodPost, api.PathConfirm, api.ConfirmRequest{Order: "shop/h-5", Approve: true}, nil); code != 404 {
		t.Fatalf("other payer: HTTP %d", code)
	}
	e.audit()
}

func TestSweeperGoroutine(t *testing.T) {
	e := newEnv(t, WithConfirmTimeout(time.Second), WithSweepInterval(10*time.Millisecond))
	e.svc.Start()
	w := e.payer("jon", 500_000)
	wantStatus(t, e.pay("j-1", e.code(w), 200_000), api.StatusWaitingPayer, "")
	e.clk.Advance(2 * time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		var status string
		e.svc.readRow(e.ctx, "SELECT status FROM orders WHERE merchant_order = 'j-1'", nil, &status)
		if status == api.StatusCancelled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not swept: %s", status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCancelAndRefund(t *testing.T) {
	e := newEnv(t)
	w := e.payer("kim", 10_000)
	wantStatus(t, e.pay("k-1", e.code(w), 3_000), api.StatusPaid, "")

	// Partial refunds, each idempotent on its number.
	r, err := e.term.Refund(e.ctx, "k-1", "r-1", cny(1_000))
	if err != nil || r.Order.Status != api.StatusPartRefunded || r.Order.Refunded != cny(1_000) {
		t.Fatalf("refund: %+v %v", r, err)
	}
	if r, err = e.term.Refund(e.ctx, "k-1", "r-1", cny(1_000)); err != nil || r.Order.Refunded != cny(1_000) {
		t.Fatalf("repeat refund: %+v %v", r, err)
	}
	if _, err := e.term.Refund(e.ctx, "k-1", "r-1", cny(999)); !client.IsCode(err, api.ErrConflict) {
		t.Fatalf("refund number reused: %v", err)
	}
	if _, err := e.term.Refund(e.ctx, "k-1", "r-2", cny(2_001)); !client.IsCode(err, api.ErrRefundTooBig) {
		t.Fatalf("refund above paid: %v", err)
	}
	if _, err := e.term.Refund(e.ctx, "nope", "r-3", cny(1)); !client.IsCode(err, api.ErrNotFound) {
		t.Fatalf("refund of unknown order: %v", err)
	}
	if _, err := e.term.Refund(e.ctx, "k-1", "r-4", cny(0)); !client.IsCode(err, api.ErrBadRequest) {
		t.Fatalf("zero refund: %v", err)
	}
	if got := e.balance("kim"); got != 8_000 {
		t.Fatalf("balance %d, want 8000", got)
	}
	r, err = e.term.Refund(e.ctx, "k-1", "r-5", cny(2_000))
	if err != nil || r.Order.Status != api.StatusRefunded {
		t.Fatalf("full refund: %+v %v", r, err)
	}
	if _, err := e.term.Refund(e.ctx, "k-1", "r-6", cny(1)); !client.IsCode(err, api.ErrConflict) {
		t.Fatalf("refund of refunded order: %v", err)
	}

	// Cancel of a paid order refunds what is left.
	wantStatus(t, e.pay("k-2", e.code(w), 4_000), api.StatusPaid, "")
	e.term.Refund(e.ctx, "k-2", "r-7", cny(500))
	c, err := e.term.Cancel(e.ctx, "k-2")
	if err != nil || c.Status != api.StatusCancelled || c.Refunded != cny(4_000) {
		t.Fatalf("cancel paid: %+v %v", c, err)
	}
	if c, _ = e.term.Cancel(e.ctx, "k-2"); c.Refunded != cny(4_000) {
		t.Fatalf("second cancel: %+v", c)
	}
	if got := e.balance("kim"); got != 10_000 {
		t.Fatalf("balance %d after cancel, want 10000", got)
	}

	// Cancel of a waiting payment closes it.
	if _, err := e.svc.TopUp(e.ctx, "kim", cny(200_000)); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, e.pay("k-3", e.code(w), 150_000), api.StatusWaitingPayer, "")
	c, _ = e.term.Cancel(e.ctx, "k-3")
	wantStatus(t, c, api.StatusCancelled, api.ReasonCancelled)

	// Cancel of an order never seen blocks a late payment under it.
	c, err = e.term.Cancel(e.ctx, "k-4")
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, c, api.StatusCancelled, api.ReasonCancelled)
	late := e.code(w)
	wantStatus(t, e.pay("k-4", late, 100), api.StatusCancelled, api.ReasonCancelled)
	// The code it brought was presented all the same: it is dead.
	wantStatus(t, e.pay("k-4b", late, 100), api.StatusDeclined, api.ReasonCodeUsed)
	if got := e.balance("kim"); got != 210_000 {
		t.Fatalf("balance %d", got)
	}
	// Order numbers with URL-special characters travel safely.
	wantStatus(t, e.pay("k/5?x=1#y%20", e.code(w), 100), api.StatusPaid, "")
	if q, err := e.term.Query(e.ctx, "k/5?x=1#y%20"); err != nil || q.Status != api.StatusPaid {
		t.Fatalf("query: %+v %v", q, err)
	}
	if _, err := e.term.Refund(e.ctx, "k/5?x=1#y%20", "r/8", cny(100)); err != nil {
		t.Fatal(err)
	}
	e.audit()
}

// Cancel takes no body: one with content is refused and changes nothing;
// an empty body or {} cancels.
func TestCancelTakesNoBody(t *testing.T) {
	e := newEnv(t)
	w := e.payer("lin", 10_000)
	wantStatus(t, e.pay("l-1", e.code(w), 3_000), api.StatusPaid, "")
	path := api.PathOrders + "l-1/cancel"
	for _, body := range []string{`{"x":1}`, `[]`, `null`, `{} {}`, `nonsense`} {
		if status, msg := rawPay(t, e, path, []byte(body)); status != http.StatusBadRequest || !strings.Contains(msg, "takes no body") {
			t.Fatalf("cancel with body %s: %d %q, want 400", body, status, msg)
		}
	}
	if o, err := e.term.Query(e.ctx, "l-1"); err != nil || o.Status != api.StatusPaid || e.balance("lin") != 7_000 {
		t.Fatalf("after refused cancels: %+v %v, balance %d", o, err, e.balance("lin"))
	}
	if status, msg := rawPay(t, e, path, []byte(" {}\n")); status != http.StatusOK {
		t.Fatalf("cancel with {}: %d %q", status, msg)
	}
	if o, err := e.term.Query(e.ctx, "l-1"); err != nil || o.Status != api.StatusCancelled || e.balance("lin") != 10_000 {
		t.Fatalf("after cancel: %+v %v, balance %d", o, err, e.balance("lin"))
	}
}
