package scancmd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"tillpay/drivers/hid"
	"tillpay/drivers/serial"
	"tillpay/internal/lockedbuf"
	"tillpay/scanner"
)

// waitFor waits until the output holds want n times.
func waitFor(t *testing.T, out *lockedbuf.Buffer, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(out.String(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no %d× %q in output:\n%s", n, want, out.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func newPty(t *testing.T) (*os.File, string) {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	slave.Close()
	t.Cleanup(func() { master.Close() })
	return master, slave.Name()
}

func repoint(t *testing.T, link, target string) {
	t.Helper()
	tmp := link + ".tmp"
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
}

// ScanTest end to end: a pseudo-terminal behind a symlink is the scan gun;
// it sends codes, is unplugged mid-code and comes back under a new name.
func TestScanTestThroughPty(t *testing.T) {
	m1, p1 := newPty(t)
	link := filepath.Join(t.TempDir(), "scanner")
	repoint(t, link, p1)
	addr := "serial:" + link + "?baud=115200&suffix=cr"

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lockedbuf.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- ScanTest(ctx, out, []string{addr},
			WithManagerOptions(scanner.WithBackoff(scanner.Backoff{Min: 5 * time.Millisecond, Max: 20 * time.Millisecond})))
	}()

	waitFor(t, out, "status "+addr+" connected", 1)
	m1.Write([]byte("]Q1134523456789012345\r"))
	waitFor(t, out, "scan   "+addr, 1)
	got := out.String()
	for _, want := range []string{
		`symbology=QR aim=]Q1 label="134523456789012345"`,
		"raw=5d5131313334353233343536373839303132333435" + "0d (22 bytes)",
		"first→last=", "last→delivered=",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}

	// The same code again is shown again (no rescan window here); a
	// code without the AIM identifier this gun sends is refused, with its
	// bytes.
	m1.Write([]byte("]Q1134523456789012345\r9788742940440\r"))
	waitFor(t, out, "scan   "+addr, 2)
	waitFor(t, out, "bad    "+addr, 1)
	if !strings.Contains(out.String(), "raw=393738383734323934303434300d (14 bytes)") {
		t.Errorf("refused code not shown with its bytes:\n%s", out.String())
	}

	// Unplugged in the middle of a code.
	m2, p2 := newPty(t)
	m1.Write([]byte("2812"))
	// The half code must have been read before the unplug for it to be
	// reported: a hang-up discards unread input.
	waitRead(t, p1)
	os.Remove(link)
	m1.Close()
	waitFor(t, out, "status "+addr+" disconnected", 1)
	if !strings.Contains(out.String(), "raw=32383132 (4 bytes)") {
		t.Errorf("cut code not reported with its bytes:\n%s", out.String())
	}

	// Back under a new name.
	repoint(t, link, p2)
	waitFor(t, out, "status "+addr+" connected", 2)
	m2.Write([]byte("]C0ABC-123\r"))
	waitFor(t, out, `symbology=Code128 aim=]C0 label="ABC-123"`, 1)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ScanTest: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ScanTest did not stop")
	}
}

func TestScanTestBadAddress(t *testing.T) {
	var out bytes.Buffer
	if err := ScanTest(context.Background(), &out, nil); !errors.Is(err, scanner.ErrAddress) {
		t.Errorf("no address: %v", err)
	}
	if err := ScanTest(context.Background(), &out, []string{"serial:/dev/ttyACM0?suffix=bogus"}); !errors.Is(err, scanner.ErrAddress) {
		t.Errorf("bad suffix: %v", err)
	}
	if err := ScanTest(context.Background(), &out, []string{"nosuch:thing"}); !errors.Is(err, scanner.ErrNoDriver) {
		t.Errorf("unknown scheme: %v", err)
	}
}

func TestScanners(t *testing.T) {
	serials := func(context.Context) ([]serial.PortInfo, error) {
		return []serial.PortInfo{
			{Path: "/dev/ttyACM0", USB: true, VID: "0c2e", PID: "0b61", SerialNumber: "ABC123", Manufacturer: "Honeywell", Product: "Xenon 1900"},
			{Path: "/dev/ttyS0"},
		}, nil
	}
	hids := func(context.Context) ([]hid.DeviceInfo, error) {
		return []hid.DeviceInfo{
			{VendorID: 0x05e0, ProductID: 0x1200, Product: "Symbol Bar Code Scanner", Interface: 0},
			{VendorID: 0x0c2e, ProductID: 0x0b8f, Serial: "S1", Interface: 0},
			{VendorID: 0x0c2e, ProductID: 0x0b8f, Serial: "S1", Interface: 1},
			{VendorID: 0x0c2e, ProductID: 0x0b8f, Serial: "S2", Interface: 0},
		}, nil
	}
	var out bytes.Buffer
	if err := Scanners(context.Background(), &out, WithSerialLister(serials), WithHIDLister(hids)); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"/dev/ttyACM0", "0c2e:0b61", "Honeywell Xenon 1900", "serial:usb=0c2e:0b61&serial=ABC123",
		"serial:/dev/ttyS0",
		"hid:05e0:1200\n",
		"hid:0c2e:0b8f?serial=S1&interface=0", "hid:0c2e:0b8f?serial=S1&interface=1", "hid:0c2e:0b8f?serial=S2\n",
		"Drivers loaded: ", "serial",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestScannersReportsListerErrors(t *testing.T) {
	boom := errors.New("sysfs unreadable")
	var out bytes.Buffer
	err := Scanners(context.Background(), &out,
		WithSerialLister(func(context.Context) ([]serial.PortInfo, error) { return nil, boom }),
		WithHIDLister(func(context.Context) ([]hid.DeviceInfo, error) { return nil, nil }))
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(out.String(), "error: sysfs unreadable") || !strings.Contains(out.String(), "none found") {
		t.Fatalf("output:\n%s", out.String())
	}
}

// The real enumerations run on this machine (no USB here; pseudo-terminals
// are not listed).
func TestScannersOnThisMachine(t *testing.T) {
	var out bytes.Buffer
	err := Scanners(context.Background(), &out)
	t.Logf("%s", out.String())
	if err != nil {
		t.Logf("enumeration error (reported, not fatal): %v", err)
	}
	if !strings.Contains(out.String(), "Serial ports") || !strings.Contains(out.String(), "Drivers loaded: ") {
		t.Fatalf("output:\n%s", out.String())
	}
}
