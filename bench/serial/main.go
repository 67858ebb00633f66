// Command serial measures the latency of a serial scan gun's code from its
// last byte, written to a pseudo-terminal, to the scan delivered to the
// application, through tillpay's real stack (drivers/serial, the scanner
// Framer and Manager) and, side by side on the same feed, through Node's
// serialport with its readline parser (peer.js). Each scan is sent only
// after the previous one was delivered, and the two take turns, so both
// see the same load. One JSON object per implementation goes to stdout.
//
// Usage: go run ./bench/serial [-n 10000] [-baud 115200] [-impl both|go|node] [-peerdir bench/serial]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	_ "tillpay/drivers/serial"
	"tillpay/scanner"
)

func main() {
	n := flag.Int("n", 10000, "scans per implementation")
	warm := flag.Int("warmup", 200, "scans before measuring")
	baud := flag.Int("baud", 115200, "baud rate set on the port")
	impl := flag.String("impl", "both", "go, node or both")
	peerDir := flag.String("peerdir", "bench/serial", "directory of peer.js and its node_modules")
	flag.Parse()
	if err := run(*n, *warm, *baud, *impl, *peerDir); err != nil {
		fmt.Fprintln(os.Stderr, "bench/serial:", err)
		os.Exit(1)
	}
}

func run(n, warm, baud int, impl, peerDir string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	codes := makeCodes(n+warm, 1)

	var impls []side
	if impl == "go" || impl == "both" {
		g, err := startGo(ctx, baud)
		if err != nil {
			return fmt.Errorf("tillpay: %w", err)
		}
		defer g.close()
		impls = append(impls, g)
	}
	if impl == "node" || impl == "both" {
		p, err := startNode(peerDir, baud)
		if err != nil {
			return fmt.Errorf("node peer: %w", err)
		}
		defer p.close()
		impls = append(impls, p)
	}
	if len(impls) == 0 {
		return fmt.Errorf("-impl %q: want go, node or both", impl)
	}

	lat := make([][]time.Duration, len(impls))
	for i, code := range codes {
		for j, s := range impls {
			d, err := s.scan(code)
			if err != nil {
				return fmt.Errorf("%s, scan %d: %w", s.name(), i, err)
			}
			if i >= warm {
				lat[j] = append(lat[j], d)
			}
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	for j, s := range impls {
		r := summarize(lat[j])
		r.Impl, r.Stack, r.Baud, r.Version = s.name(), s.stack(), baud, s.version()
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// side is one implementation under test.
type side interface {
	name() string
	stack() string
	version() string
	// scan writes code+CR and returns the time from the write's return
	// to the code's delivery.
	scan(code string) (time.Duration, error)
	close()
}

// result is one line of output.
type result struct {
	Impl    string  `json:"impl"`
	Stack   string  `json:"stack"`
	Version string  `json:"version,omitempty"`
	Baud    int     `json:"baud"`
	N       int     `json:"n"`
	P50     float64 `json:"p50_us"`
	P90     float64 `json:"p90_us"`
	P99     float64 `json:"p99_us"`
	P999    float64 `json:"p999_us"`
	Max     float64 `json:"max_us"`
	Mean    float64 `json:"mean_us"`
}

func summarize(d []time.Duration) result {
	s := slices.Clone(d)
	slices.Sort(s)
	r := result{N: len(s)}
	if len(s) == 0 {
		return r
	}
	var sum time.Duration
	for _, x := range s {
		sum += x
	}
	r.P50, r.P90, r.P99, r.P999 = us(pct(s, 50)), us(pct(s, 90)), us(pct(s, 99)), us(pct(s, 99.9))
	r.Max, r.Mean = us(s[len(s)-1]), us(sum/time.Duration(len(s)))
	return r
}

// pct is the nearest-rank percentile of sorted s.
func pct(s []time.Duration, p float64) time.Duration {
	k := int(float64(len(s))*p/100+0.999999999) - 1
	return s[min(max(k, 0), len(s)-1)]
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()/10) / 100 }

// makeCodes returns n distinct 18-digit codes shaped like WeChat Pay
// payment codes (10–15 followed by 16 digits).
func makeCodes(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, seed))
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("1%d%016d", r.IntN(6), r.Uint64N(1e16))
	}
	return out
}

// mono reads CLOCK_MONOTONIC, the clock Node's process.hrtime uses.
func mono() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}

func openPty() (*os.File, string, error) {
	master, slave, err := pty.Open()
	if err != nil {
		return nil, "", err
	}
	name := slave.Name()
	slave.Close()
	return master, name, nil
}

// goSide runs the scan gun through a scanner.Manager, as the till does.
type goSide struct {
	master *os.File
	m      *scanner.Manager
	cancel context.CancelFunc
	done   chan error
	buf    []byte
}

func startGo(ctx context.Context, baud int) (*goSide, error) {
	master, path, err := openPty()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("serial:%s?baud=%d&suffix=cr", path, baud)
	m, err := scanner.NewManager([]string{addr},
		scanner.WithRescanWindow(0), scanner.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		master.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	g := &goSide{master: master, m: m, cancel: cancel, done: make(chan error, 1)}
	go func() { g.done <- m.Run(ctx) }()
	for ev := range m.Events() {
		if ev.Kind == scanner.EventStatus {
			if ev.State == scanner.Connected {
				return g, nil
			}
			g.close()
			return nil, fmt.Errorf("%s: %v", ev.Detail, ev.Err)
		}
	}
	return nil, errors.New("manager stopped before the port opened")
}

func (g *goSide) name() string { return "tillpay-go" }
func (g *goSide) stack() string {
	return "pty -> drivers/serial Source -> scanner.Manager (Framer) -> Event channel"
}
func (g *goSide) version() string { return "" }

func (g *goSide) scan(code string) (time.Duration, error) {
	g.buf = append(append(g.buf[:0], code...), '\r')
	if _, err := g.master.Write(g.buf); err != nil {
		return 0, err
	}
	t0 := mono()
	for ev := range g.m.Events() {
		t1 := mono()
		switch ev.Kind {
		case scanner.EventScan:
			if ev.Scan.Label != code {
				return 0, fmt.Errorf("got %q, want %q", ev.Scan.Label, code)
			}
			return t1 - t0, nil
		case scanner.EventBadScan, scanner.EventStatus:
			return 0, fmt.Errorf("%s: %v", ev.Detail, ev.Err)
		}
	}
	return 0, errors.New("manager stopped")
}

func (g *goSide) close() {
	g.cancel()
	for range g.m.Events() {
	}
	<-g.done
	g.master.Close()
}

// nodeSide drives peer.js.
type nodeSide struct {
	master *os.File
	cmd    *exec.Cmd
	stdin  *os.File
	out    *bufio.Reader
	ver    string
	buf    []byte
}

func startNode(dir string, baud int) (*nodeSide, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	master, path, err := openPty()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("node", filepath.Join(dir, "peer.js"), path, strconv.Itoa(baud))
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		master.Close()
		return nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		master.Close()
		return nil, err
	}
	cmd.Stdin = pr
	if err := cmd.Start(); err != nil {
		master.Close()
		return nil, err
	}
	pr.Close()
	p := &nodeSide{master: master, cmd: cmd, stdin: pw, out: bufio.NewReader(stdout)}
	line, err := p.out.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		p.close()
		return nil, fmt.Errorf("peer did not start (%q, %v)", line, err)
	}
	if v, err := exec.Command("node", "--version").Output(); err == nil {
		p.ver = "node " + strings.TrimSpace(string(v))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "node_modules", "serialport", "package.json")); err == nil {
		var pkg struct{ Version string }
		if json.Unmarshal(b, &pkg) == nil {
			p.ver += ", serialport " + pkg.Version
		}
	}
	return p, nil
}

func (p *nodeSide) name() string { return "node-serialport" }
func (p *nodeSide) stack() string {
	return "pty -> serialport SerialPort -> @serialport/parser-readline 'data'"
}
func (p *nodeSide) version() string { return p.ver }

func (p *nodeSide) scan(code string) (time.Duration, error) {
	p.buf = append(append(p.buf[:0], code...), '\r')
	if _, err := p.master.Write(p.buf); err != nil {
		return 0, err
	}
	t0 := mono()
	line, err := p.out.ReadString('\n')
	if err != nil {
		return 0, err
	}
	ns, got, _ := strings.Cut(strings.TrimSpace(line), " ")
	if got != code {
		return 0, fmt.Errorf("got %q, want %q", got, code)
	}
	t1, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("peer line %q: %w", line, err)
	}
	return time.Duration(t1) - t0, nil
}

func (p *nodeSide) close() {
	p.stdin.Close()
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
	p.master.Close()
}
