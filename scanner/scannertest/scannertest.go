// Package scannertest provides an in-memory scan gun for tests: a Source
// that a test scripts chunk by chunk (and unplugs at will), and a Driver
// that hands out such Sources and can be told to fail its next opens.
//
//	drv := scannertest.NewDriver("fake")
//	m, _ := scanner.NewManager([]string{"fake:1"}, scanner.WithDrivers(drv))
//	go m.Run(ctx)
//	src := <-drv.Opened()
//	src.Type("123456789012345678\r")
//	ev := <-m.Events() // the "ready" status, then the scan
package scannertest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"tillpay/scanner"
)

// Source is a scriptable scanner.Source. Pushed chunks are delivered in
// order; after Disconnect or Fail, Next returns the error once the
// chunks pushed before it are delivered.
type Source struct {
	Addr scanner.Address

	mu      sync.Mutex
	queue   []item
	notify  chan struct{}
	closed  chan struct{}
	closeMu sync.Once
}

type item struct {
	c   scanner.Chunk
	err error
}

// NewSource returns an empty Source.
func NewSource() *Source {
	return &Source{notify: make(chan struct{}, 1), closed: make(chan struct{})}
}

func (s *Source) add(it item) {
	s.mu.Lock()
	s.queue = append(s.queue, it)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Push queues a chunk.
func (s *Source) Push(c scanner.Chunk) { s.add(item{c: c}) }

// Type queues data as one unframed chunk stamped with the current time
// (zero At: the Manager's clock decides).
func (s *Source) Type(data string) { s.Push(scanner.Chunk{Data: []byte(data)}) }

// TypeAt queues data as one unframed chunk that arrived at at.
func (s *Source) TypeAt(data string, at time.Time) {
	s.Push(scanner.Chunk{Data: []byte(data), At: at})
}

// Disconnect makes Next fail with scanner.ErrDisconnected, as an unplug.
func (s *Source) Disconnect() {
	s.add(item{err: fmt.Errorf("%w: unplugged (scannertest)", scanner.ErrDisconnected)})
}

// Fail makes Next fail with err.
func (s *Source) Fail(err error) { s.add(item{err: err}) }

// Next implements scanner.Source.
func (s *Source) Next(ctx context.Context) (scanner.Chunk, error) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			it := s.queue[0]
			if it.err == nil {
				s.queue = s.queue[1:]
			}
			s.mu.Unlock()
			return it.c, it.err
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return scanner.Chunk{}, ctx.Err()
		case <-s.closed:
			return scanner.Chunk{}, fmt.Errorf("%w: closed", scanner.ErrDisconnected)
		case <-s.notify:
		}
	}
}

// Close implements scanner.Source.
func (s *Source) Close() error {
	s.closeMu.Do(func() { close(s.closed) })
	return nil
}

// Closed reports whether Close was called.
func (s *Source) Closed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// Driver is a scriptable scanner.Driver.
type Driver struct {
	scheme string
	opened chan *Source

	mu    sync.Mutex
	fails []error
	opens int
}

// NewDriver returns a Driver for scheme. Pass it to scanner.WithDrivers
// (or scanner.Register it under a scheme no other test uses).
func NewDriver(scheme string) *Driver {
	return &Driver{scheme: scheme, opened: make(chan *Source, 64)}
}

// Scheme implements scanner.Driver.
func (d *Driver) Scheme() string { return d.scheme }

// FailOpen makes the next opens fail with errs, one each, in order.
func (d *Driver) FailOpen(errs ...error) {
	d.mu.Lock()
	d.fails = append(d.fails, errs...)
	d.mu.Unlock()
}

// Opens returns how many times Open was called.
func (d *Driver) Opens() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.opens
}

// Opened delivers each Source the driver opens.
func (d *Driver) Opened() <-chan *Source { return d.opened }

// Open implements scanner.Driver.
func (d *Driver) Open(ctx context.Context, addr scanner.Address) (scanner.Source, error) {
	d.mu.Lock()
	d.opens++
	if len(d.fails) > 0 {
		err := d.fails[0]
		d.fails = d.fails[1:]
		d.mu.Unlock()
		return nil, err
	}
	d.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := NewSource()
	s.Addr = addr
	select {
	case d.opened <- s:
	default:
		return nil, fmt.Errorf("scannertest: more than %d opens not collected from Opened", cap(d.opened))
	}
	return s, nil
}
