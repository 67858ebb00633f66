package backend

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/backend/client"
	"tillpay/internal/lockedbuf"
	"tillpay/money"
	"tillpay/paycode"
)

func TestPayMovesMoneyOnce(t *testing.T) {
	e := newEnv(t)
	w := e.payer("alice", 10_000)
	code := e.code(w)
	o := e.pay("o-1", code, 2_550)
	wantStatus(t, o, api.StatusPaid, "")
	if o.PayerID != "alice" || o.Amount != cny(2_550) {
		t.Fatalf("order %+v", o)
	}
	if got := e.balance("alice"); got != 7_450 {
		t.Fatalf("payer balance %d, want 7450", got)
	}
	if got := e.merchantBalance(); got != 2_550 {
		t.Fatalf("merchant balance %d, want 2550", got)
	}
	// The same request again: the same order, no second charge.
	again := e.pay("o-1", code, 2_550)
	if again.Status != api.StatusPaid || !again.Created.Equal(o.Created) {
		t.Fatalf("repeat gave %+v", again)
	}
	if got := e.balance("alice"); got != 7_450 {
		t.Fatalf("payer balance %d after repeat, want 7450", got)
	}
	// The same order number with another amount or code: conflict.
	_, err := e.term.Pay(e.ctx, api.PayRequest{MerchantOrder: "o-1", Code: code, Amount: cny(2_551)})
	if !client.IsCode(err, api.ErrConflict) {
		t.Fatalf("other amount: %v, want conflict", err)
	}
	_, err = e.term.Pay(e.ctx, api.PayRequest{MerchantOrder: "o-1", Code: e.code(w), Amount: cny(2_550)})
	if !client.IsCode(err, api.ErrConflict) {
		t.Fatalf("other code: %v, want conflict", err)
	}
	// The used code under another order number: declined, code_used.
	wantStatus(t, e.pay("o-2", code, 100), api.StatusDeclined, api.ReasonCodeUsed)
	if got := e.balance("alice"); got != 7_450 {
		t.Fatalf("payer balance %d, want 7450", got)
	}
	q, err := e.term.Query(e.ctx, "o-1")
	if err != nil || q.Status != api.StatusPaid {
		t.Fatalf("query: %+v %v", q, err)
	}
	if _, err := e.term.Query(e.ctx, "nope"); !client.IsCode(err, api.ErrNotFound) {
		t.Fatalf("query unknown: %v", err)
	}
	e.audit()
}

func TestDeclinedCodeIsConsumed(t *testing.T) {
	e := newEnv(t)
	w := e.payer("bob", 500)
	code := e.code(w)
	o := e.pay("b-1", code, 600)
	wantStatus(t, o, api.StatusDeclined, api.ReasonInsufficientBalance)
	if o.Message != "The payer's balance is too low" {
		t.Fatalf("message %q", o.Message)
	}
	// Topped up, the same code still does not pay: it was presented once.
	if _, err := e.svc.TopUp(e.ctx, "bob", cny(1000)); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, e.pay("b-2", code, 600), api.StatusDeclined, api.ReasonCodeUsed)
	wantStatus(t, e.pay("b-3", e.code(w), 600), api.StatusPaid, "")
	e.audit()
}

func TestExpiredForgedAndRevokedCodes(t *testing.T) {
	e := newEnv(t)
	w := e.payer("carol", 10_000)
	old := e.codeAt(w, e.clk.Now().Add(-10*time.Minute))
	o := e.pay("c-1", old, 100)
	wantStatus(t, o, api.StatusDeclined, api.ReasonCodeExpired)
	if !strings.Contains(o.Message, "expired") {
		t.Fatalf("message %q", o.Message)
	}
	// One step of skew either way is fine.
	o = e.pay("c-2", e.codeAt(w, e.clk.Now().Add(-time.Minute)), 100)
	wantStatus(t, o, api.StatusPaid, "")
	if o.PayerID != "carol" {
		t.Fatalf("paid order names payer %q, want carol", o.PayerID)
	}
	wantStatus(t, e.pay("c-3", e.codeAt(w, e.clk.Now().Add(time.Minute)), 100), api.StatusPaid, "")
	// A forged token.
	good := e.code(w)
	c, _ := paycode.Parse(good)
	c.Token = (c.Token + 1) % 10_000_000
	o = e.pay("c-4", c.String(), 100)
	wantStatus(t, o, api.StatusDeclined, api.ReasonCodeInvalid)
	if o.PayerID != "" {
		t.Fatalf("a forged code's decline names payer %q", o.PayerID)
	}
	if q, err := e.term.Query(e.ctx, "c-4"); err != nil || q.PayerID != "" {
		t.Fatalf("query of the forged code's order: payer %q, %v", q.PayerID, err)
	}
	// An unknown key id.
	c.KeyID = (w.key + 1) % paycode.MaxKeyID
	wantStatus(t, e.pay("c-5", c.String(), 100), api.StatusDeclined, api.ReasonUnknownPayer)
	// Enrolling again revokes the old seed.
	stale := e.code(w)
	e.enrol(w)
	wantStatus(t, e.pay("c-6", stale, 100), api.StatusDeclined, api.ReasonUnknownPayer)
	wantStatus(t, e.pay("c-7", e.code(w), 100), api.StatusPaid, "")
	if got := e.balance("carol"); got != 9_700 {
		t.Fatalf("balance %d, want 9700", got)
	}
	e.audit()
}

func TestThrottling(t *testing.T) {
	logs := &lockedbuf.Buffer{}
	e := newEnv(t, WithThrottle(5, time.Minute), WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	w := e.payer("dave", 10_000)
	for i := range 5 {
		wantStatus(t, e.pay("d-"+string(rune('a'+i)), e.forged(w), 100), api.StatusDeclined, api.ReasonCodeInvalid)
	}
	// The lock is logged with where the guesses came from.
	if l := logs.String(); !strings.Contains(l, "payer locked after wrong codes") ||
		!strings.Contains(l, `"terminal":"`+e.tc.ID+`"`) || !strings.Contains(l, `"merchant":"shop"`) {
		t.Fatalf("lock log:\n%s", l)
	}
	// Locked: even a good code is refused now, and it is consumed.
	good := e.code(w)
	o := e.pay("d-good", good, 100)
	wantStatus(t, o, api.StatusDeclined, api.ReasonThrottled)
	if o.Message != "Too many wrong codes for this payer; try again in 1 minute" {
		t.Fatalf("message %q", o.Message)
	}
	e.clk.Advance(61 * time.Second)
	wantStatus(t, e.pay("d-good2", good, 100), api.StatusDeclined, api.ReasonCodeUsed)
	// The sixth failure locks for two steps.
	wantStatus(t, e.pay("d-f6", e.forged(w), 100), api.StatusDeclined, api.ReasonCodeInvalid)
	o = e.pay("d-x", e.code(w), 100)
	wantStatus(t, o, api.StatusDeclined, api.ReasonThrottled)
	if !strings.Contains(o.Message, "2 minutes") {
		t.Fatalf("message %q", o.Message)
	}
	e.clk.Advance(2*time.Minute + time.Second)
	// A good code succeeds and resets the count.
	wantStatus(t, e.pay("d-ok", e.code(w), 100), api.StatusPaid, "")
	if p, _ := e.svc.ShowPayer(e.ctx, "dave"); p.Failures != 0 || p.LockedUntil != nil {
		t.Fatalf("after success: %+v", p)
	}
}

func TestThrottlingCountsParallelGuesses(t *testing.T) {
	e := newEnv(t, WithThrottle(5, time.Minute))
	w := e.payer("eve", 10_000)
	const n = 40
	errs := make(chan error, n)
	results := make(chan api.Order, n)
	base, _ := paycode.Parse(e.code(w))
	for i := range n {
		go func() {
			c := base
			c.Token = (c.Token + uint32(i) + 1) % 10_000_000
			o, err := e.term.Pay(e.ctx, api.PayRequest{MerchantOrder: "g-" + string(rune('A'+i)), Code: c.String(), Amount: cny(1)})
			errs <- err
			results <- o
		}()
	}
	invalid := 0
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		if o := <-results; o.Reason == api.ReasonCodeInvalid {
			invalid++
		}
	}
	// Guesses past the fifth failure are refused without being tried.
	if invalid != 5 {
		t.Fatalf("%d guesses were tried, want 5", invalid)
	}
}

// rawPay posts body to /v1/pay, signed, and returns the status and error code.
func rawPay(t *testing.T, e *env, path string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(body))
	req.Header.Set("Authorization", api.AuthorizationHeader(e.tc.ID, e.tc.Key, http.MethodPost, path, e.clk.Now(), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var eb api.Error
	json.Unmarshal(data, &eb)
	return resp.StatusCode, eb.Error.Code + ": " + eb.Error.Message
}

func TestBadPayRequests(t *testing.T) {
	e := newEnv(t)
	w := e.payer("fay", 10_000)
	code := e.code(w)
	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"malformed JSON", `{"merchant_order": "x",`, 400, "malformed JSON"},
		{"unknown field", `{"merchant_order":"x","code":"` + code + `","amount":{"minor":1,"currency":"CNY"},"tip":1}`, 400, "unknown field"},
		{"trailing data", `{"merchant_order":"x","code":"` + code + `","amount":{"minor":1,"currency":"CNY"}} {}`, 400, "after the request"},
		{"fractional fen", `{"merchant_order":"x","code":"` + code + `","amount":{"minor":1.5,"currency":"CNY"}}`, 400, "malformed JSON"},
		{"overflowing amount", `{"merchant_order":"x","code":"` + code + `","amount":{"minor":1e30,"currency":"CNY"}}`, 400, "malformed JSON"},
		{"too large amount", `{"merchant_order":"x","code":"` + code + `","amount":{"minor":1000000000000001,"currency":"CNY"}}`, 400, "too large"},
		{"negative amount", `{"merchant_order":"x","code":"` + code + `","amount":{"minor":-5,"currency":"CNY"}}`, 400, "positive"},
		{"zero amount", `{"merchant_order":"x","code":"` + code + `","amount":{"minor":0,"currency":"CNY"}}`, 400, "greater than zero"},
		{"unknown currency", `{"merchant_order":"x","code":"` + code + `","amount":{"minor":5,"currency":"XYZ"}}`, 400, "unknown currency"},
		{"other currency", `{"merchant_order":"x","code":"` + code + `","amount":{"minor":5,"currency":"USD"}}`, 400, "takes CNY"},
		{"short code", `{"merchant_order":"x","code":"7112345","amount":{"minor":5,"currency":"CNY"}}`, 400, "7 digits"},
		{"wrong prefix", `{"merchant_order":"x","code":"991234567890123456","amount":{"minor":5,"currency":"CNY"}}`, 400, "start with 71"},
		{"letters", `{"merchant_order":"x","code":"71abc","amount":{"minor":5,"currency":"CNY"}}`, 400, "only digits"},
		{"Alipay code", `{"merchant_order":"x","code":"28763443825664394","amount":{"minor":5,"currency":"CNY"}}`, 400, "Alipay"},
		{"WeChat code", `{"merchant_order":"x","code":"134650328919428540","amount":{"minor":5,"currency":"CNY"}}`, 400, "WeChat Pay"},
		{"UnionPay code", `{"merchant_order":"x","code":"6212345678901234567","amount":{"minor":5,"currency":"CNY"}}`, 400, "UnionPay"},
		{"empty order", `{"merchant_order":"","code":"` + code + `","amount":{"minor":5,"currency":"CNY"}}`, 400, "merchant_order"},
		{"long order", `{"merchant_order":"` + strings.Repeat("x", 65) + `","code":"` + code + `","amount":{"minor":5,"currency":"CNY"}}`, 400, "merchant_order"},
		{"order named ..", `{"merchant_order":"..","code":"` + code + `","amount":{"minor":5,"currency":"CNY"}}`, 400, "cannot be"},
		{"order named .", `{"merchant_order":".","code":"` + code + `","amount":{"minor":5,"currency":"CNY"}}`, 400, "cannot be"},
		{"order with space", `{"merchant_order":"a b","code":"` + code + `","amount":{"minor":5,"currency":"CNY"}}`, 400, "visible ASCII"},
		{"WeChat fusion wallet code", `{"merchant_order":"x","code":"160456789012345678","amount":{"minor":5,"currency":"CNY"}}`, 400, "WeChat Pay"},
		{"online scan time in the future", `{"merchant_order":"x","code":"` + code + `","amount":{"minor":5,"currency":"CNY"},"scan_time":"2030-01-01T00:00:00Z"}`, 400, "later than the backend's time"},
		{"online scan time before the window", `{"merchant_order":"x","code":"` + code + `","amount":{"minor":5,"currency":"CNY"},"scan_time":"2020-01-01T00:00:00Z"}`, 400, "older than the offline window"},
		{"offline without scan time", `{"merchant_order":"x","code":"` + code + `","amount":{"minor":5,"currency":"CNY"},"offline":true}`, 400, "scan_time"},
		{"huge body", `{"merchant_order":"` + strings.Repeat("x", 20000) + `"}`, 413, "too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, msg := rawPay(t, e, api.PathPay, []byte(tt.body))
			if status != tt.status || !strings.Contains(msg, tt.want) {
				t.Fatalf("got %d %q, want %d containing %q", status, msg, tt.status, tt.want)
			}
		})
	}
	// Nothing changed: no order, the code still pays.
	if got := e.balance("fay"); got != 10_000 {
		t.Fatalf("balance %d", got)
	}
	wantStatus(t, e.pay("x", code, 5), api.StatusPaid, "")
}

// An online payment keeps the scan time its terminal sent, within the
// bounds an offline record has; a resend after those bounds still gets the
// stored answer.
func TestOnlineScanTime(t *testing.T) {
	e := newEnv(t)
	w := e.payer("gus", 10_000)
	scan := e.clk.Now().Add(-20 * time.Second)
	req := api.PayRequest{MerchantOrder: "st1", Code: e.code(w), Amount: cny(300), ScanTime: scan}
	o := e.payReq(req)
	wantStatus(t, o, api.StatusPaid, "")
	if !o.ScanTime.Equal(scan) {
		t.Fatalf("scan time %v, want %v", o.ScanTime, scan)
	}
	ahead := api.PayRequest{MerchantOrder: "st2", Code: e.code(w), Amount: cny(300), ScanTime: e.clk.Now().Add(DefaultFutureTolerance + time.Second)}
	if _, err := e.term.Pay(e.ctx, ahead); !client.IsCode(err, api.ErrBadRequest) || !strings.Contains(err.Error(), "scan_time") {
		t.Fatalf("scan time ahead: %v, want a bad request naming scan_time", err)
	}
	// Refused before anything was stored: the order number is free and
	// the code unused.
	ahead.ScanTime = time.Time{}
	wantStatus(t, e.payReq(ahead), api.StatusPaid, "")
	e.clk.Advance(DefaultOfflineWindow + time.Hour)
	again, err := e.term.Pay(e.ctx, req)
	if err != nil || again.Status != api.StatusPaid || !again.ScanTime.Equal(scan) {
		t.Fatalf("resend after the window: %+v %v, want the stored paid order", again, err)
	}
	if got := e.balance("gus"); got != 10_000-600 {
		t.Fatalf("balance %d, want %d", got, 10_000-600)
	}
}

func TestAuthentication(t *testing.T) {
	logs := &lockedbuf.Buffer{}
	e := newEnv(t, WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	w := e.payer("gus", 10_000)
	body, _ := json.Marshal(api.PayRequest{MerchantOrder: "a-1", Code: e.code(w), Amount: cny(100)})
	send := func(auth string, b []byte) int {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+api.PathPay, bytes.NewReader(b))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	now := e.clk.Now()
	wrongKey := make([]byte, 32)
	tampered := bytes.Replace(body, []byte(`"minor":100`), []byte(`"minor":1`), 1)
	cases := map[string]struct {
		auth string
		body []byte
	}{
		"no header":        {"", body},
		"other scheme":     {"Bearer x", body},
		"wrong key":        {api.AuthorizationHeader(e.tc.ID, wrongKey, "POST", api.PathPay, now, body), body},
		"unknown terminal": {api.AuthorizationHeader("t-nobody", e.tc.Key, "POST", api.PathPay, now, body), body},
		"stale timestamp":  {api.AuthorizationHeader(e.tc.ID, e.tc.Key, "POST", api.PathPay, now.Add(-6*time.Minute), body), body},
		"future timestamp": {api.AuthorizationHeader(e.tc.ID, e.tc.Key, "POST", api.PathPay, now.Add(6*time.Minute), body), body},
		"tampered body":    {api.AuthorizationHeader(e.tc.ID, e.tc.Key, "POST", api.PathPay, now, body), tampered},
		"other path":       {api.AuthorizationHeader(e.tc.ID, e.tc.Key, "POST", api.PathPayBatch, now, body), body},
	}
	for name, c := range cases {
		if got := send(c.auth, c.body); got != http.StatusUnauthorized {
			t.Errorf("%s: HTTP %d, want 401", name, got)
		}
	}
	// Each refusal is logged with the terminal it claimed, never a key.
	refusals := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "not authenticated") {
			refusals++
		}
	}
	if refusals != len(cases) || !strings.Contains(logs.String(), `"id":"t-nobody"`) ||
		strings.Contains(logs.String(), fmt.Sprintf("%x", e.tc.Key)) {
		t.Fatalf("%d refusals logged for %d requests:\n%s", refusals, len(cases), logs.String())
	}
	// A flood is counted, not written: at most refusalLogsPerSecond lines
	// a second, and the next line tells how many were held back.
	flood := api.AuthorizationHeader(e.tc.ID, wrongKey, "POST", api.PathPay, now, body)
	for range 20 {
		send(flood, body)
	}
	e.clk.Advance(time.Second)
	send(api.AuthorizationHeader(e.tc.ID, wrongKey, "POST", api.PathPay, e.clk.Now(), body), body)
	lines := strings.Count(logs.String(), "not authenticated")
	held := len(cases) + 20 - refusalLogsPerSecond
	if lines != refusalLogsPerSecond+1 || !strings.Contains(logs.String(), fmt.Sprintf(`"not_logged_before":%d`, held)) {
		t.Fatalf("%d lines logged for %d refusals, want %d and a count of %d held back:\n%s",
			lines, len(cases)+21, refusalLogsPerSecond+1, held, logs.String())
	}
	if _, err := e.term.Query(e.ctx, "a-1"); !client.IsCode(err, api.ErrNotFound) {
		t.Fatalf("an order was made: %v", err)
	}
	if got := e.balance("gus"); got != 10_000 {
		t.Fatalf("balance %d", got)
	}
	// A client with a wrong key gets an APIError, not "unreachable".
	bad, _ := client.NewTerminal(e.srv.URL, e.tc.ID, wrongKey)
	_, err := bad.Query(e.ctx, "a-1")
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 401 || errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("wrong key: %v", err)
	}
	// Payer endpoints need the password.
	if code := e.payerCall(&wallet{id: "gus", pw: "wrong-password"}, http.MethodGet, api.PathBalance, nil, nil); code != 401 {
		t.Fatalf("wrong password: HTTP %d", code)
	}
	var bal api.BalanceResponse
	if code := e.payerCall(w, http.MethodGet, api.PathBalance, nil, &bal); code != 200 || bal.Balance != cny(10_000) {
		t.Fatalf("balance: %d %+v", code, bal)
	}
}

// TestCodeVerifiedInWriterOnCacheMiss covers codes whose enrolment is not in
// the enrolment cache: the writer verifies them with the enrolment its
// lookup reads, with the same outcomes as a cached check.
func TestCodeVerifiedInWriterOnCacheMiss(t *testing.T) {
	e := newEnv(t, WithThrottle(2, time.Minute))
	w := e.payer("erin", 10_000)
	cold := func() { e.svc.enrols.dropPayer("erin") }
	cold()
	wantStatus(t, e.pay("e-1", e.code(w), 100), api.StatusPaid, "")
	if got, ok := e.svc.enrols.get(int64(w.key)); !ok || got.payer != "erin" {
		t.Fatalf("enrolment not cached after the payment: %+v %v", got, ok)
	}
	cold()
	wantStatus(t, e.pay("e-2", e.codeAt(w, e.clk.Now().Add(-10*time.Minute)), 100), api.StatusDeclined, api.ReasonCodeExpired)
	// Wrong tokens count towards the lock-out.
	cold()
	wantStatus(t, e.pay("e-3", e.forged(w), 100), api.StatusDeclined, api.ReasonCodeInvalid)
	cold()
	wantStatus(t, e.pay("e-4", e.forged(w), 100), api.StatusDeclined, api.ReasonCodeInvalid)
	cold()
	wantStatus(t, e.pay("e-5", e.code(w), 100), api.StatusDeclined, api.ReasonThrottled)
	e.clk.Advance(61 * time.Second)
	// An offline record is verified at its scan time.
	at := e.clk.Now().Add(-5 * time.Hour)
	rec := e.term.SignRecord(api.PayRequest{MerchantOrder: "e-6", Code: e.codeAt(w, at), Amount: cny(200),
		ScanTime: at, Offline: true})
	cold()
	res, err := e.term.PayBatch(e.ctx, []api.PayRequest{rec})
	if err != nil || res[0].Order == nil {
		t.Fatalf("offline record: %+v %v", res, err)
	}
	wantStatus(t, *res[0].Order, api.StatusPaid, "")
	// A revoked enrolment: its code is refused and the enrolment not cached.
	stale := e.code(w)
	oldKey := w.key
	e.enrol(w)
	cold()
	wantStatus(t, e.pay("e-7", stale, 100), api.StatusDeclined, api.ReasonUnknownPayer)
	if _, ok := e.svc.enrols.get(int64(oldKey)); ok {
		t.Fatal("revoked enrolment cached")
	}
	if got := e.balance("erin"); got != 9_700 {
		t.Fatalf("balance %d, want 9700", got)
	}
	e.audit()
}

// A payer's limits change after creation, and payments decided from then on
// use them: a lower password-free limit makes a payment wait for the payer,
// a higher offline credit lets a queued payment through.
func TestSetPayerLimits(t *testing.T) {
	e := newEnv(t)
	w := e.payer("lim", 1_000)
	wantStatus(t, e.pay("l-1", e.code(w), 800), api.StatusPaid, "")

	low := int64(500)
	if err := e.svc.SetPayerLimits(e.ctx, "lim", PayerLimits{PasswordFreeLimit: &low}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, e.pay("l-2", e.code(w), 600), api.StatusWaitingPayer, "")

	// An offline payment beyond the balance (200 left) is declined late
	// without credit and paid with it.
	offline := func(order string) api.Order {
		t.Helper()
		o, err := e.term.Pay(e.ctx, e.term.SignRecord(api.PayRequest{MerchantOrder: order, Code: e.code(w),
			Amount: cny(300), Offline: true, ScanTime: e.clk.Now()}))
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	o := offline("l-3")
	wantStatus(t, o, api.StatusDeclined, api.ReasonInsufficientBalance)
	credit := int64(150)
	if err := e.svc.SetPayerLimits(e.ctx, "lim", PayerLimits{OfflineCredit: &credit}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, offline("l-4"), api.StatusPaid, "")
	if b := e.balance("lim"); b != -100 {
		t.Fatalf("balance %d, want -100", b)
	}
	p, _ := e.svc.ShowPayer(e.ctx, "lim")
	if p.PasswordFreeLimit.Minor != 500 || p.OfflineCredit.Minor != 150 {
		t.Fatalf("limits %+v", p)
	}

	// Bad changes are refused and change nothing.
	neg, huge := int64(-1), money.MaxMinor+1
	for name, l := range map[string]PayerLimits{
		"nothing": {}, "negative": {PasswordFreeLimit: &neg}, "too large": {OfflineCredit: &huge},
	} {
		if err := e.svc.SetPayerLimits(e.ctx, "lim", l); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	var notFound *Error
	if err := e.svc.SetPayerLimits(e.ctx, "nobody", PayerLimits{PasswordFreeLimit: &low}); !errors.As(err, &notFound) || notFound.Status != 404 {
		t.Errorf("unknown payer: %v", err)
	}
	if p2, _ := e.svc.ShowPayer(e.ctx, "lim"); p2.PasswordFreeLimit != p.PasswordFreeLimit || p2.OfflineCredit != p.OfflineCredit {
		t.Errorf("limits changed by refused calls: %+v", p2)
	}
	e.audit()
}
