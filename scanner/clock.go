package scanner

import (
	"math/rand/v2"
	"time"
)

// Clock is the Manager's source of time, injectable for tests.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once after d.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer from a Clock.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer wraps time.NewTimer.
func (SystemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }

// Backoff is a capped exponential backoff with jitter, for reconnecting.
type Backoff struct {
	// Min is the first delay and Max the cap.
	Min, Max time.Duration
	// Jitter returns a number in [0, 1); the delay is scaled into
	// [d/2, d). Nil means math/rand/v2's Float64; a func returning 1
	// removes the jitter.
	Jitter func() float64
}

// DefaultBackoff starts at 250 ms and caps at 10 s.
func DefaultBackoff() Backoff { return Backoff{Min: 250 * time.Millisecond, Max: 10 * time.Second} }

// Delay returns the wait before retry number attempt (0 for the first).
func (b Backoff) Delay(attempt int) time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = 250 * time.Millisecond
	}
	if hi < lo {
		hi = lo
	}
	d := lo
	for i := 0; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	j := b.Jitter
	if j == nil {
		j = rand.Float64
	}
	f := min(max(j(), 0), 1)
	return d/2 + time.Duration(f*float64(d/2))
}
