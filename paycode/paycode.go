// Package paycode is tillpay's payment-code scheme: a payer's wallet turns a
// token seed into one-time 18-digit codes with no network, and the payment
// backend, which holds the same seed, verifies them.
//
// A code reads, digit by digit (docs/paycode.md has the full specification
// and its security analysis):
//
//	71 KKKKKKK S Q TTTTTTT
//	│  │       │ │ └ token: HOTP (RFC 4226, HMAC-SHA-256) of the counter, 7 digits
//	│  │       │ └── sequence number within the time step, 0–9
//	│  │       └──── time step (60 s since the Unix epoch) modulo 10
//	│  └──────────── enrolment key id, 7 digits
//	└─────────────── scheme prefix "71", outside Alipay's 25–30, WeChat's 10–15
//	                 and UnionPay's 62
//
// The counter fed to HOTP is step×10 + sequence, so every (step, sequence)
// pair gives a different token and a wallet can make ten codes a minute
// offline. A verifier finds the payer by key id (an index lookup), recovers the
// step from its own clock and the step digit, and compares tokens in constant
// time. One-time use and throttling are the verifier's records, not this
// package's: see Verifier in tillpay/backend.
package paycode

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// Parameters of the scheme.
const (
	// Length is the number of digits in a code.
	Length = 18
	// Prefix starts every tillpay code.
	Prefix = "71"
	// StepSeconds is the length of a time step.
	StepSeconds = 60
	// SeqPerStep is how many codes a wallet can make in one time step.
	SeqPerStep = 10
	// SeedBytes is the size of a token seed: 256 random bits.
	SeedBytes = 32
	// MaxKeyID is the largest enrolment key id (seven digits).
	MaxKeyID KeyID = 9_999_999
	// TokenDigits is the number of digits in the token.
	TokenDigits = 7
	// Skew is how many steps either side of the verifier's step are accepted.
	Skew = 1
)

// KeyID identifies an enrolment (one payer's current seed).
type KeyID uint32

// String formats the key id as its seven digits.
func (k KeyID) String() string { return fmt.Sprintf("%07d", uint32(k)) }

// Errors returned when a code is refused; match them with errors.Is.
var (
	// ErrMalformed: not 18 digits, or not a number at all.
	ErrMalformed = errors.New("not a payment code")
	// ErrForeign: a payment code of another provider; see ForeignError.
	ErrForeign = errors.New("payment code of another provider")
	// ErrExpired: the code was made for a time step too far from now.
	ErrExpired = errors.New("payment code expired")
	// ErrInvalid: the token does not match: forged, mistyped or revoked.
	ErrInvalid = errors.New("payment code not valid")
)

// Provider names the issuer of a payment code.
type Provider string

// Providers a till meets. Only Tillpay codes are accepted.
const (
	Tillpay  Provider = "tillpay"
	Alipay   Provider = "Alipay"
	WeChat   Provider = "WeChat Pay"
	UnionPay Provider = "UnionPay"
	// NoProvider means the digits match no known scheme.
	NoProvider Provider = ""
)

// ForeignError is returned for a code that belongs to another provider.
type ForeignError struct{ Provider Provider }

func (e *ForeignError) Error() string {
	return fmt.Sprintf("this is %s payment code; this till takes tillpay codes only", e.Provider.WithArticle())
}

// WithArticle is the provider's name after "a" or "an": "an Alipay",
// "a WeChat Pay", "a UnionPay".
func (p Provider) WithArticle() string {
	if p == "" {
		return "a"
	}
	if strings.ContainsRune("AEIO", rune(p[0])) {
		return "an " + string(p)
	}
	return "a " + string(p)
}

// Unwrap makes errors.Is(err, ErrForeign) true.
func (e *ForeignError) Unwrap() error { return ErrForeign }

// Identify tells which provider issued code from its prefix and length:
// Alipay 16–24 digits starting 25–30 (alipay.trade.pay auth_code), WeChat Pay
// 18 digits starting 10–15 or 160 (micropay auth_code; 160 is the "fusion
// wallet" Quick Pay range, pay.weixin.qq.com/wiki/doc/api/wxpay/en/fusion_wallet/QuickPay/chapter3_1.shtml),
// UnionPay 19 digits starting 62, tillpay 18 digits starting 71.
func Identify(code string) Provider {
	if !isDigits(code) || len(code) < 2 {
		return NoProvider
	}
	p, _ := strconv.Atoi(code[:2])
	n := len(code)
	switch {
	case n == Length && code[:2] == Prefix:
		return Tillpay
	case p >= 25 && p <= 30 && n >= 16 && n <= 24:
		return Alipay
	case n == 18 && (p >= 10 && p <= 15 || code[:3] == "160"):
		return WeChat
	case p == 62 && n == 19:
		return UnionPay
	}
	return NoProvider
}

// Code is a parsed payment code.
type Code struct {
	KeyID     KeyID
	StepDigit uint8  // time step modulo 10
	Seq       uint8  // sequence number within the step
	Token     uint32 // seven-digit token
}

// Parse checks the form of a code (digits, length, prefix) without any
// secret. Codes of other providers give a *ForeignError.
func Parse(s string) (Code, error) {
	if !isDigits(s) {
		return Code{}, fmt.Errorf("%w: only digits are allowed", ErrMalformed)
	}
	if p := Identify(s); p != Tillpay {
		if p != NoProvider {
			return Code{}, &ForeignError{Provider: p}
		}
		if len(s) != Length {
			return Code{}, fmt.Errorf("%w: %d digits, want %d", ErrMalformed, len(s), Length)
		}
		return Code{}, fmt.Errorf("%w: it does not start with %s", ErrMalformed, Prefix)
	}
	key, _ := strconv.ParseUint(s[2:9], 10, 32)
	token, _ := strconv.ParseUint(s[11:18], 10, 32)
	return Code{
		KeyID:     KeyID(key),
		StepDigit: s[9] - '0',
		Seq:       s[10] - '0',
		Token:     uint32(token),
	}, nil
}

// String formats the code as its 18 digits.
func (c Code) String() string {
	return fmt.Sprintf("%s%07d%d%d%07d", Prefix, uint32(c.KeyID), c.StepDigit, c.Seq, c.Token)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// NewSeed returns a fresh random token seed.
func NewSeed() ([]byte, error) {
	seed := make([]byte, SeedBytes)
	if _, err := rand.Read(seed); err != nil {
		return nil, fmt.Errorf("paycode: reading random seed: %w", err)
	}
	return seed, nil
}

// StepAt returns the time step that t falls in.
func StepAt(t time.Time) int64 {
	u := t.Unix()
	if u < 0 {
		return (u - StepSeconds + 1) / StepSeconds
	}
	return u / StepSeconds
}

// Counter returns the HOTP counter of a step and sequence number.
func Counter(step int64, seq int) uint64 { return uint64(step)*SeqPerStep + uint64(seq) }

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// HOTP returns the RFC 4226 one-time password of counter under secret with
// the given number of digits and hash, through github.com/pquerna/otp.
func HOTP(secret []byte, counter uint64, digits int, alg otp.Algorithm) (uint32, error) {
	s, err := hotp.GenerateCodeCustom(b32.EncodeToString(secret), counter, hotp.ValidateOpts{
		Digits:    otp.Digits(digits),
		Algorithm: alg,
	})
	if err != nil {
		return 0, fmt.Errorf("paycode: hotp: %w", err)
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("paycode: hotp gave %q: %w", s, err)
	}
	return uint32(v), nil
}

func token(seed []byte, step int64, seq int) (uint32, error) {
	return HOTP(seed, Counter(step, seq), TokenDigits, otp.AlgorithmSHA256)
}

// Generate makes the code of a key for a time step and sequence number.
// A wallet calls it with StepAt(its estimate of the backend's time).
func Generate(seed []byte, key KeyID, step int64, seq int) (string, error) {
	if len(seed) < 20 {
		return "", fmt.Errorf("paycode: seed of %d bytes is too short", len(seed))
	}
	if key > MaxKeyID {
		return "", fmt.Errorf("paycode: key id %d has more than seven digits", key)
	}
	if seq < 0 || seq >= SeqPerStep {
		return "", fmt.Errorf("paycode: sequence number %d out of 0–%d", seq, SeqPerStep-1)
	}
	if step < 0 {
		return "", fmt.Errorf("paycode: time step %d is before 1970", step)
	}
	tok, err := token(seed, step, seq)
	if err != nil {
		return "", err
	}
	return Code{KeyID: key, StepDigit: uint8(step % 10), Seq: uint8(seq), Token: tok}.String(), nil
}

// Match is a verified code: which step and counter it was made for.
type Match struct {
	Step    int64
	Counter uint64
}

// Window returns the step and counter that c names if it is valid at time
// at: the step within ±Skew of at whose last digit is c.StepDigit. It needs
// no seed and says nothing of the token; Verify accepts c only with this
// match. ok is false if no step of the window has that digit.
func Window(c Code, at time.Time) (m Match, ok bool) {
	if c.Seq >= SeqPerStep || c.StepDigit > 9 {
		return Match{}, false
	}
	now := StepAt(at)
	for d := int64(-Skew); d <= Skew; d++ {
		// The window is shorter than ten steps, so one step at most has
		// the digit.
		if step := now + d; step >= 0 && uint8(step%10) == c.StepDigit {
			return Match{Step: step, Counter: Counter(step, int(c.Seq))}, true
		}
	}
	return Match{}, false
}

// lookBack is how far back, in steps, Verify searches to tell an expired
// code from a forged one. It only chooses the error; nothing older than
// Skew steps is ever accepted.
const lookBack = 6 * 60

// Verify checks c against seed at time at (the verifier's clock, or the
// terminal's recorded scan time for a payment made offline). It accepts the
// step within ±Skew of at whose last digit is c.StepDigit, comparing tokens
// in constant time. A code made for an older step gives ErrExpired with the
// step and counter it was made for (so that a verifier can retire that
// counter too: an expired code must not be revived by a back-dated offline
// record), one that matches no step in the last six hours gives ErrInvalid.
func Verify(seed []byte, c Code, at time.Time) (Match, error) {
	if c.Seq >= SeqPerStep || c.StepDigit > 9 {
		return Match{}, fmt.Errorf("%w: malformed fields", ErrInvalid)
	}
	now := StepAt(at)
	if m, ok := Window(c, at); ok {
		tok, err := token(seed, m.Step, int(c.Seq))
		if err != nil {
			return Match{}, err
		}
		if subtle.ConstantTimeEq(int32(tok), int32(c.Token)) == 1 {
			return m, nil
		}
	}
	// Not valid now. Was it a real code from an earlier step?
	oldest := now - lookBack
	start := now - Skew - 1
	for start >= 0 && uint8(start%10) != c.StepDigit {
		start--
	}
	for step := start; step >= oldest && step >= 0; step -= 10 {
		tok, err := token(seed, step, int(c.Seq))
		if err != nil {
			return Match{}, err
		}
		if subtle.ConstantTimeEq(int32(tok), int32(c.Token)) == 1 {
			age := time.Duration(now-step) * StepSeconds * time.Second
			return Match{Step: step, Counter: Counter(step, int(c.Seq))},
				fmt.Errorf("%w: made about %s ago", ErrExpired, age.Round(time.Minute))
		}
	}
	return Match{}, ErrInvalid
}

// Mask hides all but the last four digits of a code, for logs and screens.
func Mask(code string) string {
	if len(code) <= 4 {
		return strings.Repeat("*", len(code))
	}
	return strings.Repeat("*", len(code)-4) + code[len(code)-4:]
}
