package journal_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"tillpay/backend/api"
	"tillpay/money"
	"tillpay/sync/journal"
)

func Example() {
	dir, _ := os.MkdirTemp("", "journal")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	clock := func() time.Time { return time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC) }

	j, err := journal.Open(ctx, filepath.Join(dir, "journal.db"), journal.Options{
		TerminalID:  "T01",
		TerminalKey: []byte("a terminal key of 16+ bytes"),
		Now:         clock,
		Location:    time.UTC,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer j.Close()
	if err := j.Check(ctx); err != nil {
		fmt.Println(err) // the till refuses payments: the journal cannot be written
		return
	}

	// Write before send.
	p, err := j.Create(ctx, journal.NewPayment{
		Amount:   money.Amount{Minor: 1250, Currency: "CNY"},
		Code:     "134650328919428540",
		Device:   "serial:/dev/ttyACM0",
		ScanTime: clock(),
		Mode:     journal.ModeOnline,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	req, _ := j.BeginSend(ctx, p.Order) // the exact request to POST /v1/pay
	fmt.Println(p.Order, p.State, req.Amount)

	// The backend answers; the journal keeps the outcome and erases the code.
	p, _ = j.ApplyOrder(ctx, p.Order, api.Order{MerchantOrder: p.Order, Status: api.StatusPaid, Amount: req.Amount})
	fmt.Println(p.State, p.Code)

	z, _ := j.ZReport(ctx, clock())
	for _, t := range z.Totals {
		fmt.Println(t.State, t.Count, t.Amount)
	}
	// Output:
	// T01-20260314-000001 sending 12.50 CNY
	// paid **************8540
	// paid 1 12.50 CNY
}
