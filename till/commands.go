package till

import (
	"context"
	"errors"
	"fmt"

	"tillpay/backend/api"
	"tillpay/backend/client"
	"tillpay/money"
	"tillpay/sync/journal"
)

// Refund refunds a paid payment, in full when amount is nil. Each refund has
// its own request number, written to the journal before it is sent, so a
// retried refund is never paid twice.
func (t *Till) Refund(ctx context.Context, order string, amount *money.Amount) error {
	p, err := t.j.Get(ctx, order)
	if err != nil {
		return fmt.Errorf("refund %s: %w", order, err)
	}
	switch p.State {
	case journal.StatePaid, journal.StateSettled, journal.StatePartRefunded:
	default:
		return fmt.Errorf("refund %s: the payment is %s; only a paid payment can be refunded", order, p.State)
	}
	a := money.Amount{Minor: p.Amount.Minor - p.Refunded.Minor, Currency: p.Amount.Currency}
	if amount != nil {
		a = *amount
		if a.Currency == "" {
			a.Currency = p.Amount.Currency
		}
	}
	if a.Minor > p.Amount.Minor-p.Refunded.Minor {
		return fmt.Errorf("refund %s: %s is more than the %s left to refund", order, a.Decimal(), money.Amount{Minor: p.Amount.Minor - p.Refunded.Minor, Currency: p.Amount.Currency}.Decimal())
	}
	r, err := t.j.CreateRefund(ctx, order, a, "")
	if err != nil {
		return fmt.Errorf("refund %s: %w", order, err)
	}
	return t.sendRefund(ctx, r.No)
}

// sendRefund sends (or re-sends) a written refund and records the answer.
func (t *Till) sendRefund(ctx context.Context, refundNo string) error {
	req, err := t.j.BeginRefund(ctx, refundNo)
	if err != nil {
		return fmt.Errorf("refund %s: %w", refundNo, err)
	}
	r, err := t.j.GetRefund(ctx, refundNo)
	if err != nil {
		return fmt.Errorf("refund %s: %w", refundNo, err)
	}
	rctx, cancel := context.WithTimeout(ctx, t.cfg.Payment.RequestTimeout.Duration)
	resp, err := t.backend.Refund(rctx, r.Order, req.RefundNo, req.Amount)
	cancel()
	t.mon.Report(unreachable(err))
	if err != nil {
		var ae *client.APIError
		if errors.As(err, &ae) && !errors.Is(err, client.ErrUnreachable) {
			if _, jerr := t.j.FailRefund(ctx, refundNo, ae.Code, ae.Message); jerr != nil {
				t.log.Error("journal", "err", jerr)
			}
			t.emit(Event{Event: EventRefund, Order: r.Order, RefundNo: refundNo, Amount: req.Amount.Decimal(), Currency: req.Amount.Currency, Status: StatusDeclined, ReasonCode: ae.Code, Reason: "The refund was refused: " + ae.Message})
			return fmt.Errorf("refund %s: %w", refundNo, err)
		}
		t.emit(Event{Event: EventRefund, Order: r.Order, RefundNo: refundNo, Amount: req.Amount.Decimal(), Currency: req.Amount.Currency, Status: StatusUnknown,
			Reason: "The payment backend did not answer; the refund is kept and will be sent again when it is reachable."})
		return fmt.Errorf("refund %s: %w", refundNo, err)
	}
	if _, err := t.j.FinishRefund(ctx, refundNo, resp); err != nil {
		t.log.Error("recording a refund", "refund", refundNo, "err", err)
	}
	p, err := t.j.Get(ctx, r.Order)
	if err != nil {
		p.Order, p.Amount, p.State = r.Order, resp.Order.Amount, journal.State(resp.Order.Status)
	}
	ev := t.paymentEvent(p)
	ev.Event = EventRefund
	ev.RefundNo = refundNo
	ev.Refunded = resp.Order.Refunded.Decimal()
	ev.Amount = resp.Amount.Decimal()
	ev.Reason = fmt.Sprintf("Refunded %s %s.", resp.Amount.Decimal(), resp.Amount.Currency)
	t.emit(ev)
	return nil
}

// Query asks the backend for the state of a past payment, records it and
// emits it as a payment event.
func (t *Till) Query(ctx context.Context, order string) error {
	p, err := t.j.Get(ctx, order)
	if err != nil {
		return fmt.Errorf("query %s: %w", order, err)
	}
	if p.State == journal.StateQueued {
		t.emit(t.paymentEvent(p))
		return nil
	}
	qctx, cancel := context.WithTimeout(ctx, t.cfg.Payment.RequestTimeout.Duration)
	o, err := t.backend.Query(qctx, order)
	cancel()
	t.mon.Report(unreachable(err))
	if err != nil {
		if client.IsCode(err, api.ErrNotFound) {
			ev := t.paymentEvent(p)
			ev.Reason = "The payment backend has no record of this payment. " + ev.Reason
			t.emit(ev)
			return nil
		}
		return fmt.Errorf("query %s: %w", order, err)
	}
	q, err := t.j.ApplyOrder(ctx, order, o)
	if err != nil && !errors.Is(err, journal.ErrIllegalTransition) {
		return fmt.Errorf("query %s: %w", order, err)
	}
	if err != nil {
		q = p
	}
	ev := t.paymentEvent(q)
	if o.Message != "" {
		ev.Reason = o.Message
	}
	t.emit(ev)
	return nil
}

// Sync wakes the forwarder to upload queued payments now, and reports the
// offline state.
func (t *Till) Sync(ctx context.Context) {
	t.fwd.Poke()
	t.emitSync(ctx)
}

// Status emits the till's state: a sync event and the current sale.
func (t *Till) Status(ctx context.Context) {
	t.emitSync(ctx)
	t.mu.Lock()
	s := t.sale
	var ev *Event
	if s != nil {
		ev = &Event{Event: EventStatus, Status: s.state, Amount: s.amount.Decimal(), Currency: s.amount.Currency, Order: s.order}
	}
	t.mu.Unlock()
	if ev == nil {
		ev = &Event{Event: EventStatus, Status: "idle"}
	}
	ev.Mode = t.cfg.Offline.Mode
	t.emit(*ev)
}

// emitSync reports connectivity and the offline queue.
func (t *Till) emitSync(ctx context.Context) {
	st, err := t.j.OfflineStats(ctx)
	if err != nil {
		t.emitError("The payment journal could not be read: " + journalSentence(err))
		return
	}
	t.emitSyncStats(ctx, st)
}

// emitSyncStats reports connectivity and the offline queue st.
func (t *Till) emitSyncStats(ctx context.Context, st journal.OfflineStats) {
	late, err := t.j.LateDeclines(ctx)
	if err != nil {
		t.emitError("The payment journal could not be read: " + journalSentence(err))
		return
	}
	t.emit(Event{Event: EventSync, Online: ptr(t.mon.Online()), Queued: ptr(st.Count),
		QueuedAmount: st.Amount(t.currency).Decimal(), Currency: t.currency, LateDeclines: ptr(len(late))})
}

// Acknowledge records that the merchant has seen a late decline.
func (t *Till) Acknowledge(ctx context.Context, order string) error {
	if _, err := t.j.Acknowledge(ctx, order); err != nil {
		return fmt.Errorf("acknowledge %s: %w", order, err)
	}
	t.emitSync(ctx)
	return nil
}

// Forwarded is called by the forwarder with each payment whose upload got
// an answer: settled, declined late or waiting.
func (t *Till) Forwarded(p journal.Payment) {
	ev := t.paymentEvent(p)
	if p.State == journal.StateDeclinedLate && ev.Reason == "" {
		ev.Reason = "A payment taken offline was refused by the payment backend."
	}
	t.emit(ev)
}

// ForwardPassDone is called by the forwarder after each upload pass.
func (t *Till) ForwardPassDone(ctx context.Context) { t.emitSync(ctx) }

// Reconcile relearns the backend's clock and settles the payments a
// previous run (or an outage) left open: uploads in
// flight go back to the queue, online payments of unknown outcome are
// reversed (as Alipay and WeChat tills do), and payments waiting for the
// payer are queried, then cancelled once past their time.
func (t *Till) Reconcile(ctx context.Context) {
	t.syncClock(ctx) // reconnected: learn the backend's clock again
	open, err := t.j.ToReconcile(ctx)
	if err != nil {
		t.emitError("The payment journal could not be read: " + journalSentence(err))
		return
	}
	for _, p := range open {
		if t.inFlight(p) {
			continue
		}
		switch p.State {
		case journal.StateForwarding:
			if _, err := t.j.SendFailed(ctx, p.Order, errors.New("the till restarted during the upload")); err != nil {
				t.log.Error("journal", "err", err)
			}
		case journal.StateSending, journal.StateUnknown:
			t.reverse(ctx, p)
		case journal.StateWaitingPayer:
			t.reconcileWaiting(ctx, p)
		}
	}
	refunds, err := t.j.PendingRefunds(ctx)
	if err == nil {
		for _, r := range refunds {
			_ = t.sendRefund(ctx, r.No)
		}
	}
	t.fwd.Poke()
}

// inFlight reports whether p belongs to the sale being paid now: its order,
// or a record written since its code was scanned whose number the sale
// does not hold yet. Reconcile leaves those to the sale.
func (t *Till) inFlight(p journal.Payment) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sale
	if s == nil || s.state == saleArmed {
		return false
	}
	return p.Order == s.order || s.order == "" && !p.Created.Before(s.scanned)
}

// reverse closes an online payment whose outcome the till does not know:
// the backend cancels it, refunding it if it had been paid.
func (t *Till) reverse(ctx context.Context, p journal.Payment) {
	o, err := t.cancelOrder(ctx, p.Order)
	if err != nil {
		t.log.Info("could not reverse a payment of unknown outcome yet", "order", p.Order, "err", err)
		return
	}
	q, err := t.j.ApplyOrder(ctx, p.Order, o)
	if err != nil {
		t.log.Error("recording a reversal", "order", p.Order, "err", err)
		return
	}
	ev := t.paymentEvent(q)
	ev.ReasonCode = ReasonReversed
	ev.Reason = "The till lost track of this payment (no answer, or a restart), so it was reversed; nothing is charged. Take the payment again if the customer is still here."
	t.emit(ev)
}

func (t *Till) reconcileWaiting(ctx context.Context, p journal.Payment) {
	qctx, cancel := context.WithTimeout(ctx, t.cfg.Payment.RequestTimeout.Duration)
	o, err := t.backend.Query(qctx, p.Order)
	cancel()
	t.mon.Report(unreachable(err))
	if err != nil {
		return
	}
	if o.Status == api.StatusWaitingPayer {
		if o, err = t.cancelOrder(ctx, p.Order); err != nil {
			return
		}
	}
	if q, err := t.j.ApplyOrder(ctx, p.Order, o); err == nil {
		t.emit(t.paymentEvent(q))
	}
}
