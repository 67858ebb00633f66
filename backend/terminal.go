package backend

import (
	"context"
	"crypto/hmac"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"

	"tillpay/backend/api"
)

var sqlNull = sql.NullInt64{}

// TerminalCacheLifetime is how long a serving backend trusts a terminal it
// read from the database: the first request after that reads its row again.
// A terminal revoked by `paybackend admin terminal revoke`, which may run in
// another process, is therefore refused at most this long after; within
// the lifetime a request reads nothing from the database to authenticate.
const TerminalCacheLifetime = 10 * time.Second

// msgSignatureMismatch answers both a wrong signature and an unknown
// terminal, so that the answer does not tell which terminal ids exist.
const msgSignatureMismatch = "the request signature does not match; check the terminal id and key"

// Terminal is an authenticated till of a merchant.
type Terminal struct {
	ID           string
	Merchant     string
	MerchantName string
	key          []byte
	account      int64     // the merchant's account
	revoked      int64     // Unix nanoseconds; 0 while active
	readAt       time.Time // when the row was read, on the service's clock
}

type merchantInfo struct {
	name    string
	account int64
}

// merchant returns a merchant's name and account (cached: both never change).
func (s *Service) merchant(ctx context.Context, id string) (merchantInfo, error) {
	if v, ok := s.merchants.Load(id); ok {
		return v.(merchantInfo), nil
	}
	var mi merchantInfo
	if err := s.readRow(ctx, "SELECT name, account FROM merchants WHERE id = ?", []any{id}, &mi.name, &mi.account); err != nil {
		return mi, err
	}
	s.merchants.Store(id, mi)
	return mi, nil
}

// terminal returns a terminal with its opened key, revoked ones included,
// nil if there is none. A terminal is cached for TerminalCacheLifetime
// after it was read: the admin command that revokes it may run in another
// process. Unknown ids are not cached, so that made-up ids cannot fill the
// memory.
func (s *Service) terminal(ctx context.Context, id string) (*Terminal, error) {
	now := s.now()
	if v, ok := s.terms.Load(id); ok {
		t := v.(*Terminal)
		if age := now.Sub(t.readAt); age >= 0 && age < TerminalCacheLifetime {
			return t, nil
		}
	}
	t := &Terminal{ID: id, readAt: now}
	var box []byte
	var revoked sql.NullInt64
	// Not waiting for durability (readRowNow): a row seen before its commit
	// is durable only lets through requests whose own writes commit after
	// it, and a revocation seen early only refuses sooner.
	err := s.readRowNow(ctx, `SELECT t.merchant, t.key_sealed, t.revoked, m.name, m.account
		FROM terminals t JOIN merchants m ON m.id = t.merchant WHERE t.id = ?`, []any{id},
		&t.Merchant, &box, &revoked, &t.MerchantName, &t.account)
	if isNoRows(err) {
		s.terms.Delete(id)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	t.revoked = revoked.Int64
	if t.key, err = s.seal.open(box, "terminal:"+id); err != nil {
		return nil, err
	}
	s.terms.Store(id, t)
	return t, nil
}

// authError is a terminal request refused for its credentials (401). The
// client is told answer's message; reason, for the log, may say more (an
// unknown terminal and a wrong signature get the same answer).
type authError struct {
	answer *Error
	reason string
}

func (e *authError) Error() string { return e.answer.Message }
func (e *authError) Unwrap() error { return e.answer }

func unauthorized(msg string) error {
	return &Error{http.StatusUnauthorized, api.ErrUnauthorized, msg}
}

// signatureMismatch is the answer to a wrong signature or an unknown
// terminal, with the exact reason kept for the log.
func signatureMismatch(reason string) error {
	return &authError{answer: &Error{http.StatusUnauthorized, api.ErrUnauthorized, msgSignatureMismatch}, reason: reason}
}

// authReason is why err refused a request, for the log: the exact reason of
// an authError, else the message the client got.
func authReason(err error) string {
	var ae *authError
	if errors.As(err, &ae) {
		return ae.reason
	}
	return err.Error()
}

// preauthTerminal is the part of a terminal request's authentication that
// needs no body, to be done before the body is read: the Authorization
// header's presence and form, its timestamp against the backend's clock,
// and a terminal of that id that is not revoked. checkSignature completes
// it with the body.
func (s *Service) preauthTerminal(ctx context.Context, r *http.Request) (t *Terminal, ts int64, sig string, err error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, 0, "", unauthorized("this request needs a signed Authorization header (" + api.AuthScheme + ")")
	}
	id, ts, sig, err := api.ParseAuthorization(h)
	if err != nil {
		return nil, 0, "", unauthorized(err.Error())
	}
	if len(sig) != 64 || !isLowerHex(sig) {
		return nil, 0, "", unauthorized("authorization sig: want 64 lower-case hex digits")
	}
	if skew := s.now().Sub(time.Unix(ts, 0)); skew > api.MaxClockSkew || skew < -api.MaxClockSkew {
		return nil, 0, "", unauthorized(fmt.Sprintf("the request time is %s away from the backend's clock (at most %s allowed); check the till's clock",
			skew.Round(time.Second), api.MaxClockSkew))
	}
	if checkID("terminal", id) != nil {
		return nil, 0, "", signatureMismatch("malformed terminal id")
	}
	if t, err = s.terminal(ctx, id); err != nil {
		return nil, 0, "", err
	}
	if t == nil {
		return nil, 0, "", signatureMismatch("unknown terminal " + id)
	}
	if t.revoked != 0 {
		return nil, 0, "", unauthorized(fmt.Sprintf("terminal %s was revoked", id))
	}
	return t, ts, sig, nil
}

// checkSignature completes preauthTerminal: sig, from the request's
// Authorization header at time ts, must sign the request with body.
func (s *Service) checkSignature(t *Terminal, r *http.Request, ts int64, sig string, body []byte) error {
	want := api.RequestSignature(t.key, r.Method, r.URL.RequestURI(), ts, body)
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return signatureMismatch("wrong signature for terminal " + t.ID)
	}
	return nil
}

// AuthenticateTerminal checks a signed request (api.AuthScheme) whose body
// is body, and returns its terminal: preauthTerminal, then checkSignature.
func (s *Service) AuthenticateTerminal(ctx context.Context, r *http.Request, body []byte) (*Terminal, error) {
	t, ts, sig, err := s.preauthTerminal(ctx, r)
	if err != nil {
		return nil, err
	}
	if err := s.checkSignature(t, r, ts, sig, body); err != nil {
		return nil, err
	}
	return t, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// RevokeTerminal revokes a terminal: its requests are refused from now on
// by this service, and by other services on the same database within
// TerminalCacheLifetime. It returns when the terminal was revoked; revoking
// it again changes nothing and returns the first time. An unknown terminal
// is a not-found error.
func (s *Service) RevokeTerminal(ctx context.Context, id string) (time.Time, error) {
	if err := checkID("terminal", id); err != nil {
		return time.Time{}, err
	}
	now := s.now().UnixNano()
	res, err := s.w.do1(ctx, func(t *txn) (any, error) {
		var revoked sql.NullInt64
		if err := t.row("SELECT revoked FROM terminals WHERE id = ?", []any{id}, &revoked); isNoRows(err) {
			return nil, notFound("no terminal %s", id)
		} else if err != nil {
			return nil, err
		}
		if revoked.Valid {
			return revoked.Int64, nil
		}
		if _, err := t.exec("UPDATE terminals SET revoked = ? WHERE id = ?", now, id); err != nil {
			return nil, err
		}
		t.onCommit(func() { s.terms.Delete(id) })
		return now, nil
	})
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(0, res.(int64)).UTC(), nil
}
