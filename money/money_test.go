package money

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in       string
		currency string
		want     int64
		err      error
	}{
		{"12", "CNY", 1200, nil},
		{"12.5", "CNY", 1250, nil},
		{"12.50", "cny", 1250, nil},
		{"0.01", "CNY", 1, nil},
		{".01", "CNY", 1, nil},
		{"¥3.20", "CNY", 320, nil},
		{" 7 ", "CNY", 700, nil},
		{"1.230", "CNY", 123, nil},
		{"1000", "JPY", 1000, nil},
		{"10000000000000", "CNY", 1_000_000_000_000_000, nil},
		{"10000000000000.01", "CNY", 0, ErrOverflow},
		{"99999999999999999999999", "CNY", 0, ErrOverflow},
		{"1.001", "CNY", 0, ErrTooPrecise},
		{"1.5", "JPY", 0, ErrTooPrecise},
		{"0", "CNY", 0, ErrZero},
		{"0.00", "CNY", 0, ErrZero},
		{"-1", "CNY", 0, ErrNegative},
		{"", "CNY", 0, ErrSyntax},
		{".", "CNY", 0, ErrSyntax},
		{"12.", "CNY", 0, ErrSyntax},
		{"1e3", "CNY", 0, ErrSyntax},
		{"1,000", "CNY", 0, ErrSyntax},
		{"+5", "CNY", 0, ErrSyntax},
		{"1.2.3", "CNY", 0, ErrSyntax},
		{"NaN", "CNY", 0, ErrSyntax},
		{"5", "XXX", 0, ErrUnknownCurrency},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in, tt.currency)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("Parse(%q, %s) error = %v, want %v", tt.in, tt.currency, err, tt.err)
			}
			continue
		}
		if err != nil || got.Minor != tt.want {
			t.Errorf("Parse(%q, %s) = %v, %v; want %d", tt.in, tt.currency, got, err, tt.want)
		}
	}
}

func TestDecimal(t *testing.T) {
	tests := []struct {
		a    Amount
		want string
	}{
		{Amount{1250, "CNY"}, "12.50"},
		{Amount{1, "CNY"}, "0.01"},
		{Amount{0, "CNY"}, "0.00"},
		{Amount{-305, "CNY"}, "-3.05"},
		{Amount{1000, "JPY"}, "1000"},
	}
	for _, tt := range tests {
		if got := tt.a.Decimal(); got != tt.want {
			t.Errorf("%#v.Decimal() = %q, want %q", tt.a, got, tt.want)
		}
	}
}

func TestCheckPayable(t *testing.T) {
	if err := (Amount{1, "CNY"}).CheckPayable(); err != nil {
		t.Fatal(err)
	}
	for _, a := range []Amount{{0, "CNY"}, {-1, "CNY"}, {MaxMinor + 1, "CNY"}, {5, "ABC"}} {
		if err := a.CheckPayable(); err == nil {
			t.Errorf("%v.CheckPayable() = nil, want an error", a)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"12.50", "0.01", "¥1", "1e9", "-3", "99999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s, "CNY")
		if err != nil {
			return
		}
		if a.Minor <= 0 || a.Minor > MaxMinor {
			t.Fatalf("Parse(%q) = %d out of range", s, a.Minor)
		}
		back, err := Parse(a.Decimal(), "CNY")
		if err != nil || back != a {
			t.Fatalf("round trip of %q: %v → %q → %v, %v", s, a, a.Decimal(), back, err)
		}
	})
}
