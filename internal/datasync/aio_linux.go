package datasync

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pollEvery is how often a waiting sync looks at the completion queue
// when the poller has not woken it. (Measured with the payment backend on
// two busy processors: looking every 1 or 2 ms gave the same payments a
// second, every 10 ms a few per cent fewer, and looking every 20 µs, or
// from 50 µs on at growing gaps, 10 % fewer.)
const pollEvery = time.Millisecond

// The kernel's asynchronous I/O interface, from include/uapi/linux/aio_abi.h.
const (
	iocbCmdFdsync = 3      // IOCB_CMD_FDSYNC
	iocbFlagResfd = 1 << 0 // IOCB_FLAG_RESFD: signal aio_resfd on completion
)

// iocb is struct iocb (64 bytes). aio_key and aio_rw_flags, whose order
// depends on the byte order, are both zero here.
type iocb struct {
	data      uint64
	key       uint32
	rwFlags   int32
	opcode    uint16
	reqprio   int16
	fildes    uint32
	buf       uint64
	nbytes    uint64
	offset    int64
	reserved2 uint64
	flags     uint32
	resfd     uint32
}

// ioEvent is struct io_event.
type ioEvent struct {
	data, obj uint64
	res, res2 int64
}

// aio is an AIO context with one request slot and the eventfd it signals.
// It lives on the heap, so the kernel may read cb and write events by
// address.
type aio struct {
	fd     uintptr // the synced file's descriptor
	ctx    uintptr // aio_context_t
	efd    int     // the eventfd's descriptor (ev.Fd would make it blocking)
	ev     *os.File
	cb     iocb
	cbs    [1]*iocb
	events [1]ioEvent
	count  [8]byte
	noWait unix.Timespec // zero: io_getevents returns at once
}

func openAIO(f *os.File) *aio {
	a := &aio{fd: f.Fd()}
	if _, _, e := unix.Syscall(unix.SYS_IO_SETUP, 1, uintptr(unsafe.Pointer(&a.ctx)), 0); e != 0 {
		return nil
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Syscall(unix.SYS_IO_DESTROY, a.ctx, 0, 0) //nolint:errcheck // giving up on it
		return nil
	}
	// A non-blocking descriptor: reads park the goroutine in the runtime's
	// poller instead of blocking its thread.
	a.efd, a.ev = efd, os.NewFile(uintptr(efd), "datasync-eventfd")
	a.cbs[0] = &a.cb
	return a
}

// sync submits an fdatasync and waits for it. ok reports whether the
// kernel took it, and then err is its result; otherwise err tells why not,
// wrapping errUnsupported if it never will.
func (a *aio) sync() (err error, ok bool) {
	a.cb = iocb{opcode: iocbCmdFdsync, fildes: uint32(a.fd), flags: iocbFlagResfd, resfd: uint32(a.efd)}
	for {
		n, _, e := unix.Syscall(unix.SYS_IO_SUBMIT, a.ctx, 1, uintptr(unsafe.Pointer(&a.cbs[0])))
		if e == syscall.EINTR {
			continue
		}
		if e != 0 || n != 1 {
			switch e {
			case syscall.ENOSYS, syscall.EINVAL, syscall.EOPNOTSUPP, syscall.EPERM, syscall.EACCES:
				return fmt.Errorf("io_submit: %w (%w)", e, errUnsupported), false
			}
			return fmt.Errorf("io_submit: %w", e), false
		}
		break
	}
	// Wait for the completion, parked: the eventfd wakes the goroutine
	// through the runtime's poller, which a processor consults whenever it
	// runs out of work. While every processor stays busy it may not be
	// consulted for a while, so a read deadline (timers run at every switch
	// between goroutines) makes the goroutine look at the completion queue
	// itself every pollEvery. Looking more often costs more than it saves:
	// every look is a wake-up. The eventfd's count is only a hint (it may
	// be left from a completion found by looking); the completion queue
	// decides.
	for {
		if err := a.ev.SetReadDeadline(time.Now().Add(pollEvery)); err != nil {
			return a.lost(err)
		}
		if _, err := a.ev.Read(a.count[:]); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return a.lost(err)
		}
		n, e := a.getEvent(&a.noWait)
		if e != 0 {
			return a.lost(fmt.Errorf("io_getevents: %w", e))
		}
		if n == 1 {
			return a.result(), true
		}
	}
}

// lost waits in the kernel for a submitted sync whose completion could not
// be awaited in the poller (err), and returns its result.
func (a *aio) lost(err error) (error, bool) {
	if n, e := a.getEvent(nil); e != 0 || n != 1 {
		// The result is unknown: report the sync failed, so that nothing
		// is taken as durable on its word.
		if e != 0 {
			err = errors.Join(err, e)
		}
		return fmt.Errorf("waiting for fdatasync: %w", err), true
	}
	return a.result(), true
}

// getEvent takes the completion of the sync in flight into a.events,
// waiting for it at most timeout (nil: until it comes). n is 1 if it did.
func (a *aio) getEvent(timeout *unix.Timespec) (n uintptr, e syscall.Errno) {
	for {
		n, _, e = unix.Syscall6(unix.SYS_IO_GETEVENTS, a.ctx, 1, 1,
			uintptr(unsafe.Pointer(&a.events[0])), uintptr(unsafe.Pointer(timeout)), 0)
		if e != syscall.EINTR {
			return n, e
		}
	}
}

// result is the outcome of the completion taken by getEvent.
func (a *aio) result() error {
	if res := a.events[0].res; res < 0 {
		return syscall.Errno(-res)
	}
	return nil
}

// close releases the context, waiting for a request in flight, and the
// eventfd.
func (a *aio) close() error {
	var err error
	if _, _, e := unix.Syscall(unix.SYS_IO_DESTROY, a.ctx, 0, 0); e != 0 {
		err = fmt.Errorf("io_destroy: %w", e)
	}
	return errors.Join(err, a.ev.Close())
}

func plainSync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
