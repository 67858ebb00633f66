// Command wallet is tillpay's payer-wallet emulator: it enrols a payer with
// the payment backend and shows one-time payment codes (digits, QR code and
// Code 128 barcode) that a till's scan gun reads off the screen. Codes need
// no network; the wallet keeps the token seed in its state file and learns
// the backend's clock whenever it is online.
//
// Usage:
//
//	wallet enrol   --backend URL --payer ID --password PW   (or --demo demo.json)
//	wallet code    [--next] [--offline] [--no-wait] [--json]
//	wallet show    [--next] [--offline] [--png DIR] [--plain|--invert] [--wide]
//	wallet watch   [--poll 2s] [--present tcp=127.0.0.1:7000] [--plain|--invert] [--json]
//	wallet balance [--json]
//	wallet inbox   [--all] [--json]
//	wallet confirm [ORDER] [--decline] [--json]
//
// Every command takes --state PATH (default: $TILLPAY_WALLET_STATE, else
// wallet.json in tillpay's user config directory). Every command but enrol
// takes --backend URL: use the payment backend at that address from now on
// (it moved, say restarted on another port), keeping the enrolment. Flags
// may come before or after arguments; -- ends them.
//
// `wallet inbox` shows the notifications not shown before, though making a
// code has already read them to learn which codes were used. `wallet
// confirm ORDER` prints what became of the payment and exits 1 unless an
// approval ended paid (or a refusal ended with no money taken).
//
// Exit status: 0 done, 1 failed, 2 bad usage. The same commands run as
// `tillpay wallet …`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"tillpay/wallet/walletcli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := walletcli.Main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
