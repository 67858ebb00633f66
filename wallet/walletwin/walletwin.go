// Package walletwin is the payer-wallet emulator's window: the payer's
// phone on a second screen. It shows the wallet's current payment code as
// a QR code and a Code 128 barcode, drawn with whole pixels per module and
// large enough for a real scan gun to read off a monitor, refreshed when
// the code's minute ends and as soon as the backend reports the code used.
// The digits stay hidden until the payer asks for them.
//
// It is opened by `tillpay wallet show --window`, and from the till's
// window for its demo payer.
package walletwin

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"tillpay/backend/client"
	"tillpay/wallet"
	"tillpay/wallet/render"
)

// Sizes of the symbols, in pixels per module. A Code 128 module of 3 px
// is about 0.8 mm on a common 96 dpi monitor, which hand-held scan guns
// read from 5–30 cm; the QR code's 8 px modules read from further away.
const (
	QRScale   = 8
	BarWidth  = 3
	BarHeight = 130
)

// Options configure a Window.
type Options struct {
	// Backend is asked for the clock and for uses of codes (default: a
	// payer client for the wallet's backend and credentials).
	Backend wallet.Backend
	// Poll is how often the backend is asked whether the code was used
	// (default 2 s).
	Poll   time.Duration
	Logger *slog.Logger
	// Post runs a function on Fyne's main goroutine (default fyne.Do).
	Post func(func())
	// Now is the local clock (default time.Now).
	Now func() time.Time
}

// Window is the wallet's window.
type Window struct {
	w    *wallet.Wallet
	win  fyne.Window
	opt  Options
	log  *slog.Logger
	post func(func())

	code     wallet.Code
	shown    bool // digits shown
	online   bool
	problem  string
	qrImg    *canvas.Image
	barImg   *canvas.Image
	digits   *canvas.Text
	info     *widget.Label
	toggle   *widget.Button
	refreshN int // codes drawn (for tests)

	mu      sync.Mutex // guards online and expires (read by the refresh loop)
	expires time.Time  // local time when the code on display expires

	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}
}

// New builds the window for w on a.
func New(a fyne.App, w *wallet.Wallet, opt Options) (*Window, error) {
	if opt.Poll <= 0 {
		opt.Poll = 2 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Post == nil {
		opt.Post = fyne.Do
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Backend == nil {
		st := w.State()
		p, err := client.NewPayer(st.BackendURL, st.PayerID, st.Password)
		if err != nil {
			return nil, fmt.Errorf("wallet window: %w", err)
		}
		opt.Backend = p
	}
	ww := &Window{w: w, opt: opt, log: opt.Logger, post: opt.Post, done: make(chan struct{})}
	ww.win = a.NewWindow("tillpay wallet — " + w.State().PayerID)
	ww.qrImg = canvas.NewImageFromImage(image.NewGray(image.Rect(0, 0, 1, 1)))
	ww.barImg = canvas.NewImageFromImage(image.NewGray(image.Rect(0, 0, 1, 1)))
	for _, im := range []*canvas.Image{ww.qrImg, ww.barImg} {
		im.FillMode = canvas.ImageFillOriginal
		im.ScaleMode = canvas.ImageScalePixels
	}
	ww.digits = canvas.NewText("", colorInk)
	ww.digits.TextSize = 28
	ww.digits.TextStyle.Monospace = true
	ww.digits.Alignment = fyne.TextAlignCenter
	ww.info = widget.NewLabel("")
	ww.info.Alignment = fyne.TextAlignCenter
	ww.info.Wrapping = fyne.TextWrapWord
	ww.toggle = widget.NewButton("Show digits", ww.ToggleDigits)
	white := canvas.NewRectangle(colorWhite)
	symbols := container.NewVBox(container.NewCenter(ww.qrImg), container.NewCenter(ww.barImg),
		ww.digits, container.NewCenter(ww.toggle), ww.info)
	title := widget.NewLabelWithStyle("Payment code — show it to the cashier's scanner", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	ww.win.SetContent(container.NewStack(white, container.NewPadded(container.NewVBox(title, symbols, layout.NewSpacer()))))
	ww.win.Resize(fyne.NewSize(560, 720))
	ww.draw()
	return ww, nil
}

// Window returns the Fyne window.
func (ww *Window) Window() fyne.Window { return ww.win }

// Code returns the code on display.
func (ww *Window) Code() wallet.Code { return ww.code }

// DigitsShown reports whether the digits are visible.
func (ww *Window) DigitsShown() bool { return ww.shown }

// DigitsText returns the digits line as drawn (masked while hidden).
func (ww *Window) DigitsText() string { return ww.digits.Text }

// Images returns the QR code and barcode images on display.
func (ww *Window) Images() (qr, bars image.Image) { return ww.qrImg.Image, ww.barImg.Image }

// ToggleDigits shows or hides the digits.
func (ww *Window) ToggleDigits() {
	ww.shown = !ww.shown
	ww.drawText()
}

// Refresh makes the code to show now and draws it; it runs on the UI
// goroutine.
func (ww *Window) Refresh() {
	code, err := ww.w.Current()
	var ex *wallet.ExhaustedError
	switch {
	case errors.As(err, &ex):
		ww.problem = fmt.Sprintf("All codes of this minute are used; the next is ready in %s.", ex.Wait.Round(time.Second))
		ww.code = wallet.Code{}
	case err != nil:
		ww.problem = err.Error()
		ww.code = wallet.Code{}
	default:
		ww.problem = ""
		ww.code = code
	}
	ww.mu.Lock()
	ww.expires = time.Time{}
	if ww.code.Digits != "" {
		ww.expires = ww.code.Expires.Add(-ww.w.State().ClockOffset)
	} else if ex != nil {
		ww.expires = time.Now().Add(ex.Wait)
	}
	ww.mu.Unlock()
	ww.draw()
}

func (ww *Window) draw() {
	if ww.code.Digits != "" {
		qr, err1 := render.QR(ww.code.Digits)
		bars, err2 := render.Code128(ww.code.Digits)
		if err := errors.Join(err1, err2); err != nil {
			ww.problem = err.Error()
		} else {
			ww.qrImg.Image = qr.Image(QRScale)
			ww.barImg.Image = bars.Image(BarWidth, BarHeight)
			ww.refreshN++
		}
	} else {
		ww.qrImg.Image = image.NewGray(image.Rect(0, 0, 1, 1))
		ww.barImg.Image = image.NewGray(image.Rect(0, 0, 1, 1))
	}
	ww.qrImg.Refresh()
	ww.barImg.Refresh()
	ww.drawText()
}

func (ww *Window) drawText() {
	d := ww.code.Digits
	switch {
	case d == "":
		ww.digits.Text = ""
	case ww.shown:
		ww.digits.Text = group(d)
	default:
		ww.digits.Text = group(strings.Repeat("•", len(d)-4) + d[len(d)-4:])
	}
	ww.digits.Refresh()
	if ww.shown {
		ww.toggle.SetText("Hide digits")
	} else {
		ww.toggle.SetText("Show digits")
	}
	info := ww.problem
	if info == "" && d != "" {
		info = fmt.Sprintf("Refreshes at %s, or as soon as it is used.", ww.code.Expires.Local().Format("15:04:05"))
		ww.mu.Lock()
		online := ww.online
		ww.mu.Unlock()
		if !online {
			info += " Offline: the code is made from the learned clock."
		}
	}
	ww.info.SetText(info)
}

// group spaces an 18-digit code as 4-5-4-5, as the wallet command does.
func group(d string) string {
	r := []rune(d)
	if len(r) != 18 {
		return d
	}
	return string(r[:4]) + " " + string(r[4:9]) + " " + string(r[9:13]) + " " + string(r[13:])
}

// Start draws the current code and keeps it fresh until Stop: it asks the
// backend every Poll whether the code was used, and moves on at the end
// of the code's minute.
func (ww *Window) Start(ctx context.Context) {
	ctx, ww.cancel = context.WithCancel(ctx)
	ww.Refresh()
	go ww.loop(ctx)
}

// sync asks the backend for the clock and uses; it reports whether a use
// moved the wallet on.
func (ww *Window) sync(ctx context.Context) bool {
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	res, err := ww.w.Sync(sctx, ww.opt.Backend)
	online := err == nil
	ww.mu.Lock()
	if online != ww.online && err != nil {
		ww.log.Info("wallet window: backend not reachable; codes are made offline", "err", err)
	}
	ww.online = online
	ww.mu.Unlock()
	return res.Used
}

func (ww *Window) loop(ctx context.Context) {
	defer close(ww.done)
	poll := time.NewTicker(ww.opt.Poll)
	defer poll.Stop()
	for syncNow := true; ; {
		if syncNow {
			used := ww.sync(ctx)
			ww.post(func() {
				if used || ww.code.Digits == "" {
					ww.Refresh()
				} else {
					ww.drawText()
				}
			})
		}
		syncNow = false
		var expiry <-chan time.Time
		var t *time.Timer
		if exp := ww.expiry(); !exp.IsZero() {
			t = time.NewTimer(max(time.Until(exp)+50*time.Millisecond, 50*time.Millisecond))
			expiry = t.C
		}
		select {
		case <-ctx.Done():
		case <-poll.C:
			syncNow = true
		case <-expiry:
			ww.post(ww.Refresh)
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// expiry is when the code on display expires on the local clock.
func (ww *Window) expiry() time.Time {
	ww.mu.Lock()
	defer ww.mu.Unlock()
	return ww.expires
}

// Stop ends the refreshing (the window stays open).
func (ww *Window) Stop() {
	ww.stopOnce.Do(func() {
		if ww.cancel != nil {
			ww.cancel()
			<-ww.done
		}
	})
}
