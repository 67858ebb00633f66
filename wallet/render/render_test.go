package render

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/oned"
	"github.com/makiuchi-d/gozxing/qrcode"

	"tillpay/paycode"
)

func sampleCode(t *testing.T) string {
	t.Helper()
	seed := bytes.Repeat([]byte{0x5a}, paycode.SeedBytes)
	c, err := paycode.Generate(seed, 1234567, 29_000_000, 3)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func decode(t *testing.T, img image.Image, r gozxing.Reader) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("decoding: %v", err)
	}
	return res.GetText()
}

func TestQRDecodesFromPNG(t *testing.T) {
	code := sampleCode(t)
	m, err := QR(code)
	if err != nil {
		t.Fatal(err)
	}
	if m.Size != 21+2*QRQuiet {
		t.Errorf("QR of %d modules with quiet zone, want version 1 (29)", m.Size)
	}
	for i := 0; i < m.Size; i++ {
		for q := 0; q < QRQuiet; q++ {
			if m.Dark(i, q) || m.Dark(q, i) || m.Dark(i, m.Size-1-q) || m.Dark(m.Size-1-q, i) {
				t.Fatalf("quiet zone has a dark module near %d,%d", i, q)
			}
		}
	}
	// The top-left finder pattern starts right inside the quiet zone.
	if !m.Dark(QRQuiet, QRQuiet) || !m.Dark(QRQuiet+6, QRQuiet) || m.Dark(QRQuiet+1, QRQuiet+1) {
		t.Error("no finder pattern at the top left")
	}

	path := filepath.Join(t.TempDir(), "qr.png")
	if err := WritePNG(path, m.Image(6)); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != m.Size*6 {
		t.Errorf("PNG is %d pixels wide", img.Bounds().Dx())
	}
	if got := decode(t, img, qrcode.NewQRCodeReader()); got != code {
		t.Errorf("QR PNG reads %q, want %q", got, code)
	}
}

func TestCode128DecodesFromPNG(t *testing.T) {
	code := sampleCode(t)
	b, err := Code128(code)
	if err != nil {
		t.Fatal(err)
	}
	// Start C, nine digit pairs, check symbol (11 modules each), stop (13).
	if want := 11*11 + 13 + 2*BarsQuiet; len(b) != want {
		t.Errorf("%d modules, want %d", len(b), want)
	}
	for i := 0; i < BarsQuiet; i++ {
		if b[i] || b[len(b)-1-i] {
			t.Fatal("bar inside the quiet zone")
		}
	}
	if !b[BarsQuiet] || !b[len(b)-BarsQuiet-1] {
		t.Error("the symbol does not start and end with a bar")
	}
	path := filepath.Join(t.TempDir(), "bars.png")
	if err := WritePNG(path, b.Image(3, 80)); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if got := decode(t, img, oned.NewCode128Reader()); got != code {
		t.Errorf("Code 128 PNG reads %q, want %q", got, code)
	}
}

var ansiCell = regexp.MustCompile("\x1b\\[(30|97)m\x1b\\[(40|107)m(.)")

// readBack turns terminal art back into modules: for the QR two rows a
// line, for bars two modules a column (as drawn).
func readBack(t *testing.T, text string, style Style, vertical bool) [][]bool {
	t.Helper()
	var rows [][]bool
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		var a, b []bool
		if style == ANSI {
			line = strings.TrimSuffix(line, reset)
			cells := ansiCell.FindAllStringSubmatch(line, -1)
			if strings.Join(ansiCell.FindAllString(line, -1), "") != line {
				t.Fatalf("line has more than colour cells: %q", line)
			}
			for _, c := range cells {
				a, b = append(a, c[1] == "30"), append(b, c[2] == "40")
			}
		} else {
			for _, r := range line {
				var blockA, blockB bool
				switch r {
				case '█':
					blockA, blockB = true, true
				case '▀', '▌':
					blockA = true
				case '▄', '▐':
					blockB = true
				case ' ':
				default:
					t.Fatalf("unexpected rune %q", r)
				}
				if style == Plain {
					blockA, blockB = !blockA, !blockB
				}
				a, b = append(a, blockA), append(b, blockB)
			}
		}
		if vertical {
			rows = append(rows, a, b)
		} else {
			row := make([]bool, 0, 2*len(a))
			for i := range a {
				row = append(row, a[i], b[i])
			}
			rows = append(rows, row)
		}
	}
	return rows
}

func TestQRTerminal(t *testing.T) {
	code := sampleCode(t)
	m, err := QR(code)
	if err != nil {
		t.Fatal(err)
	}
	for _, style := range []Style{ANSI, Plain, PlainInverted} {
		var buf bytes.Buffer
		if err := m.Terminal(&buf, style); err != nil {
			t.Fatal(err)
		}
		rows := readBack(t, buf.String(), style, true)
		if len(rows) != m.Size+1 || len(rows[0]) != m.Size {
			t.Fatalf("style %d: %d×%d modules drawn, want %d×%d", style, len(rows[0]), len(rows), m.Size, m.Size+1)
		}
		img := image.NewGray(image.Rect(0, 0, m.Size*4, len(rows)*4))
		for y, row := range rows {
			for x, dark := range row {
				if dark != m.Dark(x, y) {
					t.Fatalf("style %d: module %d,%d drawn wrong", style, x, y)
				}
				for p := range 16 {
					img.Pix[(y*4+p/4)*img.Stride+x*4+p%4] = gray(dark)
				}
			}
		}
		// What the terminal shows, photographed, reads back as the code.
		if got := decode(t, img, qrcode.NewQRCodeReader()); got != code {
			t.Errorf("style %d: terminal QR reads %q", style, got)
		}
	}
}

func TestBarsTerminal(t *testing.T) {
	code := sampleCode(t)
	b, err := Code128(code)
	if err != nil {
		t.Fatal(err)
	}
	for _, style := range []Style{ANSI, Plain, PlainInverted} {
		var buf bytes.Buffer
		if err := b.Terminal(&buf, style, 5, 0); err != nil {
			t.Fatal(err)
		}
		rows := readBack(t, buf.String(), style, false)
		if len(rows) != 5 {
			t.Fatalf("%d lines, want 5", len(rows))
		}
		if cols := len(rows[0]) / 2; cols > 80 {
			t.Errorf("barcode is %d columns wide; it must fit 80", cols)
		}
		img := image.NewGray(image.Rect(0, 0, len(rows[0])*2, 40))
		for x, dark := range rows[0] {
			if x < len(b) && dark != b[x] || x >= len(b) && dark {
				t.Fatalf("style %d: module %d drawn wrong", style, x)
			}
			for y := range 40 {
				img.Pix[y*img.Stride+2*x], img.Pix[y*img.Stride+2*x+1] = gray(dark), gray(dark)
			}
		}
		if got := decode(t, img, oned.NewCode128Reader()); got != code {
			t.Errorf("style %d: terminal barcode reads %q", style, got)
		}
	}
	var buf bytes.Buffer
	if err := b.Terminal(&buf, Plain, 2, 1); err != nil {
		t.Fatal(err)
	}
	if first := strings.Split(buf.String(), "\n")[0]; len([]rune(first)) != len(b) {
		t.Errorf("one column a module: %d columns, want %d", len([]rune(first)), len(b))
	}
	if err := b.Terminal(&buf, Plain, 0, 0); err == nil {
		t.Error("zero-line barcode accepted")
	}
}

func TestEncodeErrors(t *testing.T) {
	if _, err := Code128(""); err == nil {
		t.Error("empty Code 128 accepted")
	}
	if _, err := QR(strings.Repeat("9", 8000)); err == nil {
		t.Error("oversized QR accepted")
	}
}

func BenchmarkRenderAll(b *testing.B) {
	code := "711234567930123456"
	for b.Loop() {
		m, err := QR(code)
		if err != nil {
			b.Fatal(err)
		}
		bars, err := Code128(code)
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		m.Terminal(&buf, ANSI)
		bars.Terminal(&buf, ANSI, 6, 0)
	}
}
