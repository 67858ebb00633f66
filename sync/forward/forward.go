// Package forward uploads the payments a till queued while it could not
// reach the payment backend: oldest first, in batches, each under the order
// number it was given when it was scanned, so an upload cut off midway and
// sent again never charges twice. It wakes when poked (a new queued payment,
// the cashier's "sync now", the backend coming back) and on a timer, and
// backs off with jitter while the backend cannot be reached.
package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"tillpay/backend/api"
	"tillpay/backend/client"
	"tillpay/internal/clock"
	"tillpay/sync/journal"
)

// Uploader is what the forwarder needs of the backend client.
type Uploader interface {
	PayBatch(ctx context.Context, reqs []api.PayRequest) ([]api.BatchResult, error)
}

// Options configure a Forwarder. Zero values take the defaults.
type Options struct {
	// Batch is the most payments sent in one request (default 200).
	Batch int
	// Interval between passes when nothing pokes (default 30 s).
	Interval time.Duration
	// MinBackoff and MaxBackoff bound the delay after a failed pass
	// (defaults 1 s and 60 s).
	MinBackoff, MaxBackoff time.Duration
	// RequestTimeout bounds one batch upload (default 30 s).
	RequestTimeout time.Duration
	Clock          clock.Clock
	Logger         *slog.Logger
	// OnResult is called with each payment whose upload got an answer.
	OnResult func(journal.Payment)
	// OnPass is called after each pass that uploaded something or failed.
	OnPass func(ctx context.Context, err error)
	// Reachable reports the backend's outcome of each pass (nil: it
	// answered), for the connectivity monitor.
	Reachable func(err error)
}

// Forwarder drains a journal's queue to the backend.
type Forwarder struct {
	j    *journal.Journal
	up   Uploader
	opt  Options
	wake chan struct{}
}

// New returns a forwarder of j's queue through up.
func New(j *journal.Journal, up Uploader, opt Options) *Forwarder {
	if opt.Batch <= 0 || opt.Batch > api.MaxBatch {
		opt.Batch = 200
	}
	if opt.Interval <= 0 {
		opt.Interval = 30 * time.Second
	}
	if opt.MinBackoff <= 0 {
		opt.MinBackoff = time.Second
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = time.Minute
	}
	if opt.RequestTimeout <= 0 {
		opt.RequestTimeout = 30 * time.Second
	}
	if opt.Clock == nil {
		opt.Clock = clock.Real{}
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Forwarder{j: j, up: up, opt: opt, wake: make(chan struct{}, 1)}
}

// Poke asks for a pass now.
func (f *Forwarder) Poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Run forwards until ctx ends.
func (f *Forwarder) Run(ctx context.Context) {
	failures := 0
	for {
		_, err := f.Drain(ctx)
		if ctx.Err() != nil {
			return
		}
		delay := f.opt.Interval
		if err != nil {
			failures++
			delay = f.opt.MinBackoff << min(failures-1, 20)
			if delay > f.opt.MaxBackoff || delay <= 0 {
				delay = f.opt.MaxBackoff
			}
			delay = delay/2 + rand.N(delay/2+1)
			f.opt.Logger.Warn("forwarding queued payments failed; retrying", "err", err, "in", delay.Round(time.Millisecond), "failures", failures)
		} else if failures > 0 {
			f.opt.Logger.Info("forwarding recovered", "after_failures", failures)
			failures = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		case <-f.opt.Clock.After(delay):
		}
	}
}

// Drain uploads batches until the queue is empty or a batch fails. It
// returns how many payments got an answer.
func (f *Forwarder) Drain(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := f.Pass(ctx)
		total += n
		if err != nil || n == 0 {
			if f.opt.OnPass != nil && (total > 0 || err != nil) {
				f.opt.OnPass(ctx, err)
			}
			return total, err
		}
	}
}

// ErrTampered is reported for queued records whose signature no longer
// matches: they stay in the journal, are never uploaded, and show in the
// Z report.
var ErrTampered = errors.New("queued payment record was altered")

// Pass uploads one batch. It returns how many payments got an answer
// (zero with a nil error means the queue is empty).
func (f *Forwarder) Pass(ctx context.Context) (int, error) {
	reqs, tampered, err := f.j.BeginForward(ctx, f.opt.Batch)
	if err != nil {
		return 0, fmt.Errorf("forward: %w", err)
	}
	for _, order := range tampered {
		f.opt.Logger.Error("queued payment record altered; not uploaded", "order", order)
	}
	if len(reqs) == 0 {
		if len(tampered) > 0 {
			return 0, fmt.Errorf("forward: %w: %v", ErrTampered, tampered)
		}
		return 0, nil
	}
	uctx, cancel := context.WithTimeout(ctx, f.opt.RequestTimeout)
	results, err := f.up.PayBatch(uctx, reqs)
	cancel()
	if f.opt.Reachable != nil {
		if errors.Is(err, client.ErrUnreachable) {
			f.opt.Reachable(err)
		} else {
			f.opt.Reachable(nil)
		}
	}
	if err == nil && len(results) != len(reqs) {
		err = fmt.Errorf("%w: %d results for %d payments", client.ErrUnreachable, len(results), len(reqs))
	}
	if err != nil {
		// No usable answer: every record goes back to the queue, to be sent
		// again with the same bytes.
		for _, r := range reqs {
			if _, jerr := f.j.SendFailed(ctx, r.MerchantOrder, err); jerr != nil {
				f.opt.Logger.Error("journal", "order", r.MerchantOrder, "err", jerr)
			}
		}
		return 0, fmt.Errorf("forward: %w", err)
	}
	answers := make([]journal.Answer, len(reqs))
	for i, res := range results {
		answers[i] = journal.Answer{Order: reqs[i].MerchantOrder, Result: res.Order, Refusal: res.Error}
	}
	// One transaction records the whole batch's answers.
	ps, errs, err := f.j.ApplyAnswers(ctx, answers)
	if err != nil {
		// Not recorded: the records stay in forwarding and are uploaded
		// again after a restart (or by the next pass once moved back), and
		// the backend answers a repeat with its first result.
		for _, r := range reqs {
			if _, jerr := f.j.SendFailed(ctx, r.MerchantOrder, err); jerr != nil {
				f.opt.Logger.Error("journal", "order", r.MerchantOrder, "err", jerr)
			}
		}
		return 0, fmt.Errorf("forward: recording answers: %w", err)
	}
	answered := 0
	for i, p := range ps {
		if errs[i] != nil {
			order := reqs[i].MerchantOrder
			f.opt.Logger.Error("recording an upload's answer", "order", order, "err", errs[i])
			if _, err := f.j.SendFailed(ctx, order, errs[i]); err != nil {
				f.opt.Logger.Error("journal", "order", order, "err", err)
			}
			continue
		}
		answered++
		if f.opt.OnResult != nil {
			f.opt.OnResult(p)
		}
	}
	return answered, nil
}
