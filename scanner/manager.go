package scanner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// EventKind says what an Event reports.
type EventKind int

// Event kinds.
const (
	// EventScan: a code was read; see Event.Scan and Event.Use.
	EventScan EventKind = iota + 1
	// EventStatus: a device changed state; see Event.State.
	EventStatus
	// EventBadScan: the device sent bytes that are not a code; Event.Err
	// is a *FrameError. Nothing was charged; the payer should scan again.
	EventBadScan
)

func (k EventKind) String() string {
	switch k {
	case EventScan:
		return "scan"
	case EventStatus:
		return "scanner"
	case EventBadScan:
		return "bad_scan"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// State is a device's condition as shown to the user.
type State int

// Device states.
const (
	Connected State = iota + 1
	Disconnected
	Failed
)

func (s State) String() string {
	switch s {
	case Connected:
		return "connected"
	case Disconnected:
		return "disconnected"
	case Failed:
		return "error"
	}
	return "unknown"
}

// Use says what a scan may be used for.
type Use int

// Uses of a scan.
const (
	// ForPayment: the till was armed and this is the first code since;
	// the Manager has disarmed. Charge it.
	ForPayment Use = iota + 1
	// NotArmed: the till was not waiting for a payment. Show it, never
	// charge it.
	NotArmed
	// Duplicate: the same label was read within the no-rescan window (by
	// any device). Never charge it; the till stays armed.
	Duplicate
)

func (u Use) String() string {
	switch u {
	case ForPayment:
		return "payment"
	case NotArmed:
		return "not_armed"
	case Duplicate:
		return "duplicate"
	}
	return "unknown"
}

// Event is what the Manager reports.
type Event struct {
	Kind EventKind
	// Device is the address (or attached name) of the scan gun.
	Device string
	// Time is when the Manager emitted the event.
	Time time.Time
	// Scan and Use are set for EventScan.
	Scan Scan
	Use  Use
	// State is set for EventStatus.
	State State
	// Err is the cause of a Disconnected or Failed status, or the
	// *FrameError of an EventBadScan.
	Err error
	// Detail is a sentence for the person at the till.
	Detail string
}

// ForPayment reports whether the event is a scan to charge.
func (e Event) ForPayment() bool { return e.Kind == EventScan && e.Use == ForPayment }

// DeviceStatus is the current state of one device, for a status screen.
type DeviceStatus struct {
	Device string
	State  State
	Detail string
	Since  time.Time
}

// Option configures a Manager.
type Option func(*options)

type options struct {
	clock        Clock
	backoff      Backoff
	statusDelay  time.Duration
	rescanWindow time.Duration
	buffer       int
	logger       *slog.Logger
	drivers      map[string]Driver
}

// WithClock sets the clock (default SystemClock).
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithBackoff sets the reconnect backoff (default DefaultBackoff).
func WithBackoff(b Backoff) Option { return func(o *options) { o.backoff = b } }

// WithStatusDelay sets the time-to-visible of a problem: a device that
// drops and comes back within d shows no status change (default 2 s).
func WithStatusDelay(d time.Duration) Option { return func(o *options) { o.statusDelay = d } }

// WithRescanWindow sets the no-rescan window (default 3 s; 0 turns the
// duplicate check off).
func WithRescanWindow(d time.Duration) Option { return func(o *options) { o.rescanWindow = d } }

// WithEventBuffer sets the capacity of the event channel (default 64).
// Events are never dropped: devices wait while the channel is full.
func WithEventBuffer(n int) Option { return func(o *options) { o.buffer = n } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithDrivers makes the Manager open these drivers' schemes with them
// instead of the registered ones (for a keyboard wedge fed by the GUI, or
// tests).
func WithDrivers(ds ...Driver) Option {
	return func(o *options) {
		for _, d := range ds {
			o.drivers[d.Scheme()] = d
		}
	}
}

// ErrManagerDone is returned when a Manager that has stopped is asked to
// run or take a device.
var ErrManagerDone = errors.New("scanner manager has stopped")

// Manager runs scan guns: it opens them, frames their bytes, reconnects
// after an unplug, arms for one code per payment and reports everything
// as Events. Its methods are safe for concurrent use.
type Manager struct {
	o      options
	events chan Event

	mu      sync.Mutex
	armed   bool
	seen    map[string]time.Time
	devices []*device
	ctx     context.Context // set while running
	state   int             // 0 new, 1 running, 2 done
	wg      sync.WaitGroup
}

type device struct {
	name      string
	cfg       FrameConfig
	open      func(ctx context.Context) (Source, error)
	reconnect bool

	// guarded by Manager.mu
	status DeviceStatus
	shown  string // detail of the last visible status event
}

// NewManager returns a Manager for the scan guns at addrs (see Address;
// framing parameters in the package documentation). Every address must
// parse and have a driver; nothing is opened until Run.
func NewManager(addrs []string, opts ...Option) (*Manager, error) {
	o := options{
		clock:        SystemClock{},
		backoff:      DefaultBackoff(),
		statusDelay:  2 * time.Second,
		rescanWindow: 3 * time.Second,
		buffer:       64,
		drivers:      map[string]Driver{},
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	m := &Manager{o: o, events: make(chan Event, max(o.buffer, 0)), seen: map[string]time.Time{}}
	for _, s := range addrs {
		addr, err := ParseAddress(s)
		if err != nil {
			return nil, err
		}
		cfg, err := ParseFrameConfig(addr.Params)
		if err != nil {
			return nil, fmt.Errorf("scanner %s: %w", s, err)
		}
		drv, ok := o.drivers[addr.Scheme]
		if !ok {
			if drv, err = Lookup(addr.Scheme); err != nil {
				return nil, fmt.Errorf("scanner %s: %w", s, err)
			}
		}
		m.devices = append(m.devices, &device{
			name:      addr.Raw,
			cfg:       cfg,
			open:      func(ctx context.Context) (Source, error) { return drv.Open(ctx, addr) },
			reconnect: true,
		})
	}
	return m, nil
}

// Events returns the channel of events. It is closed when Run returns.
func (m *Manager) Events() <-chan Event { return m.events }

// Arm makes the next code (not a duplicate) a payment code.
func (m *Manager) Arm() {
	m.mu.Lock()
	m.armed = true
	m.mu.Unlock()
}

// Disarm cancels Arm (the sale was cancelled).
func (m *Manager) Disarm() {
	m.mu.Lock()
	m.armed = false
	m.mu.Unlock()
}

// Armed reports whether the Manager waits for a payment code.
func (m *Manager) Armed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.armed
}

// Status returns every device's current state.
func (m *Manager) Status() []DeviceStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]DeviceStatus, len(m.devices))
	for i, d := range m.devices {
		out[i] = d.status
		out[i].Device = d.name
	}
	return out
}

// Attach runs an already opened Source under the given name, with the
// framing of cfg (DefaultFrameConfig when zero). An attached source is
// not reopened when it fails. Attach works before and during Run.
func (m *Manager) Attach(name string, src Source, cfg FrameConfig) error {
	if cfg == (FrameConfig{}) {
		cfg = DefaultFrameConfig()
	}
	var once sync.Once
	d := &device{name: name, cfg: cfg, open: func(context.Context) (Source, error) {
		var s Source
		once.Do(func() { s = src })
		if s == nil {
			return nil, fmt.Errorf("%w: attached source ended", ErrDisconnected)
		}
		return s, nil
	}}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == 2 {
		return ErrManagerDone
	}
	m.devices = append(m.devices, d)
	if m.state == 1 {
		m.startLocked(d)
	}
	return nil
}

// Run opens every device and runs until ctx ends, then closes the devices,
// waits for their goroutines and closes the Events channel. It returns
// nil after a normal shutdown.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.state != 0 {
		m.mu.Unlock()
		return ErrManagerDone
	}
	m.state, m.ctx = 1, ctx
	for _, d := range m.devices {
		m.startLocked(d)
	}
	m.mu.Unlock()
	<-ctx.Done()
	m.mu.Lock()
	m.state = 2
	m.mu.Unlock()
	m.wg.Wait()
	close(m.events)
	return nil
}

func (m *Manager) startLocked(d *device) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.runDevice(m.ctx, d)
	}()
}

func (m *Manager) send(ctx context.Context, ev Event) {
	ev.Time = m.o.clock.Now()
	select {
	case m.events <- ev:
	case <-ctx.Done():
	}
}

// setStatus records a device's state and emits it when visible is true and
// it differs from what the user last saw.
func (m *Manager) setStatus(ctx context.Context, d *device, st State, err error, detail string, visible bool) {
	now := m.o.clock.Now()
	m.mu.Lock()
	if d.status.State != st || d.status.Detail != detail {
		d.status = DeviceStatus{State: st, Detail: detail, Since: now}
	}
	show := visible && d.shown != detail
	if show {
		d.shown = detail
	}
	m.mu.Unlock()
	log := m.o.logger.With("device", d.name, "state", st.String())
	if err != nil {
		log = log.With("err", err)
	}
	if !show {
		log.Debug("scanner status (not shown)", "detail", detail)
		return
	}
	log.Info(detail)
	m.send(ctx, Event{Kind: EventStatus, Device: d.name, State: st, Err: err, Detail: detail})
}

func (m *Manager) runDevice(ctx context.Context, d *device) {
	var (
		attempt     int
		problemAt   time.Time // when the current trouble began; zero when healthy
		everOpened  bool
		problemSeen bool  // the current trouble has been shown
		firstErr    error // what began the current trouble
	)
	for ctx.Err() == nil {
		src, err := d.open(ctx)
		if err == nil {
			attempt = 0
			detail := fmt.Sprintf("Scanner %s is ready", d.name)
			if everOpened {
				detail = fmt.Sprintf("Scanner %s is back", d.name)
			}
			// A blip that was never shown stays unshown: the user saw
			// "ready" and it is still true.
			m.setStatus(ctx, d, Connected, nil, detail, !everOpened || problemSeen)
			everOpened, problemAt, problemSeen, firstErr = true, time.Time{}, false, nil
			err = m.pump(ctx, d, src)
		}
		if ctx.Err() != nil {
			return
		}
		if problemAt.IsZero() {
			problemAt, firstErr = m.o.clock.Now(), err
		}
		// An unplugged device is then not found until it is back: keep
		// saying it was unplugged.
		shownErr := err
		if errors.Is(firstErr, ErrDisconnected) && errors.Is(err, ErrNotFound) {
			shownErr = firstErr
		}
		st, detail := describe(d.name, shownErr, d.reconnect)
		visible := !everOpened || problemSeen || !d.reconnect || m.o.statusDelay <= 0
		m.setStatus(ctx, d, st, err, detail, visible)
		problemSeen = problemSeen || visible
		if !d.reconnect {
			return
		}
		retryAt := m.o.clock.Now().Add(m.o.backoff.Delay(attempt))
		attempt++
		for {
			now := m.o.clock.Now()
			wake := retryAt
			showAt := problemAt.Add(m.o.statusDelay)
			if !problemSeen && !now.Before(showAt) {
				m.setStatus(ctx, d, st, err, detail, true)
				problemSeen = true
			}
			if !now.Before(retryAt) {
				break
			}
			if !problemSeen && showAt.Before(wake) {
				wake = showAt
			}
			if !m.sleep(ctx, wake.Sub(now)) {
				return
			}
		}
	}
}

func (m *Manager) sleep(ctx context.Context, d time.Duration) bool {
	t := m.o.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

// describe turns a device error into a state and a sentence a person can
// act on.
func describe(name string, err error, reconnect bool) (State, string) {
	again := "; reconnecting"
	if !reconnect {
		again = ""
	}
	switch {
	case errors.Is(err, ErrDisconnected):
		if !reconnect {
			return Disconnected, fmt.Sprintf("Scanner %s was disconnected", name)
		}
		return Disconnected, fmt.Sprintf("Scanner %s was unplugged%s", name, again)
	case errors.Is(err, ErrNotFound):
		return Disconnected, fmt.Sprintf("Scanner %s is not connected: plug it in or check the address%s", name, again)
	case errors.Is(err, ErrPermission):
		return Failed, fmt.Sprintf("No permission to open scanner %s: add the till's user to the device's group (dialout for serial) or install the udev rule%s", name, again)
	case errors.Is(err, ErrBusy):
		return Failed, fmt.Sprintf("Scanner %s is in use by another program: close that program%s", name, again)
	case errors.Is(err, ErrNoDriver):
		return Failed, fmt.Sprintf("No driver for scanner %s: check the address scheme", name)
	}
	return Failed, fmt.Sprintf("Scanner %s failed (%v)%s", name, err, again)
}

type nextResult struct {
	c   Chunk
	err error
}

// pump reads src until it fails or ctx ends, framing its chunks, and
// always closes src and waits for its reader goroutine.
func (m *Manager) pump(ctx context.Context, d *device, src Source) error {
	rctx, cancel := context.WithCancel(ctx)
	results := make(chan nextResult)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := src.Next(rctx)
			select {
			case results <- nextResult{c, err}:
			case <-rctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		cancel()
		_ = src.Close()
		wg.Wait()
	}()

	framer := NewFramer(d.name, d.cfg)
	emit := func(s Scan, err error) {
		if err != nil {
			m.send(ctx, Event{Kind: EventBadScan, Device: d.name, Err: err,
				Detail: fmt.Sprintf("Scanner %s sent something that is not a code (%v); scan again", d.name, errors.Unwrap(err))})
			return
		}
		m.deliver(ctx, s)
	}
	for {
		var timerC <-chan time.Time
		var timer Timer
		if dl, ok := framer.Deadline(); ok {
			timer = m.o.clock.NewTimer(max(dl.Sub(m.o.clock.Now()), 0))
			timerC = timer.C()
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return ctx.Err()
		case r := <-results:
			if timer != nil {
				timer.Stop()
			}
			if r.err != nil {
				framer.Break(r.err, emit)
				return r.err
			}
			if r.c.At.IsZero() {
				r.c.At = m.o.clock.Now()
			}
			framer.Feed(r.c, emit)
		case now := <-timerC:
			framer.Idle(now, emit)
		}
	}
}

// deliver applies the no-rescan window and one-shot arming, then emits.
func (m *Manager) deliver(ctx context.Context, s Scan) {
	now := m.o.clock.Now()
	s.Delivered = now
	m.mu.Lock()
	use := NotArmed
	if last, ok := m.seen[s.Label]; ok && m.o.rescanWindow > 0 && now.Sub(last) < m.o.rescanWindow {
		use = Duplicate
	} else if m.armed {
		use, m.armed = ForPayment, false
	}
	if m.o.rescanWindow > 0 {
		m.seen[s.Label] = now
		if len(m.seen) > 32 {
			for l, t := range m.seen {
				if now.Sub(t) >= m.o.rescanWindow {
					delete(m.seen, l)
				}
			}
		}
	}
	m.mu.Unlock()
	var detail string
	switch use {
	case ForPayment:
		detail = fmt.Sprintf("Payment code read by %s", s.Device)
	case NotArmed:
		detail = fmt.Sprintf("Code read by %s while no payment is waiting; not charged", s.Device)
	case Duplicate:
		detail = fmt.Sprintf("Same code read again by %s within %v; not charged twice", s.Device, m.o.rescanWindow)
	}
	m.send(ctx, Event{Kind: EventScan, Device: s.Device, Scan: s, Use: use, Detail: detail})
}
