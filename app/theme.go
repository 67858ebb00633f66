package app

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// Result colours: unmistakable, and readable with white text.
var (
	colPaid     = color.NRGBA{R: 0x1b, G: 0x8a, B: 0x3c, A: 0xff} // green
	colDeclined = color.NRGBA{R: 0xc6, G: 0x28, B: 0x28, A: 0xff} // red
	colQueued   = color.NRGBA{R: 0xe0, G: 0x8e, B: 0x00, A: 0xff} // amber
	colWaiting  = color.NRGBA{R: 0x15, G: 0x65, B: 0xc0, A: 0xff} // blue
	colArmed    = color.NRGBA{R: 0x37, G: 0x47, B: 0x4f, A: 0xff} // slate
	colIdle     = color.NRGBA{R: 0xf2, G: 0xf4, B: 0xf5, A: 0xff}
	colWhite    = color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
	colInk      = color.NRGBA{R: 0x21, G: 0x21, B: 0x21, A: 0xff}
	colMuted    = color.NRGBA{R: 0x60, G: 0x6a, B: 0x70, A: 0xff}
	colKey      = color.NRGBA{R: 0xe3, G: 0xe7, B: 0xea, A: 0xff}
	colKeyPress = color.NRGBA{R: 0xb0, G: 0xbe, B: 0xc5, A: 0xff}
	colErrorBar = color.NRGBA{R: 0xb7, G: 0x1c, B: 0x1c, A: 0xff}
	colAlertBar = color.NRGBA{R: 0xff, G: 0xe0, B: 0x82, A: 0xff}
	transparent = color.NRGBA{}
)

// Sizes of the till's own elements, in Fyne's device-independent units:
// a 1024×768 till screen at scale 1, larger screens scale up with Fyne's
// scale setting (FYNE_SCALE) or the display's density.
const (
	amountTextSize = 76
	resultTextSize = 44
	reasonTextSize = 22
	keyTextSize    = 30
	keyMinSize     = 64 // tap targets: at least 44, keypad keys larger
)

// tillTheme is the default light theme with larger text and padding for
// a touch screen.
type tillTheme struct{ fyne.Theme }

func newTheme() fyne.Theme { return tillTheme{theme.DefaultTheme()} }

func (t tillTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	return t.Theme.Color(n, theme.VariantLight)
}

func (t tillTheme) Size(n fyne.ThemeSizeName) float32 {
	switch n {
	case theme.SizeNameText:
		return 16
	case theme.SizeNameSubHeadingText:
		return 20
	case theme.SizeNameHeadingText:
		return 26
	case theme.SizeNamePadding:
		return 6
	case theme.SizeNameInnerPadding:
		return 10
	case theme.SizeNameInlineIcon:
		return 22
	}
	return t.Theme.Size(n)
}
