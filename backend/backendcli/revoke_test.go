package backendcli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tillpay/backend"
	"tillpay/backend/client"
	"tillpay/internal/clock"
)

// serveInProcess serves the database at db as `paybackend serve` would, in
// this process, on clk.
func serveInProcess(t *testing.T, db string, clk *clock.Fake) string {
	t.Helper()
	key, err := backend.LoadMasterKey("", db, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := backend.Open(context.Background(), db, key, backend.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// `admin terminal revoke`, run beside a serving backend on the same
// database, gets the terminal refused once the backend's copy is older
// than backend.TerminalCacheLifetime.
func TestTerminalRevokeCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "b.db")
	if code, _, stderr := runCmd(t, "", "admin", "merchant", "add", "--db", db, "--id", "shop"); code != 0 {
		t.Fatalf("merchant add: %s", stderr)
	}
	code, out, stderr := runCmd(t, "", "admin", "terminal", "add", "--db", db, "--merchant", "shop", "--json")
	var tc struct{ ID, Key string }
	if code != 0 || json.Unmarshal([]byte(out), &tc) != nil {
		t.Fatalf("terminal add: %d %q %s", code, out, stderr)
	}
	key, _ := hex.DecodeString(tc.Key)
	clk := clock.NewFake(time.Now())
	url := serveInProcess(t, db, clk)
	term, err := client.NewTerminal(url, tc.ID, key, client.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := term.Cancel(ctx, "o-1"); err != nil {
		t.Fatal(err)
	}

	code, out, stderr = runCmd(t, "", "admin", "terminal", "revoke", "--db", db, "--id", tc.ID, "--json")
	var res struct {
		ID      string
		Revoked time.Time
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.ID != tc.ID || res.Revoked.IsZero() {
		t.Fatalf("terminal revoke: %d %q %s", code, out, stderr)
	}
	clk.Advance(backend.TerminalCacheLifetime)
	_, err = term.Cancel(ctx, "o-2")
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Message != "terminal "+tc.ID+" was revoked" {
		t.Fatalf("cancel after the revocation: %v", err)
	}
	if _, err := term.Query(ctx, "o-1"); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Fatalf("query after the revocation: %v", err)
	}

	// Again: fine, same time. Unknown or missing id: a clear refusal.
	code, out, stderr = runCmd(t, "", "admin", "terminal", "revoke", "--db", db, "--id", tc.ID)
	if code != 0 || !strings.Contains(out, "terminal "+tc.ID+" revoked at "+res.Revoked.Format(time.RFC3339)) {
		t.Fatalf("revoking again: %d %q %s", code, out, stderr)
	}
	if code, _, stderr := runCmd(t, "", "admin", "terminal", "revoke", "--db", db, "--id", "t-nobody"); code != 1 ||
		!strings.Contains(stderr, "paybackend: no terminal t-nobody") {
		t.Fatalf("revoking an unknown terminal: %d %s", code, stderr)
	}
	if code, _, stderr := runCmd(t, "", "admin", "terminal", "revoke", "--db", db); code != 2 ||
		!strings.Contains(stderr, "--id is required") {
		t.Fatalf("revoking without --id: %d %s", code, stderr)
	}
}

// The database keeps the currency it was made with: amounts in another one
// and a server in another one are refused with both named, and change
// nothing; amounts without --currency are the database's.
func TestCurrencyCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "b.db")
	if code, _, stderr := runCmd(t, "password-1\n", "admin", "payer", "add", "--db", db, "--id", "ann", "--password-stdin"); code != 0 {
		t.Fatalf("payer add: %s", stderr)
	}
	if code, out, stderr := runCmd(t, "", "admin", "payer", "topup", "--db", db, "--id", "ann", "--amount", "100"); code != 0 ||
		!strings.Contains(out, "100.00 CNY") {
		t.Fatalf("topup: %d %q %s", code, out, stderr)
	}
	for _, args := range [][]string{
		{"admin", "payer", "topup", "--db", db, "--id", "ann", "--amount", "100", "--currency", "JPY"},
		{"admin", "payer", "limits", "--db", db, "--id", "ann", "--limit", "5", "--currency", "USD"},
		{"admin", "payer", "add", "--db", db, "--id", "bo", "--password", "password-2", "--currency", "EUR"},
		{"serve", "--db", db, "--currency", "USD"},
	} {
		code, out, stderr := runCmd(t, "", args...)
		other := args[len(args)-1]
		if code != 1 || out != "" || !strings.Contains(stderr, "keeps its accounts in CNY, not "+other) {
			t.Errorf("%v: %d %q %s", args, code, out, stderr)
		}
	}
	code, out, _ := runCmd(t, "", "admin", "payer", "show", "--db", db, "--id", "ann")
	if code != 0 || !strings.Contains(out, "balance 100.00 CNY") || !strings.Contains(out, "password-free limit 1000.00 CNY") {
		t.Fatalf("ann after the refusals: %q", out)
	}
	if code, _, _ := runCmd(t, "", "admin", "payer", "show", "--db", db, "--id", "bo"); code != 1 {
		t.Fatal("payer bo was added")
	}

	// A database made in JPY reads amounts in JPY.
	jdb := filepath.Join(dir, "j.db")
	if code, _, stderr := runCmd(t, "", "admin", "payer", "add", "--db", jdb, "--id", "kei", "--password", "password-3",
		"--currency", "JPY", "--limit", "5000"); code != 0 {
		t.Fatalf("payer add in JPY: %s", stderr)
	}
	if code, out, stderr := runCmd(t, "", "admin", "payer", "topup", "--db", jdb, "--id", "kei", "--amount", "1200"); code != 0 ||
		!strings.Contains(out, "balance 1200 JPY") {
		t.Fatalf("topup in JPY: %d %q %s", code, out, stderr)
	}
	if code, _, stderr := runCmd(t, "", "admin", "payer", "topup", "--db", jdb, "--id", "kei", "--amount", "1.50"); code != 2 ||
		!strings.Contains(stderr, "--amount") {
		t.Fatalf("a fraction of a yen: %d %s", code, stderr)
	}
}
