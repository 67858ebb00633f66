package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"tillpay/backend/api"
	"tillpay/money"
)

// RefundState is the state of a refund request.
type RefundState string

// States of a refund request.
const (
	RefundPending RefundState = "pending" // written, being sent (or to re-send)
	RefundDone    RefundState = "done"    // the backend refunded it
	RefundFailed  RefundState = "failed"  // the backend refused it
)

// Refund is a refund request of the journal.
type Refund struct {
	No       string // <order>-R<NN>, the backend's idempotency key
	Order    string
	Amount   money.Amount
	State    RefundState
	Reason   string // why the merchant refunds, then the backend's reason if refused
	Message  string
	Attempts int
	Created  time.Time
	Updated  time.Time
}

const refundCols = "refund_no, order_no, amount_minor, currency, state, reason, message, attempts, created, updated"

func scanRefund(s scanner) (Refund, error) {
	var r Refund
	var state string
	var created, updated int64
	err := s.Scan(&r.No, &r.Order, &r.Amount.Minor, &r.Amount.Currency, &state, &r.Reason, &r.Message, &r.Attempts, &created, &updated)
	r.State = RefundState(state)
	r.Created, r.Updated = fromNanos(created), fromNanos(updated)
	return r, err
}

// Request is the api.RefundRequest to send (or re-send) for the refund.
func (r Refund) Request() api.RefundRequest {
	return api.RefundRequest{RefundNo: r.No, Amount: r.Amount}
}

// CreateRefund writes a refund request for a paid or settled payment before
// it is sent, with a new refund number. It refuses an amount that, with the
// refunds done or pending, would exceed the amount paid (ErrRefundExcess).
func (j *Journal) CreateRefund(ctx context.Context, order string, amount money.Amount, reason string) (Refund, error) {
	if err := amount.CheckPayable(); err != nil {
		return Refund{}, fmt.Errorf("%w: refund amount: %w", ErrInvalid, err)
	}
	if len(reason) > 500 {
		return Refund{}, fmt.Errorf("%w: refund reason too long", ErrInvalid)
	}
	var r Refund
	err := j.tx(ctx, "written", func(tx *sql.Tx) error {
		p, _, err := getTx(ctx, tx, order)
		if err != nil {
			return err
		}
		switch p.State {
		case StatePaid, StateSettled, StatePartRefunded:
		default:
			return fmt.Errorf("%w: order %s is %s; only a paid payment can be refunded", ErrIllegalTransition, order, p.State)
		}
		if amount.Currency != p.Amount.Currency {
			return fmt.Errorf("%w: refund in %s of a payment in %s", ErrInvalid, amount.Currency, p.Amount.Currency)
		}
		var n int
		var committed int64
		err = tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN state IN ('pending', 'done') THEN amount_minor END), 0)
			FROM refunds WHERE order_no = ?`, order).Scan(&n, &committed)
		if err != nil {
			return err
		}
		if n >= MaxRefunds {
			return fmt.Errorf("%w: order %s already has %d refund requests", ErrInvalid, order, n)
		}
		// Refunds done may be counted by the backend figure too; take the larger.
		already := max(committed, p.Refunded.Minor)
		if already+amount.Minor > p.Amount.Minor {
			left := money.Amount{Minor: max(p.Amount.Minor-already, 0), Currency: p.Amount.Currency}
			return fmt.Errorf("%w: %s asked, %s left to refund on order %s", ErrRefundExcess, amount, left, order)
		}
		now := j.now()
		r = Refund{No: RefundNumber(order, n+1), Order: order, Amount: amount, State: RefundPending,
			Reason: reason, Created: fromNanos(now.UnixNano()), Updated: fromNanos(now.UnixNano())}
		_, err = tx.ExecContext(ctx, `INSERT INTO refunds (refund_no, order_no, n, amount_minor, currency, state, reason, created, updated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.No, order, n+1, amount.Minor, amount.Currency, string(r.State), reason, now.UnixNano(), now.UnixNano())
		if err != nil {
			return err
		}
		return addEvent(ctx, tx, order, r.No, p.State, p.State, "refund "+amount.String()+" requested", now)
	})
	return r, err
}

// GetRefund returns the refund request with the number, or ErrNotFound.
func (j *Journal) GetRefund(ctx context.Context, no string) (Refund, error) {
	r, err := scanRefund(j.r.QueryRowContext(ctx, "SELECT "+refundCols+" FROM refunds WHERE refund_no = ?", no))
	if errors.Is(err, sql.ErrNoRows) {
		return Refund{}, fmt.Errorf("%w: refund %s", ErrNotFound, no)
	}
	if err != nil {
		return Refund{}, j.fail("read", err)
	}
	return r, nil
}

// BeginRefund is called just before a pending refund is sent or re-sent: it
// counts the attempt and returns the request.
func (j *Journal) BeginRefund(ctx context.Context, no string) (api.RefundRequest, error) {
	var r Refund
	err := j.tx(ctx, "written", func(tx *sql.Tx) error {
		var err error
		r, err = scanRefund(tx.QueryRowContext(ctx, "SELECT "+refundCols+" FROM refunds WHERE refund_no = ?", no))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: refund %s", ErrNotFound, no)
		}
		if err != nil {
			return err
		}
		if r.State != RefundPending {
			return fmt.Errorf("%w: refund %s is %s", ErrIllegalTransition, no, r.State)
		}
		_, err = tx.ExecContext(ctx, "UPDATE refunds SET attempts = attempts + 1, updated = ? WHERE refund_no = ?", j.now().UnixNano(), no)
		return err
	})
	if err != nil {
		return api.RefundRequest{}, err
	}
	return r.Request(), nil
}

// FinishRefund records the backend's acceptance of a refund: the refund is
// done and the payment becomes partially_refunded or refunded, in one
// transaction. A repeated answer for a refund already done changes nothing.
func (j *Journal) FinishRefund(ctx context.Context, no string, resp api.RefundResponse) (Refund, error) {
	return j.endRefund(ctx, no, RefundDone, "", "", &resp)
}

// FailRefund records the backend's refusal of a refund (reason code and
// message); the payment is unchanged.
func (j *Journal) FailRefund(ctx context.Context, no, reason, message string) (Refund, error) {
	return j.endRefund(ctx, no, RefundFailed, reason, message, nil)
}

func (j *Journal) endRefund(ctx context.Context, no string, to RefundState, reason, message string, resp *api.RefundResponse) (Refund, error) {
	var r Refund
	err := j.tx(ctx, "written", func(tx *sql.Tx) error {
		var err error
		r, err = scanRefund(tx.QueryRowContext(ctx, "SELECT "+refundCols+" FROM refunds WHERE refund_no = ?", no))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: refund %s", ErrNotFound, no)
		}
		if err != nil {
			return err
		}
		if r.State == to {
			return nil // a repeated answer
		}
		if r.State != RefundPending {
			return fmt.Errorf("%w: refund %s is %s, cannot become %s", ErrIllegalTransition, no, r.State, to)
		}
		if resp != nil && (resp.RefundNo != no || resp.Amount != r.Amount) {
			return fmt.Errorf("%w: refund %s (%s) answered as %s (%s)", ErrMismatch, no, r.Amount, resp.RefundNo, resp.Amount)
		}
		now := j.now()
		if to == RefundFailed {
			r.Reason, r.Message = reason, message
		}
		r.State, r.Updated = to, fromNanos(now.UnixNano())
		if _, err := tx.ExecContext(ctx, "UPDATE refunds SET state = ?, reason = ?, message = ?, updated = ? WHERE refund_no = ?",
			string(r.State), r.Reason, r.Message, now.UnixNano(), no); err != nil {
			return err
		}
		p, _, err := getTx(ctx, tx, r.Order)
		if err != nil {
			return err
		}
		if to == RefundFailed {
			return addEvent(ctx, tx, r.Order, no, p.State, p.State, "refund failed: "+reason, now)
		}
		if p.State == StateRefunded {
			// The backend's answer to an order query already said so.
			return addEvent(ctx, tx, r.Order, no, p.State, p.State, "refund done", now)
		}
		total := money.Amount{Minor: p.Refunded.Minor + r.Amount.Minor, Currency: p.Amount.Currency}
		if o := resp.Order; o.MerchantOrder == r.Order && o.Refunded.Currency == p.Amount.Currency && o.Refunded.Minor >= total.Minor {
			total = o.Refunded // the backend's figure, which counts refunds made elsewhere
		}
		if total.Minor > p.Amount.Minor {
			return fmt.Errorf("%w: order %s refunded %s of %s", ErrMismatch, r.Order, total, p.Amount)
		}
		next := StatePartRefunded
		if total.Minor == p.Amount.Minor {
			next = StateRefunded
		}
		_, err = j.move(ctx, tx, p, Change{To: next, Reason: "refund " + no, BackendStatus: resp.Order.Status, Refunded: &total})
		return err
	})
	return r, err
}

// Refunds returns an order's refund requests, oldest first.
func (j *Journal) Refunds(ctx context.Context, order string) ([]Refund, error) {
	return j.queryRefunds(ctx, "WHERE order_no = ? ORDER BY n", order)
}

// PendingRefunds returns the refund requests still to send or confirm
// (after a restart: re-send them with the same number), oldest first.
func (j *Journal) PendingRefunds(ctx context.Context) ([]Refund, error) {
	return j.queryRefunds(ctx, "WHERE state = 'pending' ORDER BY created, refund_no")
}

func (j *Journal) queryRefunds(ctx context.Context, where string, args ...any) ([]Refund, error) {
	rows, err := j.r.QueryContext(ctx, "SELECT "+refundCols+" FROM refunds "+where, args...)
	if err != nil {
		return nil, j.fail("read", err)
	}
	defer rows.Close()
	var out []Refund
	for rows.Next() {
		r, err := scanRefund(rows)
		if err != nil {
			return nil, j.fail("read", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, j.fail("read", err)
	}
	return out, nil
}
