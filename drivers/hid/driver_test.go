package hid

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"tillpay/scanner"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestDriver(devs ...*ReplayDevice) *Driver {
	return New(WithBackend(NewReplay(devs...)), WithLogger(quietLogger()))
}

func mustAddr(t testing.TB, s string) scanner.Address {
	t.Helper()
	a, err := scanner.ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func openSource(t testing.TB, d *Driver, addr string) *Source {
	t.Helper()
	src, err := d.Open(context.Background(), mustAddr(t, addr))
	if err != nil {
		t.Fatalf("Open %s: %v", addr, err)
	}
	return src.(*Source)
}

func nextCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or a deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

var honeywell = DeviceInfo{VendorID: 0x0c2e, ProductID: 0x0b61, Serial: "15232B1F0C", Product: "Voyager 1602g", Interface: 0, Path: "0001:0004:00"}

func TestRegistered(t *testing.T) {
	d, err := scanner.Lookup("hid")
	if err != nil || d.Scheme() != Scheme {
		t.Fatalf("Lookup: %v %v", d, err)
	}
}

func TestParseConfig(t *testing.T) {
	good := []struct {
		addr string
		want config
	}{
		{"hid:0c2e:0b61", config{vid: 0x0c2e, pid: 0x0b61, mode: ModeKeyboard, iface: -1}},
		{"hid:0c2e:0b61?mode=pos", config{vid: 0x0c2e, pid: 0x0b61, mode: ModePOS, profile: ProfileHoneywell, iface: -1}},
		{"hid:1EAB:1D10?mode=pos", config{vid: 0x1eab, pid: 0x1d10, mode: ModePOS, profile: ProfileNewland, iface: -1}},
		{"hid:05e0:0600?mode=pos", config{vid: 0x05e0, pid: 0x0600, mode: ModePOS, profile: ProfileGeneric, iface: -1}},
		{"hid:0c2e:0b61?mode=pos&profile=newland&serial=ABC&interface=1&suffix=cr",
			config{vid: 0x0c2e, pid: 0x0b61, mode: ModePOS, profile: ProfileNewland, serial: "ABC", hasSerial: true, iface: 1}},
	}
	for _, tc := range good {
		got, err := parseConfig(mustAddr(t, tc.addr))
		if err != nil || got != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v", tc.addr, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"hid:", "hid:0c2e", "hid:0000:0001", "hid:zzzz:0001", "hid:10000:1", "serial:0c2e:0b61",
		"hid:0c2e:0b61?mode=hybrid", "hid:0c2e:0b61?mode=pos&profile=zebra",
		"hid:0c2e:0b61?profile=honeywell", "hid:0c2e:0b61?interface=x", "hid:0c2e:0b61?interface=-1",
	} {
		if _, err := parseConfig(mustAddr(t, bad)); !errors.Is(err, scanner.ErrAddress) {
			t.Errorf("%s: err %v, want ErrAddress", bad, err)
		}
	}
}

// TestDriverKeyboardReplay plays kbd-nodehid-323 through a device whose
// IDs come from the Zebra DS6708 device descriptor of block
// devdesc-espidf-12552-zebra-ds6708 (idVendor at bytes 8-9, idProduct at
// 10-11, little-endian), then unplugs it.
func TestDriverKeyboardReplay(t *testing.T) {
	var desc []byte
	var reports [][]byte
	for _, b := range loadFixtures(t, "hid-keyboard.txt") {
		switch b.ID {
		case "devdesc-espidf-12552-zebra-ds6708":
			desc = hexLine(t, b.Lines[0])
		case "kbd-nodehid-323":
			reports = keyboardReports(t, b)
		}
	}
	info := DeviceInfo{VendorID: uint16(desc[8]) | uint16(desc[9])<<8, ProductID: uint16(desc[10]) | uint16(desc[11])<<8, Path: "0003:0007:00"}
	if info.VendorID != 0x05e0 || info.ProductID != 0x1200 {
		t.Fatalf("descriptor IDs %04x:%04x", info.VendorID, info.ProductID)
	}
	dev := NewReplayDevice(info, reports...)
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	drv := New(WithBackend(NewReplay(dev)), WithLogger(quietLogger()), WithClock(func() time.Time { return at }))
	src := openSource(t, drv, "hid:05e0:1200")
	defer src.Close()

	var text []byte
	for len(text) < len("6957842208856\r") {
		c, err := src.Next(nextCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if c.Framed || !c.At.Equal(at) {
			t.Fatalf("chunk %+v", c)
		}
		text = append(text, c.Data...)
	}
	if string(text) != "6957842208856\r" {
		t.Fatalf("got %q", text)
	}
	dev.Unplug()
	_, err := src.Next(nextCtx(t))
	if !errors.Is(err, scanner.ErrDisconnected) {
		t.Fatalf("after unplug: %v", err)
	}
	if _, err2 := src.Next(nextCtx(t)); !errors.Is(err2, scanner.ErrDisconnected) {
		t.Fatalf("second Next after unplug: %v", err2)
	}
	_, closes, open, _ := dev.Stats()
	if open || closes != 1 || dev.CloseRaced() {
		t.Fatalf("device open=%v closes=%d raced=%v", open, closes, dev.CloseRaced())
	}
}

func TestDriverPOSReplay(t *testing.T) {
	dev := NewReplayDevice(honeywell, blockReports(t, posBlock(t, "pos-honeywell-revinf-response"))...)
	src := openSource(t, newTestDriver(dev), "hid:0c2e:0b61?mode=pos")
	defer src.Close()
	for _, want := range []struct{ data, aim string }{{revinfText, "]X0"}, {revinfEcho, "]Z6"}} {
		c, err := src.Next(nextCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if !c.Framed || string(c.Data) != want.data || c.AIM != want.aim || c.Symbology != scanner.Unknown || c.At.IsZero() {
			t.Fatalf("chunk %+v, want %q %q", c, want.data, want.aim)
		}
	}
}

// TestDriverPOSDisconnectMidMessage: a message cut by an unplug is an
// error wrapping both ErrDisconnected and ErrTruncated, never a code.
func TestDriverPOSDisconnectMidMessage(t *testing.T) {
	revinf := blockReports(t, posBlock(t, "pos-honeywell-revinf-response"))
	dev := NewReplayDevice(honeywell, revinf[:3]...)
	src := openSource(t, newTestDriver(dev), "hid:0c2e:0b61?mode=pos")
	defer src.Close()
	dev.Unplug()
	c, err := src.Next(nextCtx(t))
	if !errors.Is(err, scanner.ErrDisconnected) || !errors.Is(err, ErrTruncated) {
		t.Fatalf("got %q, %v", c.Data, err)
	}
}

// TestDriverCloseDuringRead: Close while the reader sits in a blocking
// Read must not close the device under it. The device is closed by the
// reader once that Read returns.
func TestDriverCloseDuringRead(t *testing.T) {
	dev := NewReplayDevice(honeywell)
	src := openSource(t, newTestDriver(dev), "hid:0c2e:0b61")
	<-dev.ReadStarted()

	nextErr := make(chan error, 1)
	go func() {
		_, err := src.Next(context.Background())
		nextErr <- err
	}()
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-nextErr; !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	if err := src.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, open, _ := dev.Stats(); !open {
		t.Fatal("device closed under a Read in flight")
	}
	dev.Feed(rep(0, 0x21)) // the Read returns; no one wants the report
	eventually(t, "device closed", func() bool { _, c, open, _ := dev.Stats(); return !open && c == 1 })
	if dev.CloseRaced() {
		t.Fatal("Close raced a Read")
	}
}

// TestDriverReopenParked: an Open while the closed source's Read is
// still in flight reuses the open handle, and reports read after it go to
// the new source only.
func TestDriverReopenParked(t *testing.T) {
	dev := NewReplayDevice(honeywell)
	drv := newTestDriver(dev)
	old := openSource(t, drv, "hid:0c2e:0b61")
	<-dev.ReadStarted()
	old.Close()
	src := openSource(t, drv, "hid:0c2e:0b61")
	defer src.Close()
	dev.Feed(rep(0, 0x21), rep(0))
	c, err := src.Next(nextCtx(t))
	if err != nil || string(c.Data) != "4" {
		t.Fatalf("got %q, %v", c.Data, err)
	}
	if opens, closes, open, _ := dev.Stats(); opens != 1 || closes != 0 || !open {
		t.Fatalf("opens=%d closes=%d open=%v", opens, closes, open)
	}
	if _, err := drv.Open(context.Background(), mustAddr(t, "hid:0c2e:0b61")); !errors.Is(err, scanner.ErrBusy) {
		t.Fatalf("second concurrent Open: %v", err)
	}
	if _, err := old.Next(nextCtx(t)); !errors.Is(err, ErrClosed) {
		t.Fatalf("old source: %v", err)
	}
}

// TestDriverCloseWithFullQueue: a source that stops calling Next leaves
// the reader waiting to deliver, not reading, so Close releases the
// device at once.
func TestDriverCloseWithFullQueue(t *testing.T) {
	reports := make([][]byte, 0, 2*queueLen)
	for range queueLen {
		reports = append(reports, rep(0, 0x21), rep(0))
	}
	dev := NewReplayDevice(honeywell, reports...)
	src := openSource(t, newTestDriver(dev), "hid:0c2e:0b61")
	eventually(t, "queue full", func() bool { _, _, _, q := dev.Stats(); return q < len(reports)-queueLen })
	src.Close()
	eventually(t, "device closed", func() bool { _, c, open, _ := dev.Stats(); return !open && c == 1 })
	if dev.CloseRaced() {
		t.Fatal("Close raced a Read")
	}
}

func TestDriverNextContext(t *testing.T) {
	dev := NewReplayDevice(honeywell)
	src := openSource(t, newTestDriver(dev), "hid:0c2e:0b61")
	defer src.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := src.Next(ctx); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Next: %v", err)
	}
	dev.Feed(rep(0, 0x1e), rep(0))
	if c, err := src.Next(nextCtx(t)); err != nil || string(c.Data) != "1" {
		t.Fatalf("after a cancelled Next: %q %v", c.Data, err)
	}
}

func TestDriverOpenErrors(t *testing.T) {
	second := honeywell
	second.Interface, second.Path = 1, "0001:0004:01"
	other := honeywell
	other.Serial, other.Path = "OTHER", "0001:0005:00"
	denied := NewReplayDevice(DeviceInfo{VendorID: 0x1eab, ProductID: 0x1d10, Path: "0002:0002:00"})
	denied.OpenErr = scanner.ErrPermission
	drv := newTestDriver(NewReplayDevice(honeywell), NewReplayDevice(second), NewReplayDevice(other), denied)
	ctx := context.Background()
	for addr, want := range map[string]error{
		"hid:0c2e:0b62":                          scanner.ErrNotFound,
		"hid:0c2e:0b61?serial=NOPE":              scanner.ErrNotFound,
		"hid:0c2e:0b61":                          scanner.ErrAddress, // three match
		"hid:0c2e:0b61?serial=15232B1F0C":        scanner.ErrAddress, // two interfaces
		"hid:1eab:1d10?mode=pos":                 scanner.ErrPermission,
		"hid:0c2e:0b61?mode=pos&profile=generic": scanner.ErrAddress,
	} {
		if _, err := drv.Open(ctx, mustAddr(t, addr)); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", addr, err, want)
		}
	}
	src := openSource(t, drv, "hid:0c2e:0b61?serial=15232B1F0C&interface=1")
	if src.Info() != second {
		t.Fatalf("picked %v", src.Info())
	}
	src.Close()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := drv.Open(cctx, mustAddr(t, "hid:0c2e:0b61?serial=OTHER")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Open: %v", err)
	}
}

// TestDriverWriteReport sends the Honeywell command reports of
// testdata/hid-pos.txt (python_hon_usbhid) and checks the device got them
// unchanged.
func TestDriverWriteReport(t *testing.T) {
	dev := NewReplayDevice(honeywell)
	src := openSource(t, newTestDriver(dev), "hid:0c2e:0b61?mode=pos")
	var sent []string
	for _, b := range loadFixtures(t, "hid-pos.txt") {
		if !strings.HasPrefix(b.Headers["direction"], "host-to-scanner") {
			continue
		}
		r := hexLine(t, b.Lines[0])
		if n, err := src.WriteReport(r); err != nil || n != len(r) {
			t.Fatalf("%s: %d, %v", b.ID, n, err)
		}
		sent = append(sent, string(r))
	}
	var got []string
	for _, w := range dev.Writes() {
		got = append(got, string(w))
	}
	if len(sent) != 4 || strings.Join(got, "|") != strings.Join(sent, "|") {
		t.Fatalf("wrote %q, device got %q", sent, got)
	}
	src.Close()
	if _, err := src.WriteReport([]byte(sent[0])); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
}

func TestDriverList(t *testing.T) {
	b := DeviceInfo{VendorID: 0x05e0, ProductID: 0x1200, Path: "0003:0007:00"}
	drv := newTestDriver(NewReplayDevice(honeywell), NewReplayDevice(b))
	got, err := drv.List(context.Background())
	if err != nil || len(got) != 2 || got[0] != b || got[1] != honeywell {
		t.Fatalf("List: %v, %v", got, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := drv.List(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled List: %v", err)
	}
	// No USB here: the real backend finds nothing, without error.
	if _, err := List(context.Background()); err != nil {
		t.Fatalf("List: %v", err)
	}
}

func TestUSBFSNode(t *testing.T) {
	if n, ok := usbfsNode("0001:000c:00"); !ok || n != "/dev/bus/usb/001/012" {
		t.Fatalf("got %q %v", n, ok)
	}
	if _, ok := usbfsNode("/dev/hidraw0"); ok {
		t.Fatal("hidraw path accepted")
	}
	if err := classifyOpen("00ff:00ff:00"); !errors.Is(err, scanner.ErrNotFound) {
		t.Fatalf("missing node: %v", err)
	}
}
