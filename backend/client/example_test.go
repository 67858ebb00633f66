package client_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"tillpay/backend"
	"tillpay/backend/api"
	"tillpay/backend/client"
	"tillpay/money"
	"tillpay/paycode"
)

// A till pays with a code from the payer's wallet, refunds part of it, and
// handles an outcome it cannot know.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	// A backend with a demo merchant, terminal and funded payer.
	key := make([]byte, backend.MasterKeySize)
	rand.Read(key)
	svc, _ := backend.Open(ctx, filepath.Join(dir, "backend.db"), key, backend.WithPasswordIterations(1000))
	defer svc.Close()
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()
	demo, _ := svc.DemoSetup(ctx, nil)
	enr, _ := svc.Enrol(ctx, demo.Payer.ID) // what the wallet does over HTTP
	code, _ := paycode.Generate(enr.Seed, paycode.KeyID(enr.KeyID), paycode.StepAt(time.Now()), 0)

	// The till takes its terminal id and key from demo.json.
	termKey, _ := hex.DecodeString(demo.Terminal.Key)
	term, err := client.NewTerminal(srv.URL, demo.Terminal.ID, termKey)
	if err != nil {
		fmt.Println(err)
		return
	}
	req := api.PayRequest{MerchantOrder: "till1-000001", Code: code,
		Amount: money.Amount{Minor: 1250, Currency: "CNY"}, ScanTime: time.Now()}
	order, err := term.Pay(ctx, req)
	switch {
	case client.IsCode(err, api.ErrConflict):
		fmt.Println("order number reused with other content")
	case err != nil:
		// ErrUnreachable: the outcome is unknown; send the same request
		// again later (same order number) or Query it.
		fmt.Println("unknown outcome:", err)
	default:
		fmt.Println(order.Status, order.Amount)
	}
	r, _ := term.Refund(ctx, "till1-000001", "till1-r-000001", money.Amount{Minor: 250, Currency: "CNY"})
	fmt.Println(r.Order.Status, r.Order.Refunded)
	// Output:
	// paid 12.50 CNY
	// partially_refunded 2.50 CNY
}
