package till

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"tillpay/backend/api"
	"tillpay/backend/client"
	"tillpay/config"
	"tillpay/money"
	"tillpay/paycode"
	"tillpay/scanner"
	"tillpay/sync/journal"
)

// Local reason codes (beside the backend's api.Reason* codes).
const (
	ReasonForeignCode  = api.ReasonForeignCode
	ReasonNotACode     = "not_a_code"
	ReasonOfflineLimit = "offline_limit"
	ReasonOnlineOnly   = "backend_unreachable"
	ReasonJournal      = "journal_unwritable"
	ReasonReversed     = "reversed"
	// A scan refused with an error event, charging nothing: no payment was
	// armed for it, or it repeated the code just scanned.
	ReasonNoPaymentWaiting = "no_payment_waiting"
	ReasonDuplicateScan    = "duplicate_scan"
)

// pay runs one payment from a scanned code to its result.
func (t *Till) pay(ctx context.Context, s *sale, sc scanner.Scan) {
	code := strings.TrimSpace(sc.Label)
	if _, err := paycode.Parse(code); err != nil {
		// Re-arm first: the payer may show the right code at once.
		t.rearm(s)
		var fe *paycode.ForeignError
		if errors.As(err, &fe) {
			t.emit(Event{Event: EventPayment, Amount: s.amount.Decimal(), Currency: s.amount.Currency, Status: StatusDeclined,
				ReasonCode: ReasonForeignCode, Reason: fmt.Sprintf("This is a %s payment code. This till takes tillpay codes only; nothing was charged.", fe.Provider)})
		} else {
			t.emit(Event{Event: EventPayment, Amount: s.amount.Decimal(), Currency: s.amount.Currency, Status: StatusDeclined,
				ReasonCode: ReasonNotACode, Reason: "That scan is not a payment code. Ask the payer to show the payment code and scan again; nothing was charged."})
		}
		return
	}
	scanTime := t.backendNow()
	np := journal.NewPayment{
		Amount: s.amount, Code: code, Device: sc.Device, Symbology: string(sc.Symbology),
		ScanTime: scanTime, ScanLocal: t.clk.Now(),
	}
	online := true
	switch t.cfg.Offline.Mode {
	case config.ForceOffline:
		online = false
	case config.PreferOnline:
		online = t.mon.Reachable()
	}
	if !online {
		t.queue(ctx, s, np)
		return
	}
	np.Mode = journal.ModeOnline
	p, req, err := t.j.CreateAndBeginSend(ctx, np)
	if err != nil {
		t.refuseUnrecorded(s, err)
		return
	}
	t.mu.Lock()
	s.order = p.Order
	t.mu.Unlock()
	t.sendOnline(ctx, s, p, req)
}

// refuseUnrecorded ends a sale whose payment could not be written.
func (t *Till) refuseUnrecorded(s *sale, err error) {
	reason := "The payment journal could not be written, so the payment was not taken. " + journalSentence(err)
	t.log.Error("journal write failed", "err", err)
	t.emitError(reason)
	t.finish(s, Event{Event: EventPayment, Amount: s.amount.Decimal(), Currency: s.amount.Currency, Status: StatusDeclined, ReasonCode: ReasonJournal, Reason: reason})
}

func journalSentence(err error) string {
	var se *journal.StorageError
	if errors.As(err, &se) {
		return se.Error()
	}
	return err.Error()
}

// offlineRefusal returns why amount cannot be taken offline now, or "",
// with the offline queue as it stands.
func (t *Till) offlineRefusal(ctx context.Context, amount money.Amount) (string, journal.OfflineStats, error) {
	var st journal.OfflineStats
	if t.cfg.Offline.Mode == config.RequireOnline {
		return "The payment backend cannot be reached and this till takes online payments only. Nothing was charged; try again or take another payment method.", st, nil
	}
	if t.maxPayment != nil && amount.Minor > t.maxPayment.Minor {
		return fmt.Sprintf("Offline payments are limited to %s %s each. Nothing was charged; take another payment method.", t.maxPayment.Decimal(), t.currency), st, nil
	}
	st, err := t.j.OfflineStats(ctx)
	if err != nil {
		return "", st, err
	}
	if t.cfg.Offline.MaxCount > 0 && st.Count+1 > t.cfg.Offline.MaxCount {
		return fmt.Sprintf("%d payments are already stored offline, the most this till keeps. Nothing was charged; reconnect to the backend to upload them.", st.Count), st, nil
	}
	if t.maxTotal != nil && st.Amount(amount.Currency).Minor+amount.Minor > t.maxTotal.Minor {
		return fmt.Sprintf("This payment would take the amount stored offline above %s %s. Nothing was charged; reconnect to the backend to upload the stored payments.", t.maxTotal.Decimal(), t.currency), st, nil
	}
	if age := t.cfg.Offline.MaxAge.Duration; age > 0 && !st.OldestLocal.IsZero() && t.clk.Now().Sub(st.OldestLocal) > age {
		return fmt.Sprintf("Payments stored offline since %s are close to expiring. Nothing was charged; reconnect to the backend to upload them first.", st.OldestLocal.Local().Format("2006-01-02 15:04")), st, nil
	}
	return "", st, nil
}

// queue takes a payment offline: it is recorded and forwarded later.
func (t *Till) queue(ctx context.Context, s *sale, np journal.NewPayment) {
	why, st, err := t.offlineRefusal(ctx, np.Amount)
	if err != nil {
		t.refuseUnrecorded(s, err)
		return
	}
	if why != "" {
		code := ReasonOfflineLimit
		if t.cfg.Offline.Mode == config.RequireOnline {
			code = ReasonOnlineOnly
		}
		t.finish(s, Event{Event: EventPayment, Amount: np.Amount.Decimal(), Currency: np.Amount.Currency, Status: StatusDeclined, ReasonCode: code, Reason: why})
		return
	}
	np.Mode = journal.ModeOffline
	p, err := t.j.Create(ctx, np)
	if err != nil {
		t.refuseUnrecorded(s, err)
		return
	}
	t.queued(ctx, s, p, st)
}

// queued ends a sale whose payment is now in the offline queue: the
// result, a wake-up for the forwarder, and the queue's new totals (st, read
// before the payment joined it, plus the payment: no second read).
func (t *Till) queued(ctx context.Context, s *sale, p journal.Payment, st journal.OfflineStats) {
	t.finish(s, queuedEvent(p))
	t.pokeForwarder()
	st.Count++
	added := false
	for i := range st.Amounts {
		if st.Amounts[i].Currency == p.Amount.Currency {
			st.Amounts[i].Minor += p.Amount.Minor
			added = true
		}
	}
	if !added {
		st.Amounts = append(st.Amounts, p.Amount)
	}
	t.emitSyncStats(ctx, st)
}

// pokeForwarder wakes the forwarder for a newly queued payment, unless the
// backend is known to be unreachable: a pass would only fail then, after
// moving a batch of queued records to forwarding and back, and every scan
// of a till left offline would pay for it. The forwarder's timer, and the
// monitor when the backend is back, wake it instead.
func (t *Till) pokeForwarder() {
	if t.mon.Reachable() {
		t.fwd.Poke()
	}
}

func queuedEvent(p journal.Payment) Event {
	return (Event{Event: EventPayment, Order: p.Order, Amount: p.Amount.Decimal(), Currency: p.Amount.Currency, Status: StatusQueued, Offline: true,
		Reason: "The payment backend cannot be reached now: the payment is stored on this till and will be settled when it is back."})
}

// connectionRefused reports whether err shows that the request never left
// the till (nothing listened at the backend's address).
func connectionRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// sendOnline sends a written payment and follows it to its result.
// The first attempt, req, is already counted in the journal.
func (t *Till) sendOnline(ctx context.Context, s *sale, p journal.Payment, req api.PayRequest) {
	const attempts = 2
	var lastErr error
	for i := 0; i < attempts; i++ {
		var o api.Order
		var err error
		if i == 0 {
			o, err = t.post(ctx, req)
		} else {
			o, err = t.send(ctx, p.Order)
		}
		if err == nil {
			t.settleAnswer(ctx, s, p, o)
			return
		}
		var ae *client.APIError
		if errors.As(err, &ae) && !errors.Is(err, client.ErrUnreachable) {
			t.refused(s, p, ae)
			return
		}
		if !errors.Is(err, client.ErrUnreachable) {
			// The journal refused (tampered record, storage failure).
			t.refuseUnrecorded(s, err)
			return
		}
		lastErr = err
		if connectionRefused(err) {
			// Nothing reached the backend: the payment is an offline one now.
			t.fallBackOffline(ctx, s, p, err)
			return
		}
		if _, jerr := t.j.SendFailed(ctx, p.Order, err); jerr != nil {
			t.refuseUnrecorded(s, jerr)
			return
		}
	}
	t.unknownOutcome(ctx, s, p, lastErr)
}

// send begins an attempt in the journal and sends the payment.
func (t *Till) send(ctx context.Context, order string) (api.Order, error) {
	req, err := t.j.BeginSend(ctx, order)
	if err != nil {
		return api.Order{}, err
	}
	return t.post(ctx, req)
}

// post sends a payment request whose attempt the journal has counted.
func (t *Till) post(ctx context.Context, req api.PayRequest) (api.Order, error) {
	rctx, cancel := context.WithTimeout(ctx, t.cfg.Payment.RequestTimeout.Duration)
	defer cancel()
	o, err := t.backend.Pay(rctx, req)
	t.mon.Report(unreachable(err))
	return o, err
}

// fallBackOffline turns an online payment whose request never left the
// till into a queued one, when the offline policy allows.
func (t *Till) fallBackOffline(ctx context.Context, s *sale, p journal.Payment, cause error) {
	why, st, err := t.offlineRefusal(ctx, p.Amount)
	if err != nil || why != "" {
		if err != nil {
			why = journalSentence(err)
		}
		p2, jerr := t.j.Transition(ctx, p.Order, journal.Change{To: journal.StateDeclined, Reason: ReasonOnlineOnly, Message: why, Error: cause.Error()})
		if jerr != nil {
			t.log.Error("journal", "err", jerr)
			p2 = p
		}
		t.finish(s, Event{Event: EventPayment, Order: p2.Order, Amount: p.Amount.Decimal(), Currency: p.Amount.Currency, Status: StatusDeclined, ReasonCode: ReasonOnlineOnly, Reason: why})
		return
	}
	q, err := t.j.NeverSent(ctx, p.Order, cause)
	if err != nil {
		t.refuseUnrecorded(s, err)
		return
	}
	t.queued(ctx, s, q, st)
}

// unknownOutcome handles a payment sent with no answer: in prefer-online
// mode it is queued and re-sent later under the same order number (the
// backend answers a repeat with the first result); otherwise it is left
// for reconciliation, which reverses it once the backend is reachable.
func (t *Till) unknownOutcome(ctx context.Context, s *sale, p journal.Payment, cause error) {
	if t.cfg.Offline.Mode == config.PreferOnline {
		if why, st, err := t.offlineRefusal(ctx, p.Amount); err == nil && why == "" {
			q, err := t.j.Transition(ctx, p.Order, journal.Change{To: journal.StateQueued, Reason: "offline", Error: cause.Error()})
			if err == nil {
				t.queued(ctx, s, q, st)
				return
			}
			t.log.Warn("could not queue a payment of unknown outcome", "order", p.Order, "err", err)
		}
	}
	t.finish(s, Event{Event: EventPayment, Order: p.Order, Amount: p.Amount.Decimal(), Currency: p.Amount.Currency, Status: StatusUnknown, ReasonCode: ReasonOnlineOnly,
		Reason: "The payment backend did not answer. Treat this payment as not made: it will be reversed automatically when the backend is back."})
}

// refused records a request the backend refused outright (malformed,
// conflicting order number): nothing was charged.
func (t *Till) refused(s *sale, p journal.Payment, ae *client.APIError) {
	msg := "The payment backend refused the payment: " + ae.Message
	q, err := t.j.Transition(context.Background(), p.Order, journal.Change{To: journal.StateDeclined, Reason: ae.Code, Message: msg})
	if err != nil {
		t.log.Error("journal", "err", err)
		q = p
	}
	t.finish(s, Event{Event: EventPayment, Order: q.Order, Amount: p.Amount.Decimal(), Currency: p.Amount.Currency, Status: StatusDeclined, ReasonCode: ae.Code, Reason: msg})
}

// settleAnswer records the backend's answer and ends the sale, or waits
// for the payer.
func (t *Till) settleAnswer(ctx context.Context, s *sale, p journal.Payment, o api.Order) {
	q, err := t.j.ApplyOrder(ctx, p.Order, o)
	if err != nil {
		t.log.Error("recording the backend's answer", "order", p.Order, "err", err)
		t.emitError("The answer for order " + p.Order + " could not be recorded: " + journalSentence(err))
		q = p
		q.State = journal.State(o.Status)
	}
	ev := t.paymentEvent(q)
	if o.Message != "" {
		ev.Reason = o.Message
	}
	if q.State == journal.StateWaitingPayer {
		t.waitForPayer(ctx, s, q, o)
		return
	}
	t.finish(s, ev)
}

// paymentEvent describes a journal record as a payment event.
func (t *Till) paymentEvent(p journal.Payment) Event {
	ev := Event{Event: EventPayment, Order: p.Order, Amount: p.Amount.Decimal(), Currency: p.Amount.Currency,
		Status: string(p.State), ReasonCode: p.Reason, Reason: p.Message, Offline: p.Mode == journal.ModeOffline}
	if p.Refunded.Minor > 0 {
		ev.Refunded = p.Refunded.Decimal()
	}
	switch p.State {
	case journal.StateSending, journal.StateForwarding:
		ev.Status = StatusSubmitting
	}
	return ev
}

// waitForPayer polls a payment waiting for the payer's confirmation until
// it ends, the cashier cancels or the timeout passes; then it cancels it.
func (t *Till) waitForPayer(ctx context.Context, s *sale, p journal.Payment, o api.Order) {
	deadline := t.clk.Now().Add(t.cfg.Payment.WaitTimeout.Duration)
	t.mu.Lock()
	s.state = saleWaiting
	s.order = p.Order
	if s.cancel == nil {
		s.cancel = make(chan struct{})
	}
	cancelled := s.cancel
	t.mu.Unlock()
	ev := t.paymentEvent(p)
	ev.Expires = &deadline
	ev.Reason = "Waiting for the payer to confirm the payment in the wallet."
	t.emit(ev)
	for {
		select {
		case <-ctx.Done():
			return
		case <-cancelled:
			t.cancelWaiting(ctx, s, p, "Cancelled by the cashier while waiting for the payer.")
			return
		case <-t.clk.After(t.cfg.Payment.PollInterval.Duration):
		}
		qctx, cancel := context.WithTimeout(ctx, t.cfg.Payment.RequestTimeout.Duration)
		o, err := t.backend.Query(qctx, p.Order)
		cancel()
		t.mon.Report(unreachable(err))
		if err == nil && o.Status != api.StatusWaitingPayer {
			t.settleAnswer(ctx, s, p, o)
			return
		}
		if !t.clk.Now().Before(deadline) {
			t.cancelWaiting(ctx, s, p, "The payer did not confirm in time; the payment was cancelled.")
			return
		}
	}
}

// cancelWaiting asks the backend to close a waiting payment.
func (t *Till) cancelWaiting(ctx context.Context, s *sale, p journal.Payment, why string) {
	o, err := t.cancelOrder(ctx, p.Order)
	if err != nil {
		t.finish(s, Event{Event: EventPayment, Order: p.Order, Amount: p.Amount.Decimal(), Currency: p.Amount.Currency, Status: StatusUnknown,
			Reason: "The payment could not be cancelled now (" + err.Error() + "); it will be closed automatically when the backend is reachable."})
		return
	}
	if o.Status == api.StatusCancelled && o.Message == "" {
		o.Message = why
	}
	t.settleAnswer(ctx, s, p, o)
}

func (t *Till) cancelOrder(ctx context.Context, order string) (api.Order, error) {
	cctx, cancel := context.WithTimeout(ctx, t.cfg.Payment.RequestTimeout.Duration)
	defer cancel()
	o, err := t.backend.Cancel(cctx, order)
	t.mon.Report(unreachable(err))
	return o, err
}
