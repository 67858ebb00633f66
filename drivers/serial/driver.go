package serial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	bugst "go.bug.st/serial"
	"go.bug.st/serial/enumerator"
	"golang.org/x/sys/unix"

	"tillpay/scanner"
)

// Scheme is the address scheme this driver handles.
const Scheme = "serial"

func init() { scanner.Register(New()) }

// PortLister lists the serial ports of the machine with their USB details,
// as enumerator.GetDetailedPortsList does.
type PortLister func() ([]*enumerator.PortDetails, error)

// Driver opens serial scan guns. The zero value is not usable: use New.
type Driver struct {
	list        PortLister
	now         func() time.Time
	log         *slog.Logger
	readTimeout time.Duration
	bufSize     int
	// portReads makes sources read through go.bug.st/serial's Read even
	// where the descriptor could be polled (to test that path).
	portReads bool
}

// Option configures a Driver.
type Option func(*Driver)

// WithPortLister replaces the USB port enumeration (for machines or tests
// without USB).
func WithPortLister(l PortLister) Option { return func(d *Driver) { d.list = l } }

// WithClock sets the clock that stamps arriving bytes.
func WithClock(now func() time.Time) Option { return func(d *Driver) { d.now = now } }

// WithLogger sets the logger for open and close events.
func WithLogger(l *slog.Logger) Option { return func(d *Driver) { d.log = l } }

// WithReadTimeout sets how long one read waits before it wakes up with
// nothing, where the port cannot be polled and is read through
// go.bug.st/serial: Next notices an ended context within this time (a
// polled port notices at once). Zero or less means no timeout.
func WithReadTimeout(t time.Duration) Option { return func(d *Driver) { d.readTimeout = t } }

// WithBufferSize sets the size of one read; a chunk holds at most this many
// bytes.
func WithBufferSize(n int) Option {
	return func(d *Driver) {
		if n > 0 {
			d.bufSize = n
		}
	}
}

// New returns a serial driver.
func New(opts ...Option) *Driver {
	d := &Driver{
		list:        func() ([]*enumerator.PortDetails, error) { return enumerator.GetDetailedPortsList() },
		now:         time.Now,
		log:         slog.Default(),
		readTimeout: 100 * time.Millisecond,
		bufSize:     4096,
	}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Scheme returns "serial".
func (d *Driver) Scheme() string { return Scheme }

// Open resolves addr to a port, takes it exclusively and starts reading.
func (d *Driver) Open(ctx context.Context, addr scanner.Address) (scanner.Source, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !strings.EqualFold(addr.Scheme, Scheme) {
		return nil, fmt.Errorf("%w %q: scheme is not %s", scanner.ErrAddress, addr.Raw, Scheme)
	}
	cfg, err := parseConfig(addr)
	if err != nil {
		return nil, err
	}
	path := cfg.path
	if cfg.usb != nil {
		if path, err = d.resolve(*cfg.usb); err != nil {
			return nil, err
		}
	}
	lock, err := lockPort(path)
	if err != nil {
		return nil, err
	}
	port, err := bugst.Open(path, &cfg.mode)
	if err != nil {
		lock.Close()
		return nil, openError(path, err)
	}
	if d.readTimeout > 0 {
		if err := port.SetReadTimeout(d.readTimeout); err != nil {
			port.Close()
			lock.Close()
			return nil, fmt.Errorf("serial %s: set read timeout: %w", path, err)
		}
	}
	d.log.Debug("serial scanner opened", "address", addr.Raw, "port", path, "baud", cfg.mode.BaudRate)
	return newSource(path, port, lock, d.now, d.bufSize, !d.portReads), nil
}

// resolve finds the device path of the USB serial port that m selects.
func (d *Driver) resolve(m usbMatch) (string, error) {
	ports, err := d.list()
	if err != nil {
		return "", fmt.Errorf("serial %s: list ports: %w", m, err)
	}
	var found []string
	for _, p := range ports {
		if p == nil || !p.IsUSB {
			continue
		}
		vid, err1 := parseHex16(p.VID)
		pid, err2 := parseHex16(p.PID)
		if err1 != nil || err2 != nil || vid != m.vid || pid != m.pid {
			continue
		}
		if m.serial != "" && p.SerialNumber != m.serial {
			continue
		}
		found = append(found, p.Name)
	}
	sort.Strings(found)
	switch len(found) {
	case 0:
		return "", fmt.Errorf("serial %s: %w: no serial port of this USB device is present", m, scanner.ErrNotFound)
	case 1:
		return found[0], nil
	default:
		return "", fmt.Errorf("%w: serial %s matches %d ports (%s): add &serial= with the USB serial number",
			scanner.ErrAddress, m, len(found), strings.Join(found, ", "))
	}
}

// lockPort opens a non-blocking descriptor of the device and takes an
// advisory lock on it, so that a second tillpay (even as root, where
// TIOCEXCL does not apply) cannot open the port too. The lock is taken
// before the port is configured, so a port in use is never touched. The
// source reads through this descriptor where it can be polled.
func lockPort(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, openError(path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, openError(path, err)
	}
	return f, nil
}

// openError maps a failure to open a port to the scanner errors, keeping
// the original error in the chain.
func openError(path string, err error) error {
	var kind error
	var pe *bugst.PortError
	switch {
	case errors.As(err, &pe) && pe.Code() == bugst.PortBusy,
		errors.Is(err, unix.EBUSY), errors.Is(err, unix.EWOULDBLOCK):
		kind = scanner.ErrBusy
	case errors.As(err, &pe) && pe.Code() == bugst.PortNotFound,
		errors.Is(err, fs.ErrNotExist), errors.Is(err, unix.ENXIO), errors.Is(err, unix.ENODEV):
		kind = scanner.ErrNotFound
	case errors.As(err, &pe) && pe.Code() == bugst.PermissionDenied,
		errors.Is(err, fs.ErrPermission):
		kind = scanner.ErrPermission
	default:
		return fmt.Errorf("serial %s: open: %w", path, err)
	}
	return fmt.Errorf("serial %s: %w: %w", path, kind, err)
}

// readError maps a failed read to scanner.ErrDisconnected: after any read
// error the port is unusable, and an unplug shows up as PortClosed, EOF or
// EIO depending on the device.
func readError(path string, err error) error {
	if err == nil {
		err = io.EOF
	}
	return fmt.Errorf("serial %s: %w: %w", path, scanner.ErrDisconnected, err)
}
