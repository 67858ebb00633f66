package app

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"tillpay/backend"
	"tillpay/backend/backendtest"
	"tillpay/config"
	"tillpay/internal/boot"
	"tillpay/scanner"
	"tillpay/scanner/scannertest"
	"tillpay/sync/monitor"
	"tillpay/wallet"
)

var quiet = slog.New(slog.DiscardHandler)

// queue stands in for fyne.Do in tests: functions posted from other
// goroutines run on the test's goroutine when it pumps, so that every
// widget is touched from one goroutine, as Fyne's main loop does.
type queue struct {
	mu  sync.Mutex
	fns []func()
}

func (q *queue) post(f func()) {
	q.mu.Lock()
	q.fns = append(q.fns, f)
	q.mu.Unlock()
}

func (q *queue) pump() {
	for {
		q.mu.Lock()
		fns := q.fns
		q.fns = nil
		q.mu.Unlock()
		if len(fns) == 0 {
			return
		}
		for _, f := range fns {
			f()
		}
	}
}

// fakeClock is the key-event clock of the window's input, so that a test
// types as slowly or as fast as it means to.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time        { return c.t }
func (c *fakeClock) add(d time.Duration)   { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock             { return &fakeClock{t: time.Now()} }
func (h *harness) advance(d time.Duration) { h.clock.add(d) }
func (h *harness) canvas() fyne.Canvas     { return h.u.win.Canvas() }
func (h *harness) key(name fyne.KeyName)   { h.canvas().OnTypedKey()(&fyne.KeyEvent{Name: name}) }
func (h *harness) runeKey(r rune)          { h.canvas().OnTypedRune()(r) }
func (h *harness) tick()                   { h.u.in.tick() }
func (h *harness) pump()                   { h.q.pump() }
func (h *harness) backendURL() string      { return h.be.URL }
func (h *harness) statePath() string       { return filepath.Join(h.dir, "wallet.json") }
func (h *harness) configPath() string      { return filepath.Join(h.dir, "tillpay.toml") }
func (h *harness) sale() *saleScreen       { return h.u.sale }
func (h *harness) title() string           { return h.u.sale.title.Text }
func (h *harness) shownAmount() string     { return h.u.sale.big.Text }
func (h *harness) bannerShown() bool       { return h.u.banner.errBox.Visible() }
func (h *harness) lateShown() bool         { return h.u.banner.lateBox.Visible() }

// harness is the cashier window over a real till stack (boot) against a
// real payment backend on loopback, with a scripted scan gun and the
// keyboard wedge.
type harness struct {
	t      *testing.T
	ctx    context.Context
	dir    string
	be     *backendtest.Server
	gun    *scannertest.Source
	wallet *wallet.Wallet
	u      *UI
	q      *queue
	clock  *fakeClock
}

type harnessOption func(*config.Config)

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, dir: t.TempDir(), q: &queue{}, clock: newFakeClock()}
	h.be = backendtest.Start(t, backendtest.WithBackendOptions(backend.WithConfirmTimeout(time.Minute)))
	demo := h.be.Demo
	keyFile := h.be.WriteTerminalKey(h.dir)
	payer := h.be.Payer()
	var err error
	h.wallet, err = wallet.Enrol(ctx, h.statePath(), wallet.Credentials{BackendURL: h.backendURL(), PayerID: demo.Payer.ID, Password: demo.Payer.Password}, payer)
	if err != nil {
		t.Fatal(err)
	}

	cfg := config.Default()
	cfg.DataDir = filepath.Join(h.dir, "till")
	cfg.Backend = h.backendURL()
	cfg.TerminalID, cfg.TerminalKeyFile = demo.Terminal.ID, keyFile
	cfg.Sound = true // no audio device in tests: counted, not heard
	cfg.Payment.PollInterval.Duration = 20 * time.Millisecond
	cfg.Payment.RequestTimeout.Duration = 2 * time.Second
	for _, o := range opts {
		o(&cfg)
	}
	h.gun = scannertest.NewSource()
	h.u = New(a, Options{
		Boot: boot.Options{
			Config: cfg, Logger: quiet,
			Monitor:        monitor.Options{Interval: 100 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, TimeToVisible: 50 * time.Millisecond},
			ScannerOptions: []scanner.Option{scanner.WithStatusDelay(0)},
			ExtraSources:   map[string]scanner.Source{"gun": h.gun},
		},
		ConfigPath: h.configPath(),
		Logger:     quiet,
	})
	h.u.post = h.q.post
	h.u.in.now = h.clock.now
	h.u.Start(ctx)
	t.Cleanup(func() { h.pump(); h.u.Close() })
	h.waitFor("the till to be ready", func() bool { return h.u.phase == phaseUp })
	return h
}

// stopBackend closes the backend's listener: connections are refused.
func (h *harness) stopBackend() { h.be.Stop() }

// startBackend listens again at the same address.
func (h *harness) startBackend() { h.be.Restart() }

// waitFor pumps the UI queue until cond holds.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		h.pump()
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s (sale state %d, title %q, banner %v)", what, h.u.sale.state, h.title(), h.u.banner.errors)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// typeSlowly types text as a person does: 180 ms between keys.
func (h *harness) typeSlowly(text string) {
	for _, r := range text {
		h.advance(180 * time.Millisecond)
		h.runeKey(r)
	}
	h.advance(180 * time.Millisecond)
	h.tick()
}

// scanBurst types text and Enter as a keyboard-wedge scan gun does: 4 ms
// between keys.
func (h *harness) scanBurst(text string) {
	for _, r := range text {
		h.advance(4 * time.Millisecond)
		h.runeKey(r)
	}
	h.advance(4 * time.Millisecond)
	h.key(fyne.KeyReturn)
}

// charge types an amount and presses Enter, and waits for the till to arm.
func (h *harness) charge(amount string) {
	h.t.Helper()
	h.typeSlowly(amount)
	h.advance(time.Second)
	h.key(fyne.KeyReturn)
	h.waitFor("the till to arm", func() bool { return h.u.sale.state == saleArmed })
}

func (h *harness) code() string {
	h.t.Helper()
	c, err := h.wallet.Next()
	if err != nil {
		h.t.Fatal(err)
	}
	return c.Digits
}

// result waits for the sale screen to show a result.
func (h *harness) result() {
	h.t.Helper()
	h.waitFor("a result", func() bool { return h.u.sale.state == saleResult })
}

// find returns the first object under o that matches.
func find(o fyne.CanvasObject, match func(fyne.CanvasObject) bool) fyne.CanvasObject {
	if o == nil || !o.Visible() {
		return nil
	}
	if match(o) {
		return o
	}
	var kids []fyne.CanvasObject
	switch v := o.(type) {
	case *fyne.Container:
		kids = v.Objects
	case fyne.Widget:
		kids = test.WidgetRenderer(v).Objects()
	}
	for _, k := range kids {
		if f := find(k, match); f != nil {
			return f
		}
	}
	return nil
}

// button finds a button by its text in the window or its top overlay.
func (h *harness) button(text string) *widget.Button {
	h.t.Helper()
	roots := []fyne.CanvasObject{}
	if top := h.canvas().Overlays().Top(); top != nil {
		roots = append(roots, top)
	}
	roots = append(roots, h.canvas().Content())
	for _, r := range roots {
		if b := find(r, func(o fyne.CanvasObject) bool {
			b, ok := o.(*widget.Button)
			return ok && strings.TrimSpace(b.Text) == text
		}); b != nil {
			return b.(*widget.Button)
		}
	}
	h.t.Fatalf("no button %q on screen", text)
	return nil
}

// overlayEntry finds the first text entry of the top dialog.
func (h *harness) overlayEntry() *entry {
	h.t.Helper()
	top := h.canvas().Overlays().Top()
	e := find(top, func(o fyne.CanvasObject) bool { _, ok := o.(*entry); return ok })
	if e == nil {
		h.t.Fatal("no entry in the dialog")
	}
	return e.(*entry)
}
