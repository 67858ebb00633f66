package journal

import (
	"bufio"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestParseOrderNumber(t *testing.T) {
	tests := []struct {
		in   string
		want OrderNumber
		ok   bool
	}{
		{"T01-20260314-000001", OrderNumber{"T01", "20260314", 1}, true},
		{"shop-7.till_2-20261231-999999", OrderNumber{"shop-7.till_2", "20261231", 999999}, true},
		{"T01-R01-20260101-000002", OrderNumber{"T01-R01", "20260101", 2}, true},
		{"T01-20260314-000000", OrderNumber{}, false},
		{"T01-20260230-000001", OrderNumber{}, false}, // 30 February
		{"T01-2026031-000001", OrderNumber{}, false},
		{"T01-20260314-00001", OrderNumber{}, false},
		{"T01-20260314-0000001", OrderNumber{}, false},
		{"-20260314-000001", OrderNumber{}, false},
		{"T 1-20260314-000001", OrderNumber{}, false},
		{"T01-20260314-+00001", OrderNumber{}, false},
		{"20260314-000001", OrderNumber{}, false},
		{"", OrderNumber{}, false},
		{strings.Repeat("x", 33) + "-20260314-000001", OrderNumber{}, false},
	}
	for _, tt := range tests {
		got, err := ParseOrderNumber(tt.in)
		if tt.ok != (err == nil) {
			t.Errorf("ParseOrderNumber(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if !tt.ok {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseOrderNumber(%q) error %v does not match ErrInvalid", tt.in, err)
			}
			continue
		}
		if got != tt.want || got.String() != tt.in {
			t.Errorf("ParseOrderNumber(%q) = %+v (%s), want %+v", tt.in, got, got, tt.want)
		}
	}
}

func TestOrderNumbersSortInCreationOrder(t *testing.T) {
	seq := []OrderNumber{{"T9", "20251231", 999999}, {"T9", "20260101", 1}, {"T9", "20260101", 2}, {"T9", "20260101", 10}, {"T9", "20260102", 1}}
	for i := 1; i < len(seq); i++ {
		a, b := seq[i-1], seq[i]
		if !a.Less(b) || !(a.String() < b.String()) {
			t.Errorf("%s should sort before %s", a, b)
		}
	}
	if n := len(OrderNumber{strings.Repeat("x", MaxTerminalIDLen), "20260101", 1}.String() + "-R99"); n > 64 {
		t.Errorf("longest refund number has %d characters, want ≤ 64", n)
	}
}

func TestParseRefundNumber(t *testing.T) {
	o, n, err := ParseRefundNumber(RefundNumber("T01-20260314-000042", 7))
	if err != nil || o.String() != "T01-20260314-000042" || n != 7 {
		t.Fatalf("round trip = %v, %d, %v", o, n, err)
	}
	for _, bad := range []string{"T01-20260314-000042", "T01-20260314-000042-R00", "T01-20260314-000042-R1", "T01-20260314-000042-R100", "-R01", "T01-2026-000042-R01"} {
		if _, _, err := ParseRefundNumber(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseRefundNumber(%q) error = %v, want ErrInvalid", bad, err)
		}
	}
}

// seedNumbers adds order numbers, and payment codes from the shared fixtures
// as garbage input, to a fuzz corpus.
func seedNumbers(f *testing.F) {
	for _, s := range []string{"T01-20260314-000001", "a-b-c-20261231-999999", "T01-20260314-000001-R01", "T01--000001", "--", "-R", ""} {
		f.Add(s)
	}
	if fh, err := os.Open("../../../shared/fixtures/codes.tsv"); err == nil {
		defer fh.Close()
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			if fields := strings.Split(sc.Text(), "\t"); len(fields) > 1 {
				f.Add(fields[1])
				f.Add("T01-20260314-" + fields[1])
			}
		}
	}
}

func FuzzParseOrderNumber(f *testing.F) {
	seedNumbers(f)
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseOrderNumber(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			return
		}
		if n.String() != s {
			t.Fatalf("ParseOrderNumber(%q).String() = %q", s, n.String())
		}
		if len(s) > MaxTerminalIDLen+16 {
			t.Fatalf("accepted %d characters", len(s))
		}
		for _, r := range s {
			if r <= ' ' || r > '~' {
				t.Fatalf("accepted non-printable %q", s)
			}
		}
	})
}

func FuzzParseRefundNumber(f *testing.F) {
	seedNumbers(f)
	f.Fuzz(func(t *testing.T, s string) {
		o, n, err := ParseRefundNumber(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			return
		}
		if n < 1 || n > MaxRefunds || RefundNumber(o.String(), n) != s || len(s) > 64 {
			t.Fatalf("ParseRefundNumber(%q) = %v, %d", s, o, n)
		}
	})
}
