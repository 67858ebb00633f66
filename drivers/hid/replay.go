package hid

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"tillpay/scanner"
)

// Replay is a Backend of simulated devices that play back recorded input
// reports, for tests and demonstrations where no USB exists. Each device
// behaves like a hidapi handle: Read blocks until a report is fed or the
// device is unplugged, and it records a Close that happens while a Read
// is in flight, which would free a real handle under that Read.
type Replay struct {
	mu      sync.Mutex
	devices []*ReplayDevice
}

// NewReplay returns a backend offering devs.
func NewReplay(devs ...*ReplayDevice) *Replay { return &Replay{devices: devs} }

// Enumerate lists the replay devices that match.
func (r *Replay) Enumerate(vendorID, productID uint16) ([]DeviceInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []DeviceInfo
	for _, d := range r.devices {
		if (vendorID == 0 || d.Info.VendorID == vendorID) && (productID == 0 || d.Info.ProductID == productID) {
			out = append(out, d.Info)
		}
	}
	return out, nil
}

// Open opens the replay device with info's path.
func (r *Replay) Open(info DeviceInfo) (Device, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.devices {
		if d.Info.Path == info.Path {
			return d.openHandle()
		}
	}
	return nil, fmt.Errorf("replay: %s: %w", info.Path, scanner.ErrNotFound)
}

// errReplayClosed and errReplayUnplugged are what a replay Read returns.
var (
	errReplayClosed    = errors.New("replay: device closed")
	errReplayUnplugged = errors.New("replay: device unplugged")
)

// ReplayDevice is one simulated HID interface.
type ReplayDevice struct {
	Info DeviceInfo
	// OpenErr, when set, is returned by Open instead of the device.
	OpenErr error

	mu          sync.Mutex
	notify      chan struct{}
	queue       [][]byte
	writes      [][]byte
	open        bool
	unplugged   bool
	reading     int
	opens       int
	closes      int
	closeRaced  bool
	readStarted chan struct{}
}

// NewReplayDevice returns a device described by info with reports queued.
func NewReplayDevice(info DeviceInfo, reports ...[]byte) *ReplayDevice {
	d := &ReplayDevice{Info: info, notify: make(chan struct{}, 1), readStarted: make(chan struct{}, 1)}
	d.Feed(reports...)
	return d
}

func (d *ReplayDevice) openHandle() (Device, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.OpenErr != nil:
		return nil, d.OpenErr
	case d.unplugged:
		return nil, fmt.Errorf("replay: %s: %w", d.Info.Path, scanner.ErrNotFound)
	case d.open:
		return nil, fmt.Errorf("replay: %s: %w", d.Info.Path, scanner.ErrBusy)
	}
	d.open = true
	d.opens++
	return d, nil
}

// Feed queues input reports; a blocked Read returns the first.
func (d *ReplayDevice) Feed(reports ...[]byte) {
	d.mu.Lock()
	for _, r := range reports {
		d.queue = append(d.queue, slices.Clone(r))
	}
	d.mu.Unlock()
	d.signal()
}

// Unplug makes Read fail, as a pulled cable does, once the queued
// reports are read.
func (d *ReplayDevice) Unplug() {
	d.mu.Lock()
	d.unplugged = true
	d.mu.Unlock()
	d.signal()
}

func (d *ReplayDevice) signal() {
	select {
	case d.notify <- struct{}{}:
	default:
	}
}

// Read returns the next queued report, blocking until there is one.
func (d *ReplayDevice) Read(p []byte) (int, error) {
	d.mu.Lock()
	if !d.open {
		d.mu.Unlock()
		return 0, errReplayClosed
	}
	d.reading++
	d.mu.Unlock()
	select {
	case d.readStarted <- struct{}{}:
	default:
	}
	defer func() {
		d.mu.Lock()
		d.reading--
		d.mu.Unlock()
	}()
	for {
		d.mu.Lock()
		switch {
		case len(d.queue) > 0:
			n := copy(p, d.queue[0])
			d.queue = d.queue[1:]
			d.mu.Unlock()
			return n, nil
		case d.unplugged:
			d.mu.Unlock()
			return 0, errReplayUnplugged
		case !d.open:
			d.mu.Unlock()
			return 0, errReplayClosed
		}
		d.mu.Unlock()
		<-d.notify
	}
}

// Write records an output report.
func (d *ReplayDevice) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.open {
		return 0, errReplayClosed
	}
	if d.unplugged {
		return 0, errReplayUnplugged
	}
	d.writes = append(d.writes, slices.Clone(p))
	return len(p), nil
}

// Close closes the handle. A Close while a Read is in flight is recorded
// (see CloseRaced): on real hardware it would free the handle under the
// Read.
func (d *ReplayDevice) Close() error {
	d.mu.Lock()
	if d.reading > 0 {
		d.closeRaced = true
	}
	d.open = false
	d.closes++
	d.mu.Unlock()
	d.signal()
	return nil
}

// CloseRaced reports whether Close was ever called during a Read.
func (d *ReplayDevice) CloseRaced() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closeRaced
}

// Stats returns how often the device was opened and closed, whether it is
// open now, and how many queued reports are still unread.
func (d *ReplayDevice) Stats() (opens, closes int, open bool, queued int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.opens, d.closes, d.open, len(d.queue)
}

// Writes returns the output reports written so far.
func (d *ReplayDevice) Writes() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([][]byte, len(d.writes))
	for i, w := range d.writes {
		out[i] = slices.Clone(w)
	}
	return out
}

// ReadStarted is signalled (without blocking the reader) each time a Read
// begins, so a test can wait until the reader is parked in Read.
func (d *ReplayDevice) ReadStarted() <-chan struct{} { return d.readStarted }
