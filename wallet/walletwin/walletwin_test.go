package walletwin

import (
	"context"
	"image"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/oned"
	"github.com/makiuchi-d/gozxing/qrcode"

	"tillpay/backend/client"
	"tillpay/wallet"
	"tillpay/wallet/wallettest"
)

// queue runs posted UI work on the test's goroutine, as Fyne's main loop
// would.
type queue struct {
	mu  sync.Mutex
	fns []func()
}

func (q *queue) post(f func()) { q.mu.Lock(); q.fns = append(q.fns, f); q.mu.Unlock() }
func (q *queue) pump() {
	q.mu.Lock()
	fns := q.fns
	q.fns = nil
	q.mu.Unlock()
	for _, f := range fns {
		f()
	}
}

func TestWindowShowsScannableCodeAndMovesOnAfterUse(t *testing.T) {
	a := test.NewTempApp(t)
	fake := wallettest.New(t, "payer-1", "pw-1")
	p, err := client.NewPayer(fake.URL, "payer-1", "pw-1")
	if err != nil {
		t.Fatal(err)
	}
	w, err := wallet.Enrol(context.Background(), filepath.Join(t.TempDir(), "wallet.json"),
		wallet.Credentials{BackendURL: fake.URL, PayerID: "payer-1", Password: "pw-1"}, p)
	if err != nil {
		t.Fatal(err)
	}
	q := &queue{}
	ww, err := New(a, w, Options{Backend: p, Poll: 20 * time.Millisecond, Post: q.post, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ww.Start(ctx)
	defer ww.Stop()
	code := ww.Code().Digits
	if len(code) != 18 {
		t.Fatalf("code %q", code)
	}
	// Digits hidden but for the last four until asked.
	if ww.DigitsShown() || strings.Contains(strings.ReplaceAll(ww.DigitsText(), " ", ""), code[:14]) || !strings.HasSuffix(strings.ReplaceAll(ww.DigitsText(), " ", ""), code[14:]) {
		t.Fatalf("hidden digits show %q", ww.DigitsText())
	}
	ww.ToggleDigits()
	if strings.ReplaceAll(ww.DigitsText(), " ", "") != code {
		t.Fatalf("shown digits %q, want %s", ww.DigitsText(), code)
	}
	// Both symbols decode to the code, with whole pixels per module.
	qrImg, barImg := ww.Images()
	for _, c := range []struct {
		name string
		r    gozxing.Reader
		img  image.Image
	}{{"QR", qrcode.NewQRCodeReader(), qrImg}, {"Code 128", oned.NewCode128Reader(), barImg}} {
		bmp, err := gozxing.NewBinaryBitmapFromImage(c.img)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.r.Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
		if err != nil {
			t.Fatalf("%s does not decode: %v", c.name, err)
		}
		if res.GetText() != code {
			t.Fatalf("%s reads %q, want %s", c.name, res.GetText(), code)
		}
	}
	if b := barImg.Bounds(); b.Dx() < 400 || b.Dy() < BarHeight {
		t.Fatalf("barcode of %v pixels is too small for a scan gun off a monitor", b.Size())
	}
	// The payer pays with it: the window moves on to a fresh code.
	if err := fake.Pay(code, 100); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for ww.Code().Digits == code {
		if time.Now().After(deadline) {
			t.Fatal("the window kept showing a used code")
		}
		time.Sleep(5 * time.Millisecond)
		q.pump()
	}
	if ww.Code().Seq != 1 {
		t.Fatalf("next code has sequence %d, want 1", ww.Code().Seq)
	}
}
