package till

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"tillpay/backend/api"
	"tillpay/backend/client"
	"tillpay/config"
	"tillpay/internal/clock"
	"tillpay/money"
	"tillpay/paycode"
	"tillpay/scanner"
	"tillpay/sync/journal"
)

// Backend is what the till needs of the payment backend; the terminal
// client (tillpay/backend/client) provides it.
type Backend interface {
	Pay(ctx context.Context, req api.PayRequest) (api.Order, error)
	Query(ctx context.Context, order string) (api.Order, error)
	Cancel(ctx context.Context, order string) (api.Order, error)
	Refund(ctx context.Context, order, refundNo string, amount money.Amount) (api.RefundResponse, error)
	Time(ctx context.Context) (time.Time, time.Duration, error)
}

// Scanners is the part of the scanner manager the till drives: one-shot
// arming for each payment.
type Scanners interface {
	Arm()
	Disarm()
}

// Connectivity is what the till asks of the connectivity monitor.
type Connectivity interface {
	Reachable() bool
	Online() bool
	Report(err error)
}

// Forwarder uploads queued payments; the till only wakes it.
type Forwarder interface {
	Poke()
}

// Options wire a Till.
type Options struct {
	Config     config.Config
	Journal    *journal.Journal
	Backend    Backend
	BackendURL string
	Monitor    Connectivity
	Scanners   Scanners
	Forwarder  Forwarder
	Clock      clock.Clock
	Logger     *slog.Logger
}

// Till is the till core. Its methods are safe for concurrent use.
type Till struct {
	opt     Options
	cfg     config.Config
	j       *journal.Journal
	backend Backend
	mon     Connectivity
	scan    Scanners
	fwd     Forwarder
	clk     clock.Clock
	log     *slog.Logger
	events  emitter

	fixed      *money.Amount
	maxPayment *money.Amount
	maxTotal   *money.Amount
	currency   string

	mu     sync.Mutex
	sale   *sale
	offset time.Duration // backend clock − local clock

	wg      sync.WaitGroup
	baseCtx context.Context
	stop    context.CancelFunc
}

// Sale states.
const (
	saleArmed      = "armed"
	saleSubmitting = "submitting"
	saleWaiting    = "waiting_payer"
)

type sale struct {
	amount money.Amount
	state  string
	order  string
	cancel chan struct{} // closed by Cancel while waiting for the payer
	// scanned is when the paying code arrived (the journal's record of it
	// is written after).
	scanned time.Time
}

// New returns a till. Call Start before use and Close after.
func New(opt Options) (*Till, error) {
	if opt.Journal == nil || opt.Backend == nil {
		return nil, errors.New("till: a journal and a backend are required")
	}
	if opt.Clock == nil {
		opt.Clock = clock.Real{}
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Scanners == nil {
		opt.Scanners = noScanners{}
	}
	if opt.Forwarder == nil {
		opt.Forwarder = noForwarder{}
	}
	if opt.Monitor == nil {
		opt.Monitor = alwaysOnline{}
	}
	cfg := opt.Config
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("till: %w", err)
	}
	c, _ := money.LookupCurrency(cfg.Currency)
	t := &Till{
		opt: opt, cfg: cfg, j: opt.Journal, backend: opt.Backend, mon: opt.Monitor,
		scan: opt.Scanners, fwd: opt.Forwarder, clk: opt.Clock, log: opt.Logger, currency: c.Code,
	}
	if a, ok := cfg.Amount(cfg.Payment.FixedAmount); ok {
		t.fixed = &a
	}
	if a, ok := cfg.Amount(cfg.Offline.MaxPayment); ok {
		t.maxPayment = &a
	}
	if a, ok := cfg.Amount(cfg.Offline.MaxTotal); ok {
		t.maxTotal = &a
	}
	t.baseCtx, t.stop = context.WithCancel(context.Background())
	return t, nil
}

type noScanners struct{}

func (noScanners) Arm()    {}
func (noScanners) Disarm() {}

type noForwarder struct{}

func (noForwarder) Poke() {}

type alwaysOnline struct{}

func (alwaysOnline) Reachable() bool { return true }
func (alwaysOnline) Online() bool    { return true }
func (alwaysOnline) Report(error)    {}

// Subscribe returns a channel of the till's events and a function that ends
// the subscription. Events queue without bound until read.
func (t *Till) Subscribe() (<-chan Event, func()) { return t.events.subscribe() }

// Finish ends the subscription events once the events already emitted to
// it are delivered: events is closed after the last of them. A face that
// ends (headless on quit) calls it so that the answer to its last command
// is not lost; the cancel function Subscribe gave still frees it.
func (t *Till) Finish(events <-chan Event) { t.events.finish(events) }

func (t *Till) emit(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = t.clk.Now()
	}
	t.events.emit(ev)
}

func (t *Till) emitError(reason string) {
	t.emit(Event{Event: EventError, Reason: reason})
}

// noPaymentWaiting is the sentence for a scan with no payment armed.
const noPaymentWaiting = "A code was scanned but no payment is waiting for one: enter an amount first. Nothing was charged."

// emitScanRefused reports a scan that charged nothing, with its reason code.
func (t *Till) emitScanRefused(code, reason string) {
	t.emit(Event{Event: EventError, ReasonCode: code, Reason: reason})
}

// Start checks the journal, announces the till, learns the backend's clock
// and settles what a previous run left open (Reconcile), and, with a fixed
// amount, arms it.
func (t *Till) Start(ctx context.Context) error {
	if err := t.j.Check(ctx); err != nil {
		return fmt.Errorf("till: %w", err)
	}
	t.emit(Event{Event: EventReady, Backend: t.opt.BackendURL, Journal: t.j.Path(), Terminal: t.j.Terminal(), Mode: t.cfg.Offline.Mode})
	t.Reconcile(ctx)
	t.emitSync(ctx)
	if t.fixed != nil {
		if err := t.Charge(ctx, *t.fixed); err != nil {
			return err
		}
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.clockLoop(t.baseCtx)
	}()
	return nil
}

// Close stops the till's background work and ends every subscription.
func (t *Till) Close() {
	t.stop()
	t.wg.Wait()
	t.events.close()
}

// syncClock learns the offset of the backend's clock from the local one.
func (t *Till) syncClock(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, off, err := t.backend.Time(ctx)
	t.mon.Report(unreachable(err))
	if err != nil {
		t.log.Info("could not read the backend's clock", "err", err)
		return
	}
	t.mu.Lock()
	t.offset = off
	t.mu.Unlock()
	if off > time.Minute || off < -time.Minute {
		t.log.Warn("this till's clock is off; scan times use the backend's clock", "offset", off.Round(time.Second))
	}
}

func (t *Till) clockLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.clk.After(10 * time.Minute):
			t.syncClock(ctx)
		}
	}
}

// backendNow is the till's estimate of the backend's clock.
func (t *Till) backendNow() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.clk.Now().Add(t.offset)
}

// ClockOffset returns the learned offset of the backend's clock.
func (t *Till) ClockOffset() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.offset
}

// unreachable returns err if it means the backend could not be reached,
// else nil (an answer, even a refusal, means it is reachable).
func unreachable(err error) error {
	if err != nil && errors.Is(err, client.ErrUnreachable) {
		return err
	}
	return nil
}

// Errors of the command methods.
var (
	ErrBusy     = errors.New("a payment is in progress")
	ErrNoSale   = errors.New("no payment is in progress")
	ErrCurrency = errors.New("wrong currency")
)

// Charge arms the till for one payment of amount: the next scan pays it.
func (t *Till) Charge(ctx context.Context, amount money.Amount) error {
	if amount.Currency == "" {
		amount.Currency = t.currency
	}
	if err := amount.CheckPayable(); err != nil {
		return fmt.Errorf("amount %s: %w", amount.Decimal(), err)
	}
	if amount.Currency != t.currency {
		return fmt.Errorf("%w: this till charges %s", ErrCurrency, t.currency)
	}
	t.mu.Lock()
	if t.sale != nil && t.sale.state != saleArmed {
		t.mu.Unlock()
		return fmt.Errorf("%w: wait for its result or cancel it", ErrBusy)
	}
	t.sale = &sale{amount: amount, state: saleArmed}
	t.mu.Unlock()
	t.scan.Arm()
	t.emit(Event{Event: EventArmed, Amount: amount.Decimal(), Currency: amount.Currency, Status: saleArmed})
	return nil
}

// Cancel cancels the armed sale, or asks the backend to cancel a payment
// waiting for the payer.
func (t *Till) Cancel(ctx context.Context) error {
	t.mu.Lock()
	s := t.sale
	switch {
	case s == nil:
		t.mu.Unlock()
		return ErrNoSale
	case s.state == saleArmed:
		t.mu.Unlock()
		t.scan.Disarm()
		t.finish(s, Event{Event: EventPayment, Amount: s.amount.Decimal(), Currency: s.amount.Currency, Status: StatusCancelled, Reason: "Cancelled by the cashier before a code was scanned."})
		return nil
	case s.state == saleWaiting:
		select {
		case <-s.cancel:
		default:
			close(s.cancel)
		}
		t.mu.Unlock()
		return nil
	default:
		t.mu.Unlock()
		return fmt.Errorf("%w: the payment is being sent; wait for its result", ErrBusy)
	}
}

// finish ends a sale with its result: the sale is cleared first (so a face
// reacting to the result can arm the next one), then the result is
// emitted, then in fixed-amount mode the next sale is armed.
func (t *Till) finish(s *sale, result Event) {
	t.mu.Lock()
	if t.sale == s {
		t.sale = nil
	}
	t.mu.Unlock()
	t.emit(result)
	t.rearmFixed()
}

func (t *Till) rearmFixed() {
	if t.fixed == nil || t.baseCtx.Err() != nil {
		return
	}
	if err := t.Charge(t.baseCtx, *t.fixed); err != nil && !errors.Is(err, ErrBusy) {
		t.log.Error("re-arming the fixed amount", "err", err)
	}
}

// rearm puts a sale back to armed after a scan that could not pay it.
func (t *Till) rearm(s *sale) {
	t.mu.Lock()
	if t.sale == s {
		s.state = saleArmed
	}
	t.mu.Unlock()
	t.scan.Arm()
}

// HandleScanner takes one event of the scanner manager.
func (t *Till) HandleScanner(ev scanner.Event) {
	switch ev.Kind {
	case scanner.EventStatus:
		state := ScannerConnected
		switch ev.State {
		case scanner.Disconnected:
			state = ScannerDisconnected
		case scanner.Failed:
			state = ScannerError
		}
		t.emit(Event{Event: EventScanner, Time: ev.Time, Device: ev.Device, State: state, Detail: ev.Detail})
	case scanner.EventBadScan:
		detail := ev.Detail
		if detail == "" && ev.Err != nil {
			detail = ev.Err.Error()
		}
		t.emitError(fmt.Sprintf("Scanner %s sent an unreadable scan (%s). Nothing was charged; scan again.", ev.Device, detail))
	case scanner.EventScan:
		t.handleScan(ev)
	}
}

func (t *Till) handleScan(ev scanner.Event) {
	sc := ev.Scan
	var lat *int64
	if !sc.LastByte.IsZero() && !sc.Delivered.IsZero() {
		lat = ptr(sc.Delivered.Sub(sc.LastByte).Microseconds())
	}
	t.emit(Event{Event: EventScan, Device: sc.Device, Symbology: string(sc.Symbology), Code: paycode.Mask(sc.Label), LatencyUS: lat})
	if !ev.ForPayment() {
		switch ev.Use {
		case scanner.Duplicate:
			t.emitScanRefused(ReasonDuplicateScan, "The same code was scanned again within a few seconds; it was not charged twice.")
		default:
			t.emitScanRefused(ReasonNoPaymentWaiting, noPaymentWaiting)
		}
		return
	}
	t.mu.Lock()
	s := t.sale
	if s == nil || s.state != saleArmed {
		t.mu.Unlock()
		t.emitScanRefused(ReasonNoPaymentWaiting, noPaymentWaiting)
		return
	}
	s.state = saleSubmitting
	s.scanned = t.clk.Now().Add(-time.Second) // margin for the journal's own clock
	t.mu.Unlock()
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.pay(t.baseCtx, s, sc)
	}()
}
