// Command paybackend is tillpay's payment backend: an HTTP/JSON service over
// one SQLite database (docs/api.md), with its administration commands.
//
//	paybackend serve --db PATH [--listen 127.0.0.1:0] [--addr-file PATH]
//	paybackend admin merchant add --db PATH --id ID [--name NAME]
//	paybackend admin terminal add --db PATH --merchant ID
//	paybackend admin payer add --db PATH --id ID [--name NAME] (--password PW | --password-stdin)
//	                           [--limit 1000.00] [--offline-credit 0] [--webhook URL]
//	paybackend admin payer topup --db PATH --id ID --amount 100.00
//	paybackend admin payer show --db PATH --id ID
//	paybackend demo-setup --db PATH --out demo.json
//	paybackend audit --db PATH
//
// The same commands run as `tillpay paybackend …`.
package main

import (
	"context"
	"os"

	"tillpay/backend/backendcli"
)

func main() {
	os.Exit(backendcli.Main(context.Background(), os.Args[1:]))
}
