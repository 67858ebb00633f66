// Package assets holds the files the till's window ships inside the
// binary: the application icon (also FyneApp.toml's icon). The result
// tones are generated in code (tillpay/app/sound) and the window uses
// Fyne's fonts, falling back to the system's fonts for Chinese.
package assets

import (
	_ "embed"

	"fyne.io/fyne/v2"
)

//go:embed icon.png
var iconPNG []byte

// Icon is the application icon: a scan frame around a barcode on green.
var Icon = fyne.NewStaticResource("icon.png", iconPNG)
