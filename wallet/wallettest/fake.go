// Package wallettest is a fake of the payment backend's payer API for tests
// of the wallet: real HTTP (httptest on loopback), one payer, codes verified
// with tillpay/paycode and refused when used twice, notifications naming the
// code that paid, and payments waiting for confirmation, settled as the
// real backend settles them.
package wallettest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/money"
	"tillpay/paycode"
)

// Backend is the fake. Its fields may be read under Lock only.
type Backend struct {
	PayerID  string
	Password string
	// Now is the backend's clock (default time.Now).
	Now func() time.Time
	// URL is the server's base URL.
	URL string

	mu       sync.Mutex
	keyID    paycode.KeyID
	seed     []byte
	balance  int64
	used     map[uint64]bool
	inbox    []api.Notification
	pending  []api.PendingPayment
	confirms []api.ConfirmRequest
	enrols   int
	down     bool
}

// New starts a fake for one payer with a balance of 1000.00 CNY; it is
// closed when the test ends.
func New(t testing.TB, payerID, password string) *Backend {
	b := &Backend{PayerID: payerID, Password: password, Now: time.Now, balance: 100000,
		used: map[uint64]bool{}, keyID: 4242000}
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(srv.Close)
	b.URL = srv.URL
	return b
}

func cny(minor int64) money.Amount { return money.Amount{Minor: minor, Currency: "CNY"} }

// SetDown makes every request fail with a 503 (as a backend shutting down)
// while down is true.
func (b *Backend) SetDown(down bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down = down
}

// Enrolments returns how many times the payer enrolled.
func (b *Backend) Enrolments() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.enrols
}

// Pay charges amount (fen) with code as a till would, at the backend's
// clock: it returns an error for an invalid, expired or already presented
// code (a presented code is dead even if the payment fails).
func (b *Backend) Pay(code string, amount int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, err := paycode.Parse(code)
	if err != nil {
		return err
	}
	if c.KeyID != b.keyID || b.seed == nil {
		return fmt.Errorf("key %v: %w", c.KeyID, paycode.ErrInvalid)
	}
	m, err := paycode.Verify(b.seed, c, b.Now())
	if err != nil {
		return err
	}
	if b.used[m.Counter] {
		return fmt.Errorf("code already presented")
	}
	b.used[m.Counter] = true
	if amount > b.balance {
		return fmt.Errorf("insufficient balance")
	}
	b.balance -= amount
	b.inbox = append(b.inbox, api.Notification{
		ID: int64(len(b.inbox) + 1), Kind: "debit", Order: fmt.Sprintf("m1/%d", len(b.inbox)+1),
		Merchant: "m1", Amount: cny(amount), Balance: cny(b.balance), Time: b.Now(),
		KeyID: uint32(b.keyID), Counter: m.Counter,
	})
	return nil
}

// AddPending adds a payment waiting for the payer's confirmation.
func (b *Backend) AddPending(order string, amount int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = append(b.pending, api.PendingPayment{Order: order, Merchant: "m1",
		Amount: cny(amount), Expires: b.Now().Add(time.Minute)})
}

// answer settles the waiting payment p as the real backend does: an
// approval pays if the balance covers it and is declined otherwise; a
// refusal is declined. It returns the order as it stands after.
func (b *Backend) answer(p api.PendingPayment, approve bool) api.Order {
	now := b.Now()
	_, mo, _ := strings.Cut(p.Order, "/")
	o := api.Order{MerchantOrder: mo, Amount: p.Amount, Refunded: cny(0), PayerID: b.PayerID,
		ScanTime: now, Created: now, Updated: now}
	switch {
	case !approve:
		o.Status, o.Reason = api.StatusDeclined, api.ReasonPayerDeclined
	case p.Amount.Minor > b.balance:
		o.Status, o.Reason = api.StatusDeclined, api.ReasonInsufficientBalance
	default:
		o.Status = api.StatusPaid
		b.balance -= p.Amount.Minor
		b.inbox = append(b.inbox, api.Notification{
			ID: int64(len(b.inbox) + 1), Kind: "debit", Order: p.Order, Merchant: p.Merchant,
			Amount: p.Amount, Balance: cny(b.balance), Time: now,
		})
	}
	return o
}

// Confirms returns the confirmations received.
func (b *Backend) Confirms() []api.ConfirmRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]api.ConfirmRequest(nil), b.confirms...)
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(api.Error{Error: api.ErrorBody{Code: code, Message: msg}})
}

// Handler returns the fake's HTTP handler.
func (b *Backend) Handler() http.Handler {
	mux := http.NewServeMux()
	auth := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			id, pw, ok := r.BasicAuth()
			if !ok || id != b.PayerID || pw != b.Password {
				fail(w, http.StatusUnauthorized, api.ErrUnauthorized, "wrong payer id or password")
				return
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			h(w, r)
		}
	}
	mux.HandleFunc("GET "+api.PathTime, func(w http.ResponseWriter, r *http.Request) {
		reply(w, api.TimeResponse{Time: b.Now()})
	})
	mux.HandleFunc("GET "+api.PathHealth, func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("POST "+api.PathEnrol, auth(func(w http.ResponseWriter, r *http.Request) {
		seed, err := paycode.NewSeed()
		if err != nil {
			fail(w, http.StatusInternalServerError, api.ErrInternal, err.Error())
			return
		}
		b.seed, b.enrols = seed, b.enrols+1
		b.keyID++
		reply(w, api.EnrolResponse{PayerID: b.PayerID, KeyID: uint32(b.keyID), Seed: seed,
			ServerTime: b.Now(), StepSeconds: paycode.StepSeconds})
	}))
	mux.HandleFunc("GET "+api.PathBalance, auth(func(w http.ResponseWriter, r *http.Request) {
		reply(w, api.BalanceResponse{PayerID: b.PayerID, Balance: cny(b.balance),
			OfflineCredit: cny(20000), PasswordFreeLimit: cny(100000), ServerTime: b.Now()})
	}))
	mux.HandleFunc("GET "+api.PathInbox, auth(func(w http.ResponseWriter, r *http.Request) {
		after, err := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		if err != nil {
			fail(w, http.StatusBadRequest, api.ErrBadRequest, "after: want a number")
			return
		}
		out := []api.Notification{}
		for _, n := range b.inbox {
			if n.ID > after {
				out = append(out, n)
			}
		}
		reply(w, api.InboxResponse{Notifications: out})
	}))
	mux.HandleFunc("GET "+api.PathPending, auth(func(w http.ResponseWriter, r *http.Request) {
		reply(w, api.PendingResponse{Payments: append([]api.PendingPayment{}, b.pending...)})
	}))
	mux.HandleFunc("POST "+api.PathConfirm, auth(func(w http.ResponseWriter, r *http.Request) {
		var req api.ConfirmRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			fail(w, http.StatusBadRequest, api.ErrBadRequest, err.Error())
			return
		}
		for i, p := range b.pending {
			if p.Order == req.Order {
				b.pending = append(b.pending[:i], b.pending[i+1:]...)
				b.confirms = append(b.confirms, req)
				reply(w, b.answer(p, req.Approve))
				return
			}
		}
		fail(w, http.StatusNotFound, api.ErrNotFound, "no payment "+req.Order+" is waiting")
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		down := b.down
		b.mu.Unlock()
		if down {
			fail(w, http.StatusServiceUnavailable, api.ErrUnavailable, "shutting down")
			return
		}
		mux.ServeHTTP(w, r)
	})
}
