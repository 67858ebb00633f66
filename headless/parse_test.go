package headless

import (
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		line, name, order string
		minor             int64 // 0: no amount
		err               string
	}{
		{"charge 12.5", "charge", "", 1250, ""},
		{"  CHARGE   3  ", "charge", "", 300, ""},
		{"refund T1-20260101-000001", "refund", "T1-20260101-000001", 0, ""},
		{"refund T1-20260101-000001 0.5", "refund", "T1-20260101-000001", 50, ""},
		{"query X", "query", "X", 0, ""},
		{"ack X", "ack", "X", 0, ""},
		{"exit", "quit", "", 0, ""},
		{"", "", "", 0, ""},
		{"# a comment", "", "", 0, ""},
		{"charge", "", "", 0, "wrong number of arguments"},
		{"charge 1 2", "", "", 0, "wrong number of arguments"},
		{"charge 1.001", "", "", 0, "not an amount"},
		{"charge 0", "", "", 0, "not an amount"},
		{"refund X -1", "", "", 0, "not an amount"},
		{"status now", "", "", 0, "wrong number of arguments"},
		{"pay 5", "", "", 0, "unknown command"},
	}
	for _, tt := range tests {
		c, err := ParseCommand(tt.line, "CNY")
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.line, err, tt.err)
			}
			continue
		}
		if err != nil || c.Name != tt.name || c.Order != tt.order || (tt.minor == 0) != (c.Amount == nil) || c.Amount != nil && c.Amount.Minor != tt.minor {
			t.Errorf("%q: %+v, %v", tt.line, c, err)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"charge 12.50", "refund T-1 3", "quit", "# x", "ack", "charge ¥5", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := ParseCommand(line, "CNY")
		if err != nil {
			if c.Name != "" {
				t.Fatalf("an error with a command: %+v", c)
			}
			return
		}
		switch c.Name {
		case "charge":
			if c.Amount == nil || c.Amount.Minor <= 0 {
				t.Fatalf("charge without a positive amount: %+v", c)
			}
		case "refund", "query", "ack":
			if c.Order == "" || strings.ContainsAny(c.Order, " \\t\\n") {
				t.Fatalf("bad order %q", c.Order)
			}
		case "", "cancel", "status", "sync", "help", "quit":
		default:
			t.Fatalf("unknown command accepted: %+v", c)
		}
	})
}
