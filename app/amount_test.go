package app

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"tillpay/money"
)

func typeAmount(keys string, decimals int) string {
	s := ""
	for _, r := range keys {
		s, _ = editAmount(s, r, decimals)
	}
	return s
}

func TestEditAmount(t *testing.T) {
	for _, c := range []struct {
		keys string
		dec  int
		want string
	}{
		{"12.50", 2, "12.50"},
		{"12.505", 2, "12.50"}, // no third decimal
		{"1..2", 2, "1.2"},     // one point
		{".5", 2, "0.5"},       // a leading point
		{"007", 2, "7"},        // no leading zeros
		{"0.07", 2, "0.07"},    //
		{"12,5", 2, "12.5"},    // a comma is a point
		{"1a2b", 2, "12"},      // letters ignored
		{"12.5", 0, "125"},     // JPY: no point
		{"12345678901", 2, "1234567890"},
	} {
		if got := typeAmount(c.keys, c.dec); got != c.want {
			t.Errorf("%q (%d decimals) → %q, want %q", c.keys, c.dec, got, c.want)
		}
	}
}

// FuzzEditAmount: whatever is typed, the amount text stays one that
// money.Parse reads (or is empty, or ends in the point being typed).
func FuzzEditAmount(f *testing.F) {
	for _, s := range []string{"12.50", "0.01", "..", "007,5", "999999999999", "1e9", "１２"} {
		f.Add(s, 2)
	}
	f.Add("100", 0)
	f.Fuzz(func(t *testing.T, keys string, decimals int) {
		if !utf8.ValidString(keys) || decimals < 0 || decimals > 4 {
			return
		}
		s := typeAmount(keys, decimals)
		if len(s) > maxAmountLen {
			t.Fatalf("%q: %q is too long", keys, s)
		}
		if s == "" {
			return
		}
		if strings.Count(s, ".") > 1 || (len(s) > 1 && s[0] == '0' && s[1] != '.') {
			t.Fatalf("%q: malformed %q", keys, s)
		}
		cur := map[int]string{0: "JPY", 2: "CNY"}[decimals]
		if cur == "" {
			return
		}
		text := strings.TrimSuffix(s, ".")
		if _, err := money.Parse(text, cur); err != nil && !errors.Is(err, money.ErrZero) {
			t.Fatalf("%q: %q does not parse as %s: %v", keys, s, cur, err)
		}
	})
}
