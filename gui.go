//go:build !nogui

package main

import (
	"context"
	"errors"
	"os"

	"tillpay/app"
	"tillpay/config"
	"tillpay/internal/boot"
	"tillpay/internal/tillcmd"
	"tillpay/wallet/walletcli"
	"tillpay/wallet/walletwin"
)

func init() { walletcli.Window = walletwin.Run }

// gui runs the cashier window, or returns tillcmd.ErrNoDisplay when there
// is no display to open it on.
func gui(ctx context.Context, opt boot.Options) error {
	if !app.HasDisplay() {
		return tillcmd.ErrNoDisplay
	}
	path := opt.ConfigPath
	if path == "" {
		path = config.DefaultPath()
	}
	err := app.Run(ctx, app.Options{Boot: opt, ConfigPath: path, Probe: os.Getenv(app.ProbeEnv) == "1"})
	if errors.Is(err, app.ErrNoDisplay) {
		return tillcmd.ErrNoDisplay
	}
	return err
}
