package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"tillpay/money"
)

func (j *Journal) queryPayments(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, where string, args ...any) ([]Payment, []string, error) {
	rows, err := db.QueryContext(ctx, "SELECT "+paymentCols+" FROM payments "+where, args...)
	if err != nil {
		return nil, nil, j.fail("read", err)
	}
	defer rows.Close()
	var ps []Payment
	var seals []string
	for rows.Next() {
		p, seal, err := scanPayment(rows)
		if err != nil {
			return nil, nil, j.fail("read", err)
		}
		ps, seals = append(ps, p), append(seals, seal)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, j.fail("read", err)
	}
	return ps, seals, nil
}

func inStates(states ...State) string {
	q := make([]string, len(states))
	for i, s := range states {
		q[i] = "'" + string(s) + "'"
	}
	return "state IN (" + strings.Join(q, ", ") + ")"
}

// Queue returns up to limit offline payments waiting to be uploaded (state
// queued), oldest first. limit ≤ 0 means all.
func (j *Journal) Queue(ctx context.Context, limit int) ([]Payment, error) {
	if limit <= 0 {
		limit = -1
	}
	ps, _, err := j.queryPayments(ctx, j.r, "WHERE state = ? ORDER BY id LIMIT ?", string(StateQueued), limit)
	return ps, err
}

// ToReconcile returns the payments whose outcome the till does not know yet,
// oldest first: sending and unknown (query or re-send with the same order
// number), forwarding (upload again: the backend answers a known order
// number with its existing order) and waiting_payer (poll). The till calls it
// after a restart.
func (j *Journal) ToReconcile(ctx context.Context) ([]Payment, error) {
	ps, _, err := j.queryPayments(ctx, j.r, "WHERE "+inStates(StateSending, StateUnknown, StateForwarding, StateWaitingPayer)+" ORDER BY id")
	return ps, err
}

// OfflineStats describes the offline payments stored and not yet accepted by
// the backend (queued or forwarding): the till's offline limits apply to it.
type OfflineStats struct {
	Count   int
	Amounts []money.Amount // total per currency, sorted by currency
	// OldestScan is the oldest scan time (backend clock) among them, zero
	// if none; the backend refuses codes scanned too long ago.
	OldestScan time.Time
	// OldestLocal is the same record's scan time on the till's clock.
	OldestLocal time.Time
}

// Amount returns the stored total in currency (zero if none).
func (s OfflineStats) Amount(currency string) money.Amount {
	for _, a := range s.Amounts {
		if a.Currency == currency {
			return a
		}
	}
	return money.Amount{Currency: currency}
}

// OfflineStats sums the stored offline payments.
func (j *Journal) OfflineStats(ctx context.Context) (OfflineStats, error) {
	var s OfflineStats
	rows, err := j.r.QueryContext(ctx, "SELECT currency, COUNT(*), SUM(amount_minor) FROM payments WHERE "+
		inStates(StateQueued, StateForwarding)+" GROUP BY currency ORDER BY currency")
	if err != nil {
		return s, j.fail("read", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a money.Amount
		var n int
		if err := rows.Scan(&a.Currency, &n, &a.Minor); err != nil {
			return s, j.fail("read", err)
		}
		s.Count += n
		s.Amounts = append(s.Amounts, a)
	}
	if err := rows.Err(); err != nil {
		return s, j.fail("read", err)
	}
	if s.Count == 0 {
		return s, nil
	}
	// The oldest per state, each one index lookup (payments_state_scan).
	for _, st := range []State{StateQueued, StateForwarding} {
		var scan, local int64
		err := j.r.QueryRowContext(ctx, "SELECT scan_time, scan_local FROM payments WHERE state = ? ORDER BY scan_time LIMIT 1", string(st)).Scan(&scan, &local)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return s, j.fail("read", err)
		}
		if s.OldestScan.IsZero() || scan < s.OldestScan.UnixNano() {
			s.OldestScan, s.OldestLocal = fromNanos(scan), fromNanos(local)
		}
	}
	return s, nil
}

// LateDeclines returns the offline payments the backend refused after the
// customer left (declined_late) that the merchant has not acknowledged yet,
// oldest first.
func (j *Journal) LateDeclines(ctx context.Context) ([]Payment, error) {
	ps, _, err := j.queryPayments(ctx, j.r, "WHERE state = ? AND acknowledged IS NULL ORDER BY id", string(StateDeclinedLate))
	return ps, err
}

// Acknowledge records that the merchant has seen a late decline. Doing it
// twice keeps the first time.
func (j *Journal) Acknowledge(ctx context.Context, order string) (Payment, error) {
	var p Payment
	err := j.tx(ctx, "written", func(tx *sql.Tx) error {
		cur, _, err := getTx(ctx, tx, order)
		if err != nil {
			return err
		}
		if cur.State != StateDeclinedLate {
			return fmt.Errorf("%w: order %s is %s; only a late decline is acknowledged", ErrIllegalTransition, order, cur.State)
		}
		p = cur
		if !cur.Acknowledged.IsZero() {
			return nil
		}
		now := j.now()
		p.Acknowledged = fromNanos(now.UnixNano())
		if _, err := tx.ExecContext(ctx, "UPDATE payments SET acknowledged = ? WHERE order_no = ?", now.UnixNano(), order); err != nil {
			return err
		}
		return addEvent(ctx, tx, order, "", cur.State, cur.State, "acknowledged", now)
	})
	return p, err
}

// dayBounds returns the start of day's local calendar day and of the next.
func (j *Journal) dayBounds(day time.Time) (from, to time.Time) {
	d := day.In(j.loc)
	from = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, j.loc)
	return from, from.AddDate(0, 0, 1)
}

// Day returns the payments created on day's local calendar day (in the
// journal's Location), in creation order.
func (j *Journal) Day(ctx context.Context, day time.Time) ([]Payment, error) {
	from, to := j.dayBounds(day)
	ps, _, err := j.queryPayments(ctx, j.r, "WHERE created >= ? AND created < ? ORDER BY id", from.UnixNano(), to.UnixNano())
	return ps, err
}

// Audit checks every record's seal and, where the code is kept, its record
// signature, and returns the order numbers of records edited outside the
// journal.
func (j *Journal) Audit(ctx context.Context) ([]string, error) {
	ps, seals, err := j.queryPayments(ctx, j.r, "ORDER BY id")
	if err != nil {
		return nil, err
	}
	return j.tampered(ps, seals), nil
}

func (j *Journal) tampered(ps []Payment, seals []string) []string {
	var bad []string
	for i, p := range ps {
		if err := j.verify(p, seals[i]); err != nil {
			j.log.Error("payment journal record altered", "order", p.Order, "err", err)
			bad = append(bad, p.Order)
		}
	}
	sort.Strings(bad)
	return bad
}

// Events returns an order's audit trail, oldest first.
func (j *Journal) Events(ctx context.Context, order string) ([]Event, error) {
	rows, err := j.r.QueryContext(ctx, "SELECT order_no, refund_no, from_state, to_state, reason, time FROM events WHERE order_no = ? ORDER BY id", order)
	if err != nil {
		return nil, j.fail("read", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var from, to string
		var t int64
		if err := rows.Scan(&e.Order, &e.Refund, &from, &to, &e.Reason, &t); err != nil {
			return nil, j.fail("read", err)
		}
		e.From, e.To, e.Time = State(from), State(to), fromNanos(t)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, j.fail("read", err)
	}
	return out, nil
}

// Event is one row of the append-only audit trail: a state change, an
// attempt that kept the state, a refund step or an acknowledgement.
type Event struct {
	Order  string
	Refund string // the refund number, for refund steps
	From   State  // empty for the creation
	To     State
	Reason string
	Time   time.Time // till clock
}
