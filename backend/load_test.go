package backend

import (
	"math"
	"testing"
	"time"
)

func TestLoadMeter(t *testing.T) {
	now, used, reads := time.Second, time.Duration(0), 0
	known := true
	m := &loadMeter{
		now:   func() time.Duration { return now },
		cpu:   func() (time.Duration, bool) { reads++; return used, known },
		procs: func() int { return 2 },
	}
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }
	if got := m.busy(); got != 0 {
		t.Fatalf("first reading %v, want 0 (no period yet)", got)
	}
	// Within a period the last load is kept and the clock not read again.
	now += 2 * time.Millisecond
	used += 4 * time.Millisecond
	if got := m.busy(); got != 0 || reads != 1 {
		t.Fatalf("inside the period: %v after %d reads", got, reads)
	}
	// 10 ms of processor time over 10 ms on 2 processors: half busy.
	now += 8 * time.Millisecond
	used += 6 * time.Millisecond
	if got := m.busy(); !near(got, 0.5) {
		t.Fatalf("load %v, want 0.5", got)
	}
	// Both processors busy for the next 20 ms.
	now += 20 * time.Millisecond
	used += 40 * time.Millisecond
	if got := m.busy(); !near(got, 1) {
		t.Fatalf("load %v, want 1", got)
	}
	// A clock that runs back keeps the last load.
	now += 10 * time.Millisecond
	used -= time.Millisecond
	if got := m.busy(); !near(got, 1) {
		t.Fatalf("after a backward reading %v, want 1", got)
	}
	// Where the system does not tell, the writer behaves as under load.
	known = false
	now += 10 * time.Millisecond
	if got := m.busy(); got != 1 {
		t.Fatalf("unknown processor time: %v, want 1", got)
	}
}

func TestLoadMeterMeasures(t *testing.T) {
	var m loadMeter
	m.busy()
	deadline := time.Now().Add(2 * time.Second)
	// Keep one processor busy until a period has passed.
	x := 0
	for time.Now().Before(deadline) {
		for i := range 100_000 {
			x += i
		}
		if got := m.busy(); got > 0 {
			if got > 1.5 {
				t.Fatalf("load %v of one busy goroutine", got)
			}
			return
		}
	}
	t.Fatalf("no load measured while busy (%d)", x)
}
