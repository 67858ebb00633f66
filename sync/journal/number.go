package journal

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limits of numbers made by the journal.
const (
	MaxTerminalIDLen = 32      // a terminal id is 1–32 of [A-Za-z0-9._-]
	MaxDaySeq        = 999_999 // order numbers per day
	MaxRefunds       = 99      // refund requests per order
	dayLayout        = "20060102"
)

// OrderNumber is an order number split into its parts.
type OrderNumber struct {
	Terminal string
	Day      string // YYYYMMDD, a local calendar day
	Seq      int    // 1 … MaxDaySeq
}

// String formats the order number: <terminal>-<YYYYMMDD>-<NNNNNN>, at most
// MaxTerminalIDLen+16 characters.
func (n OrderNumber) String() string {
	return fmt.Sprintf("%s-%s-%06d", n.Terminal, n.Day, n.Seq)
}

// Less reports whether n was made before m by the same terminal.
func (n OrderNumber) Less(m OrderNumber) bool {
	if n.Day != m.Day {
		return n.Day < m.Day
	}
	return n.Seq < m.Seq
}

// CheckTerminalID reports whether id can name a terminal in order numbers.
func CheckTerminalID(id string) error {
	if id == "" || len(id) > MaxTerminalIDLen {
		return fmt.Errorf("%w: terminal id must have 1 to %d characters", ErrInvalid, MaxTerminalIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: terminal id %q may hold only letters, digits, '.', '_' and '-'", ErrInvalid, id)
		}
	}
	return nil
}

// ParseOrderNumber splits an order number made by a journal.
func ParseOrderNumber(s string) (OrderNumber, error) {
	bad := func(why string) (OrderNumber, error) {
		return OrderNumber{}, fmt.Errorf("%w: order number %q: %s", ErrInvalid, s, why)
	}
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return bad("no counter")
	}
	seqText := s[i+1:]
	rest := s[:i]
	j := strings.LastIndexByte(rest, '-')
	if j < 0 {
		return bad("no day")
	}
	day, term := rest[j+1:], rest[:j]
	if len(seqText) != 6 || !digits(seqText) {
		return bad("counter must be 6 digits")
	}
	seq, _ := strconv.Atoi(seqText)
	if seq < 1 {
		return bad("counter must start at 000001")
	}
	if len(day) != 8 || !digits(day) {
		return bad("day must be YYYYMMDD")
	}
	if t, err := time.Parse(dayLayout, day); err != nil || t.Format(dayLayout) != day {
		return bad("day is not a calendar date")
	}
	if err := CheckTerminalID(term); err != nil {
		return bad(err.Error())
	}
	return OrderNumber{Terminal: term, Day: day, Seq: seq}, nil
}

// RefundNumber formats the n-th refund request number of an order:
// <order>-R<NN>.
func RefundNumber(order string, n int) string {
	return fmt.Sprintf("%s-R%02d", order, n)
}

// ParseRefundNumber splits a refund request number into its order number and
// its index (1 … MaxRefunds).
func ParseRefundNumber(s string) (order OrderNumber, n int, err error) {
	i := strings.LastIndex(s, "-R")
	if i < 0 || len(s)-i != 4 || !digits(s[i+2:]) {
		return OrderNumber{}, 0, fmt.Errorf("%w: refund number %q must end in -R01 … -R%02d", ErrInvalid, s, MaxRefunds)
	}
	n, _ = strconv.Atoi(s[i+2:])
	if n < 1 {
		return OrderNumber{}, 0, fmt.Errorf("%w: refund number %q: index must start at 01", ErrInvalid, s)
	}
	order, err = ParseOrderNumber(s[:i])
	if err != nil {
		return OrderNumber{}, 0, err
	}
	return order, n, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
