// Package money holds amounts of money as integer minor units (fen for CNY)
// with a currency, and parses and formats decimal text exactly. It never uses
// floating point.
package money

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Errors returned by Parse and NewAmount; match them with errors.Is.
var (
	ErrSyntax          = errors.New("not a decimal amount")
	ErrNegative        = errors.New("amount must be positive")
	ErrZero            = errors.New("amount must be greater than zero")
	ErrTooPrecise      = errors.New("amount has more decimal places than the currency allows")
	ErrOverflow        = errors.New("amount is too large")
	ErrUnknownCurrency = errors.New("unknown currency")
)

// MaxMinor is the largest amount accepted, in minor units: 10^15 fen is
// ten trillion yuan, far above any payment and far below int64 overflow, so
// sums of many amounts cannot overflow either.
const MaxMinor int64 = 1_000_000_000_000_000

// Currency is an ISO 4217 code with its number of minor-unit digits.
type Currency struct {
	Code     string
	Exponent int
}

// Known currencies. CNY is the default currency of a till.
var currencies = map[string]Currency{
	"CNY": {"CNY", 2},
	"HKD": {"HKD", 2},
	"USD": {"USD", 2},
	"EUR": {"EUR", 2},
	"JPY": {"JPY", 0},
}

// DefaultCurrency is the currency used when none is given.
const DefaultCurrency = "CNY"

// LookupCurrency returns the currency with the ISO 4217 code (case-insensitive).
func LookupCurrency(code string) (Currency, error) {
	c, ok := currencies[strings.ToUpper(code)]
	if !ok {
		return Currency{}, fmt.Errorf("%w %q", ErrUnknownCurrency, code)
	}
	return c, nil
}

// Amount is a positive or zero quantity of money in minor units.
type Amount struct {
	Minor    int64  `json:"minor"`
	Currency string `json:"currency"`
}

// New returns the amount of minor units in currency, checking both.
// Zero is allowed here (a balance may be zero); payments use Parse or
// CheckPayable, which refuse it.
func New(minor int64, currency string) (Amount, error) {
	c, err := LookupCurrency(currency)
	if err != nil {
		return Amount{}, err
	}
	if minor < 0 {
		return Amount{}, ErrNegative
	}
	if minor > MaxMinor {
		return Amount{}, ErrOverflow
	}
	return Amount{Minor: minor, Currency: c.Code}, nil
}

// CheckPayable reports whether a is a valid amount to charge or refund:
// a known currency and between one minor unit and MaxMinor.
func (a Amount) CheckPayable() error {
	if _, err := LookupCurrency(a.Currency); err != nil {
		return err
	}
	switch {
	case a.Minor < 0:
		return ErrNegative
	case a.Minor == 0:
		return ErrZero
	case a.Minor > MaxMinor:
		return ErrOverflow
	}
	return nil
}

// Parse reads decimal text such as "12", "12.5" or "12.50" as an amount in
// currency. It accepts digits with an optional decimal point and an optional
// leading "¥": no exponent, no sign, no grouping separators, and no more
// significant decimal places than the currency has. The amount must be
// greater than zero.
func Parse(text, currency string) (Amount, error) {
	c, err := LookupCurrency(currency)
	if err != nil {
		return Amount{}, err
	}
	s := strings.TrimSpace(text)
	s = strings.TrimPrefix(s, "¥")
	if strings.HasPrefix(s, "-") {
		return Amount{}, fmt.Errorf("%q: %w", text, ErrNegative)
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if !allDigits(whole) || !allDigits(frac) || whole == "" && frac == "" || hasDot && frac == "" {
		return Amount{}, fmt.Errorf("%q: %w", text, ErrSyntax)
	}
	if whole == "" {
		whole = "0"
	}
	if len(frac) > c.Exponent {
		// Trailing zeros beyond the exponent are exact and harmless.
		trimmed := strings.TrimRight(frac[c.Exponent:], "0")
		if trimmed != "" {
			return Amount{}, fmt.Errorf("%q: %w (%d)", text, ErrTooPrecise, c.Exponent)
		}
		frac = frac[:c.Exponent]
	}
	frac += strings.Repeat("0", c.Exponent-len(frac))
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 18 {
		return Amount{}, fmt.Errorf("%q: %w", text, ErrOverflow)
	}
	var units uint64
	if whole != "" {
		units, err = strconv.ParseUint(whole, 10, 64)
		if err != nil {
			return Amount{}, fmt.Errorf("%q: %w", text, ErrOverflow)
		}
	}
	scale := uint64(math.Pow10(c.Exponent))
	if units > uint64(MaxMinor)/scale {
		return Amount{}, fmt.Errorf("%q: %w", text, ErrOverflow)
	}
	var fracUnits uint64
	if frac != "" {
		fracUnits, _ = strconv.ParseUint(frac, 10, 64)
	}
	minor := units*scale + fracUnits
	if minor > uint64(MaxMinor) {
		return Amount{}, fmt.Errorf("%q: %w", text, ErrOverflow)
	}
	if minor == 0 {
		return Amount{}, fmt.Errorf("%q: %w", text, ErrZero)
	}
	return Amount{Minor: int64(minor), Currency: c.Code}, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Decimal formats the amount as decimal text with exactly the currency's
// number of decimal places, such as "12.50". It has no currency sign.
func (a Amount) Decimal() string {
	exp := 2
	if c, err := LookupCurrency(a.Currency); err == nil {
		exp = c.Exponent
	}
	neg := a.Minor < 0
	m := a.Minor
	if neg {
		m = -m
	}
	s := strconv.FormatInt(m, 10)
	if exp > 0 {
		if len(s) <= exp {
			s = strings.Repeat("0", exp-len(s)+1) + s
		}
		s = s[:len(s)-exp] + "." + s[len(s)-exp:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// String formats the amount with its currency, such as "12.50 CNY".
func (a Amount) String() string { return a.Decimal() + " " + a.Currency }
