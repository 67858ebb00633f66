package journal

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"tillpay/backend/api"
	"tillpay/money"
	"tillpay/paycode"
)

// MaxCodeLen is the longest payment code the journal takes.
const MaxCodeLen = 128

// NewPayment is what the till knows of a payment when it writes it, before
// sending it.
type NewPayment struct {
	Amount    money.Amount
	Code      string // the payment code as scanned
	Device    string // the scanner that read it
	Symbology string // such as "]Q1"
	// ScanTime is when the code was scanned, on the backend's clock as the
	// till estimates it; the backend checks offline codes against it.
	ScanTime time.Time
	// ScanLocal is the same moment on the till's clock; the journal's clock
	// when zero.
	ScanLocal time.Time
	// Mode is ModeOnline (the record starts in sending) or ModeOffline (it
	// starts in queued).
	Mode Mode
}

// Payment is a payment record of the journal.
type Payment struct {
	Order     string
	Amount    money.Amount
	Refunded  money.Amount // refunded so far (same currency)
	Code      string       // full while the payment may still be sent, masked once final
	Device    string
	Symbology string
	ScanTime  time.Time // backend clock (the till's estimate)
	ScanLocal time.Time // till clock
	Mode      Mode
	RecordSig string // api.RecordSignature over PayRequest
	State     State
	Reason    string // an api.Reason* code, or a local one
	Message   string // the reason in a sentence
	// BackendStatus is the backend's last reported status (api.Status*).
	BackendStatus string
	Attempts      int    // sends and uploads begun
	LastError     string // the last transport error
	Created       time.Time
	Updated       time.Time
	Settled       time.Time // when it became paid or settled; zero if not
	Acknowledged  time.Time // when the merchant acknowledged a late decline; zero if not
}

// CodeMasked reports whether the full code has been erased.
func (p Payment) CodeMasked() bool { return strings.HasPrefix(p.Code, "*") }

const paymentCols = `order_no, amount_minor, currency, refunded_minor, code, device, symbology,
	scan_time, scan_local, mode, record_sig, seal, state, reason, message, backend_status,
	attempts, last_error, created, updated, settled, acknowledged`

type scanner interface{ Scan(dest ...any) error }

func scanPayment(s scanner) (Payment, string, error) {
	var (
		p                     Payment
		refunded, scan, local int64
		created, updated      int64
		settled, ack          sql.NullInt64
		seal                  string
		mode, state           string
	)
	err := s.Scan(&p.Order, &p.Amount.Minor, &p.Amount.Currency, &refunded, &p.Code, &p.Device, &p.Symbology,
		&scan, &local, &mode, &p.RecordSig, &seal, &state, &p.Reason, &p.Message, &p.BackendStatus,
		&p.Attempts, &p.LastError, &created, &updated, &settled, &ack)
	if err != nil {
		return Payment{}, "", err
	}
	p.Refunded = money.Amount{Minor: refunded, Currency: p.Amount.Currency}
	p.ScanTime = fromNanos(scan)
	p.ScanLocal = fromNanos(local)
	p.Mode = Mode(mode)
	p.State = State(state)
	p.Created = fromNanos(created)
	p.Updated = fromNanos(updated)
	if settled.Valid {
		p.Settled = fromNanos(settled.Int64)
	}
	if ack.Valid {
		p.Acknowledged = fromNanos(ack.Int64)
	}
	return p, seal, nil
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// timeRange bounds times to what unix nanoseconds hold, with room.
var (
	minTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

func checkTime(what string, t time.Time) error {
	if t.Before(minTime) || !t.Before(maxTime) {
		return fmt.Errorf("%w: %s %s is out of range", ErrInvalid, what, t.Format(time.RFC3339))
	}
	return nil
}

func checkCode(code string) error {
	if code == "" || len(code) > MaxCodeLen {
		return fmt.Errorf("%w: payment code must have 1 to %d characters", ErrInvalid, MaxCodeLen)
	}
	if strings.HasPrefix(code, "*") {
		return fmt.Errorf("%w: payment code is masked", ErrInvalid)
	}
	if !utf8.ValidString(code) {
		return fmt.Errorf("%w: payment code is not valid text", ErrInvalid)
	}
	for _, r := range code {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: payment code holds a control character", ErrInvalid)
		}
	}
	return nil
}

// seal signs the fields of a record that outlive the erasure of its code, so
// that a final record edited in the file is found too.
func (j *Journal) seal(order string, a money.Amount, code string, scan time.Time) string {
	mac := hmac.New(sha256.New, j.key)
	fmt.Fprintf(mac, "tillpay-journal-seal-v1\n%s\n%d\n%s\n%s\n%d",
		order, a.Minor, a.Currency, paycode.Mask(code), scan.UnixNano())
	return hex.EncodeToString(mac.Sum(nil))
}

// request is the api.PayRequest a record stands for.
func request(p Payment) api.PayRequest {
	return api.PayRequest{
		MerchantOrder: p.Order,
		Code:          p.Code,
		Amount:        p.Amount,
		ScanTime:      p.ScanTime,
		Offline:       p.Mode == ModeOffline,
		RecordSig:     p.RecordSig,
	}
}

// verify checks a record's seal and, while its code is kept, its record
// signature.
func (j *Journal) verify(p Payment, seal string) error {
	if !hmac.Equal([]byte(seal), []byte(j.seal(p.Order, p.Amount, p.Code, p.ScanTime))) {
		return fmt.Errorf("%w: order %s: its seal does not match its amount, code or scan time", ErrTampered, p.Order)
	}
	if !p.CodeMasked() && !api.VerifyRecordSignature(j.key, request(p)) {
		return fmt.Errorf("%w: order %s: its record signature does not match", ErrTampered, p.Order)
	}
	return nil
}

// Create writes a new payment, with a new order number, before it is sent:
// in state sending (ModeOnline) or queued (ModeOffline). When Create returns
// nil the record is on disk.
func (j *Journal) Create(ctx context.Context, np NewPayment) (Payment, error) {
	return j.create(ctx, np, 0)
}

// CreateAndBeginSend writes a new online payment as Create does and counts
// its first send in the same transaction (one disk sync instead of two),
// returning the request to send. Re-sends go through BeginSend.
func (j *Journal) CreateAndBeginSend(ctx context.Context, np NewPayment) (Payment, api.PayRequest, error) {
	if np.Mode != ModeOnline {
		return Payment{}, api.PayRequest{}, fmt.Errorf("%w: only an online payment is sent at once", ErrInvalid)
	}
	p, err := j.create(ctx, np, 1)
	if err != nil {
		return Payment{}, api.PayRequest{}, err
	}
	return p, request(p), nil
}

func (j *Journal) create(ctx context.Context, np NewPayment, attempts int) (Payment, error) {
	if err := np.Amount.CheckPayable(); err != nil {
		return Payment{}, fmt.Errorf("%w: amount: %w", ErrInvalid, err)
	}
	if c, _ := money.LookupCurrency(np.Amount.Currency); c.Code != np.Amount.Currency {
		return Payment{}, fmt.Errorf("%w: currency %q must be an upper-case ISO code", ErrInvalid, np.Amount.Currency)
	}
	if err := checkCode(np.Code); err != nil {
		return Payment{}, err
	}
	state := StateSending
	switch np.Mode {
	case ModeOnline:
	case ModeOffline:
		state = StateQueued
	default:
		return Payment{}, fmt.Errorf("%w: mode %q", ErrInvalid, np.Mode)
	}
	if len(np.Device) > 256 || len(np.Symbology) > 16 {
		return Payment{}, fmt.Errorf("%w: device or symbology too long", ErrInvalid)
	}
	now := j.now()
	local := np.ScanLocal
	if local.IsZero() {
		local = now
	}
	if err := checkTime("scan time", np.ScanTime); err != nil {
		return Payment{}, err
	}
	if err := checkTime("local scan time", local); err != nil {
		return Payment{}, err
	}
	if err := checkTime("clock", now); err != nil {
		return Payment{}, err
	}
	p := Payment{
		Amount:    np.Amount,
		Refunded:  money.Amount{Currency: np.Amount.Currency},
		Code:      np.Code,
		Device:    np.Device,
		Symbology: np.Symbology,
		ScanTime:  fromNanos(np.ScanTime.UnixNano()),
		ScanLocal: fromNanos(local.UnixNano()),
		Mode:      np.Mode,
		State:     state,
		Created:   fromNanos(now.UnixNano()),
		Updated:   fromNanos(now.UnixNano()),
	}
	err := j.tx(ctx, "written", func(tx *sql.Tx) error {
		order, err := j.nextOrder(ctx, tx, now)
		if err != nil {
			return err
		}
		p.Order = order
		p.RecordSig = api.RecordSignature(j.key, request(p))
		p.Attempts = attempts
		_, err = tx.ExecContext(ctx, `INSERT INTO payments (order_no, amount_minor, currency, code, device, symbology,
			scan_time, scan_local, mode, record_sig, seal, state, attempts, created, updated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.Order, p.Amount.Minor, p.Amount.Currency, p.Code, p.Device, p.Symbology,
			p.ScanTime.UnixNano(), p.ScanLocal.UnixNano(), string(p.Mode), p.RecordSig,
			j.seal(p.Order, p.Amount, p.Code, p.ScanTime), string(p.State), attempts, now.UnixNano(), now.UnixNano())
		if err != nil {
			return err
		}
		return addEvent(ctx, tx, p.Order, "", "", p.State, "created "+string(p.Mode), now)
	})
	if err != nil {
		return Payment{}, err
	}
	return p, nil
}

// nextOrder moves the order counter and returns the next order number. The
// day never goes back (a clock stepped back keeps the latest day used).
func (j *Journal) nextOrder(ctx context.Context, tx *sql.Tx, now time.Time) (string, error) {
	var day string
	var seq int
	if err := tx.QueryRowContext(ctx, "SELECT order_day, order_seq FROM terminal WHERE id = 1").Scan(&day, &seq); err != nil {
		return "", err
	}
	if today := now.In(j.loc).Format(dayLayout); today > day {
		day, seq = today, 0
	}
	seq++
	if seq > MaxDaySeq {
		d, err := time.Parse(dayLayout, day)
		if err != nil {
			return "", fmt.Errorf("order counter day %q: %w", day, err)
		}
		day, seq = d.AddDate(0, 0, 1).Format(dayLayout), 1
	}
	if _, err := tx.ExecContext(ctx, "UPDATE terminal SET order_day = ?, order_seq = ? WHERE id = 1", day, seq); err != nil {
		return "", err
	}
	return OrderNumber{Terminal: j.terminal, Day: day, Seq: seq}.String(), nil
}

func addEvent(ctx context.Context, tx *sql.Tx, order, refund string, from, to State, reason string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO events (order_no, refund_no, from_state, to_state, reason, time)
		VALUES (?, ?, ?, ?, ?, ?)`, order, refund, string(from), string(to), reason, now.UnixNano())
	return err
}

// Get returns the payment with the order number, or ErrNotFound.
func (j *Journal) Get(ctx context.Context, order string) (Payment, error) {
	row := j.r.QueryRowContext(ctx, "SELECT "+paymentCols+" FROM payments WHERE order_no = ?", order)
	p, _, err := scanPayment(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Payment{}, fmt.Errorf("%w: order %s", ErrNotFound, order)
	}
	if err != nil {
		return Payment{}, j.fail("read", err)
	}
	return p, nil
}

func getTx(ctx context.Context, tx *sql.Tx, order string) (Payment, string, error) {
	row := tx.QueryRowContext(ctx, "SELECT "+paymentCols+" FROM payments WHERE order_no = ?", order)
	p, seal, err := scanPayment(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Payment{}, "", fmt.Errorf("%w: order %s", ErrNotFound, order)
	}
	return p, seal, err
}

// PayRequest returns the request to send (or re-send) for a payment: always
// the same bytes for the same record, with its record signature. It checks
// the record's signature and seal first and returns ErrTampered if the file
// was edited, and ErrCodeErased once the payment is final.
func (j *Journal) PayRequest(ctx context.Context, order string) (api.PayRequest, error) {
	row := j.r.QueryRowContext(ctx, "SELECT "+paymentCols+" FROM payments WHERE order_no = ?", order)
	p, seal, err := scanPayment(row)
	if errors.Is(err, sql.ErrNoRows) {
		return api.PayRequest{}, fmt.Errorf("%w: order %s", ErrNotFound, order)
	}
	if err != nil {
		return api.PayRequest{}, j.fail("read", err)
	}
	return j.requestOf(p, seal)
}

func (j *Journal) requestOf(p Payment, seal string) (api.PayRequest, error) {
	if err := j.verify(p, seal); err != nil {
		j.log.Error("payment journal record refused", "order", p.Order, "err", err)
		return api.PayRequest{}, err
	}
	if p.CodeMasked() {
		return api.PayRequest{}, fmt.Errorf("%w: order %s is %s", ErrCodeErased, p.Order, p.State)
	}
	return request(p), nil
}

// Change is a state change of a payment.
type Change struct {
	To            State
	Reason        string // an api.Reason* code or a local one
	Message       string // the reason in a sentence
	BackendStatus string // the backend's status, when the change follows an answer
	Error         string // the transport error that led here, if any
	// Refunded, when set, is the total refunded so far (backend's figure).
	Refunded *money.Amount
}

// Transition moves a payment to ch.To in one transaction, appending an
// event. It refuses moves the machine does not allow (ErrIllegalTransition)
// and changes nothing then. Entering a final state erases the full code.
func (j *Journal) Transition(ctx context.Context, order string, ch Change) (Payment, error) {
	var p Payment
	err := j.tx(ctx, "written", func(tx *sql.Tx) error {
		cur, _, err := getTx(ctx, tx, order)
		if err != nil {
			return err
		}
		p, err = j.move(ctx, tx, cur, ch)
		return err
	})
	return p, err
}

// move applies ch to p inside tx.
func (j *Journal) move(ctx context.Context, tx *sql.Tx, p Payment, ch Change) (Payment, error) {
	if err := checkMove(p.State, ch.To, p.Mode); err != nil {
		return Payment{}, fmt.Errorf("order %s: %w", p.Order, err)
	}
	if ch.Refunded != nil {
		r := *ch.Refunded
		if r.Currency != p.Amount.Currency || r.Minor < 0 || r.Minor > p.Amount.Minor {
			return Payment{}, fmt.Errorf("%w: order %s: refunded %s of %s", ErrMismatch, p.Order, r, p.Amount)
		}
		p.Refunded = r
	}
	now := j.now()
	from := p.State
	p.State = ch.To
	if ch.To == StateQueued && (from == StateSending || from == StateUnknown) {
		// The request never left, or got no answer: it is uploaded later
		// under the same order number (a repeat gets the first answer).
		p.Mode = ModeOffline
	}
	if ch.Reason != "" || ch.Message != "" {
		p.Reason, p.Message = ch.Reason, ch.Message
	}
	if ch.BackendStatus != "" {
		p.BackendStatus = ch.BackendStatus
	}
	if ch.Error != "" {
		p.LastError = ch.Error
	}
	if (ch.To == StatePaid || ch.To == StateSettled) && p.Settled.IsZero() {
		p.Settled = fromNanos(now.UnixNano())
	}
	if ch.To.Final() && !p.CodeMasked() {
		p.Code = paycode.Mask(p.Code)
	}
	p.Updated = fromNanos(now.UnixNano())
	var settled any
	if !p.Settled.IsZero() {
		settled = p.Settled.UnixNano()
	}
	_, err := tx.ExecContext(ctx, `UPDATE payments SET state = ?, mode = ?, code = ?, reason = ?, message = ?,
		backend_status = ?, last_error = ?, refunded_minor = ?, settled = ?, updated = ? WHERE order_no = ?`,
		string(p.State), string(p.Mode), p.Code, p.Reason, p.Message, p.BackendStatus, p.LastError,
		p.Refunded.Minor, settled, now.UnixNano(), p.Order)
	if err != nil {
		return Payment{}, err
	}
	why := ch.Reason
	if ch.Error != "" {
		why = strings.TrimSpace(why + " " + ch.Error)
	}
	if err := addEvent(ctx, tx, p.Order, "", from, p.State, why, now); err != nil {
		return Payment{}, err
	}
	return p, nil
}

// stateFor maps a backend status to the state of a payment of mode m.
func stateFor(status string, m Mode) (State, error) {
	switch status {
	case api.StatusPaid:
		if m == ModeOffline {
			return StateSettled, nil
		}
		return StatePaid, nil
	case api.StatusDeclined:
		if m == ModeOffline {
			return StateDeclinedLate, nil
		}
		return StateDeclined, nil
	case api.StatusWaitingPayer:
		return StateWaitingPayer, nil
	case api.StatusCancelled:
		return StateCancelled, nil
	case api.StatusRefunded:
		return StateRefunded, nil
	case api.StatusPartRefunded:
		return StatePartRefunded, nil
	}
	return "", fmt.Errorf("%w: unknown backend status %q", ErrMismatch, status)
}

// ApplyOrder records the backend's answer for a payment: its status becomes
// the record's state (paid → settled and declined → declined_late for an
// offline payment), with the reason, message and refunded amount. An answer
// for another order, amount or currency is refused with ErrMismatch. An
// answer that repeats the record's final state changes nothing.
func (j *Journal) ApplyOrder(ctx context.Context, order string, o api.Order) (Payment, error) {
	var p Payment
	err := j.tx(ctx, "written", func(tx *sql.Tx) error {
		var err error
		p, err = j.applyOrder(ctx, tx, order, o)
		return err
	})
	return p, err
}

// applyOrder is ApplyOrder inside tx. Its refusals (ErrMismatch,
// ErrIllegalTransition) come before any write.
func (j *Journal) applyOrder(ctx context.Context, tx *sql.Tx, order string, o api.Order) (Payment, error) {
	cur, _, err := getTx(ctx, tx, order)
	if err != nil {
		return Payment{}, err
	}
	if o.MerchantOrder != order || o.Amount != cur.Amount && !neverPaid(o) {
		return Payment{}, fmt.Errorf("%w: order %s (%s) answered as %s (%s)", ErrMismatch, order, cur.Amount, o.MerchantOrder, o.Amount)
	}
	to, err := stateFor(o.Status, cur.Mode)
	if err != nil {
		return Payment{}, err
	}
	ch := Change{To: to, Reason: o.Reason, Message: o.Message, BackendStatus: o.Status}
	if o.Refunded.Minor > 0 || o.Refunded.Currency == cur.Amount.Currency {
		r := o.Refunded
		if r.Currency == "" {
			r.Currency = cur.Amount.Currency
		}
		ch.Refunded = &r
	}
	if to == cur.State && to.Final() && to != StatePartRefunded {
		return cur, nil // a repeated answer
	}
	return j.move(ctx, tx, cur, ch)
}

// Answer is the backend's answer for one payment of an upload: the order
// it recorded, or its refusal of the request (which makes an offline
// payment a late decline).
type Answer struct {
	Order   string
	Result  *api.Order
	Refusal *api.ErrorBody
}

// ApplyAnswers records the answers to one batch upload in one transaction
// (one disk sync for the whole batch). Each answer stands alone: one that
// cannot be applied (an answer for another amount, say) gets its error in
// errs at its index, leaves its record as it was, and does not stop the
// others. A storage failure fails them all and changes nothing.
func (j *Journal) ApplyAnswers(ctx context.Context, answers []Answer) (ps []Payment, errs []error, err error) {
	err = j.tx(ctx, "written", func(tx *sql.Tx) error {
		ps, errs = make([]Payment, len(answers)), make([]error, len(answers))
		for i, a := range answers {
			var p Payment
			var aerr error
			switch {
			case a.Result != nil:
				p, aerr = j.applyOrder(ctx, tx, a.Order, *a.Result)
			case a.Refusal != nil:
				var cur Payment
				if cur, _, aerr = getTx(ctx, tx, a.Order); aerr == nil {
					p, aerr = j.move(ctx, tx, cur, Change{To: StateDeclinedLate, Reason: a.Refusal.Code,
						Message: "The payment backend refused this offline payment: " + a.Refusal.Message})
				}
			default:
				aerr = fmt.Errorf("%w: order %s: an empty answer", ErrMismatch, a.Order)
			}
			if aerr != nil {
				if !errors.Is(aerr, ErrMismatch) && !errors.Is(aerr, ErrIllegalTransition) && !errors.Is(aerr, ErrNotFound) {
					return aerr // storage: fail the batch
				}
				errs[i] = aerr
				continue
			}
			ps[i] = p
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return ps, errs, nil
}

// neverPaid reports whether o is the backend's record of an order number
// cancelled before any payment arrived under it (docs/api.md, cancel of a
// number never seen): it carries no amount, and closes a record of any
// amount, as when a till reverses a payment killed before it was sent.
func neverPaid(o api.Order) bool {
	return o.Status == api.StatusCancelled && o.Amount.Minor == 0 && o.Refunded.Minor == 0
}

// BeginSend is called just before a payment's request is sent or re-sent
// online (state sending, unknown or waiting_payer). It counts the attempt in
// the journal and returns the verified request.
func (j *Journal) BeginSend(ctx context.Context, order string) (api.PayRequest, error) {
	var req api.PayRequest
	err := j.tx(ctx, "written", func(tx *sql.Tx) error {
		p, seal, err := getTx(ctx, tx, order)
		if err != nil {
			return err
		}
		switch p.State {
		case StateSending, StateUnknown, StateWaitingPayer:
		default:
			return fmt.Errorf("%w: order %s is %s, not sendable", ErrIllegalTransition, order, p.State)
		}
		if req, err = j.requestOf(p, seal); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE payments SET attempts = attempts + 1, updated = ? WHERE order_no = ?", j.now().UnixNano(), order)
		return err
	})
	if err != nil {
		return api.PayRequest{}, err
	}
	return req, nil
}

// BeginForward moves up to limit queued payments, oldest first, to
// forwarding in one transaction, counts the attempt and returns their
// verified requests for one batch upload. A record that fails verification
// stays queued and is reported in tampered (its order numbers); the others
// go ahead.
func (j *Journal) BeginForward(ctx context.Context, limit int) (reqs []api.PayRequest, tampered []string, err error) {
	if limit <= 0 || limit > api.MaxBatch {
		limit = api.MaxBatch
	}
	err = j.tx(ctx, "written", func(tx *sql.Tx) error {
		reqs, tampered = nil, nil
		rows, err := tx.QueryContext(ctx, "SELECT "+paymentCols+" FROM payments WHERE state = ? ORDER BY id LIMIT ?", string(StateQueued), limit)
		if err != nil {
			return err
		}
		var ps []Payment
		var seals []string
		for rows.Next() {
			p, seal, err := scanPayment(rows)
			if err != nil {
				rows.Close()
				return err
			}
			ps, seals = append(ps, p), append(seals, seal)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for i, p := range ps {
			req, err := j.requestOf(p, seals[i])
			if err != nil {
				tampered = append(tampered, p.Order)
				continue
			}
			if _, err := j.move(ctx, tx, p, Change{To: StateForwarding}); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "UPDATE payments SET attempts = attempts + 1 WHERE order_no = ?", p.Order); err != nil {
				return err
			}
			reqs = append(reqs, req)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return reqs, tampered, nil
}

// SendFailed records that a send got no answer (the outcome is unknown):
// sending → unknown, forwarding → queued (to be uploaded again with the same
// bytes); unknown and waiting_payer keep their state. The error is kept as
// the record's last error.
func (j *Journal) SendFailed(ctx context.Context, order string, cause error) (Payment, error) {
	msg := "no answer"
	if cause != nil {
		msg = cause.Error()
	}
	if len(msg) > 500 {
		msg = msg[:500]
	}
	var p Payment
	err := j.tx(ctx, "written", func(tx *sql.Tx) error {
		cur, _, err := getTx(ctx, tx, order)
		if err != nil {
			return err
		}
		to := cur.State
		switch cur.State {
		case StateSending:
			to = StateUnknown
		case StateForwarding:
			to = StateQueued
		case StateUnknown, StateWaitingPayer:
		default:
			return fmt.Errorf("%w: order %s is %s, nothing was being sent", ErrIllegalTransition, order, cur.State)
		}
		p, err = j.move(ctx, tx, cur, Change{To: to, Error: msg})
		return err
	})
	return p, err
}

// NeverSent records that an online payment's request did not leave the till
// (the connection was refused before any byte was sent): sending → queued,
// and the payment becomes an offline one to upload later with the same order
// number.
func (j *Journal) NeverSent(ctx context.Context, order string, cause error) (Payment, error) {
	msg := ""
	if cause != nil {
		msg = cause.Error()
	}
	return j.Transition(ctx, order, Change{To: StateQueued, Reason: "offline", Error: msg})
}

func maskCode(code string) string { return paycode.Mask(code) }
