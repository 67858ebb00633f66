package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RequestSignature is the sig of a terminal request's Authorization header.
func RequestSignature(key []byte, method, pathWithQuery string, ts int64, body []byte) string {
	bodySum := sha256.Sum256(body)
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s\n%s\n%d\n%s", method, pathWithQuery, ts, hex.EncodeToString(bodySum[:]))
	return hex.EncodeToString(mac.Sum(nil))
}

// AuthorizationHeader builds the Authorization header value of a terminal
// request sent at time now.
func AuthorizationHeader(terminalID string, key []byte, method, pathWithQuery string, now time.Time, body []byte) string {
	ts := now.Unix()
	return fmt.Sprintf("%s terminal=%s,ts=%d,sig=%s", AuthScheme, terminalID, ts,
		RequestSignature(key, method, pathWithQuery, ts, body))
}

// ParseAuthorization splits a terminal Authorization header into its parts.
func ParseAuthorization(h string) (terminalID string, ts int64, sig string, err error) {
	rest, ok := strings.CutPrefix(h, AuthScheme+" ")
	if !ok {
		return "", 0, "", fmt.Errorf("authorization scheme is not %s", AuthScheme)
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "terminal":
			terminalID = v
		case "ts":
			ts, err = strconv.ParseInt(v, 10, 64)
			if err != nil {
				return "", 0, "", fmt.Errorf("authorization ts %q: %w", v, err)
			}
		case "sig":
			sig = v
		}
	}
	if terminalID == "" || ts == 0 || sig == "" {
		return "", 0, "", fmt.Errorf("authorization needs terminal, ts and sig")
	}
	return terminalID, ts, sig, nil
}

// RecordSignature signs the fields of a payment as the terminal recorded
// them at scan time, so that a journal record edited later (an amount
// changed in the file) is refused at upload.
func RecordSignature(key []byte, r PayRequest) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "tillpay-record-v1\n%s\n%s\n%d\n%s\n%s",
		r.MerchantOrder, r.Code, r.Amount.Minor, r.Amount.Currency,
		r.ScanTime.UTC().Format(time.RFC3339Nano))
	return hex.EncodeToString(mac.Sum(nil))
}

// VerifyRecordSignature reports whether r.RecordSig signs r under key.
func VerifyRecordSignature(key []byte, r PayRequest) bool {
	want := RecordSignature(key, r)
	return hmac.Equal([]byte(want), []byte(r.RecordSig))
}
