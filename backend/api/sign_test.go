package api

import (
	"strings"
	"testing"
	"time"

	"tillpay/money"
)

func TestAuthorizationRoundTrip(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_800_000_000, 0)
	h := AuthorizationHeader("t-1", key, "POST", "/v1/pay", now, []byte(`{"x":1}`))
	id, ts, sig, err := ParseAuthorization(h)
	if err != nil || id != "t-1" || ts != now.Unix() {
		t.Fatalf("%q → %q %d %q %v", h, id, ts, sig, err)
	}
	if sig != RequestSignature(key, "POST", "/v1/pay", ts, []byte(`{"x":1}`)) {
		t.Fatal("signature does not verify")
	}
	if sig == RequestSignature(key, "POST", "/v1/pay", ts, []byte(`{"x":2}`)) {
		t.Fatal("a changed body signs the same")
	}
	for _, bad := range []string{"", "Basic abc", AuthScheme + " terminal=t", AuthScheme + " terminal=t,ts=x,sig=y", AuthScheme + " ts=1,sig=y"} {
		if _, _, _, err := ParseAuthorization(bad); err == nil {
			t.Errorf("ParseAuthorization(%q) accepted", bad)
		}
	}
}

func TestRecordSignature(t *testing.T) {
	key := []byte("0123456789abcdef")
	r := PayRequest{MerchantOrder: "o-1", Code: "711234567890123456", Amount: money.Amount{Minor: 1250, Currency: "CNY"}, ScanTime: time.Unix(1_800_000_000, 5)}
	r.RecordSig = RecordSignature(key, r)
	if !VerifyRecordSignature(key, r) {
		t.Fatal("own signature refused")
	}
	edited := r
	edited.Amount.Minor = 125
	if VerifyRecordSignature(key, edited) {
		t.Fatal("an edited amount verifies")
	}
	// The offline flag is not signed: a payment queued after an online
	// attempt keeps its signature.
	edited = r
	edited.Offline = true
	if !VerifyRecordSignature(key, edited) {
		t.Fatal("the offline flag changed the signature")
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add(AuthScheme + " terminal=t-1,ts=1800000000,sig=abcd")
	f.Add(AuthScheme + " terminal=,ts=-1,sig=")
	f.Add("Basic dXNlcjpwYXNz")
	f.Fuzz(func(t *testing.T, h string) {
		id, ts, sig, err := ParseAuthorization(h)
		if err != nil {
			return
		}
		if id == "" || ts == 0 || sig == "" || !strings.HasPrefix(h, AuthScheme+" ") {
			t.Fatalf("ParseAuthorization(%q) = %q %d %q", h, id, ts, sig)
		}
	})
}
