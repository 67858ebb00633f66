package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"tillpay/backend/client"
	"tillpay/money"
	"tillpay/sync/journal"
	"tillpay/till"
)

// historyFilter is one choice of the status filter.
type historyFilter struct {
	name   string
	states []journal.State // none: all
}

var historyFilters = []historyFilter{
	{name: "All"},
	{name: "Paid", states: []journal.State{journal.StatePaid, journal.StateSettled}},
	{name: "Queued", states: []journal.State{journal.StateQueued, journal.StateForwarding}},
	{name: "Declined", states: []journal.State{journal.StateDeclined}},
	{name: "Declined late", states: []journal.State{journal.StateDeclinedLate}},
	{name: "Refunded", states: []journal.State{journal.StateRefunded, journal.StatePartRefunded}},
	{name: "Open", states: []journal.State{journal.StateWaitingPayer, journal.StateUnknown, journal.StateSending}},
	{name: "Cancelled", states: []journal.State{journal.StateCancelled}},
}

// historyScreen lists a day's payments, with details, refunds and
// queries.
type historyScreen struct {
	u       *UI
	content fyne.CanvasObject

	day      time.Time
	filter   historyFilter
	all      []journal.Payment
	rows     []journal.Payment
	selected string // order
	loading  bool
	again    bool

	dayLabel *widget.Label
	filterW  *widget.Select
	list     *widget.List
	count    *widget.Label
	details  *fyne.Container
}

func newHistoryScreen(u *UI) *historyScreen {
	h := &historyScreen{u: u, day: u.now(), filter: historyFilters[0]}
	h.dayLabel = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	names := make([]string, len(historyFilters))
	for i, f := range historyFilters {
		names[i] = T(f.name)
	}
	h.filterW = widget.NewSelect(names, func(name string) {
		for _, f := range historyFilters {
			if T(f.name) == name {
				h.filter = f
			}
		}
		h.apply()
	})
	h.count = widget.NewLabel("")
	h.list = widget.NewList(func() int { return len(h.rows) }, func() fyne.CanvasObject {
		cell := func(w float32, l *widget.Label) fyne.CanvasObject {
			return container.NewGridWrap(fyne.NewSize(w, 36), l)
		}
		return container.NewBorder(nil, nil, container.NewHBox(
			cell(78, widget.NewLabel("")),
			cell(104, widget.NewLabelWithStyle("", fyne.TextAlignTrailing, fyne.TextStyle{})), // tabular figures line up
			cell(128, widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))), nil,
			widget.NewLabel(""))
	}, func(i widget.ListItemID, o fyne.CanvasObject) {
		if i >= len(h.rows) {
			return
		}
		p := h.rows[i]
		c := o.(*fyne.Container)
		cells := c.Objects[1].(*fyne.Container).Objects
		label := func(i int) *widget.Label { return cells[i].(*fyne.Container).Objects[0].(*widget.Label) }
		label(0).SetText(p.Created.Local().Format("15:04:05"))
		label(1).SetText(currencySymbol(p.Amount.Currency) + p.Amount.Decimal())
		label(2).SetText(stateName(p.State))
		c.Objects[0].(*widget.Label).SetText(shortOrder(p.Order))
	})
	h.list.OnSelected = func(i widget.ListItemID) {
		if i < len(h.rows) {
			h.selected = h.rows[i].Order
			h.showDetails()
		}
		// Keys go back to the window (F1–F5, the keyboard wedge).
		h.u.win.Canvas().Unfocus()
	}
	day := func(delta int) func() {
		return func() {
			if delta == 0 {
				h.day = h.u.now()
			} else {
				h.day = h.day.AddDate(0, 0, delta)
			}
			h.selected = ""
			h.refresh()
		}
	}
	top := container.NewHBox(
		small(newKeyButton("<", T("previous day"), colKey, day(-1))), h.dayLabel,
		small(newKeyButton(">", T("next day"), colKey, day(1))), small(newKeyButton(T("Today"), "", colKey, day(0))),
		layout.NewSpacer(), h.count, h.filterW)
	h.details = container.NewVBox(widget.NewLabel(T("Choose a payment to see its details.")))
	right := container.NewVScroll(container.NewPadded(h.details))
	split := container.NewHSplit(h.list, right)
	split.Offset = 0.66
	h.content = container.NewBorder(container.NewPadded(top), nil, nil, nil, split)
	h.filterW.SetSelectedIndex(0)
	return h
}

// shortOrder drops the terminal from an order number
// (t-TERMINAL-YYYYMMDD-NNNNNN) for the list; the details show it whole.
func shortOrder(o string) string {
	parts := strings.Split(o, "-")
	if len(parts) < 4 {
		return o
	}
	return strings.Join(parts[len(parts)-2:], "-")
}

// stateName is a journal state in words.
func stateName(s journal.State) string {
	switch s {
	case journal.StatePaid:
		return T("paid")
	case journal.StateSettled:
		return T("settled")
	case journal.StateQueued, journal.StateForwarding:
		return T("queued")
	case journal.StateDeclined:
		return T("declined")
	case journal.StateDeclinedLate:
		return T("declined late")
	case journal.StateRefunded:
		return T("refunded")
	case journal.StatePartRefunded:
		return T("partly refunded")
	case journal.StateWaitingPayer:
		return T("waiting for payer")
	case journal.StateCancelled:
		return T("cancelled")
	case journal.StateUnknown, journal.StateSending:
		return T("unknown")
	}
	return string(s)
}

func (h *historyScreen) shown() bool {
	return h.u.tabs != nil && h.u.tabs.Selected() != nil && h.u.tabs.Selected().Content == h.content
}

func (h *historyScreen) refreshIfShown() {
	if h.shown() {
		h.refresh()
	}
}

// changed: a payment changed; the list follows when on screen.
func (h *historyScreen) changed(till.Event) { h.refreshIfShown() }

// refunded: a refund was answered.
func (h *historyScreen) refunded(ev till.Event) {
	if ev.Status == till.StatusDeclined || ev.Status == till.StatusUnknown {
		h.u.banner.showError(ev.Reason)
	} else {
		dialog.ShowInformation(T("Refund"), fmt.Sprintf(T("Refunded %s%s of order %s."), currencySymbol(ev.Currency), ev.Amount, ev.Order), h.u.win)
	}
	h.refreshIfShown()
}

// refresh reloads the day's payments from the till.
func (h *historyScreen) refresh() {
	h.dayLabel.SetText(h.day.Format("2006-01-02"))
	if h.u.st == nil {
		return
	}
	if h.loading {
		h.again = true
		return
	}
	h.loading = true
	t, day, ctx := h.u.st.Till, h.day, h.u.ctx
	async(h.u, func() ([]journal.Payment, error) { return t.Payments(ctx, day) }, func(ps []journal.Payment, err error) {
		h.loading = false
		if err != nil {
			h.u.banner.showError(err.Error())
			return
		}
		h.all = ps
		h.apply()
		if h.again {
			h.again = false
			h.refresh()
		}
	})
}

// apply filters the loaded payments, newest first.
func (h *historyScreen) apply() {
	h.rows = h.rows[:0]
	for i := len(h.all) - 1; i >= 0; i-- {
		p := h.all[i]
		if len(h.filter.states) == 0 || containsState(h.filter.states, p.State) {
			h.rows = append(h.rows, p)
		}
	}
	h.count.SetText(fmt.Sprintf(T("%d payments"), len(h.rows)))
	h.list.Refresh()
	h.showDetails()
}

func containsState(ss []journal.State, s journal.State) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (h *historyScreen) find(order string) (journal.Payment, bool) {
	for _, p := range h.all {
		if p.Order == order {
			return p, true
		}
	}
	return journal.Payment{}, false
}

// showDetails draws the selected payment and what can be done with it.
func (h *historyScreen) showDetails() {
	p, ok := h.find(h.selected)
	if !ok {
		h.details.Objects = []fyne.CanvasObject{widget.NewLabel(T("Choose a payment to see its details."))}
		h.details.Refresh()
		return
	}
	sym := currencySymbol(p.Amount.Currency)
	form := widget.NewForm(
		widget.NewFormItem(T("Order"), widget.NewLabel(p.Order)),
		widget.NewFormItem(T("Amount"), widget.NewLabel(sym+p.Amount.Decimal())),
		widget.NewFormItem(T("Status"), widget.NewLabelWithStyle(stateName(p.State), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})),
		widget.NewFormItem(T("Refunded"), widget.NewLabel(sym+p.Refunded.Decimal())),
		widget.NewFormItem(T("Time"), widget.NewLabel(p.Created.Local().Format("2006-01-02 15:04:05"))),
		widget.NewFormItem(T("Mode"), widget.NewLabel(string(p.Mode))),
		widget.NewFormItem(T("Code"), widget.NewLabel(p.Code)),
		widget.NewFormItem(T("Scanner"), widget.NewLabel(p.Device)),
	)
	objs := []fyne.CanvasObject{form}
	if p.Message != "" {
		l := widget.NewLabel(p.Message)
		l.Wrapping = fyne.TextWrapWord
		objs = append(objs, l)
	}
	switch p.State {
	case journal.StatePaid, journal.StateSettled, journal.StatePartRefunded:
		objs = append(objs,
			widget.NewButton(T("Refund in full…"), func() { h.refundFull(p) }),
			widget.NewButton(T("Refund part…"), func() { h.refundPart(p) }))
	case journal.StateUnknown, journal.StateWaitingPayer, journal.StateSending:
		objs = append(objs, widget.NewButton(T("Ask the backend (query)"), func() { h.query(p) }))
	case journal.StateDeclinedLate:
		if p.Acknowledged.IsZero() {
			objs = append(objs, widget.NewButton(T("Acknowledge"), func() {
				h.u.command("Acknowledge", func(ctx context.Context, t *till.Till) error { return t.Acknowledge(ctx, p.Order) })
			}))
		}
	}
	if p.State != journal.StateQueued && p.State != journal.StateForwarding && p.State != journal.StateUnknown {
		objs = append(objs, widget.NewButton(T("Query the backend"), func() { h.query(p) }))
	}
	h.details.Objects = objs
	h.details.Refresh()
}

func (h *historyScreen) query(p journal.Payment) {
	h.u.command("Query", func(ctx context.Context, t *till.Till) error { return t.Query(ctx, p.Order) })
}

func (h *historyScreen) refundFull(p journal.Payment) {
	left := money.Amount{Minor: p.Amount.Minor - p.Refunded.Minor, Currency: p.Amount.Currency}
	msg := fmt.Sprintf(T("Refund %s%s of order %s to the payer?"), currencySymbol(left.Currency), left.Decimal(), p.Order)
	dialog.ShowConfirm(T("Refund in full"), msg, func(ok bool) {
		if ok {
			h.doRefund(p.Order, nil)
		}
	}, h.u.win)
}

func (h *historyScreen) refundPart(p journal.Payment) {
	left := money.Amount{Minor: p.Amount.Minor - p.Refunded.Minor, Currency: p.Amount.Currency}
	amt := newEntry(h.u.in)
	amt.SetPlaceHolder(left.Decimal())
	items := []*widget.FormItem{widget.NewFormItem(fmt.Sprintf(T("Amount (at most %s)"), left.Decimal()), amt)}
	dialog.ShowForm(T("Refund part of a payment"), T("Next"), T("Cancel"), items, func(ok bool) {
		if !ok {
			return
		}
		a, err := money.Parse(amt.Text, p.Amount.Currency)
		if err == nil {
			err = a.CheckPayable()
		}
		if err == nil && a.Minor > left.Minor {
			err = fmt.Errorf(T("at most %s can be refunded"), left.Decimal())
		}
		if err != nil {
			h.u.banner.showError(fmt.Sprintf(T("Refund amount %q: %v"), amt.Text, err))
			return
		}
		msg := fmt.Sprintf(T("Refund %s%s of order %s to the payer?"), currencySymbol(a.Currency), a.Decimal(), p.Order)
		dialog.ShowConfirm(T("Refund part of a payment"), msg, func(ok bool) {
			if ok {
				h.doRefund(p.Order, &a)
			}
		}, h.u.win)
	}, h.u.win)
}

func (h *historyScreen) doRefund(order string, a *money.Amount) {
	h.u.command("Refund", func(ctx context.Context, t *till.Till) error {
		err := t.Refund(ctx, order, a)
		var ae *client.APIError
		if errors.As(err, &ae) || errors.Is(err, client.ErrUnreachable) {
			return nil // the till's refund event says it
		}
		return err
	})
}
