package serial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	bugst "go.bug.st/serial"

	"tillpay/scanner"
)

// source is an open serial port.
//
// go.bug.st/serial opens the port, sets its line and raw mode and holds it
// exclusively. The bytes are read, where the platform allows, through a
// second, non-blocking descriptor of the same terminal (the one that holds
// the advisory lock), which Go's runtime poller waits on: a waiting Next
// then parks only its goroutine, wakes as soon as bytes arrive, and ends
// at once when its context does (through a read deadline) or when the
// source is closed. The library's own Read blocks a thread in select(2)
// and keeps the scheduler's P while it waits, which delays the goroutine
// that the caller hands each chunk to; on a shared two-core till this
// made the 99th percentile of scan latency several times worse.
//
// Where the descriptor cannot be polled, Next falls back to the library's
// Read with a read timeout.
type source struct {
	path string
	port bugst.Port
	file *os.File // holds the lock; read from when polled
	now  func() time.Time

	polled bool

	mu     sync.Mutex // serialises Next
	buf    []byte
	failed error // sticky read failure

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

func newSource(path string, port bugst.Port, file *os.File, now func() time.Time, bufSize int, polled bool) *source {
	if polled {
		// A file the runtime cannot poll has no deadlines.
		polled = file.SetReadDeadline(time.Time{}) == nil
	}
	return &source{path: path, port: port, file: file, now: now, buf: make([]byte, bufSize), polled: polled}
}

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("serial scanner closed")

// Next returns the next bytes from the port, stamped with the time the
// read returned. Bytes that arrived before an unplug are delivered before
// the error.
func (s *source) Next(ctx context.Context) (scanner.Chunk, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed.Load() {
			return scanner.Chunk{}, s.closedErr()
		}
		if s.failed != nil {
			return scanner.Chunk{}, s.failed
		}
		if err := ctx.Err(); err != nil {
			return scanner.Chunk{}, err
		}
		var n int
		var err error
		if s.polled {
			n, err = s.readPolled(ctx)
		} else {
			n, err = s.readPort()
		}
		if n > 0 {
			at := s.now()
			return scanner.Chunk{Data: append([]byte(nil), s.buf[:n]...), At: at}, nil
		}
		switch {
		case s.closed.Load():
			return scanner.Chunk{}, s.closedErr()
		case err == nil:
			// The library's read timeout, (0, nil): check the context
			// and read again. The read itself waited: no spinning.
			continue
		case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil:
			return scanner.Chunk{}, ctx.Err()
		}
		s.failed = readError(s.path, err)
		return scanner.Chunk{}, s.failed
	}
}

// readPolled reads the polled descriptor until ctx ends. A zero-length
// read is the end of the stream (an unplugged USB device).
func (s *source) readPolled(ctx context.Context) (int, error) {
	stop := context.AfterFunc(ctx, func() { s.file.SetReadDeadline(time.Unix(1, 0)) })
	n, err := s.file.Read(s.buf)
	if !stop() {
		// The deadline was set (or is being set): clear it for the
		// next call.
		s.file.SetReadDeadline(time.Time{})
	}
	if n == 0 && err == nil {
		err = io.EOF
	}
	return n, err
}

// readPort reads through the library, whose read timeout returns (0, nil).
func (s *source) readPort() (int, error) {
	// The read blocks this thread in a system call without giving up the
	// scheduler's P: let a goroutine that the caller just woke run first.
	runtime.Gosched()
	return s.port.Read(s.buf)
}

func (s *source) closedErr() error { return fmt.Errorf("serial %s: %w", s.path, ErrClosed) }

// Close releases the port, ending a Next that waits.
func (s *source) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		ferr := s.file.Close()
		err := s.port.Close()
		if err == nil {
			err = ferr
		}
		if err != nil {
			s.closeErr = fmt.Errorf("serial %s: close: %w", s.path, err)
		}
	})
	return s.closeErr
}
