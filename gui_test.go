//go:build !nogui

package main

import (
	"context"
	"errors"
	"testing"

	"tillpay/config"
	"tillpay/internal/boot"
	"tillpay/internal/tillcmd"
)

// With no display the window is not opened and the till runs headless.
func TestGUIWithoutDisplay(t *testing.T) {
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	err := gui(context.Background(), boot.Options{Config: config.Default()})
	if !errors.Is(err, tillcmd.ErrNoDisplay) {
		t.Fatalf("gui without a display: %v, want tillcmd.ErrNoDisplay", err)
	}
}
