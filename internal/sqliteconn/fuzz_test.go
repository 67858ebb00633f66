package sqliteconn

import (
	"bytes"
	"math"
	"testing"
)

// FuzzRoundTrip binds any text, blob, integer and real through the arena
// and reads them back unchanged, through a statement kept from one input
// to the next.
func FuzzRoundTrip(f *testing.F) {
	f.Add("", []byte{}, int64(0), 0.0)
	f.Add("héllo\x00world", []byte{0, 0xff}, int64(math.MaxInt64), -1.5e300)
	f.Add("\xff\xfe not UTF-8", []byte(nil), int64(math.MinInt64), math.Inf(1))
	c, _ := open(f)
	f.Fuzz(func(t *testing.T, s string, b []byte, n int64, x float64) {
		if math.IsNaN(x) {
			x = 0 // SQLite stores NaN as NULL
		}
		res, err := c.Exec("INSERT INTO t(s, b, n, f) VALUES (?, ?, ?, ?)", s, b, n, x)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := res.LastInsertId()
		var gs string
		var gb []byte
		var gn int64
		var gx float64
		if err := c.QueryRow("SELECT s, b, n, f FROM t WHERE id = ?", []any{id}, &gs, &gb, &gn, &gx); err != nil {
			t.Fatal(err)
		}
		if gs != s || !bytes.Equal(gb, b) || (b == nil) != (gb == nil) || gn != n || gx != x {
			t.Fatalf("wrote %q %v %d %v, read %q %v %d %v", s, b, n, x, gs, gb, gn, gx)
		}
	})
}
