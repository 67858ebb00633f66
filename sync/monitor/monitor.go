// Package monitor tells whether the payment backend is reachable. It probes
// the backend's health check, backs off while it fails, and learns from the
// outcome of every real request too.
//
// Two views of the state are kept. Reachable is the raw one, for decisions:
// the till does not wait for a timeout on every scan once it knows the
// backend is down. Online is the visible one, for people: a loss of the
// backend is shown only after it has lasted TimeToVisible, so that a short
// blip does not flap the status bar, while a recovery is shown at once.
package monitor

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"tillpay/internal/clock"
)

// Options configure a Monitor. Zero values take the defaults.
type Options struct {
	// Interval between probes while the backend is reachable (default 5 s).
	Interval time.Duration
	// MinBackoff and MaxBackoff bound the delay between probes while it is
	// not (defaults 500 ms and 30 s); the delay doubles with each failure,
	// with jitter.
	MinBackoff, MaxBackoff time.Duration
	// TimeToVisible is how long the backend must be unreachable before
	// Online reports it (default 3 s).
	TimeToVisible time.Duration
	// ProbeTimeout bounds each probe (default 3 s).
	ProbeTimeout time.Duration
	Clock        clock.Clock
	Logger       *slog.Logger
	// OnChange is called, from the monitor's goroutine, whenever the
	// visible state changes.
	OnChange func(online bool)
}

// Monitor watches the backend's reachability.
type Monitor struct {
	probe func(context.Context) error
	opt   Options

	mu        sync.Mutex
	reachable bool
	online    bool
	downSince time.Time
	failures  int
	lastErr   error
	wake      chan struct{}
}

// New returns a monitor that calls probe to check the backend. It starts
// in the reachable, online state until the first probe says otherwise.
func New(probe func(context.Context) error, opt Options) *Monitor {
	if opt.Interval <= 0 {
		opt.Interval = 5 * time.Second
	}
	if opt.MinBackoff <= 0 {
		opt.MinBackoff = 500 * time.Millisecond
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = 30 * time.Second
	}
	if opt.TimeToVisible <= 0 {
		opt.TimeToVisible = 3 * time.Second
	}
	if opt.ProbeTimeout <= 0 {
		opt.ProbeTimeout = 3 * time.Second
	}
	if opt.Clock == nil {
		opt.Clock = clock.Real{}
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Monitor{probe: probe, opt: opt, reachable: true, online: true, wake: make(chan struct{}, 1)}
}

// Reachable reports the raw state: whether the last probe or request reached
// the backend.
func (m *Monitor) Reachable() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reachable
}

// Online reports the visible state (see the package doc).
func (m *Monitor) Online() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.online
}

// LastError returns why the backend was last found unreachable, or nil.
func (m *Monitor) LastError() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastErr
}

// Report records the outcome of a real request: nil means the backend
// answered (even with a refusal), an error means it could not be reached.
func (m *Monitor) Report(err error) {
	m.record(err)
	if err != nil {
		m.Poke()
	}
}

// Poke makes the monitor probe now rather than at its next turn.
func (m *Monitor) Poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// record updates the state after a probe or request; it returns the
// visible change to announce, if any.
func (m *Monitor) record(err error) {
	now := m.opt.Clock.Now()
	m.mu.Lock()
	wasOnline := m.online
	if err == nil {
		if !m.reachable {
			m.opt.Logger.Info("payment backend reachable again", "after_failures", m.failures)
		}
		m.reachable, m.online, m.failures, m.lastErr = true, true, 0, nil
	} else {
		if m.reachable {
			m.downSince = now
			m.opt.Logger.Warn("payment backend unreachable", "err", err)
		}
		m.reachable = false
		m.failures++
		m.lastErr = err
		if now.Sub(m.downSince) >= m.opt.TimeToVisible {
			m.online = false
		}
	}
	changed := wasOnline != m.online
	online := m.online
	m.mu.Unlock()
	if changed && m.opt.OnChange != nil {
		m.opt.OnChange(online)
	}
}

// delay returns how long to wait before the next probe.
func (m *Monitor) delay() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.reachable {
		return m.opt.Interval
	}
	d := m.opt.MinBackoff << min(m.failures-1, 20)
	if d > m.opt.MaxBackoff || d <= 0 {
		d = m.opt.MaxBackoff
	}
	// Full jitter on the upper half: between d/2 and d.
	d = d/2 + rand.N(d/2+1)
	// While the outage is not yet visible, probe again in time to make it so.
	if m.online {
		if until := m.opt.TimeToVisible - m.opt.Clock.Now().Sub(m.downSince); until > 0 && until < d {
			d = until
		}
	}
	return d
}

// Run probes until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	for {
		pctx, cancel := context.WithTimeout(ctx, m.opt.ProbeTimeout)
		err := m.probe(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		m.record(err)
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		case <-m.opt.Clock.After(m.delay()):
		}
	}
}
