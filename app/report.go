package app

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/widget"

	"tillpay/sync/journal"
)

// reportScreen shows the end-of-day (Z) report of a chosen day and
// exports it as CSV.
type reportScreen struct {
	u       *UI
	content fyne.CanvasObject

	z      *journal.ZReport
	dayE   *entry
	pathE  *entry
	text   *widget.Label
	status *widget.Label
}

func newReportScreen(u *UI) *reportScreen {
	r := &reportScreen{u: u}
	r.dayE = newEntry(u.in)
	r.dayE.SetText(u.now().Format("2006-01-02"))
	r.dayE.OnSubmitted = func(string) { r.load() }
	r.pathE = newEntry(u.in)
	r.pathE.SetPlaceHolder(T("or type a file path, e.g. /tmp/z-report.csv"))
	r.text = widget.NewLabel("")
	r.text.TextStyle.Monospace = true
	r.status = widget.NewLabel("")
	day := container.NewGridWrap(fyne.NewSize(160, 44), r.dayE)
	top := container.NewHBox(widget.NewLabel(T("Day (YYYY-MM-DD):")), day,
		widget.NewButton(T("Show"), r.load), widget.NewButton(T("Export CSV…"), r.exportDialog))
	pathRow := container.NewBorder(nil, nil, nil, widget.NewButton(T("Save CSV to this path"), func() { r.exportPath(r.pathE.Text) }), r.pathE)
	r.content = container.NewBorder(container.NewVBox(top, pathRow, r.status), nil, nil, nil, container.NewScroll(r.text))
	return r
}

func (r *reportScreen) day() (time.Time, error) {
	d, err := time.ParseInLocation("2006-01-02", strings.TrimSpace(r.dayE.Text), time.Local)
	if err != nil {
		return d, fmt.Errorf(T("the day %q is not a date like 2026-11-25"), r.dayE.Text)
	}
	return d, nil
}

// load builds the report of the chosen day.
func (r *reportScreen) load() {
	if r.u.st == nil {
		r.status.SetText(T("The till is not running yet."))
		return
	}
	d, err := r.day()
	if err != nil {
		r.status.SetText(err.Error())
		return
	}
	t, ctx := r.u.st.Till, r.u.ctx
	async(r.u, func() (journal.ZReport, error) { return t.ZReport(ctx, d) }, func(z journal.ZReport, err error) {
		if err != nil {
			r.status.SetText(err.Error())
			return
		}
		r.z = &z
		r.text.SetText(zText(z))
		r.status.SetText(fmt.Sprintf(T("Z report of %s: %d payments."), z.Day, len(z.Payments)))
	})
}

// zText lays the report out as text.
func zText(z journal.ZReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s — %s %s — %s\n\n", T("Z report"), T("terminal"), z.Terminal, z.Day)
	fmt.Fprintf(&b, "%-20s %-4s %6s %14s %14s\n", T("status"), "cur", T("count"), T("amount"), T("refunded"))
	for _, t := range z.Totals {
		fmt.Fprintf(&b, "%-20s %-4s %6d %14s %14s\n", stateName(t.State), t.Currency, t.Count, t.Amount.Decimal(), t.Refunded.Decimal())
	}
	for _, n := range z.Net {
		fmt.Fprintf(&b, "\n%s: %s %s\n", T("net takings"), n.Decimal(), n.Currency)
	}
	if z.Open > 0 {
		fmt.Fprintf(&b, "%s: %d\n", T("open (no outcome yet)"), z.Open)
	}
	if len(z.Tampered) > 0 {
		fmt.Fprintf(&b, "%s: %s\n", T("ALTERED RECORDS (refused)"), strings.Join(z.Tampered, ", "))
	}
	fmt.Fprintf(&b, "\n%d %s, %d %s\n", len(z.Payments), T("payments"), len(z.Refunds), T("refund requests"))
	return b.String()
}

// exportDialog asks where to save the CSV.
func (r *reportScreen) exportDialog() {
	if r.z == nil {
		r.status.SetText(T("Show a report first."))
		return
	}
	z := *r.z
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			r.status.SetText(err.Error())
			return
		}
		if w == nil {
			return // cancelled
		}
		r.write(z, w, w.URI().Path())
	}, r.u.win)
	d.SetFileName("z-report-" + z.Day + ".csv")
	d.SetFilter(storage.NewExtensionFileFilter([]string{".csv"}))
	d.Show()
}

// exportPath saves the CSV at a typed path.
func (r *reportScreen) exportPath(path string) {
	path = strings.TrimSpace(path)
	if r.z == nil {
		r.status.SetText(T("Show a report first."))
		return
	}
	if path == "" {
		r.status.SetText(T("Type a file path first."))
		return
	}
	if !filepath.IsAbs(path) {
		r.status.SetText(T("Type a full path, starting with /."))
		return
	}
	f, err := os.Create(path)
	if err != nil {
		r.status.SetText(err.Error())
		return
	}
	r.write(*r.z, f, path)
}

func (r *reportScreen) write(z journal.ZReport, w io.WriteCloser, name string) {
	err := z.WriteCSV(w)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		r.status.SetText(fmt.Sprintf(T("Could not save %s: %v"), name, err))
		return
	}
	r.status.SetText(fmt.Sprintf(T("Saved %s."), name))
}
