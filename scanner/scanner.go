// Package scanner is the till's model of a scan gun, after UnifiedPOS:
// a device is opened, claimed and enabled, and then delivers data events
// (Scan values) that carry the raw bytes for audit, the label with framing
// stripped, the symbology and the times the bytes arrived.
//
// The package knows the contract only. Drivers for real and simulated scan
// guns live in tillpay/drivers/... and register themselves with Register in
// an init function, so that a program chooses its drivers by importing them.
//
// # Using it from a till
//
// A till creates a Manager with its scan-gun addresses, runs it, ranges
// over its events and arms it around each payment:
//
//	m, err := scanner.NewManager([]string{"serial:/dev/ttyACM0?suffix=cr", "sim:tcp=127.0.0.1:7000"})
//	go m.Run(ctx)                  // until ctx ends; then Events is closed
//	for ev := range m.Events() {
//		switch ev.Kind {
//		case scanner.EventScan:    // ev.Use: ForPayment, NotArmed or Duplicate
//			if ev.ForPayment() { charge(ev.Scan.Label) }
//		case scanner.EventStatus:  // ev.State, ev.Detail ("Scanner … was unplugged; reconnecting")
//		case scanner.EventBadScan: // bytes that are no code; ev.Detail asks to scan again
//		}
//	}
//
// Arm makes the next code a payment code: the first scan after it is
// delivered with Use ForPayment and the Manager disarms (UnifiedPOS
// AutoDisable), so a second read never charges twice; Disarm cancels.
// Scans while disarmed come as NotArmed. The same label read again within
// the no-rescan window (3 s, WithRescanWindow), by any device, comes as
// Duplicate and leaves the Manager armed. A device GUI-fed or opened
// elsewhere (the keyboard wedge) joins with Attach. Status lists every
// device's state for a status screen.
//
// Unplugged devices are reopened with jittered, capped exponential backoff
// (WithBackoff). A problem is shown only when it lasts longer than the
// time-to-visible (2 s, WithStatusDelay), so a blip does not flap the
// status; errors wrapping ErrNotFound, ErrPermission or ErrBusy get a
// sentence that says what to do. Time comes from an injectable Clock.
//
// # Framing
//
// Each device has its own Framer, so codes from two guns never merge. A
// byte stream (serial, simulated) is split into codes; framed chunks (HID
// POS, keyboard wedge) skip the splitting but get the rest. The framing
// parameters of an address:
//
//	suffix=auto|cr|lf|crlf|tab|none  the terminator after each code.
//	        auto (default): CR, LF or CRLF, never an empty code from a CRLF;
//	        cr also swallows the LF of a CRLF; lf strips a CR before the LF;
//	        crlf keeps a lone CR inside the code (2D codes with line breaks);
//	        none: a code ends after idle silence.
//	idle=80ms   silence that finishes a partial code: it is the code with
//	        suffix=none (default 80ms), otherwise the code was cut and is
//	        discarded as incomplete (default 500ms; idle=0 waits forever).
//	prefix=TEXT, trailer=TEXT  text the scanner adds before / after each
//	        code, stripped when present (URL-escaped: prefix=%5C000026).
//	maxlen=N    longest code in bytes (default 4096); a longer one is
//	        reported as ErrTooLong and dropped up to the next terminator.
//	aim=auto|off  auto (default) recognises an AIM identifier "]cm" at the
//	        start of a code, strips it and sets Scan.AIM and Symbology
//	        (]Q1 QR, ]C0 Code 128, ]C1 GS1-128, ]E0 EAN-13, ]E4 EAN-8, ]d1
//	        ]d2 DataMatrix, ]A Code 39, ]I ITF, ]L PDF417, ]z Aztec, …);
//	        a code starting with a partial one is refused. off: kept as data.
//
// STX…ETX framing is stripped (and an ETX ends an STX frame), NULs between
// codes are skipped, GS (0x1D) and other GS1/ISO 15434 separators stay in
// the label. A code that is not valid UTF-8 or holds other control
// characters, or is cut by an unplug or the end of a stream, is reported
// as an EventBadScan wrapping ErrBadData or ErrIncomplete (a *FrameError
// with the raw bytes), never delivered as a code. A code without AIM
// identifier right after one with an identifier is taken for the tail of
// a code split at a CR inside it and refused. The Framer allocates per
// code, never per byte.
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
