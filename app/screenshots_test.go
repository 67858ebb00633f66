package app

import (
	"image"
	"image/color"
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestScreenshotsInXvfb runs scripts/screenshots.sh: a real window in a
// real X server (Xvfb), paid through a simulated scan gun. It checks that
// every screenshot exists, is not blank, and that the results are in
// their colours; and that the idle window's event loop waits for events
// (its main thread rests in poll) rather than ticking.
func TestScreenshotsInXvfb(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an X server and the till: not in -short")
	}
	for _, tool := range []string{"Xvfb", "xdotool", "import", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (bash scripts/install-deps.sh)", tool)
		}
	}
	out := t.TempDir()
	cmd := exec.Command("bash", "../scripts/screenshots.sh", out)
	cmd.Env = append(os.Environ(), "TILLPAY_BIN=")
	if b, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(out, "till.log"))
		t.Fatalf("screenshots.sh: %v\n%s\ntill log:\n%s", err, b, log)
	}
	switch b, _ := os.ReadFile(filepath.Join(out, "idle-wait")); strings.TrimSpace(string(b)) {
	case "waiting":
	case "unknown":
		t.Log("cannot tell where the idle window's main thread waits (/proc/PID/syscall)")
	default:
		t.Errorf("the idle window's event loop does not wait for events: %q", b)
	}
	for name, want := range map[string]color.NRGBA{
		"sale-idle": colIdle, "sale-armed": colArmed, "sale-paid": colPaid, "sale-declined": colDeclined,
		"sale-offline": colQueued, "history": {}, "report": {}, "settings": {},
	} {
		img := readPNG(t, filepath.Join(out, name+".png"))
		if b := img.Bounds(); b.Dx() < 800 || b.Dy() < 600 {
			t.Errorf("%s: %v pixels", name, b.Size())
		}
		if n := distinctColours(img); n < 8 {
			t.Errorf("%s looks blank: %d colours", name, n)
		}
		if want != (color.NRGBA{}) {
			if share := colourShare(img, want); share < 0.15 {
				t.Errorf("%s: only %.0f%% of the screen is the result colour %v", name, 100*share, want)
			}
		}
	}
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func distinctColours(img image.Image) int {
	seen := map[color.RGBA]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			seen[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)] = true
			if len(seen) > 64 {
				return len(seen)
			}
		}
	}
	return len(seen)
}

// colourShare is the share of pixels within a small distance of c.
func colourShare(img image.Image, c color.NRGBA) float64 {
	b := img.Bounds()
	near, all := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, _ := img.At(x, y).RGBA()
			d := abs(int(r>>8)-int(c.R)) + abs(int(g>>8)-int(c.G)) + abs(int(bl>>8)-int(c.B))
			if d < 24 {
				near++
			}
			all++
		}
	}
	return float64(near) / float64(all)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
