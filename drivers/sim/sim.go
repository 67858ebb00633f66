// Package sim is a simulated scan gun for demos and tests. Importing it
// registers the address scheme "sim":
//
//	sim:tcp=127.0.0.1:7000   listen on a TCP address; the bytes of each
//	                         accepted connection are the scanner's stream
//	                         (one connection at a time; port 0 picks a free
//	                         port, logged and reported to OnListen)
//	sim:stdin                read the stream from standard input
//	sim:pipe=/path/to/fifo   read a named pipe, created when missing
//	sim:inproc=NAME          an InProcess gun made by NewInProcess
//
// The bytes go through the same framing as a real serial scanner's, so the
// framing parameters (suffix, idle, prefix, …) apply: try
//
//	tillpay --scanner 'sim:tcp=127.0.0.1:7000?suffix=cr'
//	printf '134567890123456789\r' | nc 127.0.0.1 7000
//
// A closed connection ends its stream: an unterminated code in it is
// reported as incomplete and never joins the next connection's bytes.
package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"tillpay/scanner"
)

func init() { scanner.Register(NewDriver()) }

// Driver opens simulated scan guns.
type Driver struct {
	onListen func(target string, addr net.Addr)
	logger   *slog.Logger
}

// DriverOption configures a Driver.
type DriverOption func(*Driver)

// OnListen is called with the bound address each time a sim:tcp gun
// starts listening (the way to learn the port when it was 0).
func OnListen(f func(target string, addr net.Addr)) DriverOption {
	return func(d *Driver) { d.onListen = f }
}

// WithLogger sets the driver's logger (default slog.Default()).
func WithLogger(l *slog.Logger) DriverOption { return func(d *Driver) { d.logger = l } }

// NewDriver returns a driver for scheme "sim". The registered one has no
// options; pass your own to scanner.WithDrivers to use options.
func NewDriver(opts ...DriverOption) *Driver {
	d := &Driver{}
	for _, o := range opts {
		o(d)
	}
	if d.logger == nil {
		d.logger = slog.Default()
	}
	return d
}

// Scheme returns "sim".
func (d *Driver) Scheme() string { return "sim" }

// Open opens the simulated gun addr names.
func (d *Driver) Open(ctx context.Context, addr scanner.Address) (scanner.Source, error) {
	kind, val, _ := strings.Cut(addr.Target, "=")
	switch kind {
	case "tcp":
		src, err := ListenTCP(ctx, val)
		if err != nil {
			return nil, err
		}
		d.logger.Info("simulated scanner listening", "address", src.Addr().String())
		if d.onListen != nil {
			d.onListen(addr.Target, src.Addr())
		}
		return src, nil
	case "stdin":
		return openStdin(), nil
	case "pipe":
		if val == "" {
			return nil, fmt.Errorf("%w %q: want sim:pipe=/path/to/fifo", scanner.ErrAddress, addr.Raw)
		}
		return OpenPipe(val)
	case "inproc":
		return openInProcess(val)
	}
	return nil, fmt.Errorf("%w %q: want sim:tcp=HOST:PORT, sim:stdin, sim:pipe=PATH or sim:inproc=NAME", scanner.ErrAddress, addr.Raw)
}

// classify wraps an OS error in the scanner error a user can act on.
func classify(err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%w: %w", scanner.ErrBusy, err)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%w: %w", scanner.ErrPermission, err)
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: %w", scanner.ErrNotFound, err)
	}
	return err
}

// result is one Next outcome queued by a reader goroutine.
type result struct {
	c   scanner.Chunk
	err error
}

// pipeline is the part every simulated Source shares: goroutines put
// results on a channel, Next takes them, Close stops everything.
type pipeline struct {
	results chan result
	done    chan struct{}
	once    sync.Once
	onClose func() error
	wg      sync.WaitGroup
}

func newPipeline(onClose func() error) *pipeline {
	return &pipeline{results: make(chan result), done: make(chan struct{}), onClose: onClose}
}

// put hands r to Next; false when the source was closed.
func (p *pipeline) put(r result) bool {
	select {
	case p.results <- r:
		return true
	case <-p.done:
		return false
	}
}

// Next implements scanner.Source.
func (p *pipeline) Next(ctx context.Context) (scanner.Chunk, error) {
	select {
	case <-ctx.Done():
		return scanner.Chunk{}, ctx.Err()
	case <-p.done:
		return scanner.Chunk{}, fmt.Errorf("%w: closed", scanner.ErrDisconnected)
	case r := <-p.results:
		return r.c, r.err
	}
}

// Close implements scanner.Source.
func (p *pipeline) Close() error {
	var err error
	p.once.Do(func() {
		close(p.done)
		if p.onClose != nil {
			err = p.onClose()
		}
		p.wg.Wait()
	})
	return err
}

// pumpReader copies r into p as chunks until r fails; at EOF it sends an
// End chunk. It returns the read error (nil at EOF) or nil when closed.
func (p *pipeline) pumpReader(r io.Reader) (open bool, err error) {
	buf := make([]byte, 512)
	for {
		n, err := r.Read(buf)
		at := time.Now()
		if n > 0 && !p.put(result{c: scanner.Chunk{Data: append([]byte(nil), buf[:n]...), At: at}}) {
			return false, nil
		}
		if errors.Is(err, io.EOF) {
			return p.put(result{c: scanner.Chunk{End: true, At: at}}), nil
		}
		if err != nil {
			return true, err
		}
	}
}

// TCPSource is a sim:tcp gun: a listener whose connections, one after
// another, carry the scanner's bytes.
type TCPSource struct {
	*pipeline
	ln net.Listener

	mu   sync.Mutex
	conn net.Conn
}

// ListenTCP listens on addr (such as 127.0.0.1:0) and returns the Source.
func ListenTCP(ctx context.Context, addr string) (*TCPSource, error) {
	if addr == "" {
		return nil, fmt.Errorf("%w: sim:tcp needs HOST:PORT", scanner.ErrAddress)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("simulated scanner on %s: %w", addr, classify(err))
	}
	s := &TCPSource{ln: ln}
	s.pipeline = newPipeline(func() error {
		err := ln.Close()
		s.mu.Lock()
		if s.conn != nil {
			s.conn.Close()
		}
		s.mu.Unlock()
		return err
	})
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Addr is the address the gun listens on.
func (s *TCPSource) Addr() net.Addr { return s.ln.Addr() }

func (s *TCPSource) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			s.put(result{err: fmt.Errorf("%w: listener on %s: %w", scanner.ErrDisconnected, s.ln.Addr(), err)})
			return
		}
		s.mu.Lock()
		select {
		case <-s.done:
			s.mu.Unlock()
			conn.Close()
			return
		default:
		}
		s.conn = conn
		s.mu.Unlock()
		open, err := s.pumpReader(conn)
		conn.Close()
		s.mu.Lock()
		s.conn = nil
		s.mu.Unlock()
		if !open {
			return
		}
		// A reset connection ends its stream like a clean close.
		if err != nil && !s.put(result{c: scanner.Chunk{End: true, At: time.Now()}}) {
			return
		}
	}
}

// readerSource streams an io.Reader (a named pipe).
type readerSource struct{ *pipeline }

func newReaderSource(r io.ReadCloser, name string) *readerSource {
	s := &readerSource{newPipeline(r.Close)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		open, err := s.pumpReader(r)
		if !open {
			return
		}
		if err == nil {
			err = io.EOF
		}
		s.put(result{err: fmt.Errorf("%w: %s: %w", scanner.ErrDisconnected, name, err)})
	}()
	return s
}

// Standard input cannot be interrupted, so one goroutine reads it for the
// whole process and each opened sim:stdin Source takes from it.
var (
	stdinOnce    sync.Once
	stdinResults chan result
)

func openStdin() scanner.Source {
	stdinOnce.Do(func() {
		stdinResults = make(chan result)
		go func() {
			buf := make([]byte, 512)
			for {
				n, err := os.Stdin.Read(buf)
				if n > 0 {
					stdinResults <- result{c: scanner.Chunk{Data: append([]byte(nil), buf[:n]...), At: time.Now()}}
				}
				if err != nil {
					stdinResults <- result{c: scanner.Chunk{End: true, At: time.Now()}}
					stdinResults <- result{err: fmt.Errorf("%w: standard input: %w", scanner.ErrDisconnected, err)}
					if errors.Is(err, io.EOF) {
						// Stay at EOF: later opens see the end at once.
						for {
							stdinResults <- result{err: fmt.Errorf("%w: standard input closed", scanner.ErrNotFound)}
						}
					}
				}
			}
		}()
	})
	return &chanSource{results: stdinResults, done: make(chan struct{})}
}

// chanSource takes results from a shared channel.
type chanSource struct {
	results <-chan result
	done    chan struct{}
	once    sync.Once
}

func (s *chanSource) Next(ctx context.Context) (scanner.Chunk, error) {
	select {
	case <-ctx.Done():
		return scanner.Chunk{}, ctx.Err()
	case <-s.done:
		return scanner.Chunk{}, fmt.Errorf("%w: closed", scanner.ErrDisconnected)
	case r := <-s.results:
		return r.c, r.err
	}
}

func (s *chanSource) Close() error {
	s.once.Do(func() { close(s.done) })
	return nil
}
