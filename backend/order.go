package backend

import (
	"database/sql"
	"encoding/base32"
	"fmt"
	"math"
	"time"

	"tillpay/backend/api"
	"tillpay/money"
)

var base32NoPad = base32.StdEncoding.WithPadding(base32.NoPadding)

// orderRow is an order as stored.
type orderRow struct {
	id         int64
	merchant   string
	mo         string
	terminal   string
	codeHash   []byte
	codeMasked string
	amount     int64
	currency   string
	status     string
	reason     string
	message    string
	payer      string
	keyID      sql.NullInt64
	counter    sql.NullInt64
	offline    bool
	scanTime   int64
	created    int64
	updated    int64
	expires    sql.NullInt64
	refunded   int64
}

const orderCols = `id, merchant, merchant_order, terminal, code_hash, code_masked, amount, currency,
	status, reason, message, payer, key_id, counter, offline, scan_time, created, updated, expires, refunded`

type scanner interface{ Scan(dest ...any) error }

func scanOrder(r scanner) (*orderRow, error) {
	o := &orderRow{}
	err := r.Scan(&o.id, &o.merchant, &o.mo, &o.terminal, &o.codeHash, &o.codeMasked, &o.amount, &o.currency,
		&o.status, &o.reason, &o.message, &o.payer, &o.keyID, &o.counter, &o.offline, &o.scanTime,
		&o.created, &o.updated, &o.expires, &o.refunded)
	if err != nil {
		return nil, err
	}
	return o, nil
}

func insertOrder(t *txn, o *orderRow) error {
	// Every field through a pointer into o, which is on the heap: nothing
	// is copied to box it (see sqliteconn's bind).
	res, err := t.exec(`INSERT INTO orders(merchant, merchant_order, terminal, code_hash, code_masked, amount,
		currency, status, reason, message, payer, key_id, counter, offline, scan_time, created, updated, expires, refunded)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		&o.merchant, &o.mo, &o.terminal, &o.codeHash, &o.codeMasked, &o.amount, &o.currency, &o.status, &o.reason,
		&o.message, &o.payer, &o.keyID, &o.counter, &o.offline, &o.scanTime, &o.created, &o.updated,
		&o.expires, &o.refunded)
	if err != nil {
		return err
	}
	o.id, err = res.LastInsertId()
	return err
}

// saveOrder writes back the fields that change after creation.
func saveOrder(t *txn, o *orderRow) error {
	_, err := t.exec(`UPDATE orders SET status = ?, reason = ?, message = ?, updated = ?, expires = ?, refunded = ?
		WHERE id = ?`, o.status, o.reason, o.message, o.updated, o.expires, o.refunded, o.id)
	return err
}

// orderIn reads an order inside the writer; nil if there is none.
func orderIn(t *txn, merchant, mo string) (*orderRow, error) {
	o, err := scanOrder(rowOf{t, "SELECT " + orderCols + " FROM orders WHERE merchant = ? AND merchant_order = ?",
		[]any{merchant, mo}})
	if isNoRows(err) {
		return nil, nil
	}
	return o, err
}

func (o *orderRow) api() api.Order {
	a := api.Order{
		MerchantOrder: o.mo,
		Status:        o.status,
		Reason:        o.reason,
		Message:       o.message,
		Amount:        money.Amount{Minor: o.amount, Currency: o.currency},
		Refunded:      money.Amount{Minor: o.refunded, Currency: o.currency},
		Offline:       o.offline,
		ScanTime:      time.Unix(0, o.scanTime).UTC(),
		Created:       time.Unix(0, o.created).UTC(),
		Updated:       time.Unix(0, o.updated).UTC(),
	}
	// The payer is named only to a terminal that showed a right token: a
	// forged code's key id must not tell whose it is.
	if o.counter.Valid {
		a.PayerID = o.payer
	}
	if o.expires.Valid {
		e := time.Unix(0, o.expires.Int64).UTC()
		a.Expires = &e
	}
	return a
}

// waitingExpired reports whether o waits for its payer past its timeout.
func (o *orderRow) waitingExpired(now time.Time) bool {
	return o.status == api.StatusWaitingPayer && o.expires.Valid && o.expires.Int64 <= now.UnixNano()
}

// decline sets a declined or cancelled outcome with its sentence.
func (o *orderRow) setOutcome(status, reason string) {
	o.status, o.reason, o.message = status, reason, Message(reason)
	if reason == "" {
		o.message = statusMessage(status)
	}
}

// Message is the sentence a cashier reads for a reason code.
func Message(reason string) string {
	switch reason {
	case api.ReasonInsufficientBalance:
		return "The payer's balance is too low"
	case api.ReasonCodeExpired:
		return "This code has expired; ask the payer to refresh it"
	case api.ReasonCodeUsed:
		return "This code was already used"
	case api.ReasonCodeInvalid:
		return "This code is not valid"
	case api.ReasonCodeMalformed:
		return "This is not a tillpay payment code"
	case api.ReasonForeignCode:
		return "This payment code belongs to another provider"
	case api.ReasonUnknownPayer:
		return "This code belongs to no active wallet; ask the payer to refresh it"
	case api.ReasonThrottled:
		return "Too many wrong codes for this payer; try again later"
	case api.ReasonPayerDeclined:
		return "The payer declined the payment"
	case api.ReasonPayerTimeout:
		return "The payer did not confirm the payment in time"
	case api.ReasonOfflineWindow:
		return "This offline payment was uploaded too late to be charged"
	case api.ReasonScanTimeFuture:
		return "The scan time of this offline payment lies in the future"
	case api.ReasonRecordSignature:
		return "The stored record of this payment was altered or not signed by this terminal"
	case api.ReasonConfirmationNeeded:
		return "This amount needs the payer's confirmation, which an offline payment cannot get"
	case api.ReasonCancelled:
		return "The merchant cancelled the payment"
	case api.ReasonOrderConflict:
		return "The merchant order number was already used for another payment"
	}
	return ""
}

func statusMessage(status string) string {
	switch status {
	case api.StatusPaid:
		return "Paid"
	case api.StatusWaitingPayer:
		return "Waiting for the payer to confirm in the wallet"
	case api.StatusRefunded:
		return "Refunded in full"
	case api.StatusPartRefunded:
		return "Partly refunded"
	}
	return ""
}

func throttledMessage(left time.Duration) string {
	return "Too many wrong codes for this payer; try again in " + minutesText(left)
}

// minutesText is a wait in whole minutes, rounded up: "1 minute", "3
// minutes".
func minutesText(left time.Duration) string {
	n := int(math.Ceil(left.Minutes()))
	if n <= 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", n)
}
