package scanner_test

import (
	"context"
	"fmt"
	"log/slog"

	"tillpay/drivers/sim"
	"tillpay/scanner"
)

// A till core's use of the Manager: start it with the configured scan
// guns, range over its events, arm it for one code per payment.
func Example() {
	gun, err := sim.NewInProcess(sim.Name("demo")) // a scan gun in the program
	if err != nil {
		panic(err)
	}
	defer gun.Close()

	m, err := scanner.NewManager([]string{gun.Address() + "?suffix=cr"},
		scanner.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err) // a malformed address or a missing driver
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)

	m.Arm() // the cashier entered an amount: one code will pay it
	gun.Type("]Q1134567890123456789")
	gun.Type("]Q1134567890123456789") // the payer held the phone too long
	gun.Type("]C0ABC123")             // a product label, no payment waiting

	scans := 0
	for ev := range m.Events() {
		switch ev.Kind {
		case scanner.EventStatus:
			fmt.Println("status:", ev.State, "-", ev.Detail)
		case scanner.EventBadScan:
			fmt.Println("bad scan:", ev.Detail)
		case scanner.EventScan:
			fmt.Println("scan:", ev.Use, ev.Scan.Symbology, ev.Scan.Label)
			if ev.ForPayment() {
				// charge ev.Scan.Label here
			}
			if scans++; scans == 3 {
				cancel() // the till shuts down; Events is closed after
			}
		}
	}
	// Output:
	// status: connected - Scanner sim:inproc=demo?suffix=cr is ready
	// scan: payment QR 134567890123456789
	// scan: duplicate QR 134567890123456789
	// scan: not_armed Code128 ABC123
}
