package backend

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/backend/client"
	"tillpay/internal/clock"
	"tillpay/money"
	"tillpay/paycode"
)

// env is a backend on a real SQLite file behind a real HTTP server.
type env struct {
	t     *testing.T
	svc   *Service
	clk   *clock.Fake
	srv   *httptest.Server
	term  *client.Terminal
	tc    TerminalCredentials
	ctx   context.Context
	key   []byte
	dbDir string
}

func cny(minor int64) money.Amount { return money.Amount{Minor: minor, Currency: "CNY"} }

func newEnv(t *testing.T, opts ...Option) *env {
	t.Helper()
	return newEnvIn(t, t.TempDir(), opts...)
}

// newEnvIn is newEnv with the database backend.db in dir, which may hold
// one already.
func newEnvIn(t *testing.T, dir string, opts ...Option) *env {
	t.Helper()
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2025, 3, 1, 10, 0, 30, 0, time.UTC))
	key := make([]byte, 32)
	rand.Read(key)
	all := append([]Option{WithClock(clk.Now), WithPasswordIterations(1000)}, opts...)
	svc, err := Open(ctx, dir+"/backend.db", key, all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	if err := svc.AddMerchant(ctx, "shop", "Corner Shop"); err != nil {
		t.Fatal(err)
	}
	tc, err := svc.AddTerminal(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	term, err := client.NewTerminal(srv.URL, tc.ID, tc.Key, client.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, svc: svc, clk: clk, srv: srv, term: term, tc: tc, ctx: ctx, key: key, dbDir: dir}
}

// wallet is an enrolled payer.
type wallet struct {
	id   string
	pw   string
	seed []byte
	key  paycode.KeyID
	seq  int
	step int64
}

// payer creates a payer with a balance and enrols it over HTTP.
func (e *env) payer(id string, balance int64, opts ...func(*NewPayer)) *wallet {
	e.t.Helper()
	p := NewPayer{ID: id, Password: "secret-" + id, PasswordFreeLimit: DefaultPasswordFreeLimit}
	for _, o := range opts {
		o(&p)
	}
	if err := e.svc.AddPayer(e.ctx, p); err != nil {
		e.t.Fatal(err)
	}
	if balance > 0 {
		if _, err := e.svc.TopUp(e.ctx, id, cny(balance)); err != nil {
			e.t.Fatal(err)
		}
	}
	w := &wallet{id: id, pw: p.Password}
	e.enrol(w)
	return w
}

func (e *env) enrol(w *wallet) {
	e.t.Helper()
	var r api.EnrolResponse
	if code := e.payerCall(w, http.MethodPost, api.PathEnrol, nil, &r); code != 200 {
		e.t.Fatalf("enrol: HTTP %d", code)
	}
	w.seed, w.key, w.seq, w.step = r.Seed, paycode.KeyID(r.KeyID), 0, -1
}

// code makes the wallet's next code at time at.
func (e *env) codeAt(w *wallet, at time.Time) string {
	e.t.Helper()
	step := paycode.StepAt(at)
	if step != w.step {
		w.step, w.seq = step, 0
	}
	c, err := paycode.Generate(w.seed, w.key, step, w.seq)
	if err != nil {
		e.t.Fatal(err)
	}
	w.seq++
	return c
}

func (e *env) code(w *wallet) string { return e.codeAt(w, e.clk.Now()) }

// payerCall sends a payer request with HTTP Basic and decodes the answer.
func (e *env) payerCall(w *wallet, method, path string, in, out any) int {
	e.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, body)
	req.SetBasicAuth(w.id, w.pw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("%s: %v: %s", path, err, data)
		}
	}
	return resp.StatusCode
}

func (e *env) pay(order, code string, minor int64) api.Order {
	e.t.Helper()
	return e.payReq(api.PayRequest{MerchantOrder: order, Code: code, Amount: cny(minor)})
}

// payReq sends one payment request and fails the test on a transport or
// API error.
func (e *env) payReq(req api.PayRequest) api.Order {
	e.t.Helper()
	o, err := e.term.Pay(e.ctx, req)
	if err != nil {
		e.t.Fatalf("pay %s: %v", req.MerchantOrder, err)
	}
	return o
}

// forged is a fresh code of w's with a wrong token.
func (e *env) forged(w *wallet) string {
	e.t.Helper()
	c, err := paycode.Parse(e.code(w))
	if err != nil {
		e.t.Fatal(err)
	}
	c.Token = (c.Token + 1) % 10_000_000
	return c.String()
}

func (e *env) balance(id string) int64 {
	e.t.Helper()
	p, err := e.svc.ShowPayer(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Balance.Minor
}

// merchantBalance reads the merchant account's balance.
func (e *env) merchantBalance() int64 {
	e.t.Helper()
	var b int64
	if err := e.svc.readRow(e.ctx, "SELECT a.balance FROM merchants m JOIN accounts a ON a.id = m.account WHERE m.id = 'shop'",
		nil, &b); err != nil {
		e.t.Fatal(err)
	}
	return b
}

// audit fails the test if the ledger does not balance.
func (e *env) audit() {
	e.t.Helper()
	r, err := e.svc.Audit(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if !r.OK() {
		e.t.Fatalf("audit: %v", r.Problems)
	}
}

func wantStatus(t *testing.T, o api.Order, status, reason string) {
	t.Helper()
	if o.Status != status || o.Reason != reason {
		t.Fatalf("order %s: status %s/%s (%s), want %s/%s", o.MerchantOrder, o.Status, o.Reason, o.Message, status, reason)
	}
}

func parseCode(s string) (paycode.Code, error) { return paycode.Parse(s) }

func bytesIs(err, target error) bool { return errors.Is(err, target) }
