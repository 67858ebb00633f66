package sim

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"tillpay/scanner"
)

// InProcess is a scan gun inside the program, for demos and tests: Type a
// code and it arrives through the Manager like one from a serial scanner.
// Unplug and Plug simulate the cable. Open it by its Address.
type InProcess struct {
	name   string
	suffix string
	data   chan []byte

	mu      sync.Mutex
	plugged bool
	closed  bool
	session *inprocSession
}

// InProcessOption configures an InProcess gun.
type InProcessOption func(*InProcess)

// Name sets the gun's name in its address (default gun1, gun2, …).
func Name(name string) InProcessOption { return func(g *InProcess) { g.name = name } }

// Suffix sets the terminator Type sends after a code (default "\r").
func Suffix(s string) InProcessOption { return func(g *InProcess) { g.suffix = s } }

var (
	inprocMu   sync.Mutex
	inprocGuns = map[string]*InProcess{}
	inprocSeq  atomic.Int64
)

// NewInProcess makes a plugged-in gun and makes it reachable by its
// Address. Close it when done.
func NewInProcess(opts ...InProcessOption) (*InProcess, error) {
	g := &InProcess{suffix: "\r", data: make(chan []byte, 256), plugged: true}
	for _, o := range opts {
		o(g)
	}
	if g.name == "" {
		g.name = "gun" + strconv.FormatInt(inprocSeq.Add(1), 10)
	}
	inprocMu.Lock()
	defer inprocMu.Unlock()
	if _, dup := inprocGuns[g.name]; dup {
		return nil, fmt.Errorf("%w: an in-process gun named %q exists", scanner.ErrBusy, g.name)
	}
	inprocGuns[g.name] = g
	return g, nil
}

// Address returns the gun's scanner address, such as "sim:inproc=gun1".
// Framing parameters may be appended ("?suffix=cr").
func (g *InProcess) Address() string { return "sim:inproc=" + g.name }

// Type sends code followed by the gun's suffix, as one read.
func (g *InProcess) Type(code string) error { return g.send([]byte(code + g.suffix)) }

// Write sends raw bytes (any framing, any split), as one read.
func (g *InProcess) Write(p []byte) (int, error) {
	if err := g.send(append([]byte(nil), p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (g *InProcess) send(p []byte) error {
	g.mu.Lock()
	ok := g.plugged && !g.closed
	g.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: in-process gun %s is unplugged", scanner.ErrDisconnected, g.name)
	}
	select {
	case g.data <- p:
		return nil
	default:
		return fmt.Errorf("in-process gun %s: %d reads not taken; is it opened?", g.name, cap(g.data))
	}
}

// Unplug cuts the cable: the open session fails with ErrDisconnected,
// bytes not yet read are lost and opens fail with ErrNotFound until Plug.
func (g *InProcess) Unplug() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.plugged = false
	if g.session != nil {
		g.session.cut()
		g.session = nil
	}
	for {
		select {
		case <-g.data:
		default:
			return
		}
	}
}

// Plug reconnects the cable.
func (g *InProcess) Plug() {
	g.mu.Lock()
	g.plugged = true
	g.mu.Unlock()
}

// Close unplugs the gun for good and frees its name.
func (g *InProcess) Close() error {
	g.Unplug()
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	inprocMu.Lock()
	if inprocGuns[g.name] == g {
		delete(inprocGuns, g.name)
	}
	inprocMu.Unlock()
	return nil
}

func openInProcess(name string) (scanner.Source, error) {
	inprocMu.Lock()
	g := inprocGuns[name]
	inprocMu.Unlock()
	if g == nil {
		return nil, fmt.Errorf("%w: no in-process gun named %q", scanner.ErrNotFound, name)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case !g.plugged || g.closed:
		return nil, fmt.Errorf("%w: in-process gun %s is unplugged", scanner.ErrNotFound, name)
	case g.session != nil:
		return nil, fmt.Errorf("%w: in-process gun %s is already open", scanner.ErrBusy, name)
	}
	s := &inprocSession{g: g, gone: make(chan struct{}), closed: make(chan struct{})}
	g.session = s
	return s, nil
}

// inprocSession is one claim of an InProcess gun.
type inprocSession struct {
	g         *InProcess
	gone      chan struct{} // unplugged
	closed    chan struct{}
	cutOnce   sync.Once
	closeOnce sync.Once
}

func (s *inprocSession) cut() { s.cutOnce.Do(func() { close(s.gone) }) }

func (s *inprocSession) Next(ctx context.Context) (scanner.Chunk, error) {
	select {
	case <-ctx.Done():
		return scanner.Chunk{}, ctx.Err()
	case <-s.closed:
		return scanner.Chunk{}, fmt.Errorf("%w: closed", scanner.ErrDisconnected)
	case <-s.gone:
		return scanner.Chunk{}, fmt.Errorf("%w: in-process gun %s was unplugged", scanner.ErrDisconnected, s.g.name)
	case p := <-s.g.data:
		return scanner.Chunk{Data: p, At: time.Now()}, nil
	}
}

func (s *inprocSession) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.g.mu.Lock()
		if s.g.session == s {
			s.g.session = nil
		}
		s.g.mu.Unlock()
	})
	return nil
}
