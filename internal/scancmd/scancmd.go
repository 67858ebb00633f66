// Package scancmd holds the scan-gun tools of the tillpay command line:
// "tillpay scanners" lists the serial ports and USB HID devices a scan gun
// could be on, with the address to give the till, and "tillpay scan-test"
// opens scan guns and prints every code they read, with its raw bytes and
// timing, until interrupted, so that an integrator can check a gun's
// settings (suffix, AIM identifier, mode) before going live.
package scancmd

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"tillpay/drivers/hid"
	"tillpay/drivers/serial"
	"tillpay/scanner"
)

// SerialLister lists serial ports (serial.Ports by default).
type SerialLister func(ctx context.Context) ([]serial.PortInfo, error)

// HIDLister lists USB HID devices (hid.List by default).
type HIDLister func(ctx context.Context) ([]hid.DeviceInfo, error)

// Option configures Scanners and ScanTest.
type Option func(*options)

type options struct {
	serial   SerialLister
	hid      HIDLister
	managers []scanner.Option
	now      func() time.Time
	logger   *slog.Logger
}

// WithSerialLister replaces the serial port enumeration.
func WithSerialLister(l SerialLister) Option { return func(o *options) { o.serial = l } }

// WithHIDLister replaces the HID device enumeration; nil leaves HID
// devices out of the list.
func WithHIDLister(l HIDLister) Option { return func(o *options) { o.hid = l } }

// WithManagerOptions passes options to the scanner Manager of ScanTest.
func WithManagerOptions(opts ...scanner.Option) Option {
	return func(o *options) { o.managers = append(o.managers, opts...) }
}

// WithClock sets the clock of the printed times of day.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLogger sets the logger of the scanner Manager in ScanTest (by
// default a logger that drops everything: the events are printed).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

func build(opts []Option) options {
	o := options{serial: serial.Ports, hid: hid.List, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Scanners writes the serial ports and HID devices of the machine to w,
// each with the scanner address that opens it, then the drivers loaded.
// Pseudo-terminals are not listed. A failed enumeration is reported in
// its section and returned, after the rest has been written.
func Scanners(ctx context.Context, w io.Writer, opts ...Option) error {
	o := build(opts)
	var errs []error
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)

	fmt.Fprintln(tw, "Serial ports (USB-CDC and RS-232):")
	ports, err := o.serial(ctx)
	switch {
	case err != nil:
		fmt.Fprintf(tw, "  error: %v\n", err)
		errs = append(errs, err)
	case len(ports) == 0:
		fmt.Fprintln(tw, "  none found")
	default:
		fmt.Fprintln(tw, "  PORT\tUSB ID\tSERIAL NO.\tPRODUCT\tADDRESS")
		for _, p := range ports {
			id, product := "-", "-"
			if p.USB {
				id = p.VID + ":" + p.PID
				product = strings.TrimSpace(p.Manufacturer + " " + p.Product)
				if product == "" {
					product = "-"
				}
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", p.Path, id, dash(p.SerialNumber), product, p.Address())
		}
	}
	tw.Flush()

	if o.hid != nil {
		fmt.Fprintln(tw, "USB HID devices (keyboard mode and HID POS):")
		devs, err := o.hid(ctx)
		switch {
		case err != nil:
			fmt.Fprintf(tw, "  error: %v\n", err)
			errs = append(errs, err)
		case len(devs) == 0:
			fmt.Fprintln(tw, "  none found (a gun needs read-write access to /dev/bus/usb to be listed; see docs/scanners.md)")
		default:
			fmt.Fprintln(tw, "  USB ID\tINTERFACE\tSERIAL NO.\tPRODUCT\tADDRESS")
			for _, d := range devs {
				product := strings.TrimSpace(d.Manufacturer + " " + d.Product)
				fmt.Fprintf(tw, "  %04x:%04x\t%d\t%s\t%s\t%s\n", d.VendorID, d.ProductID, d.Interface,
					dash(d.Serial), dash(product), hidAddress(d, devs))
			}
		}
		tw.Flush()
	}

	fmt.Fprintf(tw, "Drivers loaded: %s\n", strings.Join(scanner.Drivers(), ", "))
	tw.Flush()
	return errors.Join(errs...)
}

// hidAddress is the address of d, with serial= and interface= added when
// another listed device shares its VID:PID.
func hidAddress(d hid.DeviceInfo, all []hid.DeviceInfo) string {
	a := fmt.Sprintf("hid:%04x:%04x", d.VendorID, d.ProductID)
	sameDevice, sameSerial := 0, 0
	for _, o := range all {
		if o.VendorID == d.VendorID && o.ProductID == d.ProductID {
			sameDevice++
			if o.Serial == d.Serial {
				sameSerial++
			}
		}
	}
	var q []string
	if sameDevice > 1 && d.Serial != "" && sameSerial < sameDevice {
		q = append(q, "serial="+d.Serial)
	}
	if sameSerial > 1 {
		q = append(q, fmt.Sprintf("interface=%d", d.Interface))
	}
	if len(q) > 0 {
		a += "?" + strings.Join(q, "&")
	}
	return a
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ScanTest opens the scan guns at addrs and writes every event to w until
// ctx ends: each code with its device, symbology, AIM identifier, label,
// raw bytes in hex and timing (first to last byte, last byte to delivery),
// codes the framer refused, and status changes (connected, unplugged,
// back). Unplugged guns are reopened. It returns nil when ctx ends, or an
// error if an address is wrong.
func ScanTest(ctx context.Context, w io.Writer, addrs []string, opts ...Option) error {
	o := build(opts)
	if len(addrs) == 0 {
		return fmt.Errorf("%w: no scanner given (use --scanner ADDRESS; tillpay scanners lists them)", scanner.ErrAddress)
	}
	mopts := append([]scanner.Option{
		scanner.WithLogger(o.logger),
		// Every code counts here, also the same one scanned twice.
		scanner.WithRescanWindow(0),
		// Show every unplug at once.
		scanner.WithStatusDelay(0),
	}, o.managers...)
	m, err := scanner.NewManager(addrs, mopts...)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Listening to %s; scan a code, Ctrl-C to stop.\n", strings.Join(addrs, ", "))
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(ctx) }()
	for ev := range m.Events() {
		writeEvent(w, o.now(), ev)
	}
	return <-runErr
}

func writeEvent(w io.Writer, now time.Time, ev scanner.Event) {
	ts := now.Format("15:04:05.000")
	switch ev.Kind {
	case scanner.EventScan:
		s := ev.Scan
		aim := s.AIM
		if aim == "" {
			aim = "-"
		}
		fmt.Fprintf(w, "%s scan   %s symbology=%s aim=%s label=%q\n", ts, ev.Device, s.Symbology, aim, s.Label)
		fmt.Fprintf(w, "%s        raw=%s (%d bytes) first→last=%s last→delivered=%s\n", ts,
			hex.EncodeToString(s.Raw), len(s.Raw), span(s.FirstByte, s.LastByte), span(s.LastByte, s.Delivered))
	case scanner.EventBadScan:
		raw := ""
		var fe *scanner.FrameError
		if errors.As(ev.Err, &fe) {
			raw = fmt.Sprintf(" raw=%s (%d bytes)", hex.EncodeToString(fe.Raw), len(fe.Raw))
		}
		fmt.Fprintf(w, "%s bad    %s %v%s\n", ts, ev.Device, errors.Unwrap(ev.Err), raw)
	case scanner.EventStatus:
		fmt.Fprintf(w, "%s status %s %s: %s", ts, ev.Device, ev.State, ev.Detail)
		if ev.Err != nil {
			fmt.Fprintf(w, " (%v)", ev.Err)
		}
		fmt.Fprintln(w)
	default:
		fmt.Fprintf(w, "%s %s %s %s\n", ts, ev.Kind, ev.Device, ev.Detail)
	}
}

// span prints b-a in milliseconds with microsecond resolution, or "?" when
// a time is missing.
func span(a, b time.Time) string {
	if a.IsZero() || b.IsZero() {
		return "?"
	}
	return fmt.Sprintf("%.3fms", float64(b.Sub(a).Microseconds())/1000)
}
