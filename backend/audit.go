package backend

import (
	"context"
	"database/sql"
	"fmt"
)

// AuditReport is the outcome of Audit: counts, and the problems found (none
// when the ledger is sound).
type AuditReport struct {
	Accounts  int64    `json:"accounts"`
	Transfers int64    `json:"transfers"`
	Orders    int64    `json:"orders"`
	TopUps    int64    `json:"topups"`   // sum of all top-ups, minor units
	Held      int64    `json:"held"`     // sum of payer and merchant balances
	Problems  []string `json:"problems"` // empty when the ledger is sound
}

// OK reports whether the audit found nothing wrong.
func (r AuditReport) OK() bool { return len(r.Problems) == 0 }

// Audit proves the ledger, in one consistent snapshot: all balances sum to
// zero; payers' and merchants' balances sum to the top-ups; every account's
// balance equals the sum of its transfer legs; every paid order was charged
// its amount once and refunded what it says; no code (key id, counter) paid
// twice.
func (s *Service) Audit(ctx context.Context) (AuditReport, error) {
	var r AuditReport
	tx, err := s.st.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return r, fmt.Errorf("storage: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	bad := func(format string, args ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, args...)) }
	one := func(q string, dest ...any) error {
		if err := tx.QueryRowContext(ctx, q).Scan(dest...); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		return nil
	}
	var total int64
	if err := one("SELECT COUNT(*), COALESCE(SUM(balance), 0) FROM accounts", &r.Accounts, &total); err != nil {
		return r, err
	}
	if err := one("SELECT COUNT(*) FROM transfers", &r.Transfers); err != nil {
		return r, err
	}
	if err := one("SELECT COUNT(*) FROM orders", &r.Orders); err != nil {
		return r, err
	}
	if err := one("SELECT COALESCE(SUM(amount), 0) FROM transfers WHERE kind = 'topup'", &r.TopUps); err != nil {
		return r, err
	}
	if err := one("SELECT COALESCE(SUM(balance), 0) FROM accounts WHERE kind IN ('payer', 'merchant')", &r.Held); err != nil {
		return r, err
	}
	if total != 0 {
		bad("the balances of all accounts sum to %d, not 0", total)
	}
	if r.Held != r.TopUps {
		bad("payers and merchants hold %d, but top-ups total %d", r.Held, r.TopUps)
	}
	type check struct {
		query string
		scan  func(*sql.Rows) error
	}
	checks := []check{
		{`SELECT a.id, a.kind, a.owner, a.balance, COALESCE(c.s, 0) - COALESCE(d.s, 0)
			FROM accounts a
			LEFT JOIN (SELECT credit AS acc, SUM(amount) AS s FROM transfers GROUP BY credit) c ON c.acc = a.id
			LEFT JOIN (SELECT debit AS acc, SUM(amount) AS s FROM transfers GROUP BY debit) d ON d.acc = a.id
			WHERE a.balance <> COALESCE(c.s, 0) - COALESCE(d.s, 0)`,
			func(rows *sql.Rows) error {
				var id, bal, sum int64
				var kind, owner string
				if err := rows.Scan(&id, &kind, &owner, &bal, &sum); err != nil {
					return err
				}
				bad("account %d (%s %s) has balance %d but its entries sum to %d", id, kind, owner, bal, sum)
				return nil
			}},
		{`SELECT COUNT(*) FROM transfers t WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.debit)
			OR NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.credit) OR t.amount <= 0 OR t.debit = t.credit
			HAVING COUNT(*) > 0`,
			func(rows *sql.Rows) error {
				var n int64
				if err := rows.Scan(&n); err != nil {
					return err
				}
				bad("%d transfers lack an account, have a non-positive amount or debit and credit the same account", n)
				return nil
			}},
		{`SELECT o.key_id, o.counter, COUNT(*) FROM orders o
			JOIN transfers t ON t.order_id = o.id AND t.kind = 'payment'
			GROUP BY o.key_id, o.counter HAVING COUNT(*) > 1`,
			func(rows *sql.Rows) error {
				var key, counter, n int64
				if err := rows.Scan(&key, &counter, &n); err != nil {
					return err
				}
				bad("code key %07d counter %d paid %d times", key, counter, n)
				return nil
			}},
		{`SELECT o.merchant, o.merchant_order, o.status, o.amount, o.refunded,
				COALESCE(p.s, 0), COALESCE(r.s, 0)
			FROM orders o
			LEFT JOIN (SELECT order_id, SUM(amount) AS s FROM transfers WHERE kind = 'payment' GROUP BY order_id) p ON p.order_id = o.id
			LEFT JOIN (SELECT order_id, SUM(amount) AS s FROM transfers WHERE kind = 'refund' GROUP BY order_id) r ON r.order_id = o.id
			WHERE COALESCE(p.s, 0) <> CASE WHEN o.status IN ('paid', 'partially_refunded', 'refunded')
					OR (o.status = 'cancelled' AND o.refunded > 0) THEN o.amount ELSE 0 END
				OR COALESCE(r.s, 0) <> o.refunded OR o.refunded > o.amount`,
			func(rows *sql.Rows) error {
				var merchant, mo, status string
				var amount, refunded, paid, back int64
				if err := rows.Scan(&merchant, &mo, &status, &amount, &refunded, &paid, &back); err != nil {
					return err
				}
				bad("order %s/%s (%s, amount %d, refunded %d) has payments of %d and refunds of %d",
					merchant, mo, status, amount, refunded, paid, back)
				return nil
			}},
	}
	for _, c := range checks {
		rows, err := tx.QueryContext(ctx, c.query)
		if err != nil {
			return r, fmt.Errorf("audit: %w", err)
		}
		for rows.Next() {
			if err := c.scan(rows); err != nil {
				rows.Close()
				return r, fmt.Errorf("audit: %w", err)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return r, fmt.Errorf("audit: %w", err)
		}
	}
	return r, s.w.settle(ctx)
}
