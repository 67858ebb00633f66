package backend

import (
	"context"
	"crypto/hmac"
	"database/sql"
	"fmt"
	"net/http"
	"time"

	"tillpay/backend/api"
)

var sqlNull = sql.NullInt64{}

// Terminal is an authenticated till of a merchant.
type Terminal struct {
	ID           string
	Merchant     string
	MerchantName string
	key          []byte
	account      int64 // the merchant's account
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

// terminal returns a terminal with its opened key, nil if there is none.
// Terminals are cached after the first lookup: they are added by the admin
// command (maybe in another process) and never change.
func (s *Service) terminal(ctx context.Context, id string) (*Terminal, error) {
	if v, ok := s.terms.Load(id); ok {
		return v.(*Terminal), nil
	}
	t := &Terminal{ID: id}
	var box []byte
	err := s.readRow(ctx, `SELECT t.merchant, t.key_sealed, m.name, m.account
		FROM terminals t JOIN merchants m ON m.id = t.merchant WHERE t.id = ?`, []any{id},
		&t.Merchant, &box, &t.MerchantName, &t.account)
	if isNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if t.key, err = s.seal.open(box, "terminal:"+id); err != nil {
		return nil, err
	}
	s.terms.Store(id, t)
	return t, nil
}

// AuthenticateTerminal checks a signed request (api.AuthScheme) whose body
// is body, and returns its terminal.
func (s *Service) AuthenticateTerminal(ctx context.Context, r *http.Request, body []byte) (*Terminal, error) {
	unauthorized := func(msg string) error { return &Error{http.StatusUnauthorized, api.ErrUnauthorized, msg} }
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, unauthorized("this request needs a signed Authorization header (" + api.AuthScheme + ")")
	}
	id, ts, sig, err := api.ParseAuthorization(h)
	if err != nil {
		return nil, unauthorized(err.Error())
	}
	if skew := s.now().Sub(time.Unix(ts, 0)); skew > api.MaxClockSkew || skew < -api.MaxClockSkew {
		return nil, unauthorized(fmt.Sprintf("the request time is %s away from the backend's clock (at most %s allowed); check the till's clock",
			skew.Round(time.Second), api.MaxClockSkew))
	}
	t, err := s.terminal(ctx, id)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, unauthorized("unknown terminal " + id)
	}
	want := api.RequestSignature(t.key, r.Method, r.URL.RequestURI(), ts, body)
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return nil, unauthorized("the request signature does not match; check the terminal key")
	}
	return t, nil
}
