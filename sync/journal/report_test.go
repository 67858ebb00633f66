package journal

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/money"
)

func TestZReport(t *testing.T) {
	j, c, _ := newTest(t)
	// The day before, 23:59 local: not in the report.
	c.Set(time.Date(2026, 3, 13, 23, 59, 0, 0, shanghai))
	mustCreate(t, j, newPay(9999, ModeOnline, c))
	c.Set(time.Date(2026, 3, 14, 0, 0, 0, 0, shanghai))

	paid := mustCreate(t, j, newPay(1000, ModeOnline, c))
	j.Transition(ctx, paid.Order, Change{To: StatePaid})
	paid2 := mustCreate(t, j, newPay(250, ModeOnline, c))
	j.Transition(ctx, paid2.Order, Change{To: StatePaid})
	r, _ := j.CreateRefund(ctx, paid2.Order, cny(50), "=HYPERLINK(\"x\")")
	j.FinishRefund(ctx, r.No, api.RefundResponse{RefundNo: r.No, Amount: cny(50)})
	usd := newPay(500, ModeOnline, c)
	usd.Amount = money.Amount{Minor: 500, Currency: "USD"}
	u := mustCreate(t, j, usd)
	j.Transition(ctx, u.Order, Change{To: StatePaid})
	dec := mustCreate(t, j, newPay(300, ModeOnline, c))
	j.Transition(ctx, dec.Order, Change{To: StateDeclined, Reason: api.ReasonCodeUsed})
	q := mustCreate(t, j, newPay(700, ModeOffline, c))
	set := mustCreate(t, j, newPay(400, ModeOffline, c))
	j.Transition(ctx, set.Order, Change{To: StateForwarding})
	j.Transition(ctx, set.Order, Change{To: StateSettled})
	// Next day: not in the report.
	c.Set(time.Date(2026, 3, 15, 0, 0, 0, 1, shanghai))
	mustCreate(t, j, newPay(8888, ModeOnline, c))

	z, err := j.ZReport(ctx, time.Date(2026, 3, 14, 15, 0, 0, 0, shanghai))
	if err != nil {
		t.Fatal(err)
	}
	if z.Day != "2026-03-14" || len(z.Payments) != 6 || len(z.Refunds) != 1 || z.Open != 1 || len(z.Tampered) != 0 {
		t.Fatalf("report: day %s, %d payments, %d refunds, %d open, tampered %v", z.Day, len(z.Payments), len(z.Refunds), z.Open, z.Tampered)
	}
	want := []Total{
		{StatePaid, "CNY", 1, cny(1000), cny(0)},
		{StatePaid, "USD", 1, money.Amount{Minor: 500, Currency: "USD"}, money.Amount{Currency: "USD"}},
		{StateSettled, "CNY", 1, cny(400), cny(0)},
		{StatePartRefunded, "CNY", 1, cny(250), cny(50)},
		{StateDeclined, "CNY", 1, cny(300), cny(0)},
		{StateQueued, "CNY", 1, cny(700), cny(0)},
	}
	if len(z.Totals) != len(want) {
		t.Fatalf("totals = %+v", z.Totals)
	}
	for i := range want {
		if z.Totals[i] != want[i] {
			t.Errorf("total %d = %+v, want %+v", i, z.Totals[i], want[i])
		}
	}
	if len(z.Net) != 2 || z.Net[0] != cny(1000+400+200) || z.Net[1] != (money.Amount{Minor: 500, Currency: "USD"}) {
		t.Fatalf("net = %v", z.Net)
	}
	day, err := j.Day(ctx, z.From)
	if err != nil || len(day) != 6 || day[0].Order != paid.Order || day[5].Order != set.Order {
		t.Fatalf("Day = %v, %v", day, err)
	}
	_ = q

	var buf bytes.Buffer
	if err := z.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	cr := csv.NewReader(&buf)
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, row := range rows {
		kinds[row[0]]++
		if row[0] == "payment" && row[1] == q.Order && row[7] != "**************8540" {
			t.Errorf("CSV shows an unmasked code: %v", row)
		}
		if row[0] == "refund" && row[1] == r.No && row[7] != "'=HYPERLINK(\"x\")" {
			t.Errorf("formula not defused: %v", row)
		}
		if row[0] == "total" && row[1] == "partially_refunded" && (row[4] != "2.50" || row[5] != "0.50") {
			t.Errorf("total row %v", row)
		}
	}
	// Each kind has its header row.
	if kinds["report"] != 2 || kinds["total"] != 7 || kinds["net"] != 3 || kinds["payment"] != 7 || kinds["refund"] != 2 || kinds["tampered"] != 1 {
		t.Fatalf("CSV rows per kind = %v", kinds)
	}
}
