package backend

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"tillpay/backend/api"
	"tillpay/money"
	"tillpay/paycode"
)

// Enrol gives a payer a fresh seed under a new random key id, revoking the
// previous enrolment: codes of the old seed stop working at once.
func (s *Service) Enrol(ctx context.Context, payer string) (api.EnrolResponse, error) {
	seed, err := paycode.NewSeed()
	if err != nil {
		return api.EnrolResponse{}, err
	}
	res, err := s.w.do1(ctx, func(t *txn) (any, error) {
		now := s.now().UnixNano()
		if _, err := t.exec("UPDATE enrolments SET revoked = ? WHERE payer = ? AND revoked IS NULL", now, payer); err != nil {
			return nil, err
		}
		t.onCommit(func() { s.enrols.dropPayer(payer) })
		for range 100 {
			key := randomKeyID()
			var x int64
			err := t.row("SELECT key_id FROM enrolments WHERE key_id = ?", []any{key}, &x)
			if err == nil {
				continue // taken, now or before: key ids are never reused
			}
			if !isNoRows(err) {
				return nil, err
			}
			_, err = t.exec("INSERT INTO enrolments(key_id, payer, seed_sealed, created) VALUES (?, ?, ?, ?)",
				key, payer, s.seal.seal(seed, seedAD(key)), now)
			return key, err
		}
		return nil, errors.New("no free key id found")
	})
	if err != nil {
		return api.EnrolResponse{}, err
	}
	key := res.(int64)
	s.log.Info("payer enrolled", "payer", payer, "key_id", key)
	return api.EnrolResponse{PayerID: payer, KeyID: uint32(key), Seed: seed, ServerTime: s.now().UTC(),
		StepSeconds: paycode.StepSeconds}, nil
}

// randomKeyID draws a key id in 1…9,999,999.
func randomKeyID() int64 {
	var b [8]byte
	rand.Read(b[:]) //nolint:errcheck // crypto/rand does not fail on Linux
	return int64(binary.BigEndian.Uint64(b[:])%uint64(paycode.MaxKeyID)) + 1
}

// Balance returns a payer's balance and limits.
func (s *Service) Balance(ctx context.Context, payer string) (api.BalanceResponse, error) {
	p, err := s.ShowPayer(ctx, payer)
	if err != nil {
		return api.BalanceResponse{}, err
	}
	return api.BalanceResponse{PayerID: p.ID, Balance: p.Balance, OfflineCredit: p.OfflineCredit,
		PasswordFreeLimit: p.PasswordFreeLimit, ServerTime: s.now().UTC()}, nil
}

// Inbox returns a payer's notifications after the id after, oldest first,
// at most limit.
func (s *Service) Inbox(ctx context.Context, payer string, after int64, limit int) (api.InboxResponse, error) {
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	st, err := s.rstmt(ctx, `SELECT i.id, o.body FROM inbox i JOIN outbox o ON o.id = i.id
		WHERE i.payer = ? AND i.id > ? ORDER BY i.id LIMIT ?`)
	if err != nil {
		return api.InboxResponse{}, err
	}
	rows, err := st.QueryContext(ctx, payer, after, limit)
	if err != nil {
		return api.InboxResponse{}, fmt.Errorf("storage: %w", err)
	}
	defer rows.Close()
	out := api.InboxResponse{Notifications: []api.Notification{}}
	for rows.Next() {
		var id int64
		var body string
		if err := rows.Scan(&id, &body); err != nil {
			return api.InboxResponse{}, fmt.Errorf("storage: %w", err)
		}
		var n api.Notification
		if err := json.Unmarshal([]byte(body), &n); err != nil {
			return api.InboxResponse{}, fmt.Errorf("notification %d: %w", id, err)
		}
		n.ID = id
		out.Notifications = append(out.Notifications, n)
	}
	if err := rows.Err(); err != nil {
		return api.InboxResponse{}, fmt.Errorf("storage: %w", err)
	}
	return out, s.w.settle(ctx)
}

// Pending lists the payments waiting for the payer's confirmation.
func (s *Service) Pending(ctx context.Context, payer string) (api.PendingResponse, error) {
	st, err := s.rstmt(ctx, `SELECT o.merchant, o.merchant_order, m.name, o.amount, o.currency, o.expires
		FROM orders o JOIN merchants m ON m.id = o.merchant
		WHERE o.payer = ? AND o.status = 'waiting_payer' AND o.expires > ? ORDER BY o.id`)
	if err != nil {
		return api.PendingResponse{}, err
	}
	rows, err := st.QueryContext(ctx, payer, s.now().UnixNano())
	if err != nil {
		return api.PendingResponse{}, fmt.Errorf("storage: %w", err)
	}
	defer rows.Close()
	out := api.PendingResponse{Payments: []api.PendingPayment{}}
	for rows.Next() {
		var merchant, mo, name, cur string
		var amount, expires int64
		if err := rows.Scan(&merchant, &mo, &name, &amount, &cur, &expires); err != nil {
			return api.PendingResponse{}, fmt.Errorf("storage: %w", err)
		}
		out.Payments = append(out.Payments, api.PendingPayment{Order: merchant + "/" + mo, Merchant: name,
			Amount: money.Amount{Minor: amount, Currency: cur}, Expires: time.Unix(0, expires).UTC()})
	}
	if err := rows.Err(); err != nil {
		return api.PendingResponse{}, fmt.Errorf("storage: %w", err)
	}
	return out, s.w.settle(ctx)
}

// Confirm approves or declines a payment waiting for the payer. It answers
// with the order as it stands after: confirming one that is no longer
// waiting (expired, already confirmed, cancelled) changes nothing.
func (s *Service) Confirm(ctx context.Context, payer string, req api.ConfirmRequest) (api.Order, error) {
	merchant, mo, err := splitOrderRef(req.Order)
	if err != nil {
		return api.Order{}, err
	}
	mi, err := s.merchant(ctx, merchant)
	if err != nil {
		return api.Order{}, notFound("no payment %s waits for you", req.Order)
	}
	res, err := s.w.do1(ctx, func(t *txn) (any, error) {
		now := s.now()
		o, err := orderIn(t, merchant, mo)
		if err != nil {
			return nil, err
		}
		if o == nil || o.payer != payer {
			return nil, notFound("no payment %s waits for you", req.Order)
		}
		if o.waitingExpired(now) {
			return o, s.closeExpired(t, o, now)
		}
		if o.status != api.StatusWaitingPayer {
			return o, nil
		}
		o.expires = sqlNull
		o.updated = now.UnixNano()
		if !req.Approve {
			o.setOutcome(api.StatusDeclined, api.ReasonPayerDeclined)
			return o, saveOrder(t, o)
		}
		f, err := payerAccount(t, payer)
		if err != nil {
			return nil, err
		}
		if o.amount > f.balance {
			o.setOutcome(api.StatusDeclined, api.ReasonInsufficientBalance)
			return o, saveOrder(t, o)
		}
		o.setOutcome(api.StatusPaid, "")
		if err := saveOrder(t, o); err != nil {
			return nil, err
		}
		return o, s.charge(t, o, f, mi.account, mi.name, now)
	})
	if err != nil {
		return api.Order{}, err
	}
	o := res.(*orderRow)
	s.log.Info("payer confirmation", "payer", payer, "order", req.Order, "approve", req.Approve, "status", o.status)
	return o.api(), nil
}
