package sim_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"tillpay/drivers/sim"
	"tillpay/scanner"
)

var quiet = slog.New(slog.DiscardHandler)

// run starts a Manager and returns a function that waits for the next
// event that is not a "connected" status.
func run(t *testing.T, addrs []string, opts ...scanner.Option) (*scanner.Manager, func() scanner.Event) {
	t.Helper()
	opts = append([]scanner.Option{scanner.WithLogger(quiet)}, opts...)
	m, err := scanner.NewManager(addrs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		for range m.Events() {
		}
		<-done
	})
	next := func() scanner.Event {
		t.Helper()
		for {
			select {
			case ev := <-m.Events():
				if ev.Kind == scanner.EventStatus && ev.State == scanner.Connected {
					continue
				}
				return ev
			case <-time.After(10 * time.Second):
				t.Fatal("no event within 10s")
			}
		}
	}
	return m, next
}

func wantScan(t *testing.T, ev scanner.Event, label string) {
	t.Helper()
	if ev.Kind != scanner.EventScan || ev.Scan.Label != label {
		t.Fatalf("got %v %q (%s), want scan %q", ev.Kind, ev.Scan.Label, ev.Detail, label)
	}
}

func TestTCP(t *testing.T) {
	bound := make(chan net.Addr, 1)
	drv := sim.NewDriver(sim.WithLogger(quiet), sim.OnListen(func(_ string, a net.Addr) { bound <- a }))
	_, next := run(t, []string{"sim:tcp=127.0.0.1:0?suffix=cr"}, scanner.WithDrivers(drv), scanner.WithRescanWindow(0))
	var addr net.Addr
	select {
	case addr = <-bound:
	case <-time.After(10 * time.Second):
		t.Fatal("not listening")
	}
	send := func(parts ...string) {
		t.Helper()
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, p := range parts {
			if _, err := c.Write([]byte(p)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond) // separate reads, well within the idle time
		}
	}
	send("]Q11345678", "90123456789\r", "]C0287634438256643940\r")
	ev := next()
	wantScan(t, ev, "134567890123456789")
	if ev.Scan.Symbology != scanner.QR || string(ev.Scan.Raw) != "]Q1134567890123456789\r" {
		t.Errorf("scan %+v", ev.Scan)
	}
	wantScan(t, next(), "287634438256643940")

	// A connection that closes mid-code: reported, never joined to the next.
	send("1234")
	if ev := next(); ev.Kind != scanner.EventBadScan || !errors.Is(ev.Err, scanner.ErrIncomplete) {
		t.Fatalf("got %v %v, want an incomplete code", ev.Kind, ev.Err)
	}
	send("5678\r")
	wantScan(t, next(), "5678")
}

func TestTCPSourceClose(t *testing.T) {
	src, err := sim.ListenTCP(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := src.Next(context.Background())
		errc <- err
	}()
	c, err := net.Dial("tcp", src.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	src.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, scanner.ErrDisconnected) {
			t.Errorf("Next after Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end a blocked Next")
	}
	if err := src.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// The port is taken by someone else: busy.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := sim.ListenTCP(context.Background(), ln.Addr().String()); !errors.Is(err, scanner.ErrBusy) {
		t.Errorf("listen on a used port: %v, want ErrBusy", err)
	}
}

func TestPipe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scanner.fifo")
	_, next := run(t, []string{"sim:pipe=" + path + "?suffix=lf"}, scanner.WithRescanWindow(0))
	// The driver creates the pipe; wait for it, then write as "echo" would.
	deadline := time.Now().Add(10 * time.Second)
	for {
		fi, err := os.Stat(path)
		if err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("named pipe not created: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, code := range []string{"120061098828009406", "289431869362714645"} {
		w, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(code + "\r\n")); err != nil {
			t.Fatal(err)
		}
		w.Close() // writers come and go; the stream goes on
		wantScan(t, next(), code)
	}
}

func TestPipeNotAFifo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.OpenPipe(path); !errors.Is(err, scanner.ErrAddress) {
		t.Errorf("regular file: %v", err)
	}
	if _, err := sim.OpenPipe(filepath.Join(t.TempDir(), "no", "dir", "fifo")); !errors.Is(err, scanner.ErrNotFound) {
		t.Errorf("missing directory: %v", err)
	}
}

func TestBadTargets(t *testing.T) {
	drv := sim.NewDriver(sim.WithLogger(quiet))
	for target, want := range map[string]error{
		"sim:bogus":         scanner.ErrAddress,
		"sim:tcp=":          scanner.ErrAddress,
		"sim:pipe=":         scanner.ErrAddress,
		"sim:inproc=absent": scanner.ErrNotFound,
	} {
		addr, _ := scanner.ParseAddress(target)
		if _, err := drv.Open(context.Background(), addr); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", target, err, want)
		}
	}
	if !strings.Contains(strings.Join(scanner.Drivers(), ","), "sim") {
		t.Errorf("sim not registered: %v", scanner.Drivers())
	}
}

func TestInProcessUnplugReplug(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gun, err := sim.NewInProcess(sim.Name("till-a"))
		if err != nil {
			t.Fatal(err)
		}
		defer gun.Close()
		if _, err := sim.NewInProcess(sim.Name("till-a")); !errors.Is(err, scanner.ErrBusy) {
			t.Errorf("duplicate name: %v", err)
		}
		m, err := scanner.NewManager([]string{gun.Address()}, scanner.WithLogger(quiet),
			scanner.WithBackoff(scanner.Backoff{Min: 100 * time.Millisecond, Max: time.Second, Jitter: func() float64 { return 1 }}))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		go m.Run(ctx)
		next := func() scanner.Event { return <-m.Events() }
		if ev := next(); ev.State != scanner.Connected {
			t.Fatalf("got %+v", ev)
		}
		// The gun is claimed: a second open is refused as busy.
		addr, _ := scanner.ParseAddress(gun.Address())
		if _, err := sim.NewDriver().Open(ctx, addr); !errors.Is(err, scanner.ErrBusy) {
			t.Errorf("second open: %v", err)
		}
		m.Arm()
		gun.Type("134567890123456789")
		if ev := next(); !ev.ForPayment() || ev.Scan.Label != "134567890123456789" {
			t.Fatalf("got %+v", ev)
		}
		gun.Write([]byte("1234")) // cut by the unplug
		synctest.Wait()
		gun.Unplug()
		if ev := next(); ev.Kind != scanner.EventBadScan {
			t.Fatalf("got %v %q, want the cut code reported", ev.Kind, ev.Detail)
		}
		if err := gun.Type("x"); !errors.Is(err, scanner.ErrDisconnected) {
			t.Errorf("Type while unplugged: %v", err)
		}
		ev := next()
		if ev.State != scanner.Disconnected || ev.Detail != "Scanner sim:inproc=till-a was unplugged; reconnecting" {
			t.Fatalf("got %v %q", ev.State, ev.Detail)
		}
		gun.Plug()
		if ev := next(); ev.State != scanner.Connected || !strings.Contains(ev.Detail, "is back") {
			t.Fatalf("got %v %q", ev.State, ev.Detail)
		}
		gun.Type("5678")
		if ev := next(); ev.Scan.Label != "5678" || ev.ForPayment() {
			t.Fatalf("got %+v", ev)
		}
		cancel()
		for range m.Events() {
		}
	})
}
