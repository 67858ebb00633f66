package sqliteconn

import (
	"bytes"
	"database/sql"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // database/sql's view of the same file
)

const table = `CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, f REAL, s TEXT, b BLOB, flag INTEGER,
	u TEXT UNIQUE)`

func open(t testing.TB) (*Conn, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.db")
	c, err := Open(path, "journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = 1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Exec(table); err != nil {
		t.Fatal(err)
	}
	return c, path
}

func TestValuesRoundTrip(t *testing.T) {
	c, _ := open(t)
	res, err := c.Exec("INSERT INTO t(n, f, s, b, flag, u) VALUES (?, ?, ?, ?, ?, ?)",
		int64(math.MinInt64), 2.5, "héllo, 世界", []byte{0, 1, 2, 255}, true, sql.NullString{String: "k", Valid: true})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	if n, _ := res.RowsAffected(); n != 1 || id != 1 {
		t.Fatalf("insert: id %d, %d rows; want 1, 1", id, n)
	}
	var (
		n    int64
		f    float64
		s    string
		b    []byte
		flag bool
		u    sql.NullString
		nn   sql.NullInt64
		anyS any
		anyB any
	)
	err = c.QueryRow("SELECT n, f, s, b, flag, u, n, s, b FROM t WHERE id = ?", []any{id},
		&n, &f, &s, &b, &flag, &u, &nn, &anyS, &anyB)
	if err != nil {
		t.Fatal(err)
	}
	if n != math.MinInt64 || f != 2.5 || s != "héllo, 世界" || !bytes.Equal(b, []byte{0, 1, 2, 255}) || !flag ||
		u != (sql.NullString{String: "k", Valid: true}) || nn != (sql.NullInt64{Int64: math.MinInt64, Valid: true}) ||
		anyS != "héllo, 世界" || !bytes.Equal(anyB.([]byte), []byte{0, 1, 2, 255}) {
		t.Fatalf("read back %v %v %q %v %v %v %v %v %v", n, f, s, b, flag, u, nn, anyS, anyB)
	}

	// Every small integer type and a Valuer's NULL.
	for i, v := range []any{int(7), int8(7), int16(7), int32(7), uint8(7), uint16(7), uint32(7), uint64(7), uint(7)} {
		if _, err := c.Exec("UPDATE t SET n = ?, u = ? WHERE id = 1", v, sql.NullString{}); err != nil {
			t.Fatalf("argument %d (%T): %v", i, v, err)
		}
		var got int
		if err := c.QueryRow("SELECT n FROM t WHERE id = 1 AND u IS NULL", nil, &got); err != nil || got != 7 {
			t.Fatalf("argument %d (%T): read %d, %v", i, v, got, err)
		}
	}
}

// TestEmptyAndNull checks that empty text and blobs stay empty values, not
// NULL, and that NULL reads as nil or invalid.
func TestEmptyAndNull(t *testing.T) {
	c, _ := open(t)
	if _, err := c.Exec("INSERT INTO t(id, s, b, n) VALUES (1, ?, ?, ?)", "", []byte{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec("INSERT INTO t(id, s, b) VALUES (2, ?, ?)", nil, []byte(nil)); err != nil {
		t.Fatal(err)
	}
	var ts, tb, tn string
	if err := c.QueryRow("SELECT typeof(s), typeof(b), typeof(n) FROM t WHERE id = 1", nil, &ts, &tb, &tn); err != nil {
		t.Fatal(err)
	}
	if ts != "text" || tb != "blob" || tn != "null" {
		t.Fatalf("types %s %s %s, want text blob null", ts, tb, tn)
	}
	var b []byte
	var s sql.NullString
	var n sql.NullInt64
	var a any = "not nil"
	if err := c.QueryRow("SELECT b, s, n, n FROM t WHERE id = 2", nil, &b, &s, &n, &a); err != nil {
		t.Fatal(err)
	}
	if b != nil || s.Valid || n.Valid || a != nil {
		t.Fatalf("NULLs read as %v %v %v %v", b, s, n, a)
	}
	if err := c.QueryRow("SELECT b FROM t WHERE id = 1", nil, &b); err != nil || b == nil || len(b) != 0 {
		t.Fatalf("empty blob read as %#v, %v", b, err)
	}
}

// TestArenaGrows binds text and blobs of growing and shrinking sizes through
// the same statements, so that the arena is reallocated while statements
// prepared before still hold it.
func TestArenaGrows(t *testing.T) {
	c, _ := open(t)
	for i, size := range []int{0, 1, 511, 512, 513, 4096, 100_000, 3, 1 << 20, 10} {
		s := strings.Repeat(string(rune('a'+i)), size)
		b := bytes.Repeat([]byte{byte(i)}, size+1)
		if _, err := c.Exec("INSERT INTO t(id, s, b, u) VALUES (?, ?, ?, ?)", i, s, b, "u"+s); err != nil {
			t.Fatal(err)
		}
		var gs, gu string
		var gb []byte
		if err := c.QueryRow("SELECT s, b, u FROM t WHERE id = ? AND s = ?", []any{i, s}, &gs, &gb, &gu); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if gs != s || !bytes.Equal(gb, b) || gu != "u"+s {
			t.Fatalf("size %d: read back other values", size)
		}
	}
}

func TestNoRows(t *testing.T) {
	c, _ := open(t)
	var n int64 = 42
	err := c.QueryRow("SELECT n FROM t WHERE id = ?", []any{1}, &n)
	if !errors.Is(err, sql.ErrNoRows) || n != 42 {
		t.Fatalf("got %v, n %d; want sql.ErrNoRows and n untouched", err, n)
	}
}

// TestBadCallsChangeNothing checks that each bad call gets an error and
// leaves the table as it was.
func TestBadCallsChangeNothing(t *testing.T) {
	c, _ := open(t)
	if _, err := c.Exec("INSERT INTO t(id, u) VALUES (1, 'taken')"); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name  string
		query string
		args  []any
		want  string
	}{
		{"syntax", "INSERT INTO t(id VALUES (?)", []any{2}, "syntax error"},
		{"no such table", "INSERT INTO nope VALUES (?)", []any{2}, "no such table"},
		{"two statements", "INSERT INTO t(id) VALUES (2); DELETE FROM t", nil, "one statement at a time"},
		{"empty", "  -- nothing", nil, "no statement"},
		{"too few arguments", "INSERT INTO t(id, n) VALUES (?, ?)", []any{2}, "1 arguments for 2 parameters"},
		{"too many arguments", "INSERT INTO t(id) VALUES (?)", []any{2, 3}, "2 arguments for 1 parameters"},
		{"unknown type", "INSERT INTO t(id, n) VALUES (?, ?)", []any{2, struct{}{}}, "cannot bind a struct {}"},
		{"unsigned overflow", "INSERT INTO t(id, n) VALUES (?, ?)", []any{2, uint64(math.MaxUint64)}, "does not fit"},
		{"unique", "INSERT INTO t(id, u) VALUES (?, ?)", []any{2, "taken"}, "UNIQUE constraint failed: t.u"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Exec(tc.query, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			var rows int64
			if err := c.QueryRow("SELECT count(*) FROM t", nil, &rows); err != nil || rows != 1 {
				t.Fatalf("%d rows after the call (%v), want 1", rows, err)
			}
		})
	}
	_, err := c.Exec("INSERT INTO t(id, u) VALUES (?, ?)", 2, "taken")
	var e *Error
	if !errors.As(err, &e) || e.Primary() != 19 || e.Code != 2067 {
		t.Fatalf("unique violation: %#v, want an *Error with code 2067 (SQLITE_CONSTRAINT_UNIQUE)", err)
	}
}

// TestScanRefusesMismatches checks that a value is never put into a
// destination that cannot hold it.
func TestScanRefusesMismatches(t *testing.T) {
	c, _ := open(t)
	if _, err := c.Exec("INSERT INTO t(id, n, s, f, b) VALUES (1, 2, 'abc', 1.5, x'00')"); err != nil {
		t.Fatal(err)
	}
	var (
		n  int64
		s  string
		ok bool
		i  int
	)
	for _, tc := range []struct {
		query string
		dest  any
		want  string
	}{
		{"SELECT s FROM t", &n, "cannot store TEXT in a *int64"},
		{"SELECT f FROM t", &n, "cannot store REAL in a *int64"},
		{"SELECT b FROM t", &i, "cannot store BLOB in a *int"},
		{"SELECT NULL FROM t", &n, "cannot store NULL in a *int64"},
		{"SELECT NULL FROM t", &s, "cannot store NULL in a *string"},
		{"SELECT n FROM t", &ok, "cannot store INTEGER in a *bool"},
		{"SELECT s FROM t", &[]int{}, "cannot store into a *[]int"},
		{"SELECT n, s FROM t", &n, "1 destinations for 2 columns"},
	} {
		if err := c.QueryRow(tc.query, nil, tc.dest); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s into %T: error %v, want one saying %q", tc.query, tc.dest, err, tc.want)
		}
	}
	// Numbers and text convert as database/sql converts them.
	var f float64
	var num string
	if err := c.QueryRow("SELECT '17', n, f FROM t", nil, &n, &f, &num); err != nil || n != 17 || f != 2 || num != "1.5" {
		t.Fatalf("conversions: %d %v %q, %v", n, f, num, err)
	}
}

// TestSharesTheFile checks that a transaction committed here is what a
// database/sql connection to the same file reads, and that one rolled
// back is not.
func TestSharesTheFile(t *testing.T) {
	c, path := open(t)
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func() (n int) {
		t.Helper()
		if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, end := range []string{"ROLLBACK", "COMMIT"} {
		if _, err := c.Exec("BEGIN IMMEDIATE"); err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			if _, err := c.Exec("INSERT INTO t(n) VALUES (?)", i); err != nil {
				t.Fatal(err)
			}
		}
		if got := count(); got != 0 {
			t.Fatalf("another connection sees %d uncommitted rows", got)
		}
		if _, err := c.Exec(end); err != nil {
			t.Fatal(err)
		}
	}
	if got := count(); got != 10 {
		t.Fatalf("another connection sees %d rows, want the 10 committed", got)
	}
}

func TestClose(t *testing.T) {
	c, _ := open(t)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.Exec("INSERT INTO t(n) VALUES (1)"); !errors.Is(err, errClosed) {
		t.Fatalf("Exec after Close: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "no", "such", "dir", "x.db")); err == nil {
		t.Fatal("opened a database in a directory that does not exist")
	}
}

// TestPointerArguments binds through pointers, nil ones as NULL, and checks
// that doing so allocates nothing.
func TestPointerArguments(t *testing.T) {
	c, _ := open(t)
	type row struct {
		n    int64
		s    string
		b    []byte
		flag bool
		opt  sql.NullInt64
	}
	r := &row{n: 1 << 40, s: "pointed-to text", b: []byte{9, 8, 7}, flag: true, opt: sql.NullInt64{Int64: 5, Valid: true}}
	const insert = "INSERT OR REPLACE INTO t(id, n, s, b, flag, f) VALUES (1, ?, ?, ?, ?, ?)"
	if _, err := c.Exec(insert, &r.n, &r.s, &r.b, &r.flag, &r.opt); err != nil {
		t.Fatal(err)
	}
	var got row
	if err := c.QueryRow("SELECT n, s, b, flag, CAST(f AS INTEGER) FROM t WHERE id = 1", nil, &got.n, &got.s, &got.b, &got.flag, &got.opt); err != nil {
		t.Fatal(err)
	}
	if got.n != r.n || got.s != r.s || !bytes.Equal(got.b, r.b) || !got.flag || got.opt != r.opt {
		t.Fatalf("read back %+v, wrote %+v", got, *r)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := c.Exec(insert, &r.n, &r.s, &r.b, &r.flag, &r.opt); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("an insert through pointers allocates %v times, want 0", allocs)
	}
	var (
		ns *string
		nb *[]byte
		nn *int64
		nf *bool
		no *sql.NullInt64
	)
	if _, err := c.Exec(insert, nn, ns, nb, nf, no); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec("UPDATE t SET u = ? WHERE id = 1", &sql.NullInt64{}); err != nil {
		t.Fatal(err)
	}
	var nulls int
	if err := c.QueryRow("SELECT (n IS NULL) + (s IS NULL) + (b IS NULL) + (flag IS NULL) + (f IS NULL) + (u IS NULL) FROM t WHERE id = 1",
		nil, &nulls); err != nil || nulls != 6 {
		t.Fatalf("%d of 6 columns NULL after nil pointers (%v)", nulls, err)
	}
}
