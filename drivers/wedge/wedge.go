// Package wedge reads keyboard-wedge scan guns: scanners that type their
// codes as keystrokes. The GUI feeds it every key event with its time;
// the Wedge tells apart a scan (a fast burst of at least MinLen keys,
// mean gap at most MaxMeanGap, ended by Enter or Tab) from a person
// typing, hands the typing back for the focused widget, and delivers the
// scans as a scanner.Source, so that a payment code never lands in an
// amount field as digits.
//
//	w := wedge.New()
//	manager.Attach("wedge", w, scanner.FrameConfig{})
//	// in the window's key handler:
//	for _, k := range w.Key(wedge.Key{Kind: wedge.Rune, Rune: r, At: time.Now()}) {
//		giveToFocusedWidget(k)
//	}
//	// and when w.Deadline() passes (a timer): pass on w.Tick(time.Now())
//
// Keys are held back while they might still be a scan, at most Idle
// (100 ms) after the last key. Nothing is registered under the scheme
// "wedge": only the GUI can feed one, so it attaches it itself (or offers
// NewDriver(w) through scanner.WithDrivers).
package wedge

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"tillpay/scanner"
)

// KeyKind says which key an event is.
type KeyKind int

// Key kinds.
const (
	Rune KeyKind = iota + 1
	Enter
	Tab
)

// Key is one key event.
type Key struct {
	Kind KeyKind
	Rune rune // for Kind Rune
	At   time.Time
}

// Config holds the detector's thresholds.
type Config struct {
	// MaxMeanGap is the largest mean gap between the keys of a scan.
	MaxMeanGap time.Duration
	// MinLen is the fewest characters in a scan.
	MinLen int
	// Idle ends a burst: after this silence held keys are decided (an
	// unterminated fast burst is dropped, slow keys go back to the UI).
	Idle time.Duration
}

// DefaultConfig: 30 ms mean gap, 6 characters, 100 ms idle.
func DefaultConfig() Config {
	return Config{MaxMeanGap: 30 * time.Millisecond, MinLen: 6, Idle: 100 * time.Millisecond}
}

// Option configures a Wedge.
type Option func(*Wedge)

// WithConfig sets the thresholds; zero fields keep their defaults.
func WithConfig(c Config) Option {
	return func(w *Wedge) {
		if c.MaxMeanGap > 0 {
			w.cfg.MaxMeanGap = c.MaxMeanGap
		}
		if c.MinLen > 0 {
			w.cfg.MinLen = c.MinLen
		}
		if c.Idle > 0 {
			w.cfg.Idle = c.Idle
		}
	}
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(w *Wedge) { w.logger = l } }

// Stats counts what the detector decided.
type Stats struct {
	Scans        int // bursts delivered as scans
	Dropped      int // unterminated fast bursts dropped
	DroppedRunes int // characters in them
	Typed        int // keys handed back to the UI
}

// Wedge is a keyboard-wedge detector and scanner.Source. Its methods are
// safe for concurrent use.
type Wedge struct {
	cfg    Config
	logger *slog.Logger

	mu     sync.Mutex
	held   []Key
	stats  Stats
	queue  []scanner.Chunk
	notify chan struct{}
	closed chan struct{}
	once   sync.Once
}

// New returns a Wedge.
func New(opts ...Option) *Wedge {
	w := &Wedge{cfg: DefaultConfig(), notify: make(chan struct{}, 1), closed: make(chan struct{})}
	for _, o := range opts {
		o(w)
	}
	if w.logger == nil {
		w.logger = slog.Default()
	}
	return w
}

// Key takes one key event and returns the keys to give to the UI now, in
// order (possibly earlier held keys, possibly none).
func (w *Wedge) Key(k Key) []Key {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.expireLocked(k.At)
	switch k.Kind {
	case Rune:
		w.held = append(w.held, k)
	case Enter, Tab:
		if w.isScanLocked(k.At, len(w.held)) {
			w.deliverLocked()
		} else {
			out = append(out, w.held...)
			out = append(out, k)
			w.held = w.held[:0]
		}
	default:
		out = append(out, k)
	}
	w.stats.Typed += len(out)
	return out
}

// Tick decides held keys after Idle of silence; call it when Deadline
// passes. It returns keys to give to the UI.
func (w *Wedge) Tick(now time.Time) []Key {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.expireLocked(now)
	w.stats.Typed += len(out)
	return out
}

// Deadline returns when Tick should be called, if keys are held.
func (w *Wedge) Deadline() (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.held) == 0 {
		return time.Time{}, false
	}
	return w.held[len(w.held)-1].At.Add(w.cfg.Idle), true
}

// Stats returns the counters.
func (w *Wedge) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

func (w *Wedge) expireLocked(now time.Time) []Key {
	if len(w.held) == 0 || now.Sub(w.held[len(w.held)-1].At) <= w.cfg.Idle {
		return nil
	}
	last := w.held[len(w.held)-1].At
	if w.isScanLocked(last, len(w.held)-1) {
		w.stats.Dropped++
		w.stats.DroppedRunes += len(w.held)
		w.logger.Warn("keyboard-wedge burst without Enter or Tab dropped; is the scanner's suffix set?", "chars", len(w.held))
		w.held = w.held[:0]
		return nil
	}
	out := append([]Key(nil), w.held...)
	w.held = w.held[:0]
	return out
}

// isScanLocked: the held keys, ended at end after gaps gaps, are a long
// and fast enough burst.
func (w *Wedge) isScanLocked(end time.Time, gaps int) bool {
	n := len(w.held)
	if n < w.cfg.MinLen || n == 0 || gaps < 1 {
		return false
	}
	span := end.Sub(w.held[0].At)
	if span < 0 {
		return false // clock went back: not trusted as a scan
	}
	return span <= w.cfg.MaxMeanGap*time.Duration(gaps)
}

func (w *Wedge) deliverLocked() {
	buf := make([]byte, 0, len(w.held))
	for _, k := range w.held {
		buf = fmt.Appendf(buf, "%c", k.Rune)
	}
	w.queue = append(w.queue, scanner.Chunk{Data: buf, Framed: true, At: w.held[0].At})
	w.held = w.held[:0]
	w.stats.Scans++
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// Next implements scanner.Source: it returns each detected scan as a
// framed chunk.
func (w *Wedge) Next(ctx context.Context) (scanner.Chunk, error) {
	for {
		w.mu.Lock()
		if len(w.queue) > 0 {
			c := w.queue[0]
			w.queue = w.queue[1:]
			w.mu.Unlock()
			return c, nil
		}
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return scanner.Chunk{}, ctx.Err()
		case <-w.closed:
			return scanner.Chunk{}, fmt.Errorf("%w: keyboard wedge closed", scanner.ErrDisconnected)
		case <-w.notify:
		}
	}
}

// Close implements scanner.Source.
func (w *Wedge) Close() error {
	w.once.Do(func() { close(w.closed) })
	return nil
}

// Driver hands out one Wedge under the scheme "wedge", for a Manager
// built from addresses: scanner.WithDrivers(wedge.NewDriver(w)).
type Driver struct{ w *Wedge }

// NewDriver returns a Driver for w.
func NewDriver(w *Wedge) *Driver { return &Driver{w: w} }

// Scheme returns "wedge".
func (d *Driver) Scheme() string { return "wedge" }

// Open returns the Wedge; the Manager's Close of it is ignored so that a
// reopen gets the same keyboard.
func (d *Driver) Open(ctx context.Context, addr scanner.Address) (scanner.Source, error) {
	select {
	case <-d.w.closed:
		return nil, fmt.Errorf("%w: keyboard wedge closed", scanner.ErrNotFound)
	default:
	}
	return keepOpen{d.w}, nil
}

type keepOpen struct{ *Wedge }

func (keepOpen) Close() error { return nil }
