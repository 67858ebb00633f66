package backend

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/money"
)

// FuzzNotificationJSON checks that the hand-written encoding of a
// notification is byte for byte what encoding/json writes.
func FuzzNotificationJSON(f *testing.F) {
	f.Add(int64(0), "debit", "", "shop/2025-0001", "Shop", int64(100), int64(99_900), "CNY", int64(1_750_000_000), int64(123_456_789), uint32(1234567), uint64(98765))
	f.Add(int64(7), "refund", "", "咖啡/1", "Café <&> \"Bar\"\n", int64(-1), int64(0), "JPY", int64(0), int64(0), uint32(0), uint64(0))
	f.Add(int64(-3), "", "", "", "\x7f\xff", int64(1<<62), int64(-1<<62), "", int64(-1<<40), int64(-5), uint32(1<<32-1), uint64(1<<64-1))
	f.Add(int64(1), "debit", "", "a/b", "M", int64(1), int64(2), "CNY", int64(253402300800), int64(0), uint32(1), uint64(1)) // year 10000
	f.Add(int64(9), "declined", "insufficient_balance", "shop/9", "Shop", int64(5_000), int64(120), "CNY", int64(1_750_000_000), int64(0), uint32(42), uint64(7))
	f.Add(int64(9), "declined", "a\"b", "shop/9", "Shop", int64(5_000), int64(120), "CNY", int64(1_750_000_000), int64(0), uint32(42), uint64(7))
	f.Fuzz(func(t *testing.T, id int64, kind, reason, order, merchant string, amount, balance int64, cur string, sec, nsec int64, key uint32, counter uint64) {
		n := api.Notification{ID: id, Kind: kind, Reason: reason, Order: order, Merchant: merchant,
			Amount: money.Amount{Minor: amount, Currency: cur}, Balance: money.Amount{Minor: balance, Currency: cur},
			Time: time.Unix(sec, nsec).UTC(), KeyID: key, Counter: counter}
		want, werr := json.Marshal(n)
		got, gerr := notificationJSON(&n)
		if (werr != nil) != (gerr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("notificationJSON(%+v) = %s, %v; encoding/json gives %s, %v", n, got, gerr, want, werr)
		}
	})
}

// The hand-written encoding knows api.Notification's fields: a field added
// there must be added to notificationJSON too.
func TestNotificationJSONKnowsEveryField(t *testing.T) {
	want := map[reflect.Type][]string{
		reflect.TypeFor[api.Notification](): {"id", "kind", "reason,omitempty", "order", "merchant", "amount", "balance", "time", "key_id,omitempty", "counter,omitempty"},
		reflect.TypeFor[money.Amount]():     {"minor", "currency"},
	}
	for typ, tags := range want {
		var got []string
		for f := range typ.Fields() {
			got = append(got, f.Tag.Get("json"))
		}
		if !slices.Equal(got, tags) {
			t.Errorf("%s has JSON fields %q; notificationJSON writes %q: update it", typ, got, tags)
		}
	}
}

// TestNotificationJSONAllocatesOnce checks that the longest notification of
// the common case fits the buffer made at the start: one allocation.
func TestNotificationJSONAllocatesOnce(t *testing.T) {
	n := api.Notification{ID: -1 << 63, Kind: "refund", Order: "shop/2025-11-26-000001", Merchant: "Corner Shop",
		Amount: money.Amount{Minor: -1 << 63, Currency: "CNY"}, Balance: money.Amount{Minor: -1 << 63, Currency: "CNY"},
		Time: time.Date(2025, 12, 31, 23, 59, 59, 123456789, time.FixedZone("", -(12*3600+59*60))), KeyID: 1<<32 - 1, Counter: 1<<64 - 1}
	var body []byte
	allocs := testing.AllocsPerRun(100, func() { body, _ = notificationJSON(&n) })
	if want, _ := json.Marshal(n); !bytes.Equal(body, want) {
		t.Fatalf("notificationJSON gives %s, encoding/json %s", body, want)
	}
	if allocs != 1 {
		t.Errorf("%v allocations for a notification of %d bytes, want 1", allocs, len(body))
	}
}
