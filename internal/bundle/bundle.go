// Package bundle runs the payment backend as a child process of the till,
// for a till that has no backend URL configured: it starts `paybackend
// serve` on a loopback port with its database under the till's data
// directory, waits until it is ready, restarts it if it dies (on the same
// port, so the till's URL stays valid) and stops it when the till exits.
package bundle

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configure a bundled backend.
type Options struct {
	// Command is the program and leading arguments that run the backend's
	// command line, e.g. {"/usr/bin/paybackend"} or {os.Args[0], "paybackend"}.
	Command []string
	// DataDir holds the backend's database (backend.db), master key and log
	// (backend.log).
	DataDir string
	// ReadyTimeout bounds the wait for the backend to listen (default 20 s).
	ReadyTimeout time.Duration
	// MaxRestartDelay caps the delay between restarts (default 10 s).
	MaxRestartDelay time.Duration
	Logger          *slog.Logger
}

// Process is a running bundled backend.
type Process struct {
	opt     Options
	url     string
	port    string
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	cmd     *exec.Cmd
	starts  int
	exited  chan struct{} // closed when the current child exits
	lastErr error
}

// DBPath returns where the bundled backend keeps its database.
func DBPath(dataDir string) string { return filepath.Join(dataDir, "backend.db") }

// Start starts the backend and returns once it is ready to take requests.
func Start(ctx context.Context, opt Options) (*Process, error) {
	if len(opt.Command) == 0 {
		return nil, errors.New("bundle: no backend command")
	}
	if opt.ReadyTimeout <= 0 {
		opt.ReadyTimeout = 20 * time.Second
	}
	if opt.MaxRestartDelay <= 0 {
		opt.MaxRestartDelay = 10 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if err := os.MkdirAll(opt.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("bundle: data directory: %w", err)
	}
	p := &Process{opt: opt, port: "0", done: make(chan struct{})}
	if err := p.spawn(ctx); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go p.supervise(sctx)
	return p, nil
}

// URL is the backend's base URL, such as http://127.0.0.1:43211.
func (p *Process) URL() string { return p.url }

// Starts returns how many times the backend has been started.
func (p *Process) Starts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

// PID returns the process id of the current child.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// spawn starts one child and waits until it says where it listens.
func (p *Process) spawn(ctx context.Context) error {
	addrFile := filepath.Join(p.opt.DataDir, "backend.addr")
	_ = os.Remove(addrFile)
	args := append(append([]string{}, p.opt.Command[1:]...),
		"serve", "--db", DBPath(p.opt.DataDir), "--listen", net.JoinHostPort("127.0.0.1", p.port), "--addr-file", addrFile)
	cmd := exec.Command(p.opt.Command[0], args...)
	logf, err := os.OpenFile(filepath.Join(p.opt.DataDir, "backend.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("bundle: backend log: %w", err)
	}
	defer logf.Close()
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	// If the till dies, even by SIGKILL, the kernel stops the backend too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("bundle: starting %s: %w", p.opt.Command[0], err)
	}
	exited := make(chan struct{})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if _, url, ok := strings.Cut(line, "listening "); ok {
				select {
				case ready <- strings.TrimSpace(url):
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	timer := time.NewTimer(p.opt.ReadyTimeout)
	defer timer.Stop()
	select {
	case url := <-ready:
		p.mu.Lock()
		p.cmd, p.exited = cmd, exited
		p.starts++
		p.mu.Unlock()
		p.url = url
		if _, port, err := net.SplitHostPort(strings.TrimPrefix(url, "http://")); err == nil {
			p.port = port
		}
		p.opt.Logger.Info("bundled payment backend ready", "url", url, "pid", cmd.Process.Pid)
		return nil
	case <-exited:
		return fmt.Errorf("bundle: the payment backend exited before it was ready (%v); see %s", waitErr, filepath.Join(p.opt.DataDir, "backend.log"))
	case <-timer.C:
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("bundle: the payment backend was not ready after %s; see %s", p.opt.ReadyTimeout, filepath.Join(p.opt.DataDir, "backend.log"))
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-exited
		return ctx.Err()
	}
}

// supervise restarts the child whenever it exits, until ctx ends.
func (p *Process) supervise(ctx context.Context) {
	defer close(p.done)
	delay := 200 * time.Millisecond
	for {
		p.mu.Lock()
		exited := p.exited
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-exited:
		}
		p.opt.Logger.Warn("bundled payment backend exited; restarting", "delay", delay)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			err := p.spawn(ctx)
			if err == nil {
				delay = 200 * time.Millisecond
				break
			}
			p.mu.Lock()
			p.lastErr = err
			p.mu.Unlock()
			p.opt.Logger.Error("restarting the bundled payment backend failed", "err", err)
			delay = min(delay*2, p.opt.MaxRestartDelay)
		}
	}
}

// Stop stops the backend gracefully (SIGTERM, then SIGKILL after timeout)
// and ends supervision.
func (p *Process) Stop(timeout time.Duration) error {
	p.cancel()
	<-p.done
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return nil
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("bundle: the payment backend did not stop within %s and was killed", timeout)
	}
}
