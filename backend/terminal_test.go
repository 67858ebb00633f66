package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/backend/client"
)

// openSecond opens another Service on e's database, as a second process
// (the admin command) would.
func (e *env) openSecond(opts ...Option) *Service {
	e.t.Helper()
	svc, err := Open(e.ctx, e.dbDir+"/backend.db", e.key, append([]Option{WithClock(e.clk.Now)}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { svc.Close() })
	return svc
}

// wantAPIError fails unless err is the backend's refusal with status and a
// message containing msg.
func wantAPIError(t *testing.T, err error, status int, msg string) {
	t.Helper()
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != status || !strings.Contains(ae.Message, msg) {
		t.Fatalf("got %v, want HTTP %d with %q", err, status, msg)
	}
}

// A terminal revoked by another process on the same database is refused
// by the serving one once its cached row is older than
// TerminalCacheLifetime; one revoked by the serving process at once.
func TestRevokeTerminal(t *testing.T) {
	e := newEnv(t)
	if _, err := e.term.Cancel(e.ctx, "o-1"); err != nil {
		t.Fatal(err)
	}
	admin := e.openSecond()
	at, err := admin.RevokeTerminal(e.ctx, e.tc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !at.Equal(e.clk.Now()) {
		t.Fatalf("revoked at %v, want %v", at, e.clk.Now())
	}
	// Within the lifetime the serving process still trusts its copy.
	e.clk.Advance(TerminalCacheLifetime - time.Second)
	if _, err := e.term.Cancel(e.ctx, "o-2"); err != nil {
		t.Fatalf("within the cache lifetime: %v", err)
	}
	e.clk.Advance(time.Second)
	_, err = e.term.Cancel(e.ctx, "o-3")
	wantAPIError(t, err, http.StatusUnauthorized, "terminal "+e.tc.ID+" was revoked")
	if _, err := e.svc.Query(e.ctx, &Terminal{Merchant: "shop"}, "o-3"); !isCode(err, api.ErrNotFound) {
		t.Fatalf("the refused cancel was recorded: %v", err)
	}
	// Revoking again is fine and keeps the first time.
	e.clk.Advance(time.Minute)
	again, err := admin.RevokeTerminal(e.ctx, e.tc.ID)
	if err != nil || !again.Equal(at) {
		t.Fatalf("revoking again: %v (%v), want %v", again, err, at)
	}

	// The serving process's own revocation takes effect at once.
	tc2, err := e.svc.AddTerminal(e.ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	term2, _ := client.NewTerminal(e.srv.URL, tc2.ID, tc2.Key, client.WithClock(e.clk.Now))
	if _, err := term2.Cancel(e.ctx, "p-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RevokeTerminal(e.ctx, tc2.ID); err != nil {
		t.Fatal(err)
	}
	_, err = term2.Cancel(e.ctx, "p-2")
	wantAPIError(t, err, http.StatusUnauthorized, "was revoked")
}

func TestRevokeTerminalUnknown(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.RevokeTerminal(e.ctx, "t-nobody")
	var be *Error
	if !errors.As(err, &be) || be.Status != http.StatusNotFound || be.Message != "no terminal t-nobody" {
		t.Fatalf("revoking an unknown terminal: %v", err)
	}
	if _, err := e.svc.RevokeTerminal(e.ctx, "bad id"); !isCode(err, api.ErrBadRequest) {
		t.Fatalf("revoking a malformed id: %v", err)
	}
	if _, err := e.term.Cancel(e.ctx, "o-1"); err != nil {
		t.Fatalf("the terminal was touched: %v", err)
	}
}

// A terminal's row is read once per lifetime: deleted behind the service's
// back it still works from the cache, and is unknown once the lifetime
// has passed (the deleted row that used to work forever).
func TestTerminalCacheLifetime(t *testing.T) {
	e := newEnv(t)
	if _, err := e.term.Cancel(e.ctx, "o-1"); err != nil {
		t.Fatal(err)
	}
	rewrite(t, e.dbDir+"/backend.db", "DELETE FROM terminals WHERE id = '"+e.tc.ID+"'")
	for i := range 3 {
		e.clk.Advance(TerminalCacheLifetime / 4)
		if _, err := e.term.Cancel(e.ctx, "o-1"); err != nil {
			t.Fatalf("request %d within the lifetime read the database: %v", i, err)
		}
	}
	e.clk.Advance(TerminalCacheLifetime / 4)
	_, err := e.term.Cancel(e.ctx, "o-1")
	wantAPIError(t, err, http.StatusUnauthorized, msgSignatureMismatch)
	// A clock that went back does not extend the lifetime either.
	tc, err := e.svc.AddTerminal(e.ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	req := signed(t, tc, e.clk.Now(), http.MethodGet, api.PathOrders+"o-1", nil)
	if _, err := e.svc.AuthenticateTerminal(e.ctx, req, nil); err != nil {
		t.Fatal(err)
	}
	rewrite(t, e.dbDir+"/backend.db", "DELETE FROM terminals WHERE id = '"+tc.ID+"'")
	e.clk.Advance(-time.Second)
	req = signed(t, tc, e.clk.Now(), http.MethodGet, api.PathOrders+"o-1", nil)
	if _, err := e.svc.AuthenticateTerminal(e.ctx, req, nil); !isCode(err, api.ErrUnauthorized) {
		t.Fatalf("after the clock went back: %v", err)
	}
}

// signed is a request signed by tc at now.
func signed(t testing.TB, tc TerminalCredentials, now time.Time, method, path string, body []byte) *http.Request {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", api.AuthorizationHeader(tc.ID, tc.Key, method, path, now, body))
	return req
}

// An unknown terminal and a wrong key get the same answer, so that terminal
// ids cannot be probed; the error keeps the exact reason for the log.
func TestUnknownTerminalAnswersAsBadSignature(t *testing.T) {
	e := newEnv(t)
	now := e.clk.Now()
	answer := func(auth string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+api.PathOrders+"o-1", nil)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	wrongKey := bytes.Repeat([]byte{7}, 32)
	s1, b1 := answer(api.AuthorizationHeader("t-nobody", e.tc.Key, "GET", api.PathOrders+"o-1", now, nil))
	s2, b2 := answer(api.AuthorizationHeader(e.tc.ID, wrongKey, "GET", api.PathOrders+"o-1", now, nil))
	var eb api.Error
	if s1 != 401 || s2 != 401 || b1 != b2 || json.Unmarshal([]byte(b1), &eb) != nil ||
		eb.Error.Message != msgSignatureMismatch {
		t.Fatalf("unknown terminal: %d %s\nwrong key: %d %s", s1, b1, s2, b2)
	}

	unknown := TerminalCredentials{ID: "t-nobody", Key: e.tc.Key}
	_, err := e.svc.AuthenticateTerminal(e.ctx, signed(t, unknown, now, "GET", "/x", nil), nil)
	if !isCode(err, api.ErrUnauthorized) || err.Error() != msgSignatureMismatch || authReason(err) != "unknown terminal t-nobody" {
		t.Fatalf("unknown terminal: %v (reason %q)", err, authReason(err))
	}
	wrong := TerminalCredentials{ID: e.tc.ID, Key: wrongKey}
	_, err = e.svc.AuthenticateTerminal(e.ctx, signed(t, wrong, now, "GET", "/x", nil), nil)
	if !isCode(err, api.ErrUnauthorized) || authReason(err) != "wrong signature for terminal "+e.tc.ID {
		t.Fatalf("wrong key: %v (reason %q)", err, authReason(err))
	}
	// Other refusals keep their own message as the reason.
	_, err = e.svc.AuthenticateTerminal(e.ctx, signed(t, e.tc, now.Add(-time.Hour), "GET", "/x", nil), nil)
	if !isCode(err, api.ErrUnauthorized) || authReason(err) != err.Error() || !strings.Contains(err.Error(), "clock") {
		t.Fatalf("stale: %v (reason %q)", err, authReason(err))
	}
}

// countingBody counts the bytes read from it.
type countingBody struct {
	r io.Reader
	n atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// preauthTerminal decides every refusal that needs no body without reading
// it; checkSignature then decides with the body.
func TestPreauthTerminalReadsNoBody(t *testing.T) {
	e := newEnv(t)
	revoked, err := e.svc.AddTerminal(e.ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RevokeTerminal(e.ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	now := e.clk.Now()
	body := []byte(`{"refund_no":"r-1","amount":{"minor":1,"currency":"CNY"}}`)
	path := api.PathOrders + "o-1/refund"
	header := func(tc TerminalCredentials, at time.Time) string {
		return api.AuthorizationHeader(tc.ID, tc.Key, "POST", path, at, body)
	}
	good := header(e.tc, now)
	for name, c := range map[string]struct{ auth, want string }{
		"no header":     {"", "needs a signed Authorization header"},
		"other scheme":  {"Basic eDp5", "authorization scheme"},
		"no sig":        {api.AuthScheme + " terminal=" + e.tc.ID + ",ts=1", "needs terminal, ts and sig"},
		"short sig":     {good[:len(good)-2], "64 lower-case hex digits"},
		"stale":         {header(e.tc, now.Add(-api.MaxClockSkew-time.Minute)), "check the till's clock"},
		"unknown":       {header(TerminalCredentials{ID: "t-nobody", Key: e.tc.Key}, now), msgSignatureMismatch},
		"malformed id":  {header(TerminalCredentials{ID: "t nobody", Key: e.tc.Key}, now), msgSignatureMismatch},
		"revoked":       {header(revoked, now), "terminal " + revoked.ID + " was revoked"},
		"fine, for now": {good, ""},
	} {
		b := &countingBody{r: bytes.NewReader(body)}
		req := httptest.NewRequest(http.MethodPost, path, b)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		term, ts, sig, err := e.svc.preauthTerminal(e.ctx, req)
		if b.n.Load() != 0 {
			t.Fatalf("%s: %d body bytes read", name, b.n.Load())
		}
		if c.want == "" {
			if err != nil || term.ID != e.tc.ID {
				t.Fatalf("%s: %v", name, err)
			}
			if err := e.svc.checkSignature(term, req, ts, sig, body); err != nil {
				t.Fatalf("%s: signature: %v", name, err)
			}
			if err := e.svc.checkSignature(term, req, ts, sig, body[1:]); !isCode(err, api.ErrUnauthorized) || err.Error() != msgSignatureMismatch {
				t.Fatalf("%s: signature of another body: %v", name, err)
			}
			continue
		}
		if !isCode(err, api.ErrUnauthorized) || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: %v, want 401 with %q", name, err, c.want)
		}
	}
}

// BenchmarkAuthenticateTerminal measures a signed request's authentication
// with the terminal in the cache (the common path, no database read), with
// it read again for every request (as once per lifetime), and the cache
// lookup alone.
func BenchmarkAuthenticateTerminal(b *testing.B) {
	ctx := context.Background()
	key := make([]byte, 32)
	svc, err := Open(ctx, b.TempDir()+"/backend.db", key)
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	if err := svc.AddMerchant(ctx, "shop", ""); err != nil {
		b.Fatal(err)
	}
	tc, err := svc.AddTerminal(ctx, "shop")
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"merchant_order":"b-1","code":"710012345370123456","amount":{"minor":1250,"currency":"CNY"}}`)
	req := signed(b, tc, time.Now(), http.MethodPost, api.PathPay, body)
	run := func(b *testing.B, forget bool) {
		for b.Loop() {
			if forget {
				svc.terms.Delete(tc.ID)
			}
			if _, err := svc.AuthenticateTerminal(ctx, req, body); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("cached", func(b *testing.B) { run(b, false) })
	b.Run("read", func(b *testing.B) { run(b, true) })
	// The cache lookup alone, lifetime check included.
	b.Run("lookup", func(b *testing.B) {
		for b.Loop() {
			if t, err := svc.terminal(ctx, tc.ID); err != nil || t == nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzPreauthTerminal feeds arbitrary Authorization headers to the
// authentication done before the body: each is refused with 401, or is the
// one real terminal's.
func FuzzPreauthTerminal(f *testing.F) {
	ctx := context.Background()
	now := time.Date(2025, 3, 1, 10, 0, 30, 0, time.UTC)
	svc, err := Open(ctx, f.TempDir()+"/backend.db", make([]byte, 32), WithClock(func() time.Time { return now }))
	if err != nil {
		f.Fatal(err)
	}
	defer svc.Close()
	if err := svc.AddMerchant(ctx, "shop", ""); err != nil {
		f.Fatal(err)
	}
	tc, err := svc.AddTerminal(ctx, "shop")
	if err != nil {
		f.Fatal(err)
	}
	good := api.AuthorizationHeader(tc.ID, tc.Key, http.MethodGet, "/v1/orders/x", now, nil)
	for _, h := range []string{good, "", "Bearer x", api.AuthScheme + " terminal=,ts=,sig=",
		api.AuthScheme + " terminal=t-x,ts=1740823230,sig=" + strings.Repeat("0", 64),
		strings.Replace(good, "terminal=", "terminal=x", 1), strings.Replace(good, ",ts=", ",ts=-", 1)} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		req := httptest.NewRequest(http.MethodGet, "/v1/orders/x", nil)
		req.Header.Set("Authorization", h)
		term, _, _, err := svc.preauthTerminal(ctx, req)
		if err != nil {
			if !isCode(err, api.ErrUnauthorized) || err.Error() == "" {
				t.Fatalf("%q: %v is not a clear 401", h, err)
			}
			return
		}
		if term.ID != tc.ID {
			t.Fatalf("%q: accepted as terminal %q", h, term.ID)
		}
	})
}
