//go:build nogui

package main

import (
	"context"

	"tillpay/internal/boot"
	"tillpay/internal/tillcmd"
)

// gui runs the cashier window. This build has none, so the till runs
// headless.
func gui(ctx context.Context, opt boot.Options) error { return tillcmd.ErrNoDisplay }
