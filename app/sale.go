package app

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"

	"tillpay/app/sound"
	"tillpay/money"
	"tillpay/till"
)

type saleState int

const (
	saleIdle       saleState = iota // typing an amount
	saleArmed                       // waiting for the payer's code
	saleSubmitting                  // a code was read; the payment is being sent
	saleWaiting                     // waiting for the payer to confirm in the wallet
	saleResult                      // showing a payment's result
)

// maxAmountLen bounds what the cashier can type.
const maxAmountLen = 10

// saleScreen is the amount display, the keypad and the payment's result.
type saleScreen struct {
	u       *UI
	content fyne.CanvasObject

	state      saleState
	typed      string // the amount being typed
	note       string // a short line under the typed amount (bad input)
	armedAmt   string
	currency   string
	result     till.Event
	stillArmed bool // a scan was refused but the sale stays armed
	expires    time.Time
	ticker     *time.Ticker
	tickStop   chan struct{}

	bg                          *canvas.Rectangle
	title                       *canvas.Text
	big                         *canvas.Text
	lines                       *fyne.Container
	hint                        *canvas.Text
	digitKeys                   []*keyButton
	charge, cancel, back, clear *keyButton
}

func newSaleScreen(u *UI) *saleScreen {
	s := &saleScreen{u: u, currency: u.cfg.Currency}
	s.bg = canvas.NewRectangle(colIdle)
	s.title = canvas.NewText("", colMuted)
	s.title.TextSize = resultTextSize * 0.6
	s.title.TextStyle.Bold = true
	s.title.Alignment = fyne.TextAlignCenter
	s.big = canvas.NewText("", colInk)
	s.big.TextSize = amountTextSize
	// The text font's figures are tabular (all digits one width), so the
	// amount does not shift as it is typed; no monospace font is loaded.
	s.big.TextStyle.Bold = true
	s.big.Alignment = fyne.TextAlignCenter
	s.lines = container.NewVBox()
	s.hint = canvas.NewText("", colMuted)
	s.hint.TextSize = 15
	s.hint.Alignment = fyne.TextAlignCenter
	display := container.NewStack(s.bg, container.NewPadded(container.NewVBox(
		layout.NewSpacer(), s.title, s.big, s.lines, layout.NewSpacer(), s.hint)))

	grid := container.NewGridWithColumns(4)
	digit := func(label string) *keyButton {
		b := newKeyButton(label, "", colKey, func() { s.typedRune([]rune(label)[0]); s.typedMore(label[1:]) })
		s.digitKeys = append(s.digitKeys, b)
		return b
	}
	s.back = wordKey(T("Back"), "Backspace", colKey, func() { s.typedKey(&fyne.KeyEvent{Name: fyne.KeyBackspace}) })
	s.clear = newKeyButton("C", "Del", colKey, func() { s.typedKey(&fyne.KeyEvent{Name: fyne.KeyDelete}) })
	s.cancel = wordKey(T("Cancel"), "Esc", color.NRGBA{R: 0xff, G: 0xcd, B: 0xd2, A: 0xff}, func() { s.typedKey(&fyne.KeyEvent{Name: fyne.KeyEscape}) })
	s.charge = wordKey(T("Charge"), "Enter", color.NRGBA{R: 0xa5, G: 0xd6, B: 0xa7, A: 0xff}, func() { s.typedKey(&fyne.KeyEvent{Name: fyne.KeyReturn}) })
	for _, o := range []fyne.CanvasObject{
		digit("7"), digit("8"), digit("9"), s.back,
		digit("4"), digit("5"), digit("6"), s.clear,
		digit("1"), digit("2"), digit("3"), s.cancel,
		digit("0"), digit("00"), digit("."), s.charge,
	} {
		grid.Add(o)
	}
	keypad := container.NewGridWrap(fyne.NewSize(4*96+3*6, 4*110+3*6), grid)
	s.content = container.NewBorder(nil, nil, nil, container.NewCenter(keypad), display)
	s.render()
	return s
}

// wordKey is a keypad key labelled with a word.
func wordKey(label, hint string, bg color.Color, onTap func()) *keyButton {
	k := newKeyButton(label, hint, bg, onTap)
	k.size = 21
	return k
}

func (s *saleScreen) typedMore(rest string) {
	for _, r := range rest {
		s.typedRune(r)
	}
}

// typedRune takes a character a person typed (not a scan).
func (s *saleScreen) typedRune(r rune) {
	if !s.shown() {
		return
	}
	base := s.typed
	switch s.state {
	case saleArmed, saleSubmitting, saleWaiting:
		return // a sale is under way: the amount is fixed
	case saleResult:
		base = "" // a new sale
	}
	next, ok := editAmount(base, r, s.decimals())
	if !ok {
		return
	}
	s.state, s.note, s.typed = saleIdle, "", next
	s.render()
}

// editAmount returns the amount text after the key r: digits and one
// decimal point (',' as '.'), no more decimals than the currency has, no
// leading zeros, at most maxAmountLen characters. ok is false when the
// key changes nothing.
func editAmount(cur string, r rune, decimals int) (string, bool) {
	if r == ',' {
		r = '.'
	}
	if (r < '0' || r > '9') && r != '.' {
		return cur, false
	}
	if r == '.' && (decimals == 0 || strings.Contains(cur, ".")) {
		return cur, false
	}
	next := cur + string(r)
	if next == "." {
		next = "0."
	}
	if i := strings.IndexByte(next, '.'); i >= 0 && len(next)-i-1 > decimals {
		return cur, false
	}
	if strings.HasPrefix(next, "0") && len(next) > 1 && next[1] != '.' {
		next = strings.TrimLeft(next, "0")
		if next == "" || next[0] == '.' {
			next = "0" + next
		}
	}
	if len(next) > maxAmountLen {
		return cur, false
	}
	return next, next != cur
}

func (s *saleScreen) decimals() int {
	c, err := money.LookupCurrency(s.currency)
	if err != nil {
		return 2
	}
	return c.Exponent
}

// shown reports whether the sale screen is the one on display.
func (s *saleScreen) shown() bool {
	return s.u.tabs == nil || s.u.tabs.Selected() == nil || s.u.tabs.Selected().Content == s.content
}

// typedKey takes a key a person pressed.
func (s *saleScreen) typedKey(ev *fyne.KeyEvent) {
	if !s.shown() {
		return
	}
	switch ev.Name {
	case fyne.KeyReturn, fyne.KeyEnter:
		if s.u.in.scanning() {
			return // a scanner's Enter, not the cashier's
		}
		s.chargeTyped()
	case fyne.KeyEscape:
		s.cancelSale()
	case fyne.KeyBackspace:
		if s.state == saleResult {
			s.state, s.typed = saleIdle, ""
		}
		if s.state == saleIdle && s.typed != "" {
			s.typed = s.typed[:len(s.typed)-1]
			s.note = ""
			s.render()
		}
	case fyne.KeyDelete:
		if s.state == saleIdle || s.state == saleResult {
			s.state, s.typed, s.note = saleIdle, "", ""
			s.render()
		}
	}
}

// chargeTyped arms the till for the typed amount.
func (s *saleScreen) chargeTyped() {
	if s.state != saleIdle && s.state != saleResult {
		return
	}
	if s.state == saleResult {
		return // type a new amount first
	}
	if s.u.st == nil || s.u.phase != phaseUp {
		s.note = T("The till is not ready yet.")
		s.render()
		return
	}
	a, err := money.Parse(s.typed, s.currency)
	if err == nil {
		err = a.CheckPayable()
	}
	if err != nil {
		s.note = T("Type an amount greater than zero.")
		if s.typed != "" && !errors.Is(err, money.ErrZero) {
			s.note = err.Error()
		}
		s.render()
		return
	}
	s.u.command("Charge", func(ctx context.Context, t *till.Till) error { return t.Charge(ctx, a) })
}

func (s *saleScreen) cancelSale() {
	switch s.state {
	case saleArmed, saleWaiting:
		s.u.command("Cancel", func(ctx context.Context, t *till.Till) error {
			err := t.Cancel(ctx)
			if errors.Is(err, till.ErrNoSale) {
				return nil
			}
			return err
		})
	case saleIdle, saleResult:
		s.state, s.typed, s.note = saleIdle, "", ""
		s.render()
	}
}

// reset forgets the sale (the till stack restarted).
func (s *saleScreen) reset() {
	s.stopTicker()
	s.state, s.typed, s.note, s.stillArmed = saleIdle, "", "", false
	s.currency = s.u.cfg.Currency
	s.render()
}

// armed: the till waits for a code.
func (s *saleScreen) armed(ev till.Event) {
	s.state = saleArmed
	s.armedAmt = ev.Amount
	if ev.Currency != "" {
		s.currency = ev.Currency
	}
	s.stillArmed = false
	s.render()
}

// scanned: a code was read while armed.
func (s *saleScreen) scanned(ev till.Event) {
	if s.state == saleArmed {
		s.state = saleSubmitting
		s.render()
	}
}

// payment shows a payment's result, if it is the current sale's.
func (s *saleScreen) payment(ev till.Event) {
	switch ev.Status {
	case till.StatusPaid, till.StatusDeclined, till.StatusQueued, till.StatusCancelled, till.StatusUnknown:
	case till.StatusWaitingPayer:
	default:
		return // settled, declined late, refunded…: history and status bar
	}
	if s.state == saleIdle || s.state == saleResult {
		return // a payment reconciled in the background, not this sale
	}
	s.stopTicker()
	if ev.Status == till.StatusWaitingPayer {
		s.state = saleWaiting
		s.result = ev
		if ev.Expires != nil {
			s.expires = *ev.Expires
		} else {
			s.expires = time.Time{}
		}
		s.startTicker()
		s.render()
		s.u.sound.Play(sound.Notice)
		s.u.flashColor(colWaiting)
		return
	}
	s.result = ev
	s.stillArmed = false
	s.state = saleResult
	if ev.Status == till.StatusDeclined && (ev.ReasonCode == till.ReasonForeignCode || ev.ReasonCode == till.ReasonNotACode) {
		// The till stays armed for the right code.
		s.state = saleArmed
		s.stillArmed = true
	}
	if ev.Status == till.StatusCancelled && ev.Order == "" {
		// Cancelled before a scan: back to typing, no fanfare.
		s.state, s.typed = saleIdle, ""
		s.render()
		return
	}
	s.typed = ""
	s.render()
	switch ev.Status {
	case till.StatusPaid:
		s.u.sound.Play(sound.Success)
		s.u.flashColor(colPaid)
	case till.StatusQueued:
		s.u.sound.Play(sound.Notice)
		s.u.flashColor(colQueued)
	case till.StatusCancelled:
		s.u.flashColor(colArmed)
	default:
		s.u.sound.Play(sound.Failure)
		s.u.flashColor(colDeclined)
	}
}

// failed: the till reported an error (a scan with no sale, a journal
// failure…). It shows in the banner; the screen flashes and buzzes.
func (s *saleScreen) failed(ev till.Event) {
	s.u.sound.Play(sound.Failure)
	s.u.flashColor(colDeclined)
	if s.state == saleSubmitting {
		s.state = saleArmed
		s.render()
	}
}

func (s *saleScreen) startTicker() {
	s.tickStop = make(chan struct{})
	s.ticker = time.NewTicker(time.Second)
	tk, stop := s.ticker, s.tickStop
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				s.u.post(func() {
					if s.state == saleWaiting {
						s.render()
					}
				})
			}
		}
	}()
}

func (s *saleScreen) stopTicker() {
	if s.ticker != nil {
		s.ticker.Stop()
		close(s.tickStop)
		s.ticker = nil
	}
}

func currencySymbol(code string) string {
	switch code {
	case "CNY", "JPY":
		return "¥"
	case "USD":
		return "$"
	case "EUR":
		return "€"
	case "GBP":
		return "£"
	}
	return code + " "
}

// render draws the screen for its state.
func (s *saleScreen) render() {
	sym := currencySymbol(s.currency)
	bg, fg := color.Color(colIdle), color.Color(colInk)
	title, big, hint := "", "", ""
	var lines []string
	switch {
	case s.u.phase == phaseStarting && s.u.st == nil:
		title, big = T("Starting the till…"), ""
		hint = T("Connecting to the payment backend and the scanners.")
	case s.u.phase == phaseFailed:
		bg, fg = colDeclined, colWhite
		title = T("The till could not start")
		if s.u.lastErr != nil {
			lines = wrap(s.u.lastErr.Error(), 44)
		}
		hint = T("Check the settings (F4), then apply them to try again.")
	default:
		switch s.state {
		case saleIdle:
			title = T("Amount")
			amt := s.typed
			if amt == "" {
				amt = "0"
			}
			big = sym + amt
			if s.note != "" {
				lines = []string{s.note}
			}
			hint = T("Type the amount, then Enter to charge. Esc clears.")
		case saleArmed:
			bg, fg = colArmed, colWhite
			title = T("Waiting for the payer's code")
			big = sym + s.armedAmt
			if s.stillArmed {
				bg = colDeclined
				title = T("Code refused — scan again")
				lines = wrap(s.result.Reason, 44)
			} else {
				lines = []string{T("Scan the payment code on the payer's phone.")}
			}
			hint = T("Esc cancels the payment.")
		case saleSubmitting:
			bg, fg = colArmed, colWhite
			title = T("Sending the payment…")
			big = sym + s.armedAmt
			hint = T("The code was read. Wait for the result.")
		case saleWaiting:
			bg, fg = colWaiting, colWhite
			title = T("Waiting for the payer to confirm")
			big = sym + s.result.Amount
			if !s.expires.IsZero() {
				left := time.Until(s.expires).Round(time.Second)
				if left < 0 {
					left = 0
				}
				lines = []string{fmt.Sprintf(T("The payer must confirm in the wallet. Cancels in %d:%02d."), int(left.Minutes()), int(left.Seconds())%60)}
			}
			lines = append(lines, s.result.Order)
			hint = T("Esc cancels the payment.")
		case saleResult:
			ev := s.result
			big = sym + ev.Amount
			fg = colWhite
			switch ev.Status {
			case till.StatusPaid:
				bg, title = colPaid, T("PAID")
				lines = []string{fmt.Sprintf(T("Order %s"), ev.Order)}
			case till.StatusQueued:
				bg, title = colQueued, T("QUEUED OFFLINE")
				lines = append(wrap(ev.Reason, 44), fmt.Sprintf(T("Order %s"), ev.Order))
			case till.StatusCancelled:
				bg, title = colArmed, T("CANCELLED")
				lines = wrap(ev.Reason, 44)
			case till.StatusUnknown:
				bg, title = colDeclined, T("NO ANSWER — NOT PAID")
				lines = wrap(ev.Reason, 44)
			default:
				bg, title = colDeclined, T("DECLINED")
				lines = wrap(ev.Reason, 44)
			}
			hint = T("Type the next amount to start a new sale.")
		}
	}
	if s.bg.FillColor != bg {
		s.bg.FillColor = bg
		s.bg.Refresh()
	}
	muted := fg
	if fg == color.Color(colInk) {
		muted = colMuted
	}
	titleSize := float32(28)
	if s.state == saleResult || s.stillArmed {
		titleSize = resultTextSize
	}
	setText(s.title, title, muted, titleSize)
	setText(s.big, big, fg, s.big.TextSize)
	setText(s.hint, hint, muted, s.hint.TextSize)
	// The line objects are reused: a new canvas.Text would be shaped and
	// uploaded as a new texture on every result.
	for len(s.lines.Objects) < len(lines) {
		t := canvas.NewText("", fg)
		t.TextSize = reasonTextSize
		t.Alignment = fyne.TextAlignCenter
		s.lines.Add(t)
	}
	for i, o := range s.lines.Objects {
		t := o.(*canvas.Text)
		if i >= len(lines) {
			t.Hide()
			continue
		}
		if t.Text != lines[i] || t.Color != fg {
			t.Text, t.Color = lines[i], fg
			t.Refresh()
		}
		t.Show()
	}
	typing := s.state == saleIdle || s.state == saleResult
	for _, k := range s.digitKeys {
		k.setDisabled(!typing)
	}
	s.back.setDisabled(!typing)
	s.clear.setDisabled(!typing)
	s.charge.setDisabled(s.state != saleIdle)
	s.cancel.setDisabled(s.state == saleSubmitting)
}

// setText changes a text only if it differs: a refreshed text is shaped
// and uploaded again.
func setText(t *canvas.Text, text string, c color.Color, size float32) {
	if t.Text == text && t.Color == c && t.TextSize == size {
		return
	}
	t.Text, t.Color, t.TextSize = text, c, size
	t.Refresh()
}

// wrap breaks text into lines of at most n runes, at spaces.
func wrap(text string, n int) []string {
	var out []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len([]rune(line))+1+len([]rune(w)) > n {
			out = append(out, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}

// flashColor flashes the whole window in c for a moment, with the result
// sound, so that a result is seen even from the corner of an eye. It is a
// blink (on, then off after flashTime) rather than an animation: two
// repaints instead of one a frame, so that a slow (software-rendered)
// screen is not kept busy.
func (u *UI) flashColor(c color.NRGBA) {
	c.A = 0x90
	u.flash.FillColor = c
	u.flash.Refresh()
	u.flashes++
	n := u.flashes
	time.AfterFunc(flashTime, func() {
		u.post(func() {
			if u.flashes == n {
				u.flash.FillColor = transparent
				u.flash.Refresh()
			}
		})
	})
}

// flashTime is how long the window flashes for a result.
const flashTime = 250 * time.Millisecond
