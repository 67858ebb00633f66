package hid

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/karalabe/usb"

	"tillpay/scanner"
)

// Device is an opened HID interface: the one piece of hardware the driver
// talks to. Read returns one input report (report ID first when the device
// numbers its reports) and may block for as long as no report comes. Close
// must not be called while a Read is in flight; the driver guarantees it.
type Device interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	Close() error
}

// DeviceInfo describes one HID interface of a USB device.
type DeviceInfo struct {
	VendorID, ProductID uint16
	Serial              string
	Manufacturer        string
	Product             string
	// Interface is the USB interface number; a scan gun may offer a
	// keyboard and a POS interface side by side.
	Interface int
	// Path is the platform's name for the interface; on Linux
	// "bus:address:interface" in hex, as hidapi's libusb backend makes it.
	Path string
}

// String returns "vid:pid" with the product, serial and interface.
func (i DeviceInfo) String() string {
	return fmt.Sprintf("%04x:%04x %q serial=%q interface=%d path=%s", i.VendorID, i.ProductID, i.Product, i.Serial, i.Interface, i.Path)
}

// Backend finds and opens HID devices. The default one uses
// github.com/karalabe/usb; tests use a Replay.
type Backend interface {
	// Enumerate lists HID interfaces; vendorID or productID 0 match any.
	Enumerate(vendorID, productID uint16) ([]DeviceInfo, error)
	// Open opens one interface found by Enumerate. Errors wrap
	// scanner.ErrNotFound, ErrPermission or ErrBusy where they can tell.
	Open(info DeviceInfo) (Device, error)
}

// USB returns the backend that reaches real devices through
// github.com/karalabe/usb (hidapi over libusb on Linux).
func USB() Backend { return usbBackend{} }

type usbBackend struct{}

func (usbBackend) Enumerate(vendorID, productID uint16) ([]DeviceInfo, error) {
	infos, err := usb.EnumerateHid(vendorID, productID)
	if err != nil {
		return nil, fmt.Errorf("hid: enumerate: %w", err)
	}
	out := make([]DeviceInfo, 0, len(infos))
	for _, i := range infos {
		out = append(out, DeviceInfo{
			VendorID: i.VendorID, ProductID: i.ProductID, Serial: i.Serial,
			Manufacturer: i.Manufacturer, Product: i.Product,
			Interface: i.Interface, Path: i.Path,
		})
	}
	return out, nil
}

func (usbBackend) Open(info DeviceInfo) (Device, error) {
	infos, err := usb.EnumerateHid(info.VendorID, info.ProductID)
	if err != nil {
		return nil, fmt.Errorf("hid: enumerate: %w", err)
	}
	for _, i := range infos {
		if i.Path != info.Path {
			continue
		}
		dev, err := i.Open()
		if err != nil {
			// hidapi says only "failed to open device"; the usbfs node
			// tells permission from a claim by someone else.
			return nil, fmt.Errorf("hid: open %s: %w: %v", info.Path, classifyOpen(info.Path), err)
		}
		return dev, nil
	}
	return nil, fmt.Errorf("hid: open %s: %w", info.Path, scanner.ErrNotFound)
}

// classifyOpen tells why hidapi could not open the interface at path
// ("bus:address:interface" in hex) by opening its usbfs node.
func classifyOpen(path string) error {
	node, ok := usbfsNode(path)
	if !ok {
		return scanner.ErrBusy
	}
	f, err := os.OpenFile(node, os.O_RDWR, 0)
	switch {
	case err == nil:
		f.Close()
		return scanner.ErrBusy // accessible, so the claim failed
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("%w (%s; see the udev rule in the tillpay/drivers/hid documentation)", scanner.ErrPermission, node)
	case errors.Is(err, os.ErrNotExist):
		return scanner.ErrNotFound
	}
	return scanner.ErrBusy
}

// usbfsNode turns a libusb hidapi path into its /dev/bus/usb node.
func usbfsNode(path string) (string, bool) {
	parts := strings.Split(path, ":")
	if len(parts) != 3 {
		return "", false
	}
	bus, err1 := strconv.ParseUint(parts[0], 16, 16)
	addr, err2 := strconv.ParseUint(parts[1], 16, 16)
	if err1 != nil || err2 != nil {
		return "", false
	}
	return fmt.Sprintf("/dev/bus/usb/%03d/%03d", bus, addr), true
}

// List returns the HID interfaces attached to this machine, through the
// default backend, sorted by vendor, product and path. With no USB (or
// without cgo) the list is empty.
func List(ctx context.Context) ([]DeviceInfo, error) {
	return list(ctx, USB(), 0, 0)
}

// list enumerates in a goroutine so that a hung bus cannot hold ctx up.
func list(ctx context.Context, b Backend, vid, pid uint16) ([]DeviceInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type result struct {
		infos []DeviceInfo
		err   error
	}
	ch := make(chan result, 1)
	go func() {
		infos, err := b.Enumerate(vid, pid)
		ch <- result{infos, err}
	}()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-ch:
		if r.err != nil {
			return nil, r.err
		}
		sort.Slice(r.infos, func(a, b int) bool {
			x, y := r.infos[a], r.infos[b]
			if x.VendorID != y.VendorID {
				return x.VendorID < y.VendorID
			}
			if x.ProductID != y.ProductID {
				return x.ProductID < y.ProductID
			}
			return x.Path < y.Path
		})
		return r.infos, nil
	}
}
