package scanner_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"tillpay/scanner"
	"tillpay/scanner/scannertest"
)

// The Manager tests run in a synctest bubble: time is virtual (timers,
// backoff and time-to-visible take no wall-clock time) and the bubble
// fails if any goroutine is left behind after shutdown.

func noJitter() float64 { return 1 }

type rig struct {
	t      *testing.T
	m      *scanner.Manager
	drv    *scannertest.Driver
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, addrs []string, opts ...scanner.Option) *rig {
	t.Helper()
	return startWith(t, scannertest.NewDriver("fake"), addrs, opts...)
}

// startWith runs a Manager with drv, which the test may have scripted.
func startWith(t *testing.T, drv *scannertest.Driver, addrs []string, opts ...scanner.Option) *rig {
	t.Helper()
	opts = append([]scanner.Option{scanner.WithDrivers(drv), scanner.WithLogger(slog.New(slog.DiscardHandler)), scanner.WithBackoff(scanner.Backoff{Min: 250 * time.Millisecond, Max: time.Second, Jitter: noJitter})}, opts...)
	m, err := scanner.NewManager(addrs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	r := &rig{t: t, m: m, drv: drv, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- m.Run(ctx) }()
	return r
}

// stop shuts the Manager down and checks that the event channel closes.
func (r *rig) stop() {
	r.t.Helper()
	r.cancel()
	for range r.m.Events() {
	}
	if err := <-r.done; err != nil {
		r.t.Errorf("Run: %v", err)
	}
}

func (r *rig) next() scanner.Event {
	r.t.Helper()
	select {
	case ev, ok := <-r.m.Events():
		if !ok {
			r.t.Fatal("events closed")
		}
		return ev
	case <-time.After(time.Minute):
		r.t.Fatal("no event within a (virtual) minute")
	}
	return scanner.Event{}
}

func (r *rig) source() *scannertest.Source {
	r.t.Helper()
	select {
	case s := <-r.drv.Opened():
		return s
	case <-time.After(time.Minute):
		r.t.Fatal("device not opened")
	}
	return nil
}

// twoSources returns the sources of fake:1 and fake:2, which open in
// either order.
func (r *rig) twoSources() (a, b *scannertest.Source) {
	a, b = r.source(), r.source()
	if a.Addr.Raw != "fake:1" {
		a, b = b, a
	}
	return a, b
}

func (r *rig) expectStatus(state scanner.State, detail string) scanner.Event {
	r.t.Helper()
	ev := r.next()
	if ev.Kind != scanner.EventStatus || ev.State != state || !strings.Contains(ev.Detail, detail) {
		r.t.Fatalf("got %v %v %q, want status %v containing %q", ev.Kind, ev.State, ev.Detail, state, detail)
	}
	return ev
}

func (r *rig) expectScan(label string, use scanner.Use) scanner.Event {
	r.t.Helper()
	ev := r.next()
	if ev.Kind != scanner.EventScan || ev.Scan.Label != label || ev.Use != use {
		r.t.Fatalf("got %v %q use %v (%s), want scan %q use %v", ev.Kind, ev.Scan.Label, ev.Use, ev.Detail, label, use)
	}
	return ev
}

// quiet checks that no event arrives before d passes.
func (r *rig) quiet(d time.Duration) {
	r.t.Helper()
	select {
	case ev := <-r.m.Events():
		r.t.Fatalf("unexpected event %v %q", ev.Kind, ev.Detail)
	case <-time.After(d):
	}
}

const code1, code2 = "134567890123456789", "287634438256643940"

func TestManagerArming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, []string{"fake:1"})
		src := r.source()
		r.expectStatus(scanner.Connected, "Scanner fake:1 is ready")

		src.Type("]Q1" + code1 + "\r")
		ev := r.expectScan(code1, scanner.NotArmed)
		if ev.ForPayment() || ev.Scan.Symbology != scanner.QR || ev.Device != "fake:1" || ev.Scan.Delivered.IsZero() {
			t.Errorf("scan event %+v", ev)
		}

		r.m.Arm()
		if !r.m.Armed() {
			t.Fatal("not armed after Arm")
		}
		src.Type("]Q1" + code2 + "\r")
		if ev := r.expectScan(code2, scanner.ForPayment); !ev.ForPayment() {
			t.Error("ForPayment() false for a payment scan")
		}
		if r.m.Armed() {
			t.Error("still armed after the payment code (AutoDisable)")
		}
		time.Sleep(5 * time.Second) // out of the no-rescan window
		src.Type("]Q1" + code2 + "\r")
		r.expectScan(code2, scanner.NotArmed)

		r.m.Arm()
		r.m.Disarm()
		time.Sleep(5 * time.Second)
		src.Type("]Q1" + code1 + "\r")
		r.expectScan(code1, scanner.NotArmed)
		r.stop()
		if !src.Closed() {
			t.Error("source not closed at shutdown")
		}
	})
}

func TestManagerNoRescan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, []string{"fake:1", "fake:2"})
		a, b := r.twoSources()
		r.next()
		r.next()
		r.m.Arm()
		a.Type(code1 + "\r")
		r.expectScan(code1, scanner.ForPayment)
		r.m.Arm()
		time.Sleep(time.Second)
		b.Type(code1 + "\r") // the same label from the other gun
		if ev := r.expectScan(code1, scanner.Duplicate); ev.Device != "fake:2" {
			t.Errorf("duplicate from %s", ev.Device)
		}
		if !r.m.Armed() {
			t.Error("a duplicate disarmed the till")
		}
		time.Sleep(3 * time.Second)
		b.Type(code1 + "\r")
		r.expectScan(code1, scanner.ForPayment)
		r.stop()
	})
}

func TestManagerRescanWindowOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, []string{"fake:1"}, scanner.WithRescanWindow(0))
		src := r.source()
		r.next()
		src.Type("x1\rx1\r")
		r.expectScan("x1", scanner.NotArmed)
		r.expectScan("x1", scanner.NotArmed)
		r.stop()
	})
}

func TestManagerInterleavedDevicesNeverMerge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, []string{"fake:1", "fake:2"}, scanner.WithRescanWindow(0))
		a, b := r.twoSources()
		r.next()
		r.next()
		a.Type("1111")
		b.Type("2222")
		synctest.Wait()
		a.Type("1111\r")
		synctest.Wait()
		b.Type("2222\r")
		got := map[string]string{}
		for range 2 {
			ev := r.next()
			got[ev.Device] = ev.Scan.Label
		}
		if got["fake:1"] != "11111111" || got["fake:2"] != "22222222" {
			t.Errorf("got %v", got)
		}
		r.stop()
	})
}

func TestManagerIdleFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, []string{"fake:1?suffix=none&idle=80ms"})
		src := r.source()
		r.next()
		startAt := time.Now()
		src.Type("1234")
		time.Sleep(40 * time.Millisecond)
		src.Type("5678")
		ev := r.expectScan("12345678", scanner.NotArmed)
		if waited := time.Since(startAt); waited < 120*time.Millisecond || waited > 200*time.Millisecond {
			t.Errorf("code flushed after %v, want 40ms + 80ms idle", waited)
		}
		if d := ev.Scan.LastByte.Sub(ev.Scan.FirstByte); d != 40*time.Millisecond {
			t.Errorf("first to last byte %v", d)
		}
		r.stop()
	})
}

func TestManagerBlipIsNotShown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, []string{"fake:1"})
		src := r.source()
		r.expectStatus(scanner.Connected, "ready")
		src.Type("1234") // cut by the unplug
		src.Disconnect()
		ev := r.next()
		if ev.Kind != scanner.EventBadScan || !errors.Is(ev.Err, scanner.ErrIncomplete) || !errors.Is(ev.Err, scanner.ErrDisconnected) {
			t.Fatalf("got %v %v, want a bad scan for the cut code", ev.Kind, ev.Err)
		}
		src2 := r.source() // reopened after 250 ms, within the 2 s time-to-visible
		src2.Type("5678\r")
		r.expectScan("5678", scanner.NotArmed) // no status events in between
		if st := r.m.Status(); st[0].State != scanner.Connected {
			t.Errorf("status %+v", st)
		}
		r.quiet(10 * time.Second)
		r.stop()
	})
}

func TestManagerUnplugShownAndBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, []string{"fake:1"})
		src := r.source()
		r.next()
		notFound := errors.New("no such device")
		for range 6 {
			r.drv.FailOpen(errorsJoin(scanner.ErrNotFound, notFound))
		}
		unplugAt := time.Now()
		src.Disconnect()
		ev := r.expectStatus(scanner.Disconnected, "Scanner fake:1 was unplugged; reconnecting")
		if d := time.Since(unplugAt); d != 2*time.Second {
			t.Errorf("disconnect shown after %v, want the 2s time-to-visible", d)
		}
		if !errors.Is(ev.Err, scanner.ErrNotFound) && !errors.Is(ev.Err, scanner.ErrDisconnected) {
			t.Errorf("status error %v", ev.Err)
		}
		if st := r.m.Status(); st[0].State != scanner.Disconnected {
			t.Errorf("Status() %+v", st)
		}
		r.source()
		back := r.expectStatus(scanner.Connected, "Scanner fake:1 is back")
		// Six failed reopens 0.25, 0.75, 1.75, 2.75, 3.75, 4.75 s after the
		// unplug (doubling from 250 ms, capped at 1 s), then 5.75 s works.
		if d := back.Time.Sub(unplugAt); d != 5750*time.Millisecond {
			t.Errorf("back after %v, want 5.75s", d)
		}
		if n := r.drv.Opens(); n != 8 {
			t.Errorf("%d opens, want 8", n)
		}
		r.stop()
	})
}

func errorsJoin(sentinel, cause error) error { return fmt.Errorf("%w: %w", sentinel, cause) }

func TestManagerActionableErrors(t *testing.T) {
	for _, tc := range []struct {
		err   error
		state scanner.State
		text  string
	}{
		{scanner.ErrPermission, scanner.Failed, "No permission to open scanner fake:1"},
		{scanner.ErrBusy, scanner.Failed, "in use by another program"},
		{scanner.ErrNotFound, scanner.Disconnected, "is not connected: plug it in"},
		{errors.New("weird"), scanner.Failed, "failed (weird: open /dev/x); reconnecting"},
	} {
		t.Run(tc.text, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				drvErr := errorsJoin(tc.err, errors.New("open /dev/x"))
				drv := scannertest.NewDriver("fake")
				drv.FailOpen(drvErr, drvErr)
				r := startWith(t, drv, []string{"fake:1"})
				// Never connected yet: the trouble shows at once.
				ev := r.expectStatus(tc.state, tc.text)
				if !errors.Is(ev.Err, tc.err) {
					t.Errorf("status err %v", ev.Err)
				}
				r.source()
				r.expectStatus(scanner.Connected, "is ready")
				r.stop()
			})
		})
	}
}

func TestManagerAttach(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, nil)
		src := scannertest.NewSource()
		if err := r.m.Attach("wedge", src, scanner.FrameConfig{}); err != nil {
			t.Fatal(err)
		}
		r.expectStatus(scanner.Connected, "Scanner wedge is ready")
		src.Push(scanner.Chunk{Data: []byte("ABC123"), Framed: true, Symbology: scanner.Code128})
		if ev := r.expectScan("ABC123", scanner.NotArmed); ev.Scan.Symbology != scanner.Code128 {
			t.Errorf("symbology %s", ev.Scan.Symbology)
		}
		src.Disconnect()
		r.expectStatus(scanner.Disconnected, "Scanner wedge was disconnected")
		r.quiet(time.Minute) // an attached source is not reopened
		r.stop()
		if err := r.m.Attach("late", scannertest.NewSource(), scanner.FrameConfig{}); !errors.Is(err, scanner.ErrManagerDone) {
			t.Errorf("Attach after stop: %v", err)
		}
		if err := r.m.Run(t.Context()); !errors.Is(err, scanner.ErrManagerDone) {
			t.Errorf("second Run: %v", err)
		}
	})
}

func TestManagerShutdownWhileBlocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A device failing to open, a slow consumer and a pending idle
		// timer: cancel must still end everything.
		drv := scannertest.NewDriver("fake")
		drv.FailOpen(scanner.ErrBusy, scanner.ErrBusy, scanner.ErrBusy)
		r := startWith(t, drv, []string{"fake:1?suffix=none", "fake:2"}, scanner.WithEventBuffer(0))
		synctest.Wait()
		r.cancel()
		r.stop()
	})
}

func TestNewManagerErrors(t *testing.T) {
	drv := scannertest.NewDriver("fake")
	for addr, want := range map[string]error{
		"":                       scanner.ErrAddress,
		"nosuchscheme:/dev/x":    scanner.ErrNoDriver,
		"fake:1?suffix=sometime": scanner.ErrAddress,
		"fake:1?maxlen=-3":       scanner.ErrAddress,
	} {
		if _, err := scanner.NewManager([]string{addr}, scanner.WithDrivers(drv)); !errors.Is(err, want) {
			t.Errorf("%q: err %v, want %v", addr, err, want)
		}
	}
}

type offsetClock struct {
	scanner.SystemClock
	off time.Duration
}

func (c offsetClock) Now() time.Time { return time.Now().Add(c.off) }

func TestManagerUsesInjectedClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, []string{"fake:1"}, scanner.WithClock(offsetClock{off: 24 * time.Hour}))
		src := r.source()
		ev := r.next()
		if d := ev.Time.Sub(time.Now()); d != 24*time.Hour {
			t.Errorf("event time off by %v, want the injected clock's 24h", d)
		}
		src.Type("x\r")
		if ev := r.next(); ev.Scan.Delivered.Sub(time.Now()) != 24*time.Hour {
			t.Errorf("Delivered %v", ev.Scan.Delivered)
		}
		r.stop()
	})
}

func TestBackoff(t *testing.T) {
	b := scanner.Backoff{Min: 100 * time.Millisecond, Max: time.Second, Jitter: noJitter}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if d := b.Delay(i); d != w*time.Millisecond {
			t.Errorf("Delay(%d) = %v, want %v", i, d, w*time.Millisecond)
		}
	}
	b.Jitter = func() float64 { return 0 }
	if d := b.Delay(3); d != 400*time.Millisecond {
		t.Errorf("full jitter Delay(3) = %v, want half of 800ms", d)
	}
	b.Jitter = nil
	for range 100 {
		if d := b.Delay(100); d < 500*time.Millisecond || d > time.Second {
			t.Fatalf("random jitter gave %v", d)
		}
	}
}
