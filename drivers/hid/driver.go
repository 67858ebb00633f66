package hid

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"tillpay/scanner"
)

// Scheme is the address scheme of HID scan guns.
const Scheme = "hid"

func init() { scanner.Register(New()) }

// Mode says how a scan gun's reports are read.
type Mode string

// Modes of a HID scan gun.
const (
	// ModeKeyboard reads boot-keyboard reports (keyboard emulation).
	ModeKeyboard Mode = "keyboard"
	// ModePOS reads HID POS (usage page 0x8C) scanned-data reports.
	ModePOS Mode = "pos"
)

// Vendor IDs that choose a POS profile when the address names none.
const (
	vendorHoneywell = 0x0c2e
	vendorNewland   = 0x1eab
)

// reportBufSize is the read buffer size: a full-speed interrupt report is
// at most 64 bytes, plus one for a report ID.
const reportBufSize = 65

// queueLen is how many reports wait between the reader and Next.
const queueLen = 64

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("hid: scanner source closed")

// Driver opens HID scan guns (scheme "hid"). The package registers one
// with the default options in init; New makes others, for tests or with a
// different backend.
type Driver struct {
	backend    Backend
	logger     *slog.Logger
	now        func() time.Time
	maxMessage int

	mu    sync.Mutex
	pumps map[string]*pump // by device path, while the device is open
}

// Option configures a Driver.
type Option func(*Driver)

// WithBackend sets where devices are found and opened (default USB()).
func WithBackend(b Backend) Option { return func(d *Driver) { d.backend = b } }

// WithLogger sets the logger for reports that cannot be decoded (default
// slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(d *Driver) { d.logger = l } }

// WithClock sets the clock that stamps Chunk.At (default time.Now).
func WithClock(now func() time.Time) Option { return func(d *Driver) { d.now = now } }

// WithMaxMessage caps one HID POS message (default DefaultMaxMessage).
func WithMaxMessage(n int) Option { return func(d *Driver) { d.maxMessage = n } }

// New returns a driver with the given options.
func New(opts ...Option) *Driver {
	d := &Driver{backend: USB(), logger: slog.Default(), now: time.Now, pumps: map[string]*pump{}}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Scheme returns "hid".
func (d *Driver) Scheme() string { return Scheme }

// List returns the HID interfaces the driver's backend sees.
func (d *Driver) List(ctx context.Context) ([]DeviceInfo, error) {
	return list(ctx, d.backend, 0, 0)
}

// config is a parsed "hid:" address.
type config struct {
	vid, pid  uint16
	mode      Mode
	profile   Profile
	serial    string
	iface     int // -1: any
	hasSerial bool
}

// parseConfig reads "hid:VID:PID?mode=…&profile=…&serial=…&interface=…".
// Parameters it does not know are left for others (such as the Framer).
func parseConfig(addr scanner.Address) (config, error) {
	c := config{mode: ModeKeyboard, iface: -1}
	bad := func(format string, args ...any) (config, error) {
		return config{}, fmt.Errorf("%w %q: %s", scanner.ErrAddress, addr.Raw, fmt.Sprintf(format, args...))
	}
	if addr.Scheme != Scheme {
		return bad("scheme %q is not %q", addr.Scheme, Scheme)
	}
	v, p, ok := strings.Cut(addr.Target, ":")
	vid, err1 := strconv.ParseUint(v, 16, 16)
	pid, err2 := strconv.ParseUint(p, 16, 16)
	if !ok || err1 != nil || err2 != nil || vid == 0 {
		return bad("want hid:VID:PID in hex, such as hid:0c2e:0b61")
	}
	c.vid, c.pid = uint16(vid), uint16(pid)
	if m := addr.Params.Get("mode"); m != "" {
		switch Mode(m) {
		case ModeKeyboard, ModePOS:
			c.mode = Mode(m)
		default:
			return bad("mode %q, want keyboard or pos", m)
		}
	}
	if pr := addr.Params.Get("profile"); pr != "" {
		if c.profile, err1 = ParseProfile(pr); err1 != nil {
			return bad("profile %q, want honeywell, newland or generic", pr)
		}
		if c.mode != ModePOS {
			return bad("profile applies to mode=pos only")
		}
	} else if c.mode == ModePOS {
		switch c.vid {
		case vendorHoneywell:
			c.profile = ProfileHoneywell
		case vendorNewland:
			c.profile = ProfileNewland
		default:
			c.profile = ProfileGeneric
		}
	}
	if addr.Params.Has("serial") {
		c.serial, c.hasSerial = addr.Params.Get("serial"), true
	}
	if s := addr.Params.Get("interface"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 255 {
			return bad("interface %q, want a number 0-255", s)
		}
		c.iface = n
	}
	return c, nil
}

// Open finds the scan gun at addr and claims it. Errors wrap
// scanner.ErrAddress, ErrNotFound, ErrPermission or ErrBusy.
func (d *Driver) Open(ctx context.Context, addr scanner.Address) (scanner.Source, error) {
	cfg, err := parseConfig(addr)
	if err != nil {
		return nil, err
	}
	infos, err := list(ctx, d.backend, cfg.vid, cfg.pid)
	if err != nil {
		return nil, fmt.Errorf("hid: open %s: %w", addr, err)
	}
	var match []DeviceInfo
	for _, i := range infos {
		if i.VendorID != cfg.vid || i.ProductID != cfg.pid ||
			(cfg.hasSerial && i.Serial != cfg.serial) ||
			(cfg.iface >= 0 && i.Interface != cfg.iface) {
			continue
		}
		match = append(match, i)
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("hid: open %s: %w (%d interfaces with this VID:PID)", addr, scanner.ErrNotFound, len(infos))
	case 1:
	default:
		var b strings.Builder
		for _, m := range match {
			fmt.Fprintf(&b, "; %s", m)
		}
		return nil, fmt.Errorf("%w %q: %d HID interfaces match, add serial= or interface=%s", scanner.ErrAddress, addr.Raw, len(match), b.String())
	}
	s := &Source{
		d: d, addr: addr.Raw, info: match[0], mode: cfg.mode,
		reports: make(chan report, queueLen), closed: make(chan struct{}),
		out: make([]byte, 0, 4096),
	}
	if cfg.mode == ModePOS {
		if s.pos, err = NewPOSDecoder(cfg.profile, d.maxMessage); err != nil {
			return nil, err
		}
	}
	if err := d.attach(ctx, s); err != nil {
		return nil, fmt.Errorf("hid: open %s: %w", addr, err)
	}
	return s, nil
}

// attach gives s the device, reusing a pump still open from a source
// closed earlier in this process, or opening the device.
func (d *Driver) attach(ctx context.Context, s *Source) error {
	path := s.info.Path
	for {
		d.mu.Lock()
		p := d.pumps[path]
		switch {
		case p == nil:
		case p.closing:
			d.mu.Unlock()
			select { // the old handle is being released: wait for it
			case <-p.done:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		case p.owner != nil:
			d.mu.Unlock()
			return fmt.Errorf("%w: already open in this program", scanner.ErrBusy)
		default:
			p.owner, s.p = s, p
			d.mu.Unlock()
			return nil
		}
		d.mu.Unlock()
		break
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dev, err := d.backend.Open(s.info)
	if err != nil {
		return err
	}
	p := &pump{d: d, path: path, dev: dev, owner: s, wake: make(chan struct{}, 1),
		done: make(chan struct{}), free: make(chan []byte, queueLen+2)}
	d.mu.Lock()
	if d.pumps[path] != nil { // opened concurrently by another Open
		d.mu.Unlock()
		dev.Close()
		return fmt.Errorf("%w: already open in this program", scanner.ErrBusy)
	}
	d.pumps[path] = p
	s.p = p
	d.mu.Unlock()
	go p.run()
	return nil
}

// report is one input report and the time it was read.
type report struct {
	buf []byte
	at  time.Time
}

// pump owns one open device and is the only goroutine that reads it.
//
// karalabe/usb's Read calls hidapi's hid_read with no timeout, outside
// the handle's lock, and its Close calls hid_close, which frees the
// handle (mutex, condition variable, report queue). A Close while another
// goroutine sleeps in hid_read therefore frees memory under that Read. So
// the handle is closed only by this goroutine, only between two Reads:
// Source.Close merely detaches the source and wakes the pump, and the pump
// closes the device when its Read in flight returns, that is, at the next
// report (which no one wants any more, and is dropped) or when the gun is
// unplugged. If the pump is waiting for Next to take a report instead, it
// closes at once. Until then the parked pump stays registered, and an Open
// of the same device reuses it rather than failing to claim it. Writes
// hold wmu, which the close takes too.
type pump struct {
	d    *Driver
	path string
	dev  Device
	free chan []byte   // spare read buffers
	wake chan struct{} // the owner changed
	done chan struct{} // closed when the device is closed
	err  error         // why reading stopped; read after done

	// guarded by d.mu
	owner   *Source
	closing bool

	wmu    sync.Mutex
	closed bool // guarded by wmu
}

func (p *pump) run() {
	for {
		var buf []byte
		select {
		case buf = <-p.free:
		default:
			buf = make([]byte, reportBufSize)
		}
		n, err := p.dev.Read(buf[:reportBufSize])
		at := p.d.now()
		if err != nil {
			p.d.mu.Lock()
			p.closing = true
			p.d.mu.Unlock()
			p.stop(fmt.Errorf("%w: %s: %w", scanner.ErrDisconnected, p.path, err))
			return
		}
		if n <= 0 {
			p.recycle(buf)
			continue
		}
		if !p.deliver(report{buf: buf[:n], at: at}) {
			p.stop(nil)
			return
		}
	}
}

// deliver hands r to the source attached now. It returns false, having
// marked the pump closing, when no source is attached.
func (p *pump) deliver(r report) bool {
	for {
		p.d.mu.Lock()
		o := p.owner
		if o == nil {
			p.closing = true
			p.d.mu.Unlock()
			return false
		}
		p.d.mu.Unlock()
		select {
		case o.reports <- r:
			return true
		case <-p.wake: // the owner closed while its queue was full
		}
	}
}

// stop closes the device; no Read is in flight.
func (p *pump) stop(err error) {
	p.wmu.Lock()
	p.closed = true
	if cerr := p.dev.Close(); cerr != nil {
		p.d.logger.Warn("hid: closing device", "path", p.path, "err", cerr)
	}
	p.wmu.Unlock()
	p.err = err
	p.d.mu.Lock()
	if p.d.pumps[p.path] == p {
		delete(p.d.pumps, p.path)
	}
	p.d.mu.Unlock()
	close(p.done)
}

func (p *pump) recycle(buf []byte) {
	select {
	case p.free <- buf[:cap(buf)]:
	default:
	}
}

// Source is an opened HID scan gun, as returned by Driver.Open.
type Source struct {
	d       *Driver
	p       *pump
	addr    string
	info    DeviceInfo
	mode    Mode
	reports chan report
	closed  chan struct{}
	once    sync.Once

	mu      sync.Mutex // serialises Next: decoder state below
	kbd     KeyboardDecoder
	pos     *POSDecoder
	out     []byte
	firstAt time.Time
	err     error // sticky end of input
}

// Info describes the device the source reads.
func (s *Source) Info() DeviceInfo { return s.info }

// Next returns the next chunk: in keyboard mode the typed characters,
// terminators as CR, unframed; in POS mode one whole message, framed
// (unframed for ProfileGeneric). Reports that cannot be decoded are logged
// and skipped. When the gun is unplugged the error wraps
// scanner.ErrDisconnected, and ErrTruncated too if a message was cut
// short.
func (s *Source) Next(ctx context.Context) (scanner.Chunk, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return scanner.Chunk{}, s.err
	}
	for {
		select {
		case <-s.closed:
			return scanner.Chunk{}, ErrClosed
		default:
		}
		var r report
		select {
		case <-ctx.Done():
			return scanner.Chunk{}, ctx.Err()
		case <-s.closed:
			return scanner.Chunk{}, ErrClosed
		case r = <-s.reports:
		case <-s.p.done:
			select {
			case r = <-s.reports: // reports read before the end come first
			default:
				return scanner.Chunk{}, s.end()
			}
		}
		if c, ok := s.handle(r); ok {
			return c, nil
		}
	}
}

// end records why input ended.
func (s *Source) end() error {
	s.err = s.p.err
	if s.err == nil {
		s.err = fmt.Errorf("%w: %s: device closed", scanner.ErrDisconnected, s.addr)
	}
	if s.pos != nil {
		if terr := s.pos.Interrupt(); terr != nil {
			s.err = fmt.Errorf("%w; %w", s.err, terr)
		}
	}
	s.kbd.Reset()
	return s.err
}

// handle decodes one report and recycles its buffer.
func (s *Source) handle(r report) (scanner.Chunk, bool) {
	defer s.p.recycle(r.buf)
	if s.mode == ModeKeyboard {
		var err error
		s.out, err = s.kbd.Decode(s.out[:0], r.buf)
		if err != nil {
			s.d.logger.Warn("hid: skipped keyboard report", "device", s.addr, "err", err)
			return scanner.Chunk{}, false
		}
		if len(s.out) == 0 {
			return scanner.Chunk{}, false
		}
		return scanner.Chunk{Data: append([]byte(nil), s.out...), At: r.at}, true
	}
	if !s.pos.Pending() {
		s.firstAt = r.at
	}
	msg, ok, err := s.pos.Decode(r.buf)
	if err != nil {
		s.d.logger.Warn("hid: skipped POS report", "device", s.addr, "profile", s.pos.Profile(), "err", err)
	}
	if !ok {
		return scanner.Chunk{}, false
	}
	return scanner.Chunk{
		Data: append([]byte(nil), msg.Data...), Framed: msg.Framed,
		Symbology: msg.Symbology, AIM: msg.AIM(), At: s.firstAt,
	}, true
}

// WriteReport sends an output report (report ID first) to the gun, such
// as a Honeywell command report 0xFD.
func (s *Source) WriteReport(b []byte) (int, error) {
	select {
	case <-s.closed:
		return 0, ErrClosed
	default:
	}
	s.p.wmu.Lock()
	defer s.p.wmu.Unlock()
	if s.p.closed {
		return 0, fmt.Errorf("%w: %s", scanner.ErrDisconnected, s.addr)
	}
	n, err := s.p.dev.Write(b)
	if err != nil {
		return n, fmt.Errorf("hid: write to %s: %w", s.addr, err)
	}
	return n, nil
}

// Close detaches the source at once; it is safe while Next blocks and
// more than once. The device itself is released by its reader when the
// Read in flight returns (see pump), which hidapi requires.
func (s *Source) Close() error {
	s.once.Do(func() {
		close(s.closed)
		s.d.mu.Lock()
		if s.p.owner == s {
			s.p.owner = nil
		}
		s.d.mu.Unlock()
		select {
		case s.p.wake <- struct{}{}:
		default:
		}
	})
	return nil
}
