//go:build !nogui

package main

import (
	"context"
	"errors"
	"os"
	"runtime/debug"

	"tillpay/app"
	"tillpay/config"
	"tillpay/internal/boot"
	"tillpay/internal/tillcmd"
	"tillpay/wallet/walletcli"
	"tillpay/wallet/walletwin"
)

func init() { walletcli.Window = walletwin.Run }

// windowGCPercent is the collector's target while the cashier window runs:
// about 10 MB less resident memory than the default 100, for a little CPU.
const windowGCPercent = 50

// gui runs the cashier window, or returns tillcmd.ErrNoDisplay when there
// is no display to open it on.
func gui(ctx context.Context, opt boot.Options) error {
	if !app.HasDisplay() {
		return tillcmd.ErrNoDisplay
	}
	// A window that runs all day keeps its heap small: most of what it
	// allocates is short-lived text layout. GOGC in the environment wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(windowGCPercent)
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
