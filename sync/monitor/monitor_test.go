package monitor

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"tillpay/internal/clock"
)

var (
	errDown = errors.New("connection refused")
	quiet   = slog.New(slog.DiscardHandler)
)

// harness drives a Monitor whose probes answer what the test says, on a
// fake clock.
type harness struct {
	t       *testing.T
	m       *Monitor
	clk     *clock.Fake
	answers chan error
	mu      sync.Mutex
	changes []bool
	cancel  context.CancelFunc
	done    chan struct{}
}

func newHarness(t *testing.T, ttv time.Duration) *harness {
	h := &harness{t: t, clk: clock.NewFake(time.Unix(1_800_000_000, 0)), answers: make(chan error), done: make(chan struct{})}
	h.m = New(func(ctx context.Context) error {
		select {
		case err := <-h.answers:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}, Options{
		Interval: 5 * time.Second, MinBackoff: time.Second, MaxBackoff: 8 * time.Second,
		TimeToVisible: ttv, Clock: h.clk, Logger: quiet,
		OnChange: func(online bool) {
			h.mu.Lock()
			h.changes = append(h.changes, online)
			h.mu.Unlock()
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.m.Run(ctx); close(h.done) }()
	t.Cleanup(func() { cancel(); <-h.done })
	return h
}

// probe answers the next probe and waits for the monitor to sleep again.
func (h *harness) probe(err error) {
	h.answers <- err
	h.clk.BlockUntil(1)
}

// sleep lets the monitor's pending delay run out.
func (h *harness) sleep() {
	h.clk.Advance(time.Minute)
}

func (h *harness) seen() []bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]bool(nil), h.changes...)
}

func TestBlipDoesNotFlap(t *testing.T) {
	h := newHarness(t, 3*time.Second)
	h.probe(nil)
	h.sleep()
	h.probe(errDown)
	if h.m.Reachable() {
		t.Fatal("Reachable after a failed probe")
	}
	if !h.m.Online() {
		t.Fatal("a single failure became visible before TimeToVisible")
	}
	h.clk.Advance(time.Second)
	h.probe(nil)
	if !h.m.Reachable() || !h.m.Online() {
		t.Fatal("not back online after a good probe")
	}
	if got := h.seen(); len(got) != 0 {
		t.Fatalf("status changes %v for a blip, want none", got)
	}
}

func TestOutageBecomesVisibleThenRecovers(t *testing.T) {
	h := newHarness(t, 3*time.Second)
	h.probe(errDown)
	for i := 0; i < 10 && h.m.Online(); i++ {
		h.sleep()
		h.probe(errDown)
	}
	if h.m.Online() {
		t.Fatal("still online after a long outage")
	}
	if !errors.Is(h.m.LastError(), errDown) {
		t.Fatalf("LastError = %v", h.m.LastError())
	}
	h.sleep()
	h.probe(nil)
	if !h.m.Online() {
		t.Fatal("not online after recovery")
	}
	if got := h.seen(); len(got) != 2 || got[0] != false || got[1] != true {
		t.Fatalf("changes = %v, want [false true]", got)
	}
}

func TestReportSuccessRestoresAtOnce(t *testing.T) {
	h := newHarness(t, 0)
	h.probe(errDown)
	h.clk.Advance(4 * time.Second) // past the default time-to-visible
	h.probe(errDown)
	if h.m.Online() {
		t.Fatal("online during an outage")
	}
	h.m.Report(nil)
	if !h.m.Online() || !h.m.Reachable() {
		t.Fatal("a successful request did not restore the online state")
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	m := New(func(context.Context) error { return errDown }, Options{MinBackoff: time.Second, MaxBackoff: 8 * time.Second, Clock: clk, TimeToVisible: time.Nanosecond, Logger: quiet})
	var last time.Duration
	for i := 1; i <= 8; i++ {
		m.record(errDown)
		clk.Advance(time.Millisecond)
		d := m.delay()
		want := time.Second << (i - 1)
		if want > 8*time.Second {
			want = 8 * time.Second
		}
		if d < want/2 || d > want {
			t.Fatalf("failure %d: delay %v, want in [%v, %v]", i, d, want/2, want)
		}
		last = d
	}
	if last > 8*time.Second {
		t.Fatalf("delay %v above the cap", last)
	}
	m.record(nil)
	if d := m.delay(); d != 5*time.Second {
		t.Fatalf("delay when reachable = %v, want the 5 s interval", d)
	}
}
