package backend

import (
	"fmt"
	"slices"
	"strings"
)

// Deferred writes. A payment's used code, its transfer, the balance changes
// of its two accounts and its notification are not written one statement at
// a time:
// the payment operation records them in the transaction (txn.book,
// txn.notify) and the writer writes all of a group's at once, with a few
// multi-row statements, before the group commits, or earlier, before an
// operation that is not a payment runs. So every committed state holds all
// of them, and every other operation sees them written. The merchant is
// credited once per group with the sum of its payments; each payment keeps
// its own transfer row, so the ledger stays double-entry and per order.
//
// Payment operations read balances through txn.pendingDelta, which adds
// what is booked but not yet written, and used codes through txn.codeUsed.

// deferredTransfer is a transfer booked but not yet written.
type deferredTransfer struct {
	debit, credit, amount int64
	kind                  string
	order                 any
	at                    int64
}

// deferredNote is an outbox row not yet written.
type deferredNote struct {
	payer   string
	body    string
	at      int64
	webhook bool // the payer has a webhook
}

// deferred holds a group's deferred writes.
type deferred struct {
	transfers []deferredTransfer
	notes     []deferredNote
	codes     []usedCode
	delta     map[int64]int64       // account → balance change not yet written
	used      map[usedCode]struct{} // the codes, to look up
}

// usedCode is a code presented to the backend: its key id and counter.
type usedCode struct {
	key     int64
	counter int64
	at      int64 // when (not part of the identity: always 0 in used)
}

// mark is a position in the deferred writes, to undo an operation's.
type mark struct{ transfers, notes, codes int }

func (d *deferred) mark() mark { return mark{len(d.transfers), len(d.notes), len(d.codes)} }

// undo drops what was booked after m.
func (d *deferred) undo(m mark) {
	if d.mark() == m {
		return
	}
	for _, c := range d.codes[m.codes:] {
		delete(d.used, usedCode{key: c.key, counter: c.counter})
	}
	d.transfers = d.transfers[:m.transfers]
	d.notes = d.notes[:m.notes]
	d.codes = d.codes[:m.codes]
	clear(d.delta)
	for _, tr := range d.transfers {
		d.delta[tr.debit] -= tr.amount
		d.delta[tr.credit] += tr.amount
	}
}

func (d *deferred) reset() {
	d.transfers = d.transfers[:0]
	d.notes = d.notes[:0]
	d.codes = d.codes[:0]
	clear(d.delta)
	clear(d.used)
}

func (d *deferred) empty() bool {
	return len(d.transfers) == 0 && len(d.notes) == 0 && len(d.codes) == 0
}

// useCode records a code as used, to be written before the group commits.
func (t *txn) useCode(key, counter, at int64) {
	d := &t.w.def
	d.codes = append(d.codes, usedCode{key, counter, at})
	d.used[usedCode{key: key, counter: counter}] = struct{}{}
}

// codeUsed tells whether the group used the code before (not yet written).
func (t *txn) codeUsed(key, counter int64) bool {
	_, ok := t.w.def.used[usedCode{key: key, counter: counter}]
	return ok
}

// book records a transfer to be written before the group commits.
func (t *txn) book(debit, credit, amount int64, kind string, order any, at int64) {
	d := &t.w.def
	d.transfers = append(d.transfers, deferredTransfer{debit, credit, amount, kind, order, at})
	d.delta[debit] -= amount
	d.delta[credit] += amount
}

// notify records an outbox row to be written before the group commits;
// webhook tells whether the payer has a webhook to post it to.
func (t *txn) notify(payer, body string, at int64, webhook bool) {
	t.w.def.notes = append(t.w.def.notes, deferredNote{payer, body, at, webhook})
}

// pendingDelta is the balance change of account booked but not yet written.
func (t *txn) pendingDelta(account int64) int64 { return t.w.def.delta[account] }

// chunkSizes are the row counts of the multi-row statements: a group's
// rows are written in chunks of 64, 16, 4 and 1 so that few statements are
// prepared (64 rows of 6 values stay far below SQLite's variable limit).
var chunkSizes = []int{64, 16, 4, 1}

// chunks calls f for consecutive pieces of n rows.
func chunks(n int, f func(lo, hi int) error) error {
	lo := 0
	for _, size := range chunkSizes {
		for n-lo >= size {
			if err := f(lo, lo+size); err != nil {
				return err
			}
			lo += size
		}
	}
	return nil
}

// multiRow builds "prefix (?, …), (?, …)…" for rows rows of cols values.
func multiRow(prefix string, rows, cols int, suffix string) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	var b strings.Builder
	b.WriteString(prefix)
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	b.WriteString(suffix)
	return b.String()
}

// flush writes the deferred writes: used codes, transfers, then the
// balance changes (one statement per account), then the notifications.
func (t *txn) flush() error {
	d := &t.w.def
	if d.empty() {
		return nil
	}
	err := chunks(len(d.codes), func(lo, hi int) error {
		q := t.w.multiQuery("used_codes", hi-lo, func(n int) string {
			return multiRow("INSERT INTO used_codes(key_id, counter, at) VALUES ", n, 3, "")
		})
		// Values through pointers into the group's slices, on the heap:
		// nothing is copied to box it (see sqliteconn's bind).
		args := make([]any, 0, 3*(hi-lo))
		for i := lo; i < hi; i++ {
			c := &d.codes[i]
			args = append(args, &c.key, &c.counter, &c.at)
		}
		_, err := t.exec(q, args...)
		return err
	})
	if err != nil {
		return err
	}
	err = chunks(len(d.transfers), func(lo, hi int) error {
		q := t.w.multiQuery("transfers", hi-lo, func(n int) string {
			return multiRow("INSERT INTO transfers(debit, credit, amount, kind, order_id, created) VALUES ", n, 6, "")
		})
		args := make([]any, 0, 6*(hi-lo))
		for i := lo; i < hi; i++ {
			tr := &d.transfers[i]
			args = append(args, &tr.debit, &tr.credit, &tr.amount, &tr.kind, tr.order, &tr.at)
		}
		_, err := t.exec(q, args...)
		return err
	})
	if err != nil {
		return err
	}
	accs := make([]int64, 0, len(d.delta))
	for acc, v := range d.delta {
		if v != 0 {
			accs = append(accs, acc)
		}
	}
	slices.Sort(accs)
	// One UPDATE by rowid per account: cheaper in SQLite than one
	// statement joining a list of values, which builds a temporary table.
	for _, acc := range accs {
		res, err := t.exec("UPDATE accounts SET balance = balance + ? WHERE id = ?", d.delta[acc], acc)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("storage: account %d not updated (%w)", acc, err)
		}
	}
	err = chunks(len(d.notes), func(lo, hi int) error {
		q := t.w.multiQuery("outbox", hi-lo, func(n int) string {
			return multiRow("INSERT INTO outbox(payer, body, created, hook_done) VALUES ", n, 4, "")
		})
		args := make([]any, 0, 4*(hi-lo))
		for i := lo; i < hi; i++ {
			nt := &d.notes[i]
			args = append(args, &nt.payer, &nt.body, &nt.at, !nt.webhook)
		}
		_, err := t.exec(q, args...)
		return err
	})
	if err != nil {
		return err
	}
	d.reset()
	return nil
}

// multiQuery returns the text of a multi-row statement, built once.
func (w *writer) multiQuery(table string, rows int, build func(int) string) string {
	key := multiKey{table, rows}
	q, ok := w.multi[key]
	if !ok {
		q = build(rows)
		w.multi[key] = q
	}
	return q
}

type multiKey struct {
	table string
	rows  int
}
