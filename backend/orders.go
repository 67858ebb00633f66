package backend

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"tillpay/backend/api"
	"tillpay/money"
)

// closeExpired closes a payment whose payer did not confirm in time.
func (s *Service) closeExpired(t *txn, o *orderRow, now time.Time) error {
	o.setOutcome(api.StatusCancelled, api.ReasonPayerTimeout)
	o.expires = sql.NullInt64{}
	o.updated = now.UnixNano()
	return saveOrder(t, o)
}

// Query returns a terminal's order, closing it first if it waited for its
// payer past the timeout.
func (s *Service) Query(ctx context.Context, term *Terminal, mo string) (api.Order, error) {
	if err := checkOrderNo("order number", mo); err != nil {
		return api.Order{}, err
	}
	st, err := s.rstmt(ctx, "SELECT "+orderCols+" FROM orders WHERE merchant = ? AND merchant_order = ?")
	if err != nil {
		return api.Order{}, err
	}
	o, err := scanOrder(st.QueryRowContext(ctx, term.Merchant, mo))
	if err != nil && !isNoRows(err) {
		return api.Order{}, fmt.Errorf("storage: %w", err)
	}
	if err := s.w.settle(ctx); err != nil {
		return api.Order{}, err
	}
	if o == nil {
		return api.Order{}, notFound("no order %s", mo)
	}
	if !o.waitingExpired(s.now()) {
		return o.api(), nil
	}
	res, err := s.w.do1(ctx, func(t *txn) (any, error) {
		o, err := orderIn(t, term.Merchant, mo)
		if err != nil {
			return nil, err
		}
		if now := s.now(); o.waitingExpired(now) {
			if err := s.closeExpired(t, o, now); err != nil {
				return nil, err
			}
		}
		return o, nil
	})
	if err != nil {
		return api.Order{}, err
	}
	return res.(*orderRow).api(), nil
}

// Sweep closes every payment that waited for its payer past the timeout and
// returns how many it closed.
func (s *Service) Sweep(ctx context.Context) (int64, error) {
	res, err := s.w.do1(ctx, func(t *txn) (any, error) {
		now := s.now().UnixNano()
		r, err := t.exec(`UPDATE orders SET status = ?, reason = ?, message = ?, updated = ?, expires = NULL
			WHERE status = ? AND expires <= ?`,
			api.StatusCancelled, api.ReasonPayerTimeout, Message(api.ReasonPayerTimeout), now,
			api.StatusWaitingPayer, now)
		if err != nil {
			return nil, err
		}
		return r.RowsAffected()
	})
	if err != nil {
		return 0, err
	}
	return res.(int64), nil
}

func (s *Service) runSweeper(ctx context.Context) {
	tick := time.NewTicker(s.cfg.sweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n, err := s.Sweep(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("closing unconfirmed payments", "err", err)
			}
			continue
		}
		if n > 0 {
			s.log.Info("closed unconfirmed payments", "count", n)
		}
	}
}

// payerFunds is what moving a payer's money needs to know of the payer.
type payerFunds struct {
	account int64
	balance int64 // as written: deferred writes not included
	webhook bool  // notifications also go to a webhook
}

// payerAccount returns a payer's account, balance and whether the payer
// has a webhook.
func payerAccount(t *txn, payer string) (payerFunds, error) {
	var f payerFunds
	err := t.row("SELECT a.id, a.balance, p.webhook <> '' FROM payers p JOIN accounts a ON a.id = p.account WHERE p.id = ?",
		[]any{payer}, &f.account, &f.balance, &f.webhook)
	return f, err
}

// refundMoney moves amount of a paid order back from the merchant to the
// payer and queues the payer's notification.
func (s *Service) refundMoney(t *txn, o *orderRow, merchantAcc int64, merchantName string, amount int64, now time.Time) error {
	f, err := payerAccount(t, o.payer)
	if err != nil {
		return err
	}
	if err := transfer(t, merchantAcc, f.account, amount, "refund", o.id, now.UnixNano()); err != nil {
		return err
	}
	o.refunded += amount
	o.updated = now.UnixNano()
	return s.queueNotification(t, o.payer, f.webhook, api.Notification{
		Kind: "refund", Order: o.merchant + "/" + o.mo, Merchant: merchantName,
		Amount:  money.Amount{Minor: amount, Currency: o.currency},
		Balance: money.Amount{Minor: f.balance + amount, Currency: o.currency},
		Time:    now.UTC(),
	})
}

// Cancel reverses an order: a paid one is refunded in full, a waiting one
// closed. An order number never seen is recorded as cancelled, so that a
// payment with it arriving late cannot charge.
func (s *Service) Cancel(ctx context.Context, term *Terminal, mo string) (api.Order, error) {
	if err := checkOrderNo("order number", mo); err != nil {
		return api.Order{}, err
	}
	res, err := s.w.do1(ctx, func(t *txn) (any, error) {
		now := s.now()
		o, err := orderIn(t, term.Merchant, mo)
		if err != nil {
			return nil, err
		}
		if o == nil {
			o = &orderRow{merchant: term.Merchant, mo: mo, terminal: term.ID, currency: s.cfg.currency,
				scanTime: now.UnixNano(), created: now.UnixNano(), updated: now.UnixNano()}
			o.setOutcome(api.StatusCancelled, api.ReasonCancelled)
			return o, insertOrder(t, o)
		}
		switch {
		case o.waitingExpired(now):
			return o, s.closeExpired(t, o, now)
		case o.status == api.StatusWaitingPayer:
		case o.status == api.StatusPaid || o.status == api.StatusPartRefunded:
			if err := s.refundMoney(t, o, term.account, term.MerchantName, o.amount-o.refunded, now); err != nil {
				return nil, err
			}
		default: // declined, cancelled, refunded: nothing left to reverse
			return o, nil
		}
		o.setOutcome(api.StatusCancelled, api.ReasonCancelled)
		o.expires = sql.NullInt64{}
		o.updated = now.UnixNano()
		s.log.Info("order cancelled", "terminal", term.ID, "order", mo, "refunded", o.refunded)
		return o, saveOrder(t, o)
	})
	if err != nil {
		return api.Order{}, err
	}
	return res.(*orderRow).api(), nil
}

// Refund returns part or all of a paid order to the payer. Each refund has
// its own number, the idempotency key: the same number again gives the same
// answer; refunds never add up to more than was paid.
func (s *Service) Refund(ctx context.Context, term *Terminal, mo string, req api.RefundRequest) (api.RefundResponse, error) {
	if err := checkOrderNo("order number", mo); err != nil {
		return api.RefundResponse{}, err
	}
	if err := checkOrderNo("refund_no", req.RefundNo); err != nil {
		return api.RefundResponse{}, err
	}
	if err := s.checkAmount(req.Amount); err != nil {
		return api.RefundResponse{}, err
	}
	res, err := s.w.do1(ctx, func(t *txn) (any, error) {
		now := s.now()
		o, err := orderIn(t, term.Merchant, mo)
		if err != nil {
			return nil, err
		}
		if o == nil {
			return nil, notFound("no order %s", mo)
		}
		var prevOrder, prevAmount int64
		err = t.row("SELECT order_id, amount FROM refunds WHERE merchant = ? AND refund_no = ?",
			[]any{term.Merchant, req.RefundNo}, &prevOrder, &prevAmount)
		if err == nil {
			if prevOrder != o.id || prevAmount != req.Amount.Minor {
				return nil, conflict("refund %s exists for another order or amount; use a new refund number", req.RefundNo)
			}
			return o, nil
		}
		if !isNoRows(err) {
			return nil, err
		}
		if o.status != api.StatusPaid && o.status != api.StatusPartRefunded {
			return nil, conflict("order %s is %s; only a paid order can be refunded", mo, o.status)
		}
		if left := o.amount - o.refunded; req.Amount.Minor > left {
			return nil, &Error{Status: 409, Code: api.ErrRefundTooBig, Message: fmt.Sprintf(
				"a refund of %s exceeds what is left to refund, %s",
				req.Amount.Decimal(), money.Amount{Minor: left, Currency: o.currency}.Decimal())}
		}
		if err := s.refundMoney(t, o, term.account, term.MerchantName, req.Amount.Minor, now); err != nil {
			return nil, err
		}
		if o.refunded == o.amount {
			o.setOutcome(api.StatusRefunded, "")
		} else {
			o.setOutcome(api.StatusPartRefunded, "")
		}
		if _, err := t.exec("INSERT INTO refunds(merchant, refund_no, order_id, amount, created) VALUES (?, ?, ?, ?, ?)",
			term.Merchant, req.RefundNo, o.id, req.Amount.Minor, now.UnixNano()); err != nil {
			return nil, err
		}
		s.log.Info("refund", "terminal", term.ID, "order", mo, "refund_no", req.RefundNo, "amount", req.Amount.Minor)
		return o, saveOrder(t, o)
	})
	if err != nil {
		return api.RefundResponse{}, err
	}
	return api.RefundResponse{RefundNo: req.RefundNo, Amount: req.Amount, Order: res.(*orderRow).api()}, nil
}

// splitOrderRef splits "merchant/merchant order" as payers see it.
func splitOrderRef(ref string) (merchant, mo string, err error) {
	merchant, mo, ok := strings.Cut(ref, "/")
	if !ok || merchant == "" {
		return "", "", badRequest("order: want merchant id/merchant order")
	}
	if err := checkOrderNo("order", mo); err != nil {
		return "", "", err
	}
	return merchant, mo, nil
}
