package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"tillpay/backend/api"
)

// The notifier drains the outbox, which every deduction and refund writes
// in its own transaction, to two sinks: the payer's inbox (read by the
// wallet) and, if the payer has one, a webhook. Delivery is at least once:
// a notification is marked done only after its sink took it, and carries
// its id so that a receiver can drop repeats.

// NotificationHeader carries a webhook notification's id.
const NotificationHeader = "Tillpay-Notification-Id"

func (s *Service) runNotifier(ctx context.Context) {
	tick := time.NewTicker(s.cfg.notifyInterval)
	defer tick.Stop()
	for {
		start := time.Now()
		if err := s.Deliver(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("delivering notifications", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-tick.C:
		}
		// Under load a payment commits every few hundred microseconds;
		// one pass every notifyGap moves all of them at once instead of
		// taking a turn in every commit group.
		if wait := notifyGap - time.Since(start); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// notifyGap is the shortest time between two passes of the notifier.
const notifyGap = 20 * time.Millisecond

// The notifier's statements. Each reads only the pending rows, past the
// inbox mark or through the outbox's partial index, and looks payers up by
// key: a pass costs the same with a thousand payers as with a million
// (TestDeliverPlans).
const (
	// The inbox mark: every notification up to it is in its payer's inbox.
	deliverMark    = "SELECT COALESCE((SELECT value FROM meta WHERE key = 'inbox_delivered'), 0)"
	deliverToInbox = `INSERT OR IGNORE INTO inbox(payer, id)
		SELECT payer, id FROM outbox WHERE id > ?`
	deliverMarkSet = `INSERT OR REPLACE INTO meta(key, value)
		SELECT 'inbox_delivered', id FROM outbox WHERE id > ? ORDER BY id DESC LIMIT 1`
	// A notification is written with hook_done set when its payer has no
	// webhook; these are left by a webhook removed since.
	deliverNoHook = `UPDATE outbox SET hook_done = 1 WHERE hook_done = 0
		AND EXISTS (SELECT 1 FROM payers p WHERE p.id = outbox.payer AND p.webhook = '')`
	deliverHooksPending = "SELECT EXISTS (SELECT 1 FROM outbox WHERE hook_done = 0)"
)

// Deliver runs one pass of the notifier: it moves new notifications to the
// payers' inboxes and posts those due to webhooks.
func (s *Service) Deliver(ctx context.Context) error {
	type pass struct {
		inboxed int64
		hooks   bool // webhook posts are pending
	}
	res, err := s.w.do1(ctx, func(t *txn) (any, error) {
		var mark int64
		if err := t.row(deliverMark, nil, &mark); err != nil {
			return nil, err
		}
		r, err := t.exec(deliverToInbox, mark)
		if err != nil {
			return nil, err
		}
		var p pass
		if p.inboxed, err = r.RowsAffected(); err != nil {
			return nil, err
		}
		if _, err := t.exec(deliverMarkSet, mark); err != nil {
			return nil, err
		}
		if _, err := t.exec(deliverNoHook); err != nil {
			return nil, err
		}
		err = t.row(deliverHooksPending, nil, &p.hooks)
		return p, err
	})
	if err != nil {
		return err
	}
	p := res.(pass)
	if p.inboxed > 0 {
		s.m.notified.WithLabelValues("inbox", "ok").Add(float64(p.inboxed))
	}
	if !p.hooks {
		// Nothing for a webhook: no read of the outbox. (A read beside
		// constant writes is dear: each new snapshot of a growing file
		// remaps it.)
		return nil
	}
	return s.postWebhooks(ctx)
}

type hookDue struct {
	id       int64
	payer    string
	body     string
	url      string
	attempts int
}

func (s *Service) postWebhooks(ctx context.Context) error {
	// A payer's webhook gets its notifications in order: while one waits
	// for a retry, the later ones of the same payer wait behind it.
	st, err := s.rstmt(ctx, `SELECT o.id, o.payer, o.body, p.webhook, o.hook_attempts, o.hook_next FROM outbox o
		JOIN payers p ON p.id = o.payer WHERE o.hook_done = 0 ORDER BY o.id LIMIT 100`)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	now := s.now().UnixNano()
	var due []hookDue
	waiting := map[string]bool{} // payers with a notification not yet due
	for rows.Next() {
		var h hookDue
		var next int64
		if err := rows.Scan(&h.id, &h.payer, &h.body, &h.url, &h.attempts, &next); err != nil {
			rows.Close()
			return fmt.Errorf("storage: %w", err)
		}
		if next > now || waiting[h.payer] {
			waiting[h.payer] = true
			continue
		}
		due = append(due, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	// Tell no payer about a change a power failure could still undo.
	if err := s.w.settle(ctx); err != nil {
		return err
	}
	for _, h := range due {
		if waiting[h.payer] {
			continue // an earlier one failed in this pass
		}
		err := s.postOne(ctx, h)
		if ctx.Err() != nil {
			return nil
		}
		h.attempts++
		done, next := err == nil, int64(0)
		if err != nil {
			if h.attempts >= s.cfg.hookMaxAttempts {
				done = true
				s.log.Error("webhook given up", "notification", h.id, "attempts", h.attempts, "err", err)
				s.m.notified.WithLabelValues("webhook", "given_up").Inc()
			} else {
				d := s.cfg.hookBackoff << min(h.attempts-1, 30)
				if d > s.cfg.hookMaxBackoff || d <= 0 {
					d = s.cfg.hookMaxBackoff
				}
				next = s.now().Add(d).UnixNano()
				waiting[h.payer] = true
				s.log.Warn("webhook failed; will retry", "notification", h.id, "attempt", h.attempts,
					"retry_in", d, "err", err)
				s.m.notified.WithLabelValues("webhook", "retry").Inc()
			}
		} else {
			s.m.notified.WithLabelValues("webhook", "ok").Inc()
		}
		if _, err := s.w.do1(ctx, func(t *txn) (any, error) {
			return t.exec("UPDATE outbox SET hook_done = ?, hook_attempts = ?, hook_next = ? WHERE id = ?",
				done, h.attempts, next, h.id)
		}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) postOne(ctx context.Context, h hookDue) error {
	var n api.Notification
	if err := json.Unmarshal([]byte(h.body), &n); err != nil {
		return err
	}
	n.ID = h.id
	body, err := json.Marshal(n)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(NotificationHeader, strconv.FormatInt(h.id, 10))
	resp, err := s.cfg.hookClient.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16)) //nolint:errcheck // draining only
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
