package serial

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bugst "go.bug.st/serial"
	"go.bug.st/serial/enumerator"

	"tillpay/scanner"
)

// readPaths runs f with a driver constructor for each way a source reads:
// through the polled descriptor (the default) and through go.bug.st/serial.
func readPaths(t *testing.T, f func(t *testing.T, newDriver func(...Option) *Driver)) {
	t.Run("polled", func(t *testing.T) { f(t, New) })
	t.Run("library", func(t *testing.T) {
		f(t, func(opts ...Option) *Driver {
			d := New(opts...)
			d.portReads = true
			return d
		})
	})
}

func TestRegistered(t *testing.T) {
	d, err := scanner.Lookup("serial")
	if err != nil {
		t.Fatal(err)
	}
	if d.Scheme() != "serial" {
		t.Fatalf("scheme %q", d.Scheme())
	}
}

func TestBytesArriveAsChunks(t *testing.T) {
	readPaths(t, func(t *testing.T, newDriver func(...Option) *Driver) {
		master, path := newPty(t)
		src := openSource(t, newDriver(), "serial:"+path+"?baud=115200&suffix=cr")

		before := time.Now()
		want := []byte("6225880137512345\r")
		if _, err := master.Write(want); err != nil {
			t.Fatal(err)
		}
		got, chunks := readN(t, src, len(want))
		after := time.Now()
		if !bytes.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
		for _, c := range chunks {
			if c.Framed {
				t.Error("serial chunk marked Framed")
			}
			if c.At.Before(before) || c.At.After(after) {
				t.Errorf("At %v outside [%v, %v]", c.At, before, after)
			}
		}
	})
}

func TestClockStampsChunks(t *testing.T) {
	master, path := newPty(t)
	stamp := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	src := openSource(t, New(WithClock(func() time.Time { return stamp })), "serial:"+path)
	master.Write([]byte("x"))
	_, chunks := readN(t, src, 1)
	if !chunks[0].At.Equal(stamp) {
		t.Fatalf("At = %v, want the injected clock's %v", chunks[0].At, stamp)
	}
}

// Every byte value must pass unchanged: NUL, XON/XOFF, ^C, CR, LF, DEL and
// 8-bit bytes are data to a scan gun, not terminal controls.
func TestLineNoiseIsByteExact(t *testing.T) {
	readPaths(t, func(t *testing.T, newDriver func(...Option) *Driver) {
		master, path := newPty(t)
		src := openSource(t, newDriver(), "serial:"+path)
		var want []byte
		for i := 0; i < 4; i++ {
			for b := 0; b < 256; b++ {
				want = append(want, byte(b))
			}
		}
		want = append(want, 0, 0, 0, 0x11, 0x13, 0x03, 0x1a, 0x04, 0x0d, 0x0a, 0x00)
		if _, err := master.Write(want); err != nil {
			t.Fatal(err)
		}
		got, _ := readN(t, src, len(want))
		if !bytes.Equal(got, want) {
			t.Fatalf("bytes changed on the way:\n got %x\nwant %x", got, want)
		}
	})
}

func TestFixtureStreams(t *testing.T) {
	text, err := os.ReadFile("../../testdata/fixtures/serial.txt")
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := parseFixtures(string(text))
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, b := range blocks {
		if b.header("direction") == "host-to-scanner" {
			continue
		}
		id := b.header("id")
		t.Run(id, func(t *testing.T) {
			// What the scanner sends: the stream, or the scanner lines
			// of an exchange.
			var pieces [][]byte
			if len(b.exchange) > 0 {
				for _, l := range b.exchange {
					if l.label == "scanner" {
						pieces = append(pieces, l.data)
					}
				}
			} else {
				rest := b.stream
				for _, n := range chunkSizes(b.header("chunks")) {
					if n == 0 || n > len(rest) {
						continue
					}
					pieces = append(pieces, rest[:n])
					rest = rest[n:]
				}
				if len(rest) > 0 {
					pieces = append(pieces, rest)
				}
			}
			var want []byte
			for _, p := range pieces {
				want = append(want, p...)
			}
			if len(want) == 0 {
				t.Fatal("fixture block has no scanner bytes")
			}
			master, path := newPty(t)
			src := openSource(t, New(), "serial:"+path+"?baud=9600")
			var got []byte
			for _, p := range pieces {
				if _, err := master.Write(p); err != nil {
					t.Fatal(err)
				}
				// Wait for each piece, so the reads keep the
				// recorded boundaries.
				g, chunks := readN(t, src, len(p))
				if len(chunks) != 1 {
					t.Logf("piece %q arrived in %d reads", p, len(chunks))
				}
				got = append(got, g...)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got %x, want %x", got, want)
			}
		})
		ran++
	}
	if ran < 4 {
		t.Fatalf("only %d scanner streams in the fixture file", ran)
	}
}

func TestUnplugCutsFrame(t *testing.T) {
	readPaths(t, func(t *testing.T, newDriver func(...Option) *Driver) {
		master, path := newPty(t)
		src := openSource(t, newDriver(), "serial:"+path)
		// Half a payment code, then the cable is pulled.
		master.Write([]byte("13452"))
		got, _ := readN(t, src, 5)
		if string(got) != "13452" {
			t.Fatalf("got %q", got)
		}
		master.Close()
		err := nextErr(t, src)
		if !errors.Is(err, scanner.ErrDisconnected) {
			t.Fatalf("error %v does not wrap ErrDisconnected", err)
		}
		// The library's own error is kept.
		var pe *bugst.PortError
		if !errors.As(err, &pe) && !errors.Is(err, syscall.EIO) && !errors.Is(err, io.EOF) {
			t.Errorf("error %v keeps no cause (PortError, EIO or EOF)", err)
		}
		// Still disconnected on the next call, and Close works twice.
		if _, err := src.Next(context.Background()); !errors.Is(err, scanner.ErrDisconnected) {
			t.Errorf("second Next: %v", err)
		}
		if err := src.Close(); err != nil {
			t.Errorf("Close after unplug: %v", err)
		}
		if err := src.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

// A code cut by an unplug reaches the framer as an incomplete code, with
// its raw bytes and the disconnect as the cause; the whole code before it
// is delivered.
func TestFramerSeesFrameCutByUnplug(t *testing.T) {
	readPaths(t, func(t *testing.T, newDriver func(...Option) *Driver) {
		master, path := newPty(t)
		addr := mustAddr(t, "serial:"+path+"?suffix=cr")
		cfg, err := scanner.ParseFrameConfig(addr.Params)
		if err != nil {
			t.Fatal(err)
		}
		src, err := newDriver().Open(context.Background(), addr)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		f := scanner.NewFramer(addr.Raw, cfg)
		var scans []scanner.Scan
		var errs []error
		emit := func(s scanner.Scan, err error) {
			if err != nil {
				errs = append(errs, err)
				return
			}
			scans = append(scans, s)
		}

		sent := "134523456789012345\r28123"
		master.Write([]byte(sent))
		n := 0
		for n < len(sent) {
			c, err := src.Next(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			n += len(c.Data)
			f.Feed(c, emit)
		}
		master.Close()
		err = nextErr(t, src)
		if !errors.Is(err, scanner.ErrDisconnected) {
			t.Fatalf("got %v", err)
		}
		f.Break(err, emit)

		if len(scans) != 1 || scans[0].Label != "134523456789012345" {
			t.Fatalf("scans %+v", scans)
		}
		var fe *scanner.FrameError
		if len(errs) != 1 || !errors.As(errs[0], &fe) {
			t.Fatalf("errors %v", errs)
		}
		if string(fe.Raw) != "28123" || !errors.Is(fe, scanner.ErrIncomplete) || !errors.Is(fe, scanner.ErrDisconnected) {
			t.Fatalf("cut code: raw %q, err %v", fe.Raw, fe)
		}
	})
}

func TestReplugUnderSameLink(t *testing.T) {
	link := filepath.Join(t.TempDir(), "scanner")
	m1, p1 := newPty(t)
	linkTo(t, link, p1)
	d := New()
	addr := "serial:" + link + "?baud=115200"

	src := openSource(t, d, addr)
	m1.Write([]byte("first\r"))
	if got, _ := readN(t, src, 6); string(got) != "first\r" {
		t.Fatalf("got %q", got)
	}
	// The device comes back as a new terminal (allocated while the old
	// one still exists, so it gets a new name) behind the same link.
	m2, p2 := newPty(t)
	if p2 == p1 {
		t.Fatalf("the new terminal reused %s", p1)
	}
	m1.Close()
	if err := nextErr(t, src); !errors.Is(err, scanner.ErrDisconnected) {
		t.Fatalf("unplug: %v", err)
	}
	src.Close()

	// While unplugged, the link points nowhere.
	os.Remove(link)
	if _, err := d.Open(context.Background(), mustAddr(t, addr)); !errors.Is(err, scanner.ErrNotFound) {
		t.Fatalf("open while unplugged: %v", err)
	}
	linkTo(t, link, p2)
	src2 := openSource(t, d, addr)
	m2.Write([]byte("second\r"))
	if got, _ := readN(t, src2, 7); string(got) != "second\r" {
		t.Fatalf("after replug got %q", got)
	}
}

func TestOpenByUSBResolvesOnEachOpen(t *testing.T) {
	m1, p1 := newPty(t)
	current := p1
	lister := func() ([]*enumerator.PortDetails, error) {
		return []*enumerator.PortDetails{
			{Name: "/dev/ttyS0"},
			{Name: current, IsUSB: true, VID: "0C2E", PID: "0B61", SerialNumber: "ABC123", Product: "Xenon 1900"},
			{Name: "/dev/ttyUSB7", IsUSB: true, VID: "1A86", PID: "7523"},
		}, nil
	}
	d := New(WithPortLister(lister))

	for _, addr := range []string{"serial:usb=0c2e:0b61", "serial:usb=0C2E:0B61&serial=ABC123", "serial:usb=0c2e:0b61?serial=ABC123&baud=115200"} {
		src := openSource(t, d, addr)
		m1.Write([]byte("ok"))
		if got, _ := readN(t, src, 2); string(got) != "ok" {
			t.Fatalf("%s: got %q", addr, got)
		}
		src.Close()
	}

	if _, err := d.Open(context.Background(), mustAddr(t, "serial:usb=0c2e:0b61&serial=OTHER")); !errors.Is(err, scanner.ErrNotFound) {
		t.Errorf("other serial number: %v", err)
	}
	if _, err := d.Open(context.Background(), mustAddr(t, "serial:usb=05e0:1200")); !errors.Is(err, scanner.ErrNotFound) {
		t.Errorf("absent device: %v", err)
	}

	// Replug: same device, new name.
	m2, p2 := newPty(t)
	m1.Close()
	if p2 == p1 {
		t.Fatalf("the new terminal reused %s", p1)
	}
	current = p2
	src := openSource(t, d, "serial:usb=0c2e:0b61")
	m2.Write([]byte("back"))
	if got, _ := readN(t, src, 4); string(got) != "back" {
		t.Fatalf("after replug got %q", got)
	}
}

func TestOpenByUSBAmbiguous(t *testing.T) {
	d := New(WithPortLister(func() ([]*enumerator.PortDetails, error) {
		return []*enumerator.PortDetails{
			{Name: "/dev/ttyACM1", IsUSB: true, VID: "0c2e", PID: "0b61", SerialNumber: "B"},
			{Name: "/dev/ttyACM0", IsUSB: true, VID: "0c2e", PID: "0b61", SerialNumber: "A"},
		}, nil
	}))
	_, err := d.Open(context.Background(), mustAddr(t, "serial:usb=0c2e:0b61"))
	if !errors.Is(err, scanner.ErrAddress) || !strings.Contains(err.Error(), "/dev/ttyACM0, /dev/ttyACM1") {
		t.Fatalf("got %v", err)
	}
}

func TestOpenByUSBListerFails(t *testing.T) {
	boom := errors.New("sysfs unreadable")
	d := New(WithPortLister(func() ([]*enumerator.PortDetails, error) { return nil, boom }))
	if _, err := d.Open(context.Background(), mustAddr(t, "serial:usb=0c2e:0b61")); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	d := New()
	ctx := context.Background()

	_, err := d.Open(ctx, mustAddr(t, "serial:"+filepath.Join(t.TempDir(), "ttyACM9")))
	if !errors.Is(err, scanner.ErrNotFound) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing port: %v", err)
	}

	// A regular file is not a serial port.
	file := filepath.Join(t.TempDir(), "notatty")
	os.WriteFile(file, []byte("x"), 0o600)
	_, err = d.Open(ctx, mustAddr(t, "serial:"+file))
	var pe *bugst.PortError
	if err == nil || !errors.As(err, &pe) || pe.Code() != bugst.InvalidSerialPort {
		t.Errorf("regular file: %v", err)
	}
	for _, sentinel := range []error{scanner.ErrNotFound, scanner.ErrBusy, scanner.ErrPermission, scanner.ErrDisconnected} {
		if errors.Is(err, sentinel) {
			t.Errorf("regular file: %v wraps %v", err, sentinel)
		}
	}

	// Bad line settings change nothing and say why.
	_, path := newPty(t)
	for _, q := range []string{"baud=fast", "databits=9", "parity=sideways", "stopbits=1.5"} {
		_, err := d.Open(ctx, mustAddr(t, "serial:"+path+"?"+q))
		if !errors.Is(err, scanner.ErrAddress) {
			t.Errorf("%s: %v", q, err)
		}
	}
	// The port is still free after the rejected opens.
	src := openSource(t, d, "serial:"+path)
	src.Close()

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Open(cctx, mustAddr(t, "serial:"+path)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	if _, err := d.Open(ctx, mustAddr(t, "hid:"+path)); !errors.Is(err, scanner.ErrAddress) {
		t.Errorf("other scheme: %v", err)
	}
}

func TestOpenIsExclusive(t *testing.T) {
	master, path := newPty(t)
	d := New()
	first := openSource(t, d, "serial:"+path+"?baud=115200")
	_, err := d.Open(context.Background(), mustAddr(t, "serial:"+path+"?baud=1200"))
	if !errors.Is(err, scanner.ErrBusy) {
		t.Fatalf("second open: %v", err)
	}
	// The refused open did not disturb the first: bytes still flow.
	master.Write([]byte("still mine"))
	if got, _ := readN(t, first, 10); string(got) != "still mine" {
		t.Fatalf("got %q", got)
	}
	first.Close()
	second := openSource(t, d, "serial:"+path)
	master.Write([]byte("now yours"))
	if got, _ := readN(t, second, 9); string(got) != "now yours" {
		t.Fatalf("got %q", got)
	}
}

func TestOpenErrorMapping(t *testing.T) {
	pathErr := func(e syscall.Errno) error { return &fs.PathError{Op: "open", Path: "/dev/ttyACM0", Err: e} }
	cases := []struct {
		err  error
		want error
	}{
		{pathErr(syscall.ENOENT), scanner.ErrNotFound},
		{pathErr(syscall.ENXIO), scanner.ErrNotFound},
		{pathErr(syscall.ENODEV), scanner.ErrNotFound},
		{pathErr(syscall.EACCES), scanner.ErrPermission},
		{pathErr(syscall.EPERM), scanner.ErrPermission},
		{pathErr(syscall.EBUSY), scanner.ErrBusy},
		{syscall.EWOULDBLOCK, scanner.ErrBusy},
		{&bugst.PortError{}, scanner.ErrBusy}, // the zero code is PortBusy
	}
	for _, c := range cases {
		got := openError("/dev/ttyACM0", c.err)
		if !errors.Is(got, c.want) || !errors.Is(got, c.err) {
			t.Errorf("openError(%v) = %v, want it to wrap %v and the cause", c.err, got, c.want)
		}
	}
}

func TestCloseWhileNextBlocks(t *testing.T) {
	readPaths(t, func(t *testing.T, newDriver func(...Option) *Driver) {
		_, path := newPty(t)
		base := runtimeGoroutines()
		src, err := newDriver().Open(context.Background(), mustAddr(t, "serial:"+path))
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			_, err := src.Next(context.Background())
			errc <- err
		}()
		if err := src.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("Next after Close: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Next still blocked after Close")
		}
		if err := src.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		waitGoroutines(t, base)
	})
}

// Unread bytes do not hold Close up, and a chunk is at most the buffer size.
func TestCloseWithUnreadBytes(t *testing.T) {
	master, path := newPty(t)
	base := runtimeGoroutines()
	src, err := New(WithBufferSize(1)).Open(context.Background(), mustAddr(t, "serial:"+path))
	if err != nil {
		t.Fatal(err)
	}
	master.Write(bytes.Repeat([]byte{'7'}, 200))
	got, chunks := readN(t, src, 3)
	if string(got) != "777" || len(chunks) != 3 {
		t.Fatalf("got %q in %d chunks", got, len(chunks))
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	waitGoroutines(t, base)
}

func TestDefaultReadsArePolled(t *testing.T) {
	_, path := newPty(t)
	src := openSource(t, New(), "serial:"+path)
	if !src.(*source).polled {
		t.Fatal("a pseudo-terminal is pollable, but the source reads through blocking calls")
	}
}

func TestNextHonoursContext(t *testing.T) {
	readPaths(t, func(t *testing.T, newDriver func(...Option) *Driver) {
		master, path := newPty(t)
		// A short read timeout: the reader wakes up empty many times while
		// Next waits, and none of that may surface as data or as an end.
		src := openSource(t, newDriver(WithReadTimeout(time.Millisecond)), "serial:"+path)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		c, err := src.Next(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Next with nothing sent: chunk %q, err %v", c.Data, err)
		}
		master.Write([]byte("late\r"))
		if got, _ := readN(t, src, 5); string(got) != "late\r" {
			t.Fatalf("got %q", got)
		}
	})
}
