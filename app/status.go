package app

import (
	"context"
	"fmt"
	"image/color"
	"sort"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"tillpay/sync/journal"
	"tillpay/till"
)

// statusBar is always visible: the backend's connectivity, the offline
// queue (tap to forward now), each scan gun's state and the late-decline
// alert.
type statusBar struct {
	u       *UI
	content fyne.CanvasObject

	online   *bool
	queued   int
	queuedAt string
	currency string
	late     int
	backend  string
	mode     string
	scanners map[string]till.Event

	dot      *canvas.Circle
	conn     *widget.Label
	queue    *keyButton
	scanText *widget.Label
	lateBtn  *keyButton
	walletB  *keyButton
	box      *fyne.Container
}

func newStatusBar(u *UI) *statusBar {
	b := &statusBar{u: u, scanners: map[string]till.Event{}}
	b.rebuild()
	return b
}

func (b *statusBar) rebuild() {
	b.dot = canvas.NewCircle(colMuted)
	dot := container.NewGridWrap(fyne.NewSize(16, 16), b.dot)
	b.conn = widget.NewLabel("")
	b.queue = small(newKeyButton("", "F5", colKey, b.syncNow))
	b.scanText = widget.NewLabel("")
	b.scanText.Truncation = fyne.TextTruncateEllipsis
	b.lateBtn = small(newKeyButton("", T("review"), colAlertBar, b.reviewLate))
	b.walletB = small(newKeyButton(T("Demo wallet"), T("payer's phone"), colKey, b.u.showWallet))
	bg := canvas.NewRectangle(color.NRGBA{R: 0xe8, G: 0xec, B: 0xef, A: 0xff})
	b.box = container.NewHBox(container.NewCenter(dot), b.conn, b.queue, b.lateBtn)
	b.content = container.NewStack(bg, container.NewBorder(nil, nil, b.box, b.walletB, b.scanText))
	b.render()
}

// small makes a key button's label status-bar sized.
func small(k *keyButton) *keyButton {
	k.size, k.minH = 15, 44
	return k
}

func (b *statusBar) ready(ev till.Event) {
	b.backend, b.mode = ev.Backend, ev.Mode
	b.render()
}

func (b *statusBar) sync(ev till.Event) {
	if ev.Online != nil {
		v := *ev.Online
		b.online = &v
	}
	if ev.Queued != nil {
		b.queued = *ev.Queued
	}
	b.queuedAt, b.currency = ev.QueuedAmount, ev.Currency
	if ev.LateDeclines != nil {
		b.late = *ev.LateDeclines
		b.u.banner.setLate(b.late)
	}
	b.render()
}

func (b *statusBar) scanner(ev till.Event) {
	b.scanners[ev.Device] = ev
	b.render()
}

func (b *statusBar) resetScanners() {
	b.scanners = map[string]till.Event{}
	b.online = nil
	b.render()
}

// syncNow forwards the queued payments now.
func (b *statusBar) syncNow() {
	if b.u.st == nil {
		return
	}
	b.u.command("Sync", func(ctx context.Context, t *till.Till) error { t.Sync(ctx); return nil })
}

// setLabel changes a label only if its text differs.
func setLabel(l *widget.Label, text string) {
	if l.Text != text {
		l.SetText(text)
	}
}

func (b *statusBar) render() {
	switch {
	case b.u.phase == phaseFailed:
		b.dot.FillColor = colDeclined
		setLabel(b.conn, T("Till stopped"))
	case b.online == nil:
		b.dot.FillColor = colMuted
		setLabel(b.conn, T("Connecting…"))
	case *b.online:
		b.dot.FillColor = colPaid
		setLabel(b.conn, T("Backend online"))
	default:
		b.dot.FillColor = colQueued
		setLabel(b.conn, T("Backend offline"))
	}
	b.dot.Refresh()
	q := fmt.Sprintf(T("Queued: %d"), b.queued)
	if b.queued > 0 && b.queuedAt != "" {
		q += " (" + currencySymbol(b.currency) + b.queuedAt + ")"
	}
	b.queue.label = q + " — " + T("sync")
	b.queue.bg = colKey
	if b.queued > 0 {
		b.queue.bg = colAlertBar
	}
	b.queue.Refresh()
	if b.late > 0 {
		b.lateBtn.label = fmt.Sprintf(T("Late declines: %d"), b.late)
		b.lateBtn.Show()
		b.lateBtn.Refresh()
	} else {
		b.lateBtn.Hide()
	}
	names := make([]string, 0, len(b.scanners))
	for n := range b.scanners {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		ev := b.scanners[n]
		parts = append(parts, fmt.Sprintf("%s: %s", shorten(n, 28), T(ev.State)))
	}
	text := T("Scanners:") + " " + strings.Join(parts, "  •  ")
	if len(parts) == 0 {
		text = T("Scanners: none connected")
	}
	setLabel(b.scanText, text)
	if b.u.st != nil && b.u.st.WalletPath != "" {
		b.walletB.Show()
	} else {
		b.walletB.Hide()
	}
}

// reviewLate lists the late declines; each is acknowledged once seen.
func (b *statusBar) reviewLate() {
	if b.u.st == nil {
		return
	}
	t := b.u.st.Till
	async(b.u, func() ([]journal.Payment, error) { return t.LateDeclines(b.u.ctx) }, func(ps []journal.Payment, err error) {
		if err != nil {
			b.u.banner.showError(err.Error())
			return
		}
		list := container.NewVBox()
		for _, p := range ps {
			line := fmt.Sprintf("%s  %s%s  %s", p.Created.Local().Format("01-02 15:04"), currencySymbol(p.Amount.Currency), p.Amount.Decimal(), p.Order)
			list.Add(widget.NewLabelWithStyle(line, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
			if p.Message != "" {
				l := widget.NewLabel(p.Message)
				l.Wrapping = fyne.TextWrapWord
				list.Add(l)
			}
		}
		if len(ps) == 0 {
			list.Add(widget.NewLabel(T("No late declines are waiting.")))
		}
		scroll := container.NewVScroll(list)
		scroll.SetMinSize(fyne.NewSize(640, 300))
		d := dialog.NewCustomConfirm(T("Payments taken offline, declined later"), T("Seen — acknowledge all"), T("Later"), scroll, func(ok bool) {
			if !ok {
				return
			}
			orders := make([]string, len(ps))
			for i, p := range ps {
				orders[i] = p.Order
			}
			b.u.command("Acknowledge", func(ctx context.Context, t *till.Till) error {
				for _, o := range orders {
					if err := t.Acknowledge(ctx, o); err != nil {
						return err
					}
				}
				return nil
			})
		}, b.u.win)
		d.Show()
	})
}

// banner shows errors until a person dismisses them with a tap (a scan
// gun's Enter cannot dismiss one unseen), and the late-decline alert.
type banner struct {
	u       *UI
	content *fyne.Container

	errBox   *fyne.Container
	errText  *fyne.Container
	errors   []string
	dismiss  *keyButton
	lateBox  *fyne.Container
	lateText *canvas.Text
}

// maxErrors is how many undismissed errors the banner keeps.
const maxErrors = 50

func newBanner(u *UI) *banner {
	b := &banner{u: u}
	b.errText = container.NewVBox()
	b.dismiss = small(newKeyButton(T("Dismiss"), T("tap"), colWhite, b.clear))
	b.errBox = container.NewStack(canvas.NewRectangle(colErrorBar),
		container.NewBorder(nil, nil, nil, container.NewPadded(b.dismiss), container.NewPadded(b.errText)))
	b.errBox.Hide()
	b.lateText = canvas.NewText("", colInk)
	b.lateText.TextStyle.Bold = true
	b.lateBox = container.NewStack(canvas.NewRectangle(colAlertBar),
		container.NewBorder(nil, nil, nil, container.NewPadded(small(newKeyButton(T("Review"), "", colWhite, func() { u.status.reviewLate() }))),
			container.NewPadded(container.NewVBox(layout.NewSpacer(), b.lateText, layout.NewSpacer()))))
	b.lateBox.Hide()
	b.content = container.NewVBox(b.errBox, b.lateBox)
	return b
}

// showError adds an error; the newest shows first.
func (b *banner) showError(msg string) {
	if msg == "" {
		return
	}
	b.errors = append(b.errors, msg)
	if len(b.errors) > maxErrors {
		b.errors = b.errors[len(b.errors)-maxErrors:]
	}
	b.render()
}

func (b *banner) clear() {
	b.errors = nil
	b.render()
}

func (b *banner) render() {
	if len(b.errors) == 0 {
		b.errBox.Hide()
		b.content.Refresh()
		return
	}
	last := b.errors[len(b.errors)-1]
	objs := []fyne.CanvasObject{}
	for _, l := range wrap(last, 90) {
		t := canvas.NewText(l, colWhite)
		t.TextSize = 17
		t.TextStyle.Bold = true
		objs = append(objs, t)
	}
	if n := len(b.errors) - 1; n > 0 {
		t := canvas.NewText(fmt.Sprintf(T("and %d earlier messages"), n), colWhite)
		t.TextSize = 13
		objs = append(objs, t)
	}
	b.errText.Objects = objs
	b.errText.Refresh()
	b.errBox.Show()
	b.content.Refresh()
}

// setLate shows or hides the late-decline alert.
func (b *banner) setLate(n int) {
	if n == 0 {
		b.lateBox.Hide()
	} else {
		b.lateText.Text = fmt.Sprintf(T("%d payments taken offline were declined later: the money was not received."), n)
		b.lateText.Refresh()
		b.lateBox.Show()
	}
	b.content.Refresh()
}
