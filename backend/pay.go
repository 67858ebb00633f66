package backend

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"tillpay/backend/api"
	"tillpay/money"
	"tillpay/paycode"
)

// checkOrderNo validates a merchant order or refund number: 1–64 visible
// ASCII characters, and not "." or "..", which as a segment of an order's
// URL would name another path.
func checkOrderNo(what, s string) error {
	if s == "" || len(s) > 64 {
		return badRequest("%s must have 1 to 64 characters", what)
	}
	if s == "." || s == ".." {
		return badRequest("%s cannot be %q: it would not survive in an order's URL", what, s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return badRequest("%s may hold visible ASCII characters only (no spaces)", what)
		}
	}
	return nil
}

// checkAmount validates an amount to charge or refund.
func (s *Service) checkAmount(a money.Amount) error {
	if err := a.CheckPayable(); err != nil {
		return badRequest("amount: %v", err)
	}
	if a.Currency != s.cfg.currency {
		return badRequest("amount: this backend takes %s, not %s", s.cfg.currency, a.Currency)
	}
	return nil
}

// payPrep is a validated payment, ready for the writer, with its code
// verified if its enrolment was in the cache.
type payPrep struct {
	term     *Terminal // the terminal that sent it
	req      api.PayRequest
	code     paycode.Code
	codeHash []byte
	sigOK    bool // offline record signature matches
	ver      verification
	// late: the enrolment was not in the cache, so the writer verifies the
	// code at time at, with the enrolment its lookup reads.
	late bool
	at   time.Time
	// window: the counter the code has if it is valid at time at (see
	// paycode.Window), for the writer's lookup of used codes; inWindow is
	// false if it has none.
	window   paycode.Match
	inWindow bool
}

// verification is the outcome of checking a code against its enrolment.
type verification struct {
	enrolled bool // the key id names a current enrolment
	payer    string
	match    paycode.Match
	err      error // nil, paycode.ErrExpired or paycode.ErrInvalid
}

// validatePay checks a payment request's form: nothing here needs the
// database.
func (s *Service) validatePay(req api.PayRequest) (paycode.Code, error) {
	if err := checkOrderNo("merchant_order", req.MerchantOrder); err != nil {
		return paycode.Code{}, err
	}
	if err := s.checkAmount(req.Amount); err != nil {
		return paycode.Code{}, err
	}
	code, err := paycode.Parse(req.Code)
	if err != nil {
		var fe *paycode.ForeignError
		if errors.As(err, &fe) {
			return code, badRequest("code: this is %s payment code; this backend takes tillpay codes only", fe.Provider.WithArticle())
		}
		return code, badRequest("code: %v", err)
	}
	if req.Offline && req.ScanTime.IsZero() {
		return code, badRequest("scan_time: an offline payment needs the time it was scanned")
	}
	return code, nil
}

// verifyCached checks a code against its enrolment in the enrolment cache;
// ok is false if the enrolment is not there (the writer then checks it with
// the enrolment its lookup reads, see payOp). The seed is opened for this
// one check and not kept: AES-GCM on 32 bytes costs far less than the HMAC
// that follows, so a cache of plaintext seeds would save little and keep
// every payer's secret in memory.
func (s *Service) verifyCached(code paycode.Code, at time.Time) (v verification, ok bool, err error) {
	e, ok := s.enrols.get(int64(code.KeyID))
	if !ok {
		return verification{}, false, nil
	}
	v, err = s.checkToken(e, code, at)
	return v, true, err
}

// checkToken opens an enrolment's seed and checks the code's token.
func (s *Service) checkToken(e enrolEntry, code paycode.Code, at time.Time) (verification, error) {
	seed, err := s.seal.open(e.box, seedAD(int64(code.KeyID)))
	if err != nil {
		return verification{}, err
	}
	m, verr := paycode.Verify(seed, code, at)
	clear(seed)
	switch {
	case verr == nil, errors.Is(verr, paycode.ErrExpired), errors.Is(verr, paycode.ErrInvalid):
	default:
		return verification{}, verr
	}
	return verification{enrolled: true, payer: e.payer, match: m, err: verr}, nil
}

// seedAD is the associated data sealing a seed: "seed:" and the key id in
// at least 7 digits.
func seedAD(keyID int64) string {
	if keyID < 0 {
		return fmt.Sprintf("seed:%07d", keyID) // not a key id; kept for the same text
	}
	var b [32]byte
	out := append(b[:0], "seed:"...)
	for d := int64(1_000_000); d > 1 && keyID < d; d /= 10 {
		out = append(out, '0')
	}
	return string(strconv.AppendInt(out, keyID, 10))
}

// prepare validates a payment outside the writer, and verifies its code
// there too if the code's enrolment is in the cache. On a miss the writer
// verifies it with the enrolment that its lookup reads anyway: a read on a
// connection of its own would cost more than the check, since a reader's
// new snapshot under constant writes drops its page cache and file mapping.
func (s *Service) prepare(ctx context.Context, term *Terminal, req api.PayRequest) (*payPrep, error) {
	code, err := s.validatePay(req)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(req.Code))
	p := &payPrep{term: term, req: req, code: code, codeHash: sum[:]}
	// An offline record is checked at its scan time. One refused before
	// that time is trusted (its signature does not match, or the time is
	// outside the window) still presents its code, checked at the backend's
	// time: a code that is good now is used up with it.
	at := s.now()
	if req.Offline {
		p.sigOK = api.VerifyRecordSignature(term.key, req)
		if p.sigOK && s.offlineReason(req.ScanTime, at) == "" {
			at = req.ScanTime
		}
	}
	var ok bool
	if p.ver, ok, err = s.verifyCached(code, at); err != nil {
		return nil, err
	}
	p.late, p.at = !ok, at
	p.window, p.inWindow = paycode.Window(code, at)
	return p, nil
}

// offlineReason refuses a scan time in the future or outside the window.
func (s *Service) offlineReason(scan, now time.Time) string {
	switch {
	case scan.After(now.Add(s.cfg.futureTolerance)):
		return api.ReasonScanTimeFuture
	case scan.Before(now.Add(-s.cfg.offlineWindow)):
		return api.ReasonOfflineWindow
	}
	return ""
}

// checkOnlineScanTime refuses the scan time of an online payment if it is
// in the future or outside the offline window, as offlineReason declines
// an offline record's: nothing is stored and the code stays unused.
func (s *Service) checkOnlineScanTime(scan, now time.Time) error {
	switch s.offlineReason(scan, now) {
	case api.ReasonScanTimeFuture:
		return badRequest("scan_time: %s is later than the backend's time %s by more than %s",
			scan.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), s.cfg.futureTolerance)
	case api.ReasonOfflineWindow:
		return badRequest("scan_time: %s is older than the offline window (%s); a payment that waited that long cannot be taken",
			scan.UTC().Format(time.RFC3339), s.cfg.offlineWindow)
	}
	return nil
}

// payResult is what a payment operation gives back.
type payResult struct {
	order *orderRow
	fresh bool   // created now (not an idempotent repeat)
	err   *Error // the answer instead of an order, with the operation's writes kept
}

// Pay takes one payment from a terminal.
func (s *Service) Pay(ctx context.Context, term *Terminal, req api.PayRequest) (api.Order, error) {
	p, err := s.prepare(ctx, term, req)
	if err != nil {
		return api.Order{}, err
	}
	ops, err := s.w.doPay(ctx, func(t *txn) (any, error) { return s.payOp(t, p) })
	if err != nil {
		return api.Order{}, err
	}
	if ops[0].err != nil {
		return api.Order{}, ops[0].err
	}
	r := ops[0].res.(payResult)
	if r.err != nil {
		return api.Order{}, r.err
	}
	return s.finishPay(term, r), nil
}

func (s *Service) finishPay(term *Terminal, r payResult) api.Order {
	o := r.order
	if r.fresh {
		s.m.countPayment(o.status, o.reason)
		// Checked first: the call would build its attributes even for a
		// logger that drops them.
		if s.log.Enabled(context.Background(), slog.LevelInfo) {
			s.log.Info("payment", "terminal", term.ID, "merchant", term.Merchant, "order", o.mo,
				"code", o.codeMasked, "amount", o.amount, "currency", o.currency, "status", o.status,
				"reason", o.reason, "offline", o.offline)
		}
	}
	return o.api()
}

// PayBatch takes offline payments uploaded together: each is handled as if
// sent alone, in order, all in as few transactions as the writer needs.
func (s *Service) PayBatch(ctx context.Context, term *Terminal, reqs []api.PayRequest) ([]api.BatchResult, error) {
	if len(reqs) > api.MaxBatch {
		return nil, badRequest("a batch holds at most %d payments, not %d", api.MaxBatch, len(reqs))
	}
	out := make([]api.BatchResult, len(reqs))
	var fns []func(*txn) (any, error)
	var idx []int
	for i, req := range reqs {
		p, err := s.prepare(ctx, term, req)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				return nil, err
			}
			out[i].Error = &api.ErrorBody{Code: e.Code, Message: e.Message}
			continue
		}
		fns = append(fns, func(t *txn) (any, error) { return s.payOp(t, p) })
		idx = append(idx, i)
	}
	if len(fns) == 0 {
		return out, nil
	}
	ops, err := s.w.doPay(ctx, fns...)
	if err != nil {
		return nil, err
	}
	for j, op := range ops {
		i := idx[j]
		if op.err != nil {
			var e *Error
			if !errors.As(op.err, &e) || e.Status >= 500 {
				return nil, op.err
			}
			out[i].Error = &api.ErrorBody{Code: e.Code, Message: e.Message}
			continue
		}
		r := op.res.(payResult)
		if r.err != nil {
			out[i].Error = &api.ErrorBody{Code: r.err.Code, Message: r.err.Message}
			continue
		}
		o := s.finishPay(term, r)
		out[i].Order = &o
	}
	return out, nil
}

// payLookup is one statement that reads what a payment needs: whether its
// order exists (idempotency on merchant and merchant order), the code's
// current enrolment with its payer's account, and whether the code (key id
// and the counter of its window, see payPrep.window) was used. The one-row
// subquery keeps a row when none exists.
const payLookup = payLookupCols + payLookupFrom

// payLookupSeed is payLookup with the enrolment's sealed seed (the last
// column), for a code verified in the writer (payPrep.late).
const payLookupSeed = payLookupCols + ", e.seed_sealed" + payLookupFrom

const (
	payLookupCols = `SELECT o.id, e.payer, e.failures, e.locked_until, p.account, a.balance, p.free_limit, p.offline_credit,
	p.webhook <> '', u.key_id IS NOT NULL`
	payLookupFrom = `
	FROM (SELECT 1) x
	LEFT JOIN orders o ON o.merchant = ?1 AND o.merchant_order = ?2
	LEFT JOIN enrolments e ON e.key_id = ?3 AND e.revoked IS NULL
	LEFT JOIN payers p ON p.id = e.payer
	LEFT JOIN accounts a ON a.id = p.account
	LEFT JOIN used_codes u ON u.key_id = ?3 AND u.counter = ?4`
)

// payLooked is what payLookup reads, in its columns' order.
type payLooked struct {
	orderID                                     sql.NullInt64
	payer                                       sql.NullString
	failures, locked, acc, balance, limit, cred sql.NullInt64
	hook, used                                  sql.NullInt64
	seed                                        []byte // payLookupSeed only
}

// payOp decides and records a payment inside the writer's transaction.
func (s *Service) payOp(t *txn, p *payPrep) (any, error) {
	term := p.term
	now := s.now()
	req := p.req
	l := &payLooked{}
	into := []any{&l.orderID, &l.payer, &l.failures, &l.locked, &l.acc, &l.balance, &l.limit, &l.cred,
		&l.hook, &l.used, &l.seed}
	query, dest := payLookup, into[:10]
	if p.late {
		query, dest = payLookupSeed, into
	}
	window := int64(-1) // no counter is negative
	if p.inWindow {
		window = int64(p.window.Counter)
	}
	// Strings through pointers into values already on the heap: no copies
	// to box (see sqliteconn's bind).
	if err := t.row(query, []any{&term.Merchant, &p.req.MerchantOrder, int64(p.code.KeyID), window}, dest...); err != nil {
		return nil, err
	}
	acc, balance, limit, credit := l.acc, l.balance, l.limit, l.cred
	hook := l.hook.Int64 != 0
	// Idempotency on (merchant, merchant order).
	if l.orderID.Valid {
		old, err := orderIn(t, term.Merchant, req.MerchantOrder)
		if err != nil {
			return nil, err
		}
		if old == nil {
			return nil, fmt.Errorf("storage: order %d vanished", l.orderID.Int64)
		}
		if old.codeHash == nil {
			// Cancelled before any payment arrived: the order stays as it
			// is, but the code was presented, so it is used up all the same.
			pr, err := s.presentCode(t, p, l, now)
			if err != nil {
				return nil, err
			}
			if err := s.notifyUnpaid(t, p, l, pr, "cancelled", api.ReasonCancelled, now); err != nil {
				return nil, err
			}
			return payResult{order: old}, nil
		}
		if subtle.ConstantTimeCompare(old.codeHash, p.codeHash) != 1 ||
			old.amount != req.Amount.Minor || old.currency != req.Amount.Currency {
			// The code was presented all the same: it is used up, or its
			// wrong token counted, as anywhere else. Otherwise a reused
			// order number would let a terminal try tokens unthrottled.
			pr, err := s.presentCode(t, p, l, now)
			if err != nil {
				return nil, err
			}
			if err := s.notifyUnpaid(t, p, l, pr, "declined", api.ReasonOrderConflict, now); err != nil {
				return nil, err
			}
			return payResult{err: conflict("order %s exists with another code or amount; use a new merchant order number",
				req.MerchantOrder)}, nil
		}
		if old.waitingExpired(now) {
			if err := s.closeExpired(t, old, now); err != nil {
				return nil, err
			}
		}
		return payResult{order: old}, nil
	}
	scan := req.ScanTime
	if scan.IsZero() {
		scan = now
	} else if !req.Offline {
		// An online payment is checked at the backend's time, but its
		// order keeps the scan time: one that cannot be true is refused
		// (a new order only: a resend still gets its stored answer).
		if err := s.checkOnlineScanTime(scan, now); err != nil {
			return nil, err
		}
	}
	o := &orderRow{
		merchant: term.Merchant, mo: req.MerchantOrder, terminal: term.ID,
		codeHash: p.codeHash, codeMasked: paycode.Mask(req.Code),
		amount: req.Amount.Minor, currency: req.Amount.Currency,
		keyID:   sql.NullInt64{Int64: int64(p.code.KeyID), Valid: true},
		offline: req.Offline, scanTime: scan.UnixNano(), created: now.UnixNano(), updated: now.UnixNano(),
	}
	// A record refused before its scan time is trusted still presents its
	// code (checked at the backend's time, see prepare).
	refused := ""
	if req.Offline {
		if !p.sigOK {
			refused = api.ReasonRecordSignature
		} else {
			refused = s.offlineReason(req.ScanTime, now)
		}
	}
	pr, err := s.presentCode(t, p, l, now)
	if err != nil {
		return nil, err
	}
	o.payer, o.counter = pr.payer, pr.counter
	decline := func(reason, message string) (any, error) {
		o.setOutcome(api.StatusDeclined, reason)
		if message != "" {
			o.message = message
		}
		if err := insertOrder(t, o); err != nil {
			return nil, err
		}
		if err := s.notifyUnpaid(t, p, l, pr, "declined", reason, now); err != nil {
			return nil, err
		}
		return payResult{order: o, fresh: true}, nil
	}
	switch {
	case refused != "":
		return decline(refused, "")
	case pr.reason != "":
		return decline(pr.reason, pr.message)
	}
	// The code is good: look at the money, counting the payments of this
	// group booked but not yet written.
	if o.amount > limit.Int64 {
		if req.Offline {
			return decline(api.ReasonConfirmationNeeded, "")
		}
		o.setOutcome(api.StatusWaitingPayer, "")
		o.expires = sql.NullInt64{Int64: now.Add(s.cfg.confirmTimeout).UnixNano(), Valid: true}
		if err := insertOrder(t, o); err != nil {
			return nil, err
		}
		if err := s.notifyUnpaid(t, p, l, pr, "waiting", "", now); err != nil {
			return nil, err
		}
		return payResult{order: o, fresh: true}, nil
	}
	bal := balance.Int64 + t.pendingDelta(acc.Int64)
	avail := bal
	if req.Offline {
		avail += credit.Int64
	}
	if o.amount > avail {
		return decline(api.ReasonInsufficientBalance, "")
	}
	o.setOutcome(api.StatusPaid, "")
	if err := insertOrder(t, o); err != nil {
		return nil, err
	}
	if err := s.charge(t, o, payerFunds{account: acc.Int64, balance: bal, webhook: hook}, term.account,
		term.MerchantName, now); err != nil {
		return nil, err
	}
	return payResult{order: o, fresh: true}, nil
}

// presentation is what presenting a code did (see presentCode).
type presentation struct {
	payer   string        // the code's payer, if its key id names a current enrolment of theirs
	counter sql.NullInt64 // the code's counter, if its token is right
	reason  string        // why it cannot pay; "" if it can
	message string        // the reason in a sentence, where not the usual one (throttled)
	used    bool          // this presentation used the code up (it was right and fresh)
}

// presentCode records that a payment presented a code, whatever becomes of
// the payment: a right token is used up (even while its enrolment is
// locked), a wrong one counts towards the lock (RFC 4226 §7.3), and a right
// one resets that count. An expired code's counter is retired as well, so
// that no back-dated offline record can pay with it later. l is the
// payment's lookup.
func (s *Service) presentCode(t *txn, p *payPrep, l *payLooked, now time.Time) (presentation, error) {
	var pr presentation
	ver, err := s.verifyIn(t, p, l)
	if err != nil {
		return pr, err
	}
	// The enrolment as it stands now (it may have been revoked meanwhile),
	// with its payer's account.
	if !l.payer.Valid || !l.acc.Valid || !ver.enrolled || l.payer.String != ver.payer {
		pr.reason = api.ReasonUnknownPayer
		return pr, nil
	}
	pr.payer = l.payer.String
	valid := ver.err == nil
	if valid {
		pr.counter = sql.NullInt64{Int64: int64(ver.match.Counter), Valid: true}
	}
	key := int64(p.code.KeyID)
	// useCode records the code as used: it is dead from now on. It reports
	// whether the code was fresh: not used before, as the lookup found, nor
	// earlier in this group, whose used codes are written with its other
	// deferred writes.
	useCode := func() (bool, error) {
		counter := int64(ver.match.Counter)
		if !p.inWindow || int64(p.window.Counter) != counter {
			// Not reached: a valid code has its window's counter.
			return false, fmt.Errorf("code matched counter %d outside its window", counter)
		}
		if l.used.Int64 != 0 || t.codeUsed(key, counter) {
			return false, nil
		}
		t.useCode(key, counter, now.UnixNano())
		return true, nil
	}
	if errors.Is(ver.err, paycode.ErrExpired) {
		if err := retireCounter(t, key, int64(ver.match.Counter), now); err != nil {
			return pr, err
		}
	}
	// Throttling, decided here in the single writer so that parallel
	// guesses from many terminals are all counted.
	if l.locked.Int64 > now.UnixNano() {
		if valid {
			if pr.used, err = useCode(); err != nil {
				return pr, err
			}
		}
		pr.reason, pr.message = api.ReasonThrottled, throttledMessage(time.Duration(l.locked.Int64-now.UnixNano()))
		return pr, nil
	}
	switch {
	case errors.Is(ver.err, paycode.ErrExpired):
		pr.reason = api.ReasonCodeExpired
		return pr, nil
	case ver.err != nil: // a wrong token
		n := int(l.failures.Int64) + 1
		var until int64
		if n >= s.cfg.maxFailures {
			lock := min(time.Duration(n-s.cfg.maxFailures+1)*s.cfg.lockStep, maxLock)
			until = now.Add(lock).UnixNano()
			// The terminal and merchant tell an operator where the guesses
			// come from: a terminal that locks payers out can be revoked.
			s.log.Warn("payer locked after wrong codes", "payer", pr.payer, "key_id", p.code.KeyID,
				"failures", n, "until", time.Unix(0, until).UTC(), "terminal", p.term.ID, "merchant", p.term.Merchant)
		}
		if _, err := t.exec("UPDATE enrolments SET failures = ?, locked_until = ? WHERE key_id = ?",
			n, until, key); err != nil {
			return pr, err
		}
		pr.reason = api.ReasonCodeInvalid
		return pr, nil
	}
	if pr.used, err = useCode(); err != nil {
		return pr, err
	} else if !pr.used {
		pr.reason = api.ReasonCodeUsed
		return pr, nil
	}
	if l.failures.Int64 > 0 {
		if _, err := t.exec("UPDATE enrolments SET failures = 0, locked_until = 0 WHERE key_id = ?", key); err != nil {
			return pr, err
		}
	}
	return pr, nil
}

// retireCounter marks an expired code's counter used, unless it is already:
// in the table or earlier in this group.
func retireCounter(t *txn, key, counter int64, now time.Time) error {
	if t.codeUsed(key, counter) {
		return nil
	}
	var used bool
	if err := t.row("SELECT EXISTS (SELECT 1 FROM used_codes WHERE key_id = ? AND counter = ?)",
		[]any{key, counter}, &used); err != nil {
		return err
	}
	if !used {
		t.useCode(key, counter, now.UnixNano())
	}
	return nil
}

// notifyUnpaid tells a payer that a payment used up one of their codes
// and took no money (kind "declined" with its reason, "waiting" or
// "cancelled"), so that their wallet moves on to a fresh code at once, as
// a debit makes it do. A presentation that used nothing up (a wrong,
// expired or already used code) tells nobody.
func (s *Service) notifyUnpaid(t *txn, p *payPrep, l *payLooked, pr presentation, kind, reason string, now time.Time) error {
	if !pr.used {
		return nil
	}
	return s.deferNotification(t, pr.payer, l.hook.Int64 != 0, &api.Notification{
		Kind: kind, Reason: reason, Order: p.term.Merchant + "/" + p.req.MerchantOrder, Merchant: p.term.MerchantName,
		Amount:  p.req.Amount,
		Balance: money.Amount{Minor: l.balance.Int64 + t.pendingDelta(l.acc.Int64), Currency: p.req.Amount.Currency},
		Time:    now.UTC(),
		KeyID:   uint32(p.code.KeyID), Counter: uint64(pr.counter.Int64),
	})
}

// verifyIn gives a payment's verification of its code: prepare's, or, for
// a code whose enrolment was not in the cache, a check against the
// enrolment the lookup read, which is cached once this transaction is
// durable (a rolled-back enrolment's key id could be given again).
func (s *Service) verifyIn(t *txn, p *payPrep, l *payLooked) (verification, error) {
	if !p.late {
		return p.ver, nil
	}
	if l.seed == nil || !l.payer.Valid {
		return verification{}, nil // no current enrolment: an unknown payer
	}
	e := enrolEntry{payer: l.payer.String, box: l.seed}
	ver, err := s.checkToken(e, p.code, p.at)
	if err != nil {
		return verification{}, err
	}
	key := int64(p.code.KeyID)
	t.onCommit(func() { s.enrols.put(key, e) })
	return ver, nil
}

// charge moves a paid order's amount from the payer to the merchant and
// queues the payer's notification, in the caller's transaction. payer's
// balance is the one before, deferred writes included. The transfer and
// the notification are deferred writes, written before the group commits.
func (s *Service) charge(t *txn, o *orderRow, payer payerFunds, merchantAcc int64, merchantName string, now time.Time) error {
	t.book(payer.account, merchantAcc, o.amount, "payment", o.id, now.UnixNano())
	return s.deferNotification(t, o.payer, payer.webhook, &api.Notification{
		Kind: "debit", Order: o.merchant + "/" + o.mo, Merchant: merchantName,
		Amount:  money.Amount{Minor: o.amount, Currency: o.currency},
		Balance: money.Amount{Minor: payer.balance - o.amount, Currency: o.currency},
		Time:    now.UTC(),
		KeyID:   uint32(o.keyID.Int64), Counter: uint64(o.counter.Int64),
	})
}

// deferNotification books a payment's notification to payer as a deferred
// write of the group (see deferred.go); webhook tells whether the payer has
// a webhook to post it to.
func (s *Service) deferNotification(t *txn, payer string, webhook bool, n *api.Notification) error {
	body, err := notificationJSON(n)
	if err != nil {
		return fmt.Errorf("encoding notification: %w", err)
	}
	t.notify(payer, string(body), n.Time.UnixNano(), webhook)
	t.onCommit(s.nudgeNotifier)
	return nil
}

// queueNotification writes a notification to the outbox; webhook tells
// whether the payer has a webhook to post it to.
func (s *Service) queueNotification(t *txn, payer string, webhook bool, n api.Notification) error {
	body, err := notificationJSON(&n)
	if err != nil {
		return fmt.Errorf("encoding notification: %w", err)
	}
	if _, err := t.exec("INSERT INTO outbox(payer, body, created, hook_done) VALUES (?, ?, ?, ?)",
		payer, string(body), n.Time.UnixNano(), !webhook); err != nil {
		return err
	}
	t.onCommit(s.nudgeNotifier)
	return nil
}
