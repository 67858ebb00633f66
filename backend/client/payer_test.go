package client

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/money"
)

// payerServer is a small in-test payer API: one payer, fixed password.
type payerServer struct {
	t        *testing.T
	now      time.Time
	mu       sync.Mutex
	confirms []api.ConfirmRequest
	inboxQ   []string
}

func (s *payerServer) handler() http.Handler {
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(api.Error{Error: api.ErrorBody{Code: code, Message: msg}})
	}
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	auth := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			id, pw, ok := r.BasicAuth()
			if !ok || id != "alice" || pw != "s3cret" {
				fail(w, http.StatusUnauthorized, api.ErrUnauthorized, "wrong payer id or password")
				return
			}
			h(w, r)
		}
	}
	cny := func(minor int64) money.Amount { return money.Amount{Minor: minor, Currency: "CNY"} }
	mux.HandleFunc("GET "+api.PathTime, func(w http.ResponseWriter, r *http.Request) {
		reply(w, api.TimeResponse{Time: s.now})
	})
	mux.HandleFunc("GET "+api.PathHealth, func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("POST "+api.PathEnrol, auth(func(w http.ResponseWriter, r *http.Request) {
		seed := make([]byte, 32)
		for i := range seed {
			seed[i] = byte(i)
		}
		reply(w, api.EnrolResponse{PayerID: "alice", KeyID: 1234567, Seed: seed, ServerTime: s.now, StepSeconds: 60})
	}))
	mux.HandleFunc("GET "+api.PathBalance, auth(func(w http.ResponseWriter, r *http.Request) {
		reply(w, api.BalanceResponse{PayerID: "alice", Balance: cny(12345), OfflineCredit: cny(5000),
			PasswordFreeLimit: cny(20000), ServerTime: s.now})
	}))
	mux.HandleFunc("GET "+api.PathInbox, auth(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.inboxQ = append(s.inboxQ, r.URL.Query().Get("after"))
		s.mu.Unlock()
		after, err := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		if err != nil {
			fail(w, http.StatusBadRequest, api.ErrBadRequest, "after: not a number")
			return
		}
		all := []api.Notification{
			{ID: 1, Kind: "debit", Order: "m1/o1", Amount: cny(100), Balance: cny(900), KeyID: 1234567, Counter: 100},
			{ID: 2, Kind: "refund", Order: "m1/o1", Amount: cny(100), Balance: cny(1000)},
		}
		out := []api.Notification{}
		for _, n := range all {
			if n.ID > after {
				out = append(out, n)
			}
		}
		reply(w, api.InboxResponse{Notifications: out})
	}))
	mux.HandleFunc("GET "+api.PathPending, auth(func(w http.ResponseWriter, r *http.Request) {
		reply(w, api.PendingResponse{Payments: []api.PendingPayment{
			{Order: "m1/o9", Merchant: "m1", Amount: cny(50000), Expires: s.now.Add(time.Minute)},
		}})
	}))
	mux.HandleFunc("POST "+api.PathConfirm, auth(func(w http.ResponseWriter, r *http.Request) {
		var req api.ConfirmRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			fail(w, http.StatusBadRequest, api.ErrBadRequest, err.Error())
			return
		}
		if req.Order != "m1/o9" {
			fail(w, http.StatusNotFound, api.ErrNotFound, "no such pending payment")
			return
		}
		s.mu.Lock()
		s.confirms = append(s.confirms, req)
		s.mu.Unlock()
		o := api.Order{MerchantOrder: "o9", Status: api.StatusDeclined, Reason: api.ReasonPayerDeclined,
			Amount: cny(50000), PayerID: "alice", Created: s.now, Updated: s.now}
		if req.Approve {
			// The payer's balance (123.45) does not cover it.
			o.Reason = api.ReasonInsufficientBalance
		}
		reply(w, o)
	}))

	return mux
}

func newPayerServer(t *testing.T) (*payerServer, *httptest.Server) {
	s := &payerServer{t: t, now: time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)}
	srv := httptest.NewServer(s.handler())
	t.Cleanup(srv.Close)
	return s, srv
}

func TestPayerCalls(t *testing.T) {
	s, srv := newPayerServer(t)
	p, err := NewPayer(srv.URL+"/", "alice", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	e, err := p.Enrol(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e.KeyID != 1234567 || len(e.Seed) != 32 || e.Seed[31] != 31 || !e.ServerTime.Equal(s.now) {
		t.Errorf("enrol = %+v", e)
	}

	b, err := p.Balance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b.Balance.Minor != 12345 || b.Balance.Currency != "CNY" || b.PasswordFreeLimit.Minor != 20000 {
		t.Errorf("balance = %+v", b)
	}

	ns, err := p.Inbox(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 1 || ns[0].ID != 2 || ns[0].Kind != "refund" {
		t.Errorf("inbox after 1 = %+v", ns)
	}
	ns, err = p.Inbox(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 2 || ns[0].KeyID != 1234567 || ns[0].Counter != 100 {
		t.Errorf("inbox after 0 = %+v", ns)
	}

	pend, err := p.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pend) != 1 || pend[0].Order != "m1/o9" || pend[0].Amount.Minor != 50000 {
		t.Errorf("pending = %+v", pend)
	}

	o, err := p.Confirm(ctx, "m1/o9", false)
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != api.StatusDeclined || o.Reason != api.ReasonPayerDeclined || o.Amount.Minor != 50000 || o.MerchantOrder != "o9" {
		t.Errorf("declined order = %+v", o)
	}
	// The backend answers 200 with the order as it stands, which need not
	// be paid: the caller learns why.
	o, err = p.Confirm(ctx, "m1/o9", true)
	if err != nil || o.Status != api.StatusDeclined || o.Reason != api.ReasonInsufficientBalance {
		t.Errorf("approval without the money = %+v, %v", o, err)
	}
	_, err = p.Confirm(ctx, "m1/nope", true)
	if !IsCode(err, api.ErrNotFound) {
		t.Errorf("confirm of an unknown order: %v, want not_found", err)
	}
	if _, err := p.Confirm(ctx, "", true); err == nil {
		t.Error("confirm with no order succeeded")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.confirms) != 2 || s.confirms[0].Approve || s.confirms[0].Order != "m1/o9" || !s.confirms[1].Approve {
		t.Errorf("server saw confirms %+v", s.confirms)
	}
	if len(s.inboxQ) != 2 || s.inboxQ[0] != "1" || s.inboxQ[1] != "0" {
		t.Errorf("server saw inbox queries %q", s.inboxQ)
	}
}

func TestPayerTimeOffset(t *testing.T) {
	s, srv := newPayerServer(t)
	// The local clock is three hours and a bit behind the backend's.
	local := s.now.Add(-3*time.Hour - 17*time.Second)
	p, err := NewPayer(srv.URL, "alice", "wrong", WithClock(func() time.Time { return local }))
	if err != nil {
		t.Fatal(err)
	}
	server, off, err := p.Time(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !server.Equal(s.now) || off != 3*time.Hour+17*time.Second {
		t.Errorf("Time = %v, offset %v", server, off)
	}
	if err := p.Health(context.Background()); err != nil {
		t.Errorf("health: %v", err)
	}
}

func TestPayerErrors(t *testing.T) {
	_, srv := newPayerServer(t)
	ctx := context.Background()

	p, err := NewPayer(srv.URL, "alice", "wrong")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Balance(ctx)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || !IsCode(err, api.ErrUnauthorized) {
		t.Errorf("wrong password: %v", err)
	}
	if errors.Is(err, ErrUnreachable) {
		t.Errorf("a refusal must not read as unreachable: %v", err)
	}

	// A port that nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p, err = NewPayer("http://"+addr, "alice", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Inbox(ctx, 0); !errors.Is(err, ErrUnreachable) {
		t.Errorf("no backend: %v, want ErrUnreachable", err)
	}
	if _, err := p.Enrol(ctx); !errors.Is(err, ErrUnreachable) {
		t.Errorf("no backend: %v, want ErrUnreachable", err)
	}

	for _, bad := range []string{"", "localhost:8080", "::", "http://"} {
		if _, err := NewPayer(bad, "alice", "x"); err == nil {
			t.Errorf("NewPayer(%q) succeeded", bad)
		}
	}
	if _, err := NewPayer(srv.URL, "", "x"); err == nil {
		t.Error("NewPayer with no payer id succeeded")
	}
}

func TestPayerNonAPIError(t *testing.T) {
	// A proxy's error page is not the backend's answer: the outcome is unknown.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer srv.Close()
	p, err := NewPayer(srv.URL, "alice", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Pending(context.Background()); !errors.Is(err, ErrUnreachable) {
		t.Errorf("proxy page: %v, want ErrUnreachable", err)
	}
}

func TestPayerConfirmWithoutOrder(t *testing.T) {
	// A 200 answer with no order in it (not the backend's): the outcome is
	// unknown, not a success.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	p, err := NewPayer(srv.URL, "alice", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if o, err := p.Confirm(context.Background(), "m1/o9", true); !errors.Is(err, ErrUnreachable) {
		t.Errorf("confirm = %+v, %v; want ErrUnreachable", o, err)
	}
}
