package walletwin

import (
	"context"
	"errors"
	"image/color"
	"os"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"tillpay/wallet"
)

var (
	colorInk   = color.NRGBA{R: 0x10, G: 0x10, B: 0x10, A: 0xff}
	colorWhite = color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
)

// ErrNoDisplay: neither DISPLAY nor WAYLAND_DISPLAY is set.
var ErrNoDisplay = errors.New("no display to open the wallet's window on (DISPLAY and WAYLAND_DISPLAY are unset)")

// Run opens the wallet whose state file is w in its own window and runs
// until the window is closed or ctx ends.
func Run(ctx context.Context, w *wallet.Wallet) error {
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return ErrNoDisplay
	}
	a := fyneapp.NewWithID("com.tillpay.wallet")
	ww, err := New(a, w, Options{})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		fyne.Do(a.Quit)
	}()
	ww.Start(ctx)
	ww.Window().ShowAndRun()
	ww.Stop()
	return nil
}
