package backend

import (
	"encoding/json"
	"strconv"
	"time"

	"tillpay/backend/api"
)

// notificationJSON returns n encoded as encoding/json encodes it, byte for
// byte, written by hand for the common case: every payment writes one, and
// json.Marshal's reflection costs more than the rest of building the row.
// Anything unusual (a string that needs escaping, a year outside 0–9999) is
// left to json.Marshal.
func notificationJSON(n *api.Notification) ([]byte, error) {
	if y := n.Time.Year(); y < 0 || y > 9999 || !plainJSON(n.Kind) || !plainJSON(n.Reason) || !plainJSON(n.Order) ||
		!plainJSON(n.Merchant) || !plainJSON(n.Amount.Currency) || !plainJSON(n.Balance.Currency) {
		return json.Marshal(n)
	}
	// The fixed text (142 bytes), the numbers at their longest (90) and
	// the time (35) take 267 bytes: one allocation, never grown.
	b := make([]byte, 0, 267+len(n.Kind)+len(n.Order)+len(n.Merchant)+len(n.Amount.Currency)+len(n.Balance.Currency)+
		reasonBytes(n.Reason))
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, n.ID, 10)
	b = append(b, `,"kind":"`...)
	b = append(b, n.Kind...)
	if n.Reason != "" {
		b = append(b, `","reason":"`...)
		b = append(b, n.Reason...)
	}
	b = append(b, `","order":"`...)
	b = append(b, n.Order...)
	b = append(b, `","merchant":"`...)
	b = append(b, n.Merchant...)
	b = append(b, `","amount":{"minor":`...)
	b = strconv.AppendInt(b, n.Amount.Minor, 10)
	b = append(b, `,"currency":"`...)
	b = append(b, n.Amount.Currency...)
	b = append(b, `"},"balance":{"minor":`...)
	b = strconv.AppendInt(b, n.Balance.Minor, 10)
	b = append(b, `,"currency":"`...)
	b = append(b, n.Balance.Currency...)
	b = append(b, `"},"time":"`...)
	b = n.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if n.KeyID != 0 {
		b = append(b, `,"key_id":`...)
		b = strconv.AppendUint(b, uint64(n.KeyID), 10)
	}
	if n.Counter != 0 {
		b = append(b, `,"counter":`...)
		b = strconv.AppendUint(b, n.Counter, 10)
	}
	return append(b, '}'), nil
}

// reasonBytes is the room a reason takes, with its key: none if empty.
func reasonBytes(reason string) int {
	if reason == "" {
		return 0
	}
	return len(`","reason":"`) + len(reason)
}

// plainJSON reports whether encoding/json writes s as is between quotes:
// printable ASCII other than the quote, the backslash and the characters
// it escapes for HTML.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
