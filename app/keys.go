package app

import (
	"image/color"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"tillpay/drivers/wedge"
)

// sink takes the keys a person typed (not a scan).
type sink interface {
	typedRune(r rune)
	typedKey(ev *fyne.KeyEvent)
}

// pendingKey is a key held by the wedge detector, with where it goes.
type pendingKey struct {
	to   sink
	rune rune
	key  *fyne.KeyEvent
}

// input routes every key of the window through the keyboard-wedge
// detector: a scan gun's burst becomes a scan for the till, a person's
// keys reach the screen (the sale screen, or the focused entry) in order,
// at most the detector's idle time (100 ms) late.
type input struct {
	u     *UI
	now   func() time.Time
	held  []pendingKey // runes and Enter/Tab given to the wedge, not yet decided
	after []pendingKey // other keys that came while runes were held
	timer *time.Timer
	// burstEnd is when the last scan burst was seen; Enter is not taken
	// as a cashier's Enter for a moment after it.
	burstEnd time.Time
}

func newInput(u *UI) *input { return &input{u: u, now: time.Now} }

// attach takes the canvas's key events (when no widget has focus).
func (in *input) attach(c fyne.Canvas) {
	c.SetOnTypedRune(func(r rune) { in.rune(r, in.u.sale) })
	c.SetOnTypedKey(func(ev *fyne.KeyEvent) { in.key(ev, in.u.sale) })
	if dc, ok := c.(desktop.Canvas); ok {
		// Tab never reaches OnTypedKey (Fyne moves the focus with it).
		dc.SetOnKeyDown(func(ev *fyne.KeyEvent) {
			if ev.Name == fyne.KeyTab {
				in.key(ev, in.u.sale)
			}
		})
	}
}

func (in *input) rune(r rune, to sink) {
	in.held = append(in.held, pendingKey{to: to, rune: r})
	in.release(in.u.wedge.Key(wedge.Key{Kind: wedge.Rune, Rune: r, At: in.now()}))
}

func (in *input) key(ev *fyne.KeyEvent, to sink) {
	if in.global(ev) {
		return
	}
	var kind wedge.KeyKind
	switch ev.Name {
	case fyne.KeyReturn, fyne.KeyEnter:
		kind = wedge.Enter
	case fyne.KeyTab:
		kind = wedge.Tab
	default:
		if len(in.held) > 0 {
			in.after = append(in.after, pendingKey{to: to, key: ev})
			return
		}
		to.typedKey(ev)
		return
	}
	in.held = append(in.held, pendingKey{to: to, key: ev})
	before := in.u.wedge.Stats().Scans
	in.release(in.u.wedge.Key(wedge.Key{Kind: kind, At: in.now()}))
	if in.u.wedge.Stats().Scans > before {
		in.burstEnd = in.now()
	}
}

// global handles the keys that work everywhere and are never part of a
// scan: F1–F4 choose a screen, F5 forwards queued payments.
func (in *input) global(ev *fyne.KeyEvent) bool {
	tabs := map[fyne.KeyName]int{fyne.KeyF1: 0, fyne.KeyF2: 1, fyne.KeyF3: 2, fyne.KeyF4: 3}
	if i, ok := tabs[ev.Name]; ok {
		in.u.tabs.SelectIndex(i)
		return true
	}
	if ev.Name == fyne.KeyF5 {
		in.u.status.syncNow()
		return true
	}
	return false
}

// release hands the keys the wedge let go to their sinks, drops the ones
// it took as a scan, and arms the idle timer while keys are held.
func (in *input) release(out []wedge.Key) {
	for _, k := range out {
		if len(in.held) == 0 {
			break
		}
		p := in.held[0]
		in.held = in.held[1:]
		switch {
		case k.Kind == wedge.Rune:
			p.to.typedRune(p.rune)
		case p.key != nil:
			p.to.typedKey(p.key)
		}
	}
	deadline, holding := in.u.wedge.Deadline()
	if !holding {
		in.held = in.held[:0] // taken as a scan (or dropped)
		after := in.after
		in.after = nil
		for _, p := range after {
			p.to.typedKey(p.key)
		}
		if in.timer != nil {
			in.timer.Stop()
			in.timer = nil
		}
		return
	}
	if in.timer != nil {
		in.timer.Stop()
	}
	in.timer = time.AfterFunc(time.Until(deadline)+time.Millisecond, func() { in.u.post(in.tick) })
}

// tick decides held keys once the wedge's idle time has passed.
func (in *input) tick() {
	in.release(in.u.wedge.Tick(in.now()))
}

// scanning reports whether a burst is being read or just ended, when an
// Enter is the scanner's and not the cashier's.
func (in *input) scanning() bool {
	return len(in.held) > 3 || (!in.burstEnd.IsZero() && in.now().Sub(in.burstEnd) < 2*time.Second)
}

// entry is a text field whose keys go through the wedge detector too, so
// a scan made while it has focus is not typed into it.
type entry struct {
	widget.Entry
	in *input
}

func newEntry(in *input) *entry {
	e := &entry{in: in}
	e.ExtendBaseWidget(e)
	return e
}

// TypedRune implements fyne.Focusable.
func (e *entry) TypedRune(r rune) { e.in.rune(r, entrySink{e}) }

// TypedKey implements fyne.Focusable.
func (e *entry) TypedKey(ev *fyne.KeyEvent) { e.in.key(ev, entrySink{e}) }

type entrySink struct{ e *entry }

func (s entrySink) typedRune(r rune)           { s.e.Entry.TypedRune(r) }
func (s entrySink) typedKey(ev *fyne.KeyEvent) { s.e.Entry.TypedKey(ev) }

// keyButton is a large, non-focusable key for the touch screen: a tap
// never takes the keyboard focus away from the window (where the wedge
// detector listens). Its label names its keyboard key too.
type keyButton struct {
	widget.BaseWidget
	label, hint string
	bg, fg      color.Color
	onTap       func()
	disabled    bool
	size        float32 // label text size
	minH        float32 // least height

	rect      *canvas.Rectangle
	text, sub *canvas.Text
}

func newKeyButton(label, hint string, bg color.Color, onTap func()) *keyButton {
	b := &keyButton{label: label, hint: hint, bg: bg, fg: colInk, onTap: onTap, size: keyTextSize, minH: keyMinSize}
	b.ExtendBaseWidget(b)
	return b
}

// Tapped implements fyne.Tappable.
func (b *keyButton) Tapped(*fyne.PointEvent) {
	if b.disabled || b.onTap == nil {
		return
	}
	b.onTap()
}

// MinSize keeps every key a comfortable tap target.
func (b *keyButton) MinSize() fyne.Size {
	b.ExtendBaseWidget(b)
	return b.BaseWidget.MinSize().Max(fyne.NewSize(b.minH*1.2, b.minH))
}

func (b *keyButton) setDisabled(d bool) {
	if b.disabled == d {
		return
	}
	b.disabled = d
	b.Refresh()
}

func (b *keyButton) CreateRenderer() fyne.WidgetRenderer {
	b.rect = canvas.NewRectangle(nil)
	b.rect.CornerRadius = 8
	b.text = canvas.NewText(b.label, b.fg)
	b.text.TextStyle.Bold = true
	b.text.Alignment = fyne.TextAlignCenter
	b.sub = canvas.NewText(b.hint, colMuted)
	b.sub.TextSize = 12
	b.sub.Alignment = fyne.TextAlignCenter
	labels := container.NewVBox(layout.NewSpacer(), b.text, b.sub, layout.NewSpacer())
	if b.hint == "" {
		labels = container.NewVBox(layout.NewSpacer(), b.text, layout.NewSpacer())
	}
	r := &keyRenderer{b: b, WidgetRenderer: widget.NewSimpleRenderer(container.NewStack(b.rect, labels))}
	r.Refresh()
	return r
}

type keyRenderer struct {
	fyne.WidgetRenderer
	b *keyButton
}

// Refresh redraws what changed. A disabled key shows by its background
// only: refreshing a text makes Fyne shape and upload it again, which a
// software-rendered till screen feels when a dozen keys change at once.
func (r *keyRenderer) Refresh() {
	b := r.b
	bg := b.bg
	if b.disabled {
		bg = colIdle
	}
	if b.rect.FillColor != bg {
		b.rect.FillColor = bg
		b.rect.Refresh()
	}
	if b.text.Text != b.label || b.text.TextSize != b.size || b.text.Color != b.fg {
		b.text.Text, b.text.TextSize, b.text.Color = b.label, b.size, b.fg
		b.text.Refresh()
	}
	if b.sub.Text != b.hint {
		b.sub.Text = b.hint
		b.sub.Refresh()
	}
}
