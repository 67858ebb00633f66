package paycode

import (
	"bufio"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
)

// RFC 4226 Appendix D: secret "12345678901234567890", six digits, SHA-1.
func TestHOTPRFC4226(t *testing.T) {
	want := []uint32{755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489}
	for counter, w := range want {
		got, err := HOTP([]byte("12345678901234567890"), uint64(counter), 6, otp.AlgorithmSHA1)
		if err != nil || got != w {
			t.Errorf("HOTP(counter %d) = %06d, %v; want %06d", counter, got, err, w)
		}
	}
}

// RFC 6238 Appendix B: eight digits, X = 30 s, T0 = 0.
func TestTOTPRFC6238(t *testing.T) {
	seeds := map[otp.Algorithm][]byte{
		otp.AlgorithmSHA1:   []byte("12345678901234567890"),
		otp.AlgorithmSHA256: []byte("12345678901234567890123456789012"),
		otp.AlgorithmSHA512: []byte("1234567890123456789012345678901234567890123456789012345678901234"),
	}
	vectors := []struct {
		unix                 int64
		sha1, sha256, sha512 uint32
	}{
		{59, 94287082, 46119246, 90693936},
		{1111111109, 7081804, 68084774, 25091201},
		{1111111111, 14050471, 67062674, 99943326},
		{1234567890, 89005924, 91819424, 93441116},
		{2000000000, 69279037, 90698825, 38618901},
		{20000000000, 65353130, 77737706, 47863826},
	}
	for _, v := range vectors {
		for alg, want := range map[otp.Algorithm]uint32{otp.AlgorithmSHA1: v.sha1, otp.AlgorithmSHA256: v.sha256, otp.AlgorithmSHA512: v.sha512} {
			got, err := HOTP(seeds[alg], uint64(v.unix/30), 8, alg)
			if err != nil || got != want {
				t.Errorf("TOTP(%d, %v) = %08d, %v; want %08d", v.unix, alg, got, err, want)
			}
		}
	}
}

func testSeed(t testing.TB) []byte {
	t.Helper()
	seed, err := NewSeed()
	if err != nil {
		t.Fatal(err)
	}
	return seed
}

func TestGenerateVerify(t *testing.T) {
	seed := testSeed(t)
	now := time.Date(2026, 11, 25, 12, 0, 30, 0, time.UTC)
	step := StepAt(now)
	code, err := Generate(seed, 1234567, step, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(code) != Length || !strings.HasPrefix(code, Prefix+"1234567") {
		t.Fatalf("code %q: want 18 digits starting 711234567", code)
	}
	if Identify(code) != Tillpay {
		t.Fatalf("Identify(%q) = %q", code, Identify(code))
	}
	c, err := Parse(code)
	if err != nil {
		t.Fatal(err)
	}
	if c.KeyID != 1234567 || c.Seq != 3 || int64(c.StepDigit) != step%10 || c.String() != code {
		t.Fatalf("Parse(%q) = %+v", code, c)
	}
	// Accepted one step either side.
	for _, at := range []time.Time{now, now.Add(-59 * time.Second), now.Add(time.Minute), now.Add(-time.Minute)} {
		m, err := Verify(seed, c, at)
		if err != nil {
			t.Fatalf("Verify at %v: %v", at, err)
		}
		if m.Step != step || m.Counter != Counter(step, 3) {
			t.Fatalf("Verify matched %+v, want step %d", m, step)
		}
	}
	// Window names the same match without the seed, and none once the
	// step has left the window.
	for _, at := range []time.Time{now, now.Add(-59 * time.Second), now.Add(time.Minute)} {
		if m, ok := Window(c, at); !ok || m.Step != step || m.Counter != Counter(step, 3) {
			t.Fatalf("Window at %v: %+v %v", at, m, ok)
		}
	}
	if m, ok := Window(c, now.Add(2*time.Minute)); ok {
		t.Fatalf("Window two steps later: %+v", m)
	}
	// Two steps later it is expired, not forged.
	if _, err := Verify(seed, c, now.Add(2*time.Minute)); !errors.Is(err, ErrExpired) {
		t.Fatalf("two steps later: %v, want ErrExpired", err)
	}
	// Photographed and shown an hour later.
	if m, err := Verify(seed, c, now.Add(time.Hour)); !errors.Is(err, ErrExpired) || m.Step != step || m.Counter != Counter(step, 3) {
		t.Fatalf("an hour later: %+v %v, want ErrExpired for step %d", m, err, step)
	}
	// Another seed (a forger, or a revoked enrolment) fails.
	if _, err := Verify(testSeed(t), c, now); !errors.Is(err, ErrInvalid) {
		t.Fatalf("wrong seed: %v, want ErrInvalid", err)
	}
	// Every other sequence number in the step gives a different code.
	seen := map[string]bool{code: true}
	for seq := 0; seq < SeqPerStep; seq++ {
		if seq == 3 {
			continue
		}
		other, err := Generate(seed, 1234567, step, seq)
		if err != nil {
			t.Fatal(err)
		}
		if seen[other] {
			t.Fatalf("sequence %d repeats a code", seq)
		}
		seen[other] = true
	}
}

func TestVerifyRejectsTamperedToken(t *testing.T) {
	seed := testSeed(t)
	now := time.Now()
	code, err := Generate(seed, 42, StepAt(now), 0)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := Parse(code)
	c.Token = (c.Token + 1) % 10_000_000
	if _, err := Verify(seed, c, now); !errors.Is(err, ErrInvalid) {
		t.Fatalf("tampered token: %v, want ErrInvalid", err)
	}
	c, _ = Parse(code)
	c.Seq = (c.Seq + 1) % 10
	if _, err := Verify(seed, c, now); err == nil {
		t.Fatal("changed sequence number accepted")
	}
}

func TestGenerateRejects(t *testing.T) {
	seed := testSeed(t)
	for name, f := range map[string]func() (string, error){
		"short seed": func() (string, error) { return Generate(seed[:10], 1, 100, 0) },
		"big key":    func() (string, error) { return Generate(seed, MaxKeyID+1, 100, 0) },
		"seq 10":     func() (string, error) { return Generate(seed, 1, 100, 10) },
		"seq -1":     func() (string, error) { return Generate(seed, 1, 100, -1) },
		"step -1":    func() (string, error) { return Generate(seed, 1, -1, 0) },
	} {
		if _, err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in       string
		err      error
		provider Provider
	}{
		{"", ErrMalformed, ""},
		{"71123456789012345a", ErrMalformed, ""},
		{"7112345678901234567", ErrMalformed, ""},
		{"71123456789012345", ErrMalformed, ""},
		{"991234567890123456", ErrMalformed, ""},
		{" 711234567890123456", ErrMalformed, ""},
		{"28763443825664394", ErrForeign, Alipay},
		{"120061098828009406", ErrForeign, WeChat},
		{"160456789012345678", ErrForeign, WeChat},
		{"161456789012345678", ErrMalformed, ""},
		{"16045678901234567", ErrMalformed, ""},
		{"6212345678901234567", ErrForeign, UnionPay},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if !errors.Is(err, tt.err) {
			t.Errorf("Parse(%q) = %v, want %v", tt.in, err, tt.err)
			continue
		}
		var fe *ForeignError
		if errors.As(err, &fe) != (tt.provider != "") || fe != nil && fe.Provider != tt.provider {
			t.Errorf("Parse(%q): provider %v, want %q", tt.in, fe, tt.provider)
		}
	}
}

// The published Alipay and WeChat Pay samples are recognised by provider.
func TestIdentifyFixtures(t *testing.T) {
	f, err := os.Open("../testdata/fixtures/codes.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]Provider{"alipay": Alipay, "wechat": WeChat, "unionpay": UnionPay}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) < 2 || fields[0] == "provider" {
			continue
		}
		n++
		if got := Identify(fields[1]); got != want[fields[0]] {
			t.Errorf("Identify(%s) = %q, want %q", fields[1], got, want[fields[0]])
		}
		var fe *ForeignError
		if _, err := Parse(fields[1]); !errors.As(err, &fe) {
			t.Errorf("Parse(%s) = %v, want a ForeignError", fields[1], err)
		}
	}
	if n < 9 {
		t.Fatalf("read %d codes from codes.tsv, want 9", n)
	}
}

func TestMask(t *testing.T) {
	if got := Mask("711234567890123456"); got != "**************3456" {
		t.Fatalf("Mask = %q", got)
	}
	if got := Mask("12"); got != "**" {
		t.Fatalf("Mask short = %q", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"711234567890123456", "28763443825664394", "120061098828009406", "", "7", "71abc"} {
		f.Add(s)
	}
	seed := make([]byte, SeedBytes)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			return
		}
		if c.String() != s {
			t.Fatalf("Parse(%q).String() = %q", s, c.String())
		}
		// Verify must never panic, and an accepted code must regenerate.
		at := time.Unix(1_800_000_000, 0)
		if m, err := Verify(seed, c, at); err == nil {
			again, _ := Generate(seed, c.KeyID, m.Step, int(c.Seq))
			if again != s {
				t.Fatalf("Verify accepted %q but Generate gives %q", s, again)
			}
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	seed := testSeed(b)
	now := time.Now()
	code, _ := Generate(seed, 7, StepAt(now), 1)
	c, _ := Parse(code)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(seed, c, now); err != nil {
			b.Fatal(err)
		}
	}
}

// A foreign code's error names its provider with the right article.
func TestForeignErrorReads(t *testing.T) {
	for code, want := range map[string]string{
		"28763443825664394":   "this is an Alipay payment code",
		"134650328919428540":  "this is a WeChat Pay payment code",
		"6212345678901234567": "this is a UnionPay payment code",
	} {
		if _, err := Parse(code); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Parse(%s): %v, want %q…", code, err, want)
		}
	}
}
