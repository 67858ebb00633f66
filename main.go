// Command tillpay is a merchant point-of-sale till that takes payment-code
// payments: the cashier enters an amount, a scan gun reads the payer's
// one-time code, and the till forwards it to the payment backend, or keeps
// it durably and settles it later when the backend cannot be reached.
//
//	tillpay [--headless] [--scanner ADDR]... [--backend URL] [--data-dir DIR]
//	tillpay scanners | scan-test --scanner ADDR | report --day YYYY-MM-DD [--csv]
//	tillpay paybackend …    the payment backend (bundled with the till)
//	tillpay wallet …        the payer-wallet emulator
//
// With no backend URL the till starts the payment backend as a child
// process (this same binary, as `tillpay paybackend serve`) with a demo
// merchant, terminal and funded payer. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"tillpay/backend/backendcli"
	"tillpay/internal/tillcmd"
	"tillpay/wallet/walletcli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "paybackend":
			return backendcli.Main(ctx, args[1:])
		case "wallet":
			return walletcli.Main(ctx, args[1:])
		}
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "tillpay: cannot find its own executable to run the bundled backend: %v\n", err)
		return 1
	}
	return tillcmd.Run(ctx, args, tillcmd.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		BackendCommand: []string{exe, "paybackend"},
		GUI:            gui,
	})
}
