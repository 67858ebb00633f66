package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"

	"tillpay/app/sound"
	"tillpay/config"
	"tillpay/sync/journal"
	"tillpay/till"
)

func TestPaidThroughWedgeScan(t *testing.T) {
	h := newHarness(t)
	h.charge("12.5")
	if got := h.shownAmount(); got != "¥12.50" {
		t.Fatalf("armed amount %q, want ¥12.50", got)
	}
	if !strings.Contains(h.title(), "Waiting for the payer") {
		t.Fatalf("armed title %q", h.title())
	}
	flashes := h.u.flashes
	// The payer's code, read by a keyboard-wedge gun: a burst with Enter.
	h.scanBurst(h.code())
	h.result()
	if h.u.sale.result.Status != till.StatusPaid || h.title() != "PAID" {
		t.Fatalf("result %q / %q (%s)", h.u.sale.result.Status, h.title(), h.u.sale.result.Reason)
	}
	if h.u.sale.bg.FillColor != colPaid {
		t.Fatalf("paid background %v, want green", h.u.sale.bg.FillColor)
	}
	if h.shownAmount() != "¥12.50" || !strings.Contains(strings.Join(h.lines(), " "), h.u.sale.result.Order) {
		t.Fatalf("paid screen does not show the amount and order")
	}
	if h.u.flashes <= flashes || h.u.sound.Last() != sound.Success {
		t.Fatalf("no flash (%d→%d) or sound %v for a payment", flashes, h.u.flashes, h.u.sound.Last())
	}
	if h.u.sale.typed != "" {
		t.Fatalf("scanned digits landed in the amount: %q", h.u.sale.typed)
	}
	// The next sale starts with typing.
	h.typeSlowly("3")
	if h.u.sale.state != saleIdle || h.shownAmount() != "¥3" {
		t.Fatalf("after a result, typing shows %q in state %d", h.shownAmount(), h.u.sale.state)
	}
}

func TestDeclinedAndRefusedCode(t *testing.T) {
	h := newHarness(t)
	h.charge("8")
	// Not a payment code at all: refused, the till stays armed.
	h.gun.Type("HELLO-WORLD-1\r")
	h.waitFor("the refusal", func() bool { return h.u.sale.stillArmed })
	if h.u.sale.state != saleArmed || h.u.sale.bg.FillColor != colDeclined || h.u.sound.Last() != sound.Failure {
		t.Fatalf("refused scan: state %d, colour %v, sound %v", h.u.sale.state, h.u.sale.bg.FillColor, h.u.sound.Last())
	}
	// A well-formed code of no wallet: the backend declines it.
	h.gun.Type("719999999001234567\r")
	h.result()
	ev := h.u.sale.result
	if ev.Status != till.StatusDeclined || h.title() != "DECLINED" || h.u.sale.bg.FillColor != colDeclined {
		t.Fatalf("result %q title %q", ev.Status, h.title())
	}
	if ev.Reason == "" || !strings.Contains(strings.Join(h.lines(), " "), strings.Fields(ev.Reason)[0]) {
		t.Fatal("a decline must show its reason")
	}
}

func TestQueuedOfflineThenSynced(t *testing.T) {
	h := newHarness(t)
	h.charge("5")
	h.stopBackend()
	h.gun.Type(h.code() + "\r")
	h.result()
	if h.u.sale.result.Status != till.StatusQueued || h.u.sale.bg.FillColor != colQueued || h.title() != "QUEUED OFFLINE" {
		t.Fatalf("result %q title %q", h.u.sale.result.Status, h.title())
	}
	h.waitFor("the status bar to show the queue", func() bool {
		return h.u.status.queued == 1 && strings.Contains(h.u.status.queue.label, "5.00")
	})
	h.waitFor("the status bar to say offline", func() bool { return h.u.status.conn.Text == "Backend offline" })
	h.startBackend()
	test.Tap(h.u.status.queue) // forward now
	h.waitFor("the queue to empty", func() bool { return h.u.status.queued == 0 })
	h.waitFor("online again", func() bool { return h.u.status.conn.Text == "Backend online" })
}

func TestWaitingForPayerCountdownAndCancel(t *testing.T) {
	h := newHarness(t)
	h.charge("1500") // above the payer's password-free limit
	h.gun.Type(h.code() + "\r")
	h.waitFor("waiting for the payer", func() bool { return h.u.sale.state == saleWaiting })
	if h.u.sale.bg.FillColor != colWaiting || h.u.sale.expires.IsZero() {
		t.Fatalf("waiting screen: colour %v, expires %v", h.u.sale.bg.FillColor, h.u.sale.expires)
	}
	if !strings.Contains(strings.Join(h.lines(), " "), "Cancels in") {
		t.Fatalf("no countdown: %q", h.lines())
	}
	h.key(fyne.KeyEscape)
	h.result()
	if h.u.sale.result.Status != till.StatusCancelled {
		t.Fatalf("after Esc: %q", h.u.sale.result.Status)
	}
	if h.u.sale.ticker != nil {
		t.Fatal("the countdown ticker still runs after the result")
	}
}

func TestRefundFullAndPartFromHistory(t *testing.T) {
	h := newHarness(t)
	h.charge("20")
	h.gun.Type(h.code() + "\r")
	h.result()
	order := h.u.sale.result.Order
	h.u.tabs.SelectIndex(1)
	h.waitFor("the history", func() bool { return len(h.u.hist.rows) == 1 })
	h.u.hist.list.Select(0)
	if h.u.hist.selected != order {
		t.Fatalf("selected %q, want %q", h.u.hist.selected, order)
	}
	// Part: 5.00 of 20.00, confirmed twice.
	test.Tap(h.button("Refund part…"))
	test.Type(h.overlayEntry(), "5")
	h.advance(time.Second)
	h.tick()
	test.Tap(h.button("Next"))
	test.Tap(h.button("Yes"))
	h.waitFor("the partial refund", func() bool {
		p, ok := h.u.hist.find(order)
		return ok && p.State == journal.StatePartRefunded && p.Refunded.Minor == 500
	})
	// The rest, in full.
	test.Tap(h.button("Refund in full…"))
	test.Tap(h.button("Yes"))
	h.waitFor("the full refund", func() bool {
		p, ok := h.u.hist.find(order)
		return ok && p.State == journal.StateRefunded && p.Refunded.Minor == 2000
	})
	// Filters.
	h.u.hist.filterW.SetSelected("Paid")
	if len(h.u.hist.rows) != 0 {
		t.Fatalf("paid filter shows %d rows", len(h.u.hist.rows))
	}
	h.u.hist.filterW.SetSelected("Refunded")
	if len(h.u.hist.rows) != 1 {
		t.Fatalf("refunded filter shows %d rows", len(h.u.hist.rows))
	}
	// Query from the details.
	test.Tap(h.button("Query the backend"))
	h.waitFor("the query's answer", func() bool { return !h.u.hist.loading })
}

func TestWedgeBurstVersusTyping(t *testing.T) {
	h := newHarness(t)
	// Slow typing reaches the amount.
	h.typeSlowly("42")
	if h.u.sale.typed != "42" {
		t.Fatalf("typed %q, want 42", h.u.sale.typed)
	}
	h.key(fyne.KeyBackspace)
	h.key(fyne.KeyBackspace)
	// A burst with no sale armed: not digits in the amount, but a scan
	// the till refuses with an error the cashier must dismiss by hand.
	h.scanBurst(h.code())
	if h.u.sale.typed != "" {
		t.Fatalf("a scan landed in the amount as %q", h.u.sale.typed)
	}
	h.waitFor("the error banner", h.bannerShown)
	if !strings.Contains(strings.Join(h.u.banner.errors, " "), "no payment is waiting") {
		t.Fatalf("banner: %v", h.u.banner.errors)
	}
	// The scanner's Enter (and a later one) does not dismiss it.
	h.advance(3 * time.Second)
	h.key(fyne.KeyReturn)
	h.pump()
	if !h.bannerShown() {
		t.Fatal("Enter dismissed the error banner")
	}
	test.Tap(h.u.banner.dismiss)
	if h.bannerShown() {
		t.Fatal("a tap did not dismiss the banner")
	}
	// An unterminated fast burst is dropped, never typed.
	for _, r := range "1234567890" {
		h.advance(3 * time.Millisecond)
		h.runeKey(r)
	}
	h.advance(time.Second)
	h.tick()
	if h.u.sale.typed != "" {
		t.Fatalf("an unterminated burst was typed: %q", h.u.sale.typed)
	}
	if st := h.u.wedge.Stats(); st.Scans != 1 || st.Dropped != 1 {
		t.Fatalf("wedge stats %+v", st)
	}
}

func TestSettingsSaveAndRestart(t *testing.T) {
	h := newHarness(t)
	h.u.tabs.SelectIndex(3)
	s := h.u.settings
	s.sound.SetChecked(false)
	s.mode.SetSelected(config.ForceOffline)
	s.maxCount.SetText("7")
	test.Tap(h.button("Save and apply"))
	h.pump()
	if !strings.Contains(s.status.Text, "restarting") {
		t.Fatalf("status after apply: %q", s.status.Text)
	}
	h.waitFor("the restarted till", func() bool {
		return h.u.phase == phaseUp && h.u.st != nil && h.u.st.Till.Config().Offline.Mode == config.ForceOffline
	})
	if h.u.sound.Enabled() {
		t.Fatal("sound still on")
	}
	saved, err := config.Load(h.configPath(), false)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Offline.Mode != config.ForceOffline || saved.Offline.MaxCount != 7 || saved.Sound {
		t.Fatalf("saved %+v", saved.Offline)
	}
	if saved.Backend != h.backendURL() {
		t.Fatalf("saved backend %q", saved.Backend)
	}
	// Bad input is refused and changes nothing.
	before, _ := os.ReadFile(h.configPath())
	s.maxCount.SetText("many")
	test.Tap(h.button("Save and apply"))
	after, _ := os.ReadFile(h.configPath())
	if !strings.HasPrefix(s.status.Text, "Not saved") || string(before) != string(after) {
		t.Fatalf("bad input: %q, file changed %v", s.status.Text, string(before) != string(after))
	}
	// The restarted till still takes payments, now offline (through the
	// keyboard wedge: the scripted gun closed with the first stack).
	h.u.tabs.SelectIndex(0)
	h.charge("2")
	h.scanBurst(h.code())
	h.result()
	if h.u.sale.result.Status != till.StatusQueued {
		t.Fatalf("force-offline payment: %q", h.u.sale.result.Status)
	}
}

func TestLateDeclineAlertUntilAcknowledged(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Offline.Mode = config.ForceOffline })
	h.charge("3")
	h.gun.Type("719999999001234567\r") // queued, refused when forwarded
	h.result()
	h.waitFor("the late-decline alert", h.lateShown)
	test.Tap(h.u.status.lateBtn)
	h.waitFor("the review dialog", func() bool { return h.canvas().Overlays().Top() != nil })
	test.Tap(h.button("Seen — acknowledge all"))
	h.waitFor("the alert to clear", func() bool { return !h.lateShown() })
}

func TestZReportExport(t *testing.T) {
	h := newHarness(t)
	h.charge("9.99")
	h.gun.Type(h.code() + "\r")
	h.result()
	h.u.tabs.SelectIndex(2)
	h.waitFor("the report", func() bool { return h.u.report.z != nil })
	if !strings.Contains(h.u.report.text.Text, "9.99") {
		t.Fatalf("report text:\n%s", h.u.report.text.Text)
	}
	path := filepath.Join(t.TempDir(), "z.csv")
	h.u.report.exportPath(path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), h.u.sale.result.Order) || !strings.Contains(string(data), "9.99") {
		t.Fatalf("CSV:\n%s", data)
	}
	h.u.report.exportPath("relative.csv")
	if !strings.Contains(h.u.report.status.Text, "full path") {
		t.Fatalf("a relative path: %q", h.u.report.status.Text)
	}
}

// lines returns the lines under the amount that are on show.
func (h *harness) lines() []string {
	var out []string
	for _, o := range h.u.sale.lines.Objects {
		if t, ok := o.(*canvas.Text); ok && t.Visible() {
			out = append(out, t.Text)
		}
	}
	return out
}
