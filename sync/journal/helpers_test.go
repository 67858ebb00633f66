package journal

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"tillpay/money"
)

var testKey = []byte("0123456789abcdef-terminal-key")

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var shanghai = time.FixedZone("CST", 8*3600)

func testOptions(c *fakeClock) Options {
	return Options{TerminalID: "T01", TerminalKey: testKey, Now: c.Now, Location: shanghai}
}

func openTest(t testing.TB, path string, c *fakeClock) *Journal {
	t.Helper()
	j, err := Open(context.Background(), path, testOptions(c))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func newTest(t testing.TB) (*Journal, *fakeClock, string) {
	t.Helper()
	c := newClock(time.Date(2026, 3, 14, 9, 30, 0, 0, shanghai))
	path := filepath.Join(t.TempDir(), "journal.db")
	return openTest(t, path, c), c, path
}

func cny(minor int64) money.Amount { return money.Amount{Minor: minor, Currency: "CNY"} }

func newPay(minor int64, mode Mode, c *fakeClock) NewPayment {
	return NewPayment{
		Amount: cny(minor), Code: "134650328919428540", Device: "serial:/dev/ttyACM0",
		Symbology: "]Q1", ScanTime: c.Now().Add(-1500 * time.Millisecond), Mode: mode,
	}
}

func mustCreate(t testing.TB, j *Journal, np NewPayment) Payment {
	t.Helper()
	p, err := j.Create(context.Background(), np)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return p
}

// rawDB opens the journal file directly, as a person with sqlite3 would.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func rawExec(t testing.TB, path, q string, args ...any) {
	t.Helper()
	if _, err := rawDB(t, path).Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

var fixedNow = time.Date(2026, 3, 14, 9, 30, 0, 0, shanghai)

func itoa(n int) string { return strconv.Itoa(n) }

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }
