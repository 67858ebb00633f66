package api

import "tillpay/money"

// DemoFile is the JSON that `paybackend demo-setup --out FILE` writes: the
// credentials of a demo merchant, terminal and funded payer, for a till's
// first run and for the wallet emulator.
type DemoFile struct {
	Currency string       `json:"currency"`
	Merchant DemoMerchant `json:"merchant"`
	Terminal DemoTerminal `json:"terminal"`
	Payer    DemoPayer    `json:"payer"`
}

// DemoMerchant is the demo merchant.
type DemoMerchant struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// DemoTerminal is the demo terminal: its id and its key as hex.
type DemoTerminal struct {
	ID       string `json:"id"`
	Merchant string `json:"merchant"`
	Key      string `json:"key"`
}

// DemoPayer is the demo payer with its password (for HTTP Basic).
type DemoPayer struct {
	ID       string       `json:"id"`
	Name     string       `json:"name"`
	Password string       `json:"password"`
	Balance  money.Amount `json:"balance"`
}
