// Package backendtest runs the real payment backend for other packages'
// tests: a SQLite database in the test's temporary directory, the HTTP
// handler on a loopback port, and the demo merchant, terminal and funded
// payer. The backend can be stopped (connections are refused) and started
// again on the same address, as a till sees an outage.
package backendtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"tillpay/backend"
	"tillpay/backend/api"
	"tillpay/backend/client"
)

// Server is a running backend.
type Server struct {
	Service *backend.Service
	URL     string // http://127.0.0.1:PORT
	Demo    api.DemoFile
	// TerminalKey is the demo terminal's key.
	TerminalKey []byte

	t       testing.TB
	addr    string
	handler http.Handler
	mu      sync.Mutex
	srv     *http.Server
}

type options struct {
	backend []backend.Option
	wrap    func(http.Handler) http.Handler
}

// Option configures Start.
type Option func(*options)

// WithBackendOptions passes options to backend.Open (after the test
// defaults: cheap password hashing).
func WithBackendOptions(opts ...backend.Option) Option {
	return func(o *options) { o.backend = append(o.backend, opts...) }
}

// WithHandler wraps the backend's HTTP handler, e.g. to lose answers.
func WithHandler(wrap func(http.Handler) http.Handler) Option {
	return func(o *options) { o.wrap = wrap }
}

// Start opens, starts and serves a backend until the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := options{backend: []backend.Option{backend.WithPasswordIterations(1000)}}
	for _, f := range opts {
		f(&o)
	}
	ctx := context.Background()
	key := make([]byte, backend.MasterKeySize)
	rand.Read(key)
	svc, err := backend.Open(ctx, filepath.Join(t.TempDir(), "backend.db"), key, o.backend...)
	if err != nil {
		t.Fatal(err)
	}
	svc.Start()
	s := &Server{Service: svc, t: t, handler: svc.Handler()}
	if o.wrap != nil {
		s.handler = o.wrap(s.handler)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		svc.Close()
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.URL = "http://" + s.addr
	s.serve(ln)
	t.Cleanup(func() {
		s.Stop()
		svc.Close()
	})
	if s.Demo, err = svc.DemoSetup(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if s.TerminalKey, err = hex.DecodeString(s.Demo.Terminal.Key); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *Server) serve(ln net.Listener) {
	srv := &http.Server{Handler: s.handler}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go srv.Serve(ln)
}

// Stop closes the listener and every connection: requests are refused.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		s.srv.Close()
		s.srv = nil
	}
}

// Restart listens again at the same address.
func (s *Server) Restart() {
	s.t.Helper()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.serve(ln)
}

// Terminal returns a client of the demo terminal.
func (s *Server) Terminal(opts ...client.Option) *client.Terminal {
	s.t.Helper()
	c, err := client.NewTerminal(s.URL, s.Demo.Terminal.ID, s.TerminalKey, opts...)
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// Payer returns a client of the demo payer.
func (s *Server) Payer() *client.Payer {
	s.t.Helper()
	p, err := client.NewPayer(s.URL, s.Demo.Payer.ID, s.Demo.Payer.Password)
	if err != nil {
		s.t.Fatal(err)
	}
	return p
}

// WriteTerminalKey writes the demo terminal's key in hex to a file in dir,
// as a till's terminal_key_file, and returns its path.
func (s *Server) WriteTerminalKey(dir string) string {
	s.t.Helper()
	path := filepath.Join(dir, "terminal.key")
	if err := os.WriteFile(path, []byte(s.Demo.Terminal.Key+"\n"), 0o600); err != nil {
		s.t.Fatal(err)
	}
	return path
}
