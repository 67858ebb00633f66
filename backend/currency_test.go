package backend

import (
	"database/sql"
	"errors"
	"strings"
	"testing"

	"tillpay/backend/api"
	"tillpay/money"
)

// metaCurrency reads the currency recorded in the database at path.
func metaCurrency(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var c string
	if err := db.QueryRow("SELECT value FROM meta WHERE key = 'currency'").Scan(&c); err != nil && !errors.Is(err, sql.ErrNoRows) {
		t.Fatal(err)
	}
	return c
}

// A new database records its currency; opened again it keeps it, takes it
// without WithCurrency and refuses another one.
func TestCurrencyRecorded(t *testing.T) {
	for _, c := range []struct{ option, want string }{{"", "CNY"}, {"eur", "EUR"}} {
		e := newEnv(t)
		if c.option != "" {
			e.svc.Close()
			e = newEnvIn(t, t.TempDir(), WithCurrency(c.option))
		}
		path := e.dbDir + "/backend.db"
		if got := metaCurrency(t, path); got != c.want || e.svc.Currency() != c.want {
			t.Fatalf("option %q: recorded %q, service %q, want %s", c.option, got, e.svc.Currency(), c.want)
		}
		e.svc.Close()
		if got := e.openSecond().Currency(); got != c.want {
			t.Fatalf("option %q: reopened without a currency: %s, want %s", c.option, got, c.want)
		}
		if got := e.openSecond(WithCurrency(c.want)).Currency(); got != c.want {
			t.Fatalf("option %q: reopened with its currency: %s", c.option, got)
		}
		_, err := Open(e.ctx, path, e.key, WithCurrency("JPY"))
		if !errors.Is(err, ErrCurrencyMismatch) || !strings.Contains(err.Error(), "keeps its accounts in "+c.want+", not JPY") {
			t.Fatalf("option %q: opened with JPY: %v", c.option, err)
		}
		if got := metaCurrency(t, path); got != c.want {
			t.Fatalf("option %q: the refused open recorded %s", c.option, got)
		}
	}
}

// Amounts in another currency than the backend's are refused with 400 and
// change nothing: a top-up, new limits, a new payer's limits.
func TestOtherCurrencyRefused(t *testing.T) {
	e := newEnv(t)
	e.payer("ana", 10_000)
	before, err := e.svc.ShowPayer(e.ctx, "ana")
	if err != nil {
		t.Fatal(err)
	}
	var transfers int
	count := func() int {
		var n int
		if err := e.svc.st.read.QueryRow("SELECT COUNT(*) FROM transfers").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	transfers = count()
	if _, err := e.svc.TopUp(e.ctx, "ana", money.Amount{Minor: 100, Currency: "JPY"}); !isCode(err, api.ErrBadRequest) ||
		!strings.Contains(err.Error(), "keeps accounts in CNY, not JPY") {
		t.Fatalf("top-up in JPY: %v", err)
	}
	five := int64(500)
	for _, cur := range []string{"USD", "usd", "XYZ"} {
		err := e.svc.SetPayerLimits(e.ctx, "ana", PayerLimits{PasswordFreeLimit: &five, OfflineCredit: &five, Currency: cur})
		if !isCode(err, api.ErrBadRequest) {
			t.Fatalf("limits in %s: %v", cur, err)
		}
	}
	if err := e.svc.AddPayer(e.ctx, NewPayer{ID: "bo", Password: "password-1", PasswordFreeLimit: 500, Currency: "EUR"}); !isCode(err, api.ErrBadRequest) {
		t.Fatalf("payer with limits in EUR: %v", err)
	}
	after, err := e.svc.ShowPayer(e.ctx, "ana")
	if err != nil {
		t.Fatal(err)
	}
	if after != before || count() != transfers {
		t.Fatalf("changed: %+v, want %+v; %d transfers, want %d", after, before, count(), transfers)
	}
	if _, err := e.svc.ShowPayer(e.ctx, "bo"); !isCode(err, api.ErrNotFound) {
		t.Fatalf("payer bo: %v", err)
	}
	// The backend's own currency, named or not, is taken.
	if err := e.svc.SetPayerLimits(e.ctx, "ana", PayerLimits{PasswordFreeLimit: &five, Currency: "cny"}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.AddPayer(e.ctx, NewPayer{ID: "bo", Password: "password-1", Currency: "CNY"}); err != nil {
		t.Fatal(err)
	}
}

// A database of an earlier version (terminals without revocation, no
// currency in meta) opens: its terminals keep working and can be revoked,
// and its currency is its accounts', whatever the default.
func TestMigrateTerminalsAndCurrency(t *testing.T) {
	e := newEnv(t)
	ana := e.payer("ana", 10_000)
	e.svc.Close()
	path := e.dbDir + "/backend.db"
	rewrite(t, path,
		"ALTER TABLE terminals DROP COLUMN revoked",
		"DELETE FROM meta WHERE key = 'currency'",
		"UPDATE accounts SET currency = 'EUR'")
	e.svc = e.openSecond()
	if got := metaCurrency(t, path); got != "EUR" || e.svc.Currency() != "EUR" {
		t.Fatalf("currency %q (service %s), want EUR", got, e.svc.Currency())
	}
	var cols int
	e.svc.st.read.QueryRow("SELECT COUNT(*) FROM pragma_table_info('terminals') WHERE name = 'revoked'").Scan(&cols)
	if cols != 1 {
		t.Fatal("no revoked column after the migration")
	}
	term, err := e.svc.terminal(e.ctx, e.tc.ID)
	if err != nil || term == nil || term.revoked != 0 {
		t.Fatalf("terminal after the migration: %+v (%v)", term, err)
	}
	eur := func(minor int64) money.Amount { return money.Amount{Minor: minor, Currency: "EUR"} }
	o, err := e.svc.Pay(e.ctx, term, api.PayRequest{MerchantOrder: "m-1", Code: e.code(ana), Amount: eur(300)})
	if err != nil || o.Status != api.StatusPaid {
		t.Fatalf("payment after the migration: %+v (%v)", o, err)
	}
	if bal, err := e.svc.TopUp(e.ctx, "ana", eur(100)); err != nil || bal != eur(9_800) {
		t.Fatalf("top-up after the migration: %v (%v)", bal, err)
	}
	if _, err := e.svc.RevokeTerminal(e.ctx, e.tc.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Query(e.ctx, term, "m-1"); err != nil {
		t.Fatal(err)
	}
	e.svc.Close()
	if _, err := Open(e.ctx, path, e.key, WithCurrency("CNY")); !errors.Is(err, ErrCurrencyMismatch) {
		t.Fatalf("opened with CNY: %v", err)
	}
}

// An earlier version's database whose accounts are in two currencies is not
// given one: Open fails, and nothing changes (the terminals' migration in
// the same transaction included).
func TestMigrateCurrencyRefusesMixedAccounts(t *testing.T) {
	e := newEnv(t)
	e.payer("ana", 10_000)
	e.payer("bo", 10_000)
	e.svc.Close()
	path := e.dbDir + "/backend.db"
	rewrite(t, path,
		"ALTER TABLE terminals DROP COLUMN revoked",
		"DELETE FROM meta WHERE key = 'currency'",
		"UPDATE accounts SET currency = 'USD' WHERE owner = 'bo'")
	_, err := Open(e.ctx, path, e.key)
	if err == nil || !strings.Contains(err.Error(), `migration "currency in meta": 1 rows cannot be carried over`) {
		t.Fatalf("Open: %v, want a refused migration", err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var cols, metas int
	db.QueryRow("SELECT COUNT(*) FROM pragma_table_info('terminals') WHERE name = 'revoked'").Scan(&cols)
	db.QueryRow("SELECT COUNT(*) FROM meta WHERE key = 'currency'").Scan(&metas)
	if cols != 0 || metas != 0 {
		t.Fatalf("the refused migration changed the database: revoked column %d, currency rows %d", cols, metas)
	}
}

// An earlier version's database without accounts takes the currency it is
// opened with.
func TestMigrateCurrencyWithoutAccounts(t *testing.T) {
	e := newEnv(t)
	e.svc.Close()
	path := e.dbDir + "/backend.db"
	rewrite(t, path, "DELETE FROM terminals", "DELETE FROM merchants", "DELETE FROM accounts",
		"DELETE FROM meta WHERE key = 'currency'")
	if got := e.openSecond(WithCurrency("JPY")).Currency(); got != "JPY" {
		t.Fatalf("currency %s", got)
	}
	if got := metaCurrency(t, path); got != "JPY" {
		t.Fatalf("recorded %q, want JPY", got)
	}
}
