// Package scanner is the till's model of a scan gun, after UnifiedPOS:
// a device is opened, claimed and enabled, and then delivers data events
// (Scan values) that carry the raw bytes for audit, the label with framing
// stripped, the symbology and the times the bytes arrived.
//
// The package knows the contract only. Drivers for real and simulated scan
// guns live in tillpay/drivers/... and register themselves with Register in
// an init function, so that a program chooses its drivers by importing them.
package scanner

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Scan is one code read by a scan gun.
type Scan struct {
	// Raw holds the bytes as the device delivered them, framing included.
	Raw []byte
	// Label is the code itself: prefix, suffix, terminator, STX/ETX and
	// AIM identifier stripped.
	Label string
	// Symbology is the kind of barcode, when the device says so.
	Symbology Symbology
	// AIM is the AIM symbology identifier (such as "]Q1") when present.
	AIM string
	// Device is the address of the scan gun that read the code.
	Device string
	// FirstByte and LastByte are when the first and the last byte of the
	// code arrived; Delivered is when the Scan was handed on.
	FirstByte, LastByte, Delivered time.Time
}

// Symbology names a kind of barcode.
type Symbology string

// Symbologies a till meets. Unknown means the device did not say.
const (
	Unknown    Symbology = "unknown"
	QR         Symbology = "QR"
	Code128    Symbology = "Code128"
	GS1128     Symbology = "GS1-128"
	EAN13      Symbology = "EAN-13"
	EAN8       Symbology = "EAN-8"
	UPCA       Symbology = "UPC-A"
	UPCE       Symbology = "UPC-E"
	Code39     Symbology = "Code39"
	ITF        Symbology = "ITF"
	Codabar    Symbology = "Codabar"
	PDF417     Symbology = "PDF417"
	DataMatrix Symbology = "DataMatrix"
	Aztec      Symbology = "Aztec"
)

// Address says which scan gun to use and how, as "scheme:target?params",
// for example "serial:/dev/ttyACM0?baud=9600&suffix=cr", "hid:0c2e:0b61",
// "sim:tcp=127.0.0.1:7000" or "wedge".
type Address struct {
	Raw    string
	Scheme string
	Target string
	Params url.Values
}

// ErrAddress is wrapped by every error about a malformed scanner address.
var ErrAddress = errors.New("invalid scanner address")

// ParseAddress splits a scanner address into scheme, target and parameters.
func ParseAddress(s string) (Address, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Address{}, fmt.Errorf("%w: empty", ErrAddress)
	}
	scheme, rest, _ := strings.Cut(s, ":")
	if scheme == "" || strings.ContainsAny(scheme, "/?=") {
		return Address{}, fmt.Errorf("%w %q: want scheme:target, such as serial:/dev/ttyACM0", ErrAddress, s)
	}
	target, query, _ := strings.Cut(rest, "?")
	params, err := url.ParseQuery(query)
	if err != nil {
		return Address{}, fmt.Errorf("%w %q: %v", ErrAddress, s, err)
	}
	return Address{Raw: s, Scheme: strings.ToLower(scheme), Target: target, Params: params}, nil
}

// String returns the address as it was given.
func (a Address) String() string { return a.Raw }

// Chunk is what a Source delivers from its device.
type Chunk struct {
	// Data holds bytes from the device.
	Data []byte
	// Framed is true when Data is one whole code whose end the device
	// marked itself (a HID POS message, a keyboard-wedge burst); false when
	// Data is part of a byte stream that the framer must split.
	Framed bool
	// Symbology is set by framed devices that report it.
	Symbology Symbology
	// AIM is the AIM identifier reported by a framed device, if any.
	AIM string
	// At is when the first byte of Data arrived. A zero At means "now" to
	// the Manager.
	At time.Time
	// End is true when the byte stream ended cleanly after Data (a
	// simulated connection closed, a pipe's writer finished). Unframed
	// bytes still pending then form a code when the suffix is none and are
	// discarded as incomplete otherwise, so that they never join the next
	// stream's bytes.
	End bool
}

// Source is an opened and claimed scan gun.
type Source interface {
	// Next blocks until the device delivers data, the context ends or the
	// device fails. An unplugged device yields an error wrapping
	// ErrDisconnected.
	Next(ctx context.Context) (Chunk, error)
	// Close releases the device. It is safe to call while Next blocks,
	// and more than once.
	Close() error
}

// Errors a Source or Driver returns, wrapped; match them with errors.Is.
var (
	ErrDisconnected = errors.New("scanner disconnected")
	ErrNotFound     = errors.New("scanner not found")
	ErrPermission   = errors.New("no permission to open the scanner")
	ErrBusy         = errors.New("scanner is in use by another program")
	ErrNoDriver     = errors.New("no driver for this scanner address")
)

// Driver opens scan guns of one address scheme.
type Driver interface {
	// Scheme is the address scheme the driver handles, such as "serial".
	Scheme() string
	// Open opens and claims the device at addr.
	Open(ctx context.Context, addr Address) (Source, error)
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Driver{}
)

// Register makes a driver available by its scheme. It panics if a driver
// for the scheme is already registered, which is a programming error.
func Register(d Driver) {
	registryMu.Lock()
	defer registryMu.Unlock()
	scheme := strings.ToLower(d.Scheme())
	if _, dup := registry[scheme]; dup {
		panic("scanner: driver registered twice for scheme " + scheme)
	}
	registry[scheme] = d
}

// Lookup returns the driver registered for scheme.
func Lookup(scheme string) (Driver, error) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	d, ok := registry[strings.ToLower(scheme)]
	if !ok {
		return nil, fmt.Errorf("%w: %q (drivers loaded: %s)", ErrNoDriver, scheme, strings.Join(schemesLocked(), ", "))
	}
	return d, nil
}

// Drivers returns the schemes of the registered drivers, sorted.
func Drivers() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return schemesLocked()
}

func schemesLocked() []string {
	out := make([]string, 0, len(registry))
	for s := range registry {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
