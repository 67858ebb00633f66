package app

import (
	"time"

	"tillpay/till"
)

// bridge is the one place where till events, read on their own goroutine,
// cross into the UI: each is handed to the UI goroutine with u.post
// (fyne.Do). It ends when the till closes the subscription.
func (u *UI) bridge(gen int, events <-chan till.Event, unsubscribe func()) {
	defer unsubscribe()
	for ev := range events {
		received := time.Now()
		u.post(func() {
			if gen != u.gen {
				return // an event of a stack that was restarted
			}
			u.handle(ev)
			if ev.Event == till.EventPayment && u.opt.Probe {
				now := time.Now()
				u.probe("payment_shown", "status", ev.Status, "order", ev.Order,
					"latency_us", now.Sub(ev.Time).Microseconds(), "ui_queue_us", now.Sub(received).Microseconds())
			}
		})
	}
}

// handle renders one till event.
func (u *UI) handle(ev till.Event) {
	switch ev.Event {
	case till.EventReady:
		u.phase = phaseUp
		u.lastErr = nil
		u.status.ready(ev)
		u.renderPhase()
		u.hist.refreshIfShown()
		u.probe("ready", "backend", ev.Backend)
	case till.EventArmed:
		u.sale.armed(ev)
		u.probe("armed")
	case till.EventScan:
		u.sale.scanned(ev)
		u.settings.scanned(ev)
	case till.EventPayment:
		u.sale.payment(ev)
		u.hist.changed(ev)
	case till.EventRefund:
		u.hist.refunded(ev)
	case till.EventSync:
		u.status.sync(ev)
	case till.EventScanner:
		u.status.scanner(ev)
	case till.EventError:
		u.sale.failed(ev)
		u.banner.showError(ev.Reason)
	case till.EventStatus:
		// answers to a status command; the screens already show it
	}
}
