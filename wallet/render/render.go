// Package render draws a payment code for a scanner to read: as a QR code
// and as a Code 128 barcode, in a terminal (Unicode half blocks, black on
// white with a quiet zone) or as PNG images.
//
// The symbols are encoded by github.com/boombuler/barcode; this package
// only lays out their modules, adds the quiet zone the standards ask for
// (4 modules for QR, ISO/IEC 18004; 10 for Code 128, ISO/IEC 15417) and
// paints them.
package render

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/boombuler/barcode/code128"
	"github.com/boombuler/barcode/qr"
)

// Quiet zones, in modules, on every side of a QR code and on both ends of a
// Code 128 barcode.
const (
	QRQuiet   = 4
	BarsQuiet = 10
)

// Matrix is a 2-D symbol's modules, quiet zone included.
type Matrix struct {
	Size int    // modules on a side
	dark []bool // row-major
}

// Dark reports whether the module at column x, row y is dark; outside the
// matrix everything is light.
func (m *Matrix) Dark(x, y int) bool {
	if x < 0 || y < 0 || x >= m.Size || y >= m.Size {
		return false
	}
	return m.dark[y*m.Size+x]
}

// QR encodes content as a QR code with error correction level M (an 18-digit
// code fits version 1, 21 modules) and a quiet zone of QRQuiet.
func QR(content string) (*Matrix, error) {
	bc, err := qr.Encode(content, qr.M, qr.Auto)
	if err != nil {
		return nil, fmt.Errorf("render: QR code: %w", err)
	}
	b := bc.Bounds()
	if b.Dx() != b.Dy() || b.Dx() == 0 {
		return nil, fmt.Errorf("render: QR code of %v modules", b.Size())
	}
	n := b.Dx() + 2*QRQuiet
	m := &Matrix{Size: n, dark: make([]bool, n*n)}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			m.dark[(y+QRQuiet)*n+x+QRQuiet] = isDark(bc, b.Min.X+x, b.Min.Y+y)
		}
	}
	return m, nil
}

func isDark(img image.Image, x, y int) bool {
	g := color.GrayModel.Convert(img.At(x, y)).(color.Gray)
	return g.Y < 128
}

// Bars is a 1-D symbol's modules from left to right, quiet zones included;
// true is a bar (dark).
type Bars []bool

// Code128 encodes content as a Code 128 barcode (digits go in code set C,
// two to a symbol) with quiet zones of BarsQuiet.
func Code128(content string) (Bars, error) {
	bc, err := code128.Encode(content)
	if err != nil {
		return nil, fmt.Errorf("render: Code 128: %w", err)
	}
	b := bc.Bounds()
	bars := make(Bars, b.Dx()+2*BarsQuiet)
	for x := 0; x < b.Dx(); x++ {
		bars[x+BarsQuiet] = isDark(bc, b.Min.X+x, b.Min.Y)
	}
	return bars, nil
}

// Style says how to paint modules in a terminal.
type Style int

const (
	// ANSI sets black and white explicitly with escape sequences, so the
	// symbol is black on white whatever the terminal's colours.
	ANSI Style = iota
	// Plain draws light modules as blocks and dark ones as spaces: right for
	// a terminal with light text on a dark background, and for no escapes.
	Plain
	// PlainInverted draws dark modules as blocks: for dark text on light.
	PlainInverted
)

// ANSI colours: bright white and black, foreground and background.
const (
	fgBlack, fgWhite = "\x1b[30m", "\x1b[97m"
	bgBlack, bgWhite = "\x1b[40m", "\x1b[107m"
	reset            = "\x1b[0m"
)

// cell returns the character for two modules a and b (top and bottom, or
// left and right) with the given half-block glyphs.
func cell(style Style, a, b bool, first, second, full string) string {
	if style == ANSI {
		fg, bg := fgWhite, bgWhite
		if a {
			fg = fgBlack
		}
		if b {
			bg = bgBlack
		}
		return fg + bg + first
	}
	blockA, blockB := !a, !b // light modules are blocks
	if style == PlainInverted {
		blockA, blockB = a, b
	}
	switch {
	case blockA && blockB:
		return full
	case blockA:
		return first
	case blockB:
		return second
	}
	return " "
}

// Terminal draws m two rows of modules to a line with half blocks, one
// module per column, which keeps modules about square in a terminal font.
func (m *Matrix) Terminal(w io.Writer, style Style) error {
	var sb strings.Builder
	for y := 0; y < m.Size; y += 2 {
		for x := 0; x < m.Size; x++ {
			// The row past the bottom of an odd-sized matrix is light, as quiet zone.
			sb.WriteString(cell(style, m.Dark(x, y), m.Dark(x, y+1), "▀", "▄", "█"))
		}
		if style == ANSI {
			sb.WriteString(reset)
		}
		sb.WriteByte('\n')
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

// Terminal draws the bars lines high. With cols 0 each column holds two
// modules (half blocks), so an 18-digit code fits an 80-column terminal;
// otherwise each module is cols columns wide.
func (b Bars) Terminal(w io.Writer, style Style, lines, cols int) error {
	if lines < 1 {
		return errors.New("render: barcode height must be at least one line")
	}
	var row strings.Builder
	if cols <= 0 {
		for x := 0; x < len(b); x += 2 {
			right := x+1 < len(b) && b[x+1] // past the end: quiet zone
			row.WriteString(cell(style, b[x], right, "▌", "▐", "█"))
		}
	} else {
		for _, dark := range b {
			row.WriteString(strings.Repeat(cell(style, dark, dark, "█", "█", "█"), cols))
		}
	}
	if style == ANSI {
		row.WriteString(reset)
	}
	row.WriteByte('\n')
	_, err := io.WriteString(w, strings.Repeat(row.String(), lines))
	return err
}

// Image paints m with scale pixels a module, black on white.
func (m *Matrix) Image(scale int) *image.Gray {
	scale = max(scale, 1)
	img := image.NewGray(image.Rect(0, 0, m.Size*scale, m.Size*scale))
	for y := range img.Rect.Dy() {
		for x := range img.Rect.Dx() {
			img.Pix[y*img.Stride+x] = gray(m.Dark(x/scale, y/scale))
		}
	}
	return img
}

// Image paints the bars with width pixels a module, height pixels high.
func (b Bars) Image(width, height int) *image.Gray {
	width, height = max(width, 1), max(height, 1)
	img := image.NewGray(image.Rect(0, 0, len(b)*width, height))
	for y := range height {
		for x := range img.Rect.Dx() {
			img.Pix[y*img.Stride+x] = gray(b[x/width])
		}
	}
	return img
}

func gray(dark bool) uint8 {
	if dark {
		return 0
	}
	return 255
}

// WritePNG writes img to path (through a temporary file and a rename, so a
// reader never sees half an image).
func WritePNG(path string, img image.Image) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("render: %w", err)
	}
	tmp := f.Name()
	if err := png.Encode(f, img); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("render: encoding %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("render: %w", err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("render: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("render: %w", err)
	}
	return nil
}
