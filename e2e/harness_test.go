package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"tillpay/backend/api"
	"tillpay/backend/client"
	"tillpay/till"
)

// bin is the tillpay binary built by TestMain.
var bin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "tillpay-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "tillpay")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	build := exec.Command(goTool, "build", "-tags", "nogui", "-o", bin, ".")
	build.Dir = ".." // the module root, where package main lives
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building tillpay: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// Timeouts of the waits. They bound how long a broken build hangs, not how
// long a passing one takes: every wait ends at the awaited event.
const (
	eventWait   = 20 * time.Second
	processWait = 15 * time.Second
)

// childEnv keeps the processes off the user's configuration: their config
// directory is the test's own.
func childEnv(home string) []string {
	return append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "TILLPAY_WALLET_STATE=")
}

// shop is one test's world: a payment backend process with the demo
// merchant, terminal and payer, and the till's credentials on disk.
type shop struct {
	t       *testing.T
	dir     string
	home    string
	db      string
	demo    api.DemoFile
	demoOut string
	keyFile string
	be      *backendProc
	term    *client.Terminal
}

func newShop(t *testing.T) *shop {
	t.Helper()
	dir := t.TempDir()
	if keep := os.Getenv("TILLPAY_E2E_KEEP"); keep != "" {
		// Keep the logs and databases of the run for a post-mortem.
		var err error
		if dir, err = os.MkdirTemp(keep, t.Name()+"-"); err != nil {
			t.Fatal(err)
		}
		t.Logf("files kept in %s", dir)
	}
	s := &shop{t: t, dir: dir, home: filepath.Join(dir, "home"), db: filepath.Join(dir, "backend", "backend.db"),
		demoOut: filepath.Join(dir, "demo.json"), keyFile: filepath.Join(dir, "terminal.key")}
	if err := os.MkdirAll(s.home, 0o700); err != nil {
		t.Fatal(err)
	}
	s.mustRun("paybackend", "demo-setup", "--db", s.db, "--out", s.demoOut)
	data, err := os.ReadFile(s.demoOut)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &s.demo); err != nil {
		t.Fatalf("demo file: %v", err)
	}
	if err := os.WriteFile(s.keyFile, []byte(s.demo.Terminal.Key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.be = startBackend(t, s, s.db, "127.0.0.1:0")
	key, err := hex.DecodeString(s.demo.Terminal.Key)
	if err != nil {
		t.Fatal(err)
	}
	s.term, err = client.NewTerminal(s.be.url, s.demo.Terminal.ID, key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// run runs the tillpay binary to its end and returns its stdout, stderr
// and exit status.
func (s *shop) run(stdin string, args ...string) (string, string, int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), processWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = childEnv(s.home)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0
	case errors.As(err, &ee) && ctx.Err() == nil:
		return out.String(), errb.String(), ee.ExitCode()
	}
	s.t.Fatalf("tillpay %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	return "", "", -1
}

// mustRun runs the binary and fails the test unless it exits 0.
func (s *shop) mustRun(args ...string) string {
	s.t.Helper()
	out, errs, code := s.run("", args...)
	if code != 0 {
		s.t.Fatalf("tillpay %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// audit runs `paybackend audit` and fails unless the ledger balances.
func (s *shop) audit() {
	s.t.Helper()
	out, errs, code := s.run("", "paybackend", "audit", "--db", s.db, "--json")
	if code != 0 {
		s.t.Fatalf("paybackend audit: exit %d\n%s%s", code, out, errs)
	}
}

// auditOrders runs the audit and returns the number of orders it counted.
func (s *shop) auditOrders() int {
	s.t.Helper()
	out, errs, code := s.run("", "paybackend", "audit", "--db", s.db, "--json")
	if code != 0 {
		s.t.Fatalf("paybackend audit: exit %d\n%s%s", code, out, errs)
	}
	var r struct {
		Orders int `json:"orders"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		s.t.Fatalf("audit output: %v\n%s", err, out)
	}
	return r.Orders
}

// addPayer creates a payer with `paybackend admin payer add` (and a top-up
// when balance is not empty) and enrols a wallet for it.
func (s *shop) addPayer(id, balance string) *walletCLI {
	s.t.Helper()
	pw := "pw-" + id + "-secret"
	out, errs, code := s.run(pw+"\n", "paybackend", "admin", "payer", "add", "--db", s.db, "--id", id, "--password-stdin")
	if code != 0 {
		s.t.Fatalf("payer add: exit %d\n%s%s", code, out, errs)
	}
	if balance != "" {
		s.mustRun("paybackend", "admin", "payer", "topup", "--db", s.db, "--id", id, "--amount", balance)
	}
	w := &walletCLI{s: s, state: filepath.Join(s.dir, "wallet-"+id+".json"), payer: id, password: pw}
	s.mustRun("wallet", "enrol", "--backend", s.be.url, "--payer", id, "--password", pw, "--state", w.state)
	return w
}

// demoWallet enrols the demo payer's wallet from the demo file.
func (s *shop) demoWallet() *walletCLI {
	s.t.Helper()
	w := &walletCLI{s: s, state: filepath.Join(s.dir, "wallet-demo.json"), payer: s.demo.Payer.ID, password: s.demo.Payer.Password}
	s.mustRun("wallet", "enrol", "--demo", s.demoOut, "--backend", s.be.url, "--state", w.state)
	return w
}

// walletCLI drives the wallet emulator's command line for one payer.
type walletCLI struct {
	s               *shop
	state           string
	payer, password string
}

// code returns a fresh code: --next moves past the last code shown, used
// or not, so that no code is ever shown twice.
func (w *walletCLI) code() string {
	w.s.t.Helper()
	out := w.s.mustRun("wallet", "code", "--json", "--next", "--no-wait", "--state", w.state)
	var c struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil || len(c.Code) != 18 {
		w.s.t.Fatalf("wallet code: %v: %q", err, out)
	}
	return c.Code
}

// balance asks the backend for the payer's balance in fen.
func (w *walletCLI) balance() int64 {
	w.s.t.Helper()
	out := w.s.mustRun("wallet", "balance", "--json", "--state", w.state)
	var b api.BalanceResponse
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		w.s.t.Fatalf("wallet balance: %v: %q", err, out)
	}
	return b.Balance.Minor
}

// confirm approves a payment waiting for the payer.
func (w *walletCLI) confirm(order string) {
	w.s.t.Helper()
	w.s.mustRun("wallet", "confirm", order, "--state", w.state)
}

// backendProc is a running `paybackend serve`.
type backendProc struct {
	t      *testing.T
	s      *shop
	db     string
	listen string // host:port it listens on
	url    string
	cmd    *exec.Cmd
	done   chan error
}

func startBackend(t *testing.T, s *shop, db, listen string) *backendProc {
	t.Helper()
	b := &backendProc{t: t, s: s, db: db, listen: listen}
	b.start()
	t.Cleanup(b.stop)
	return b
}

func (b *backendProc) start() {
	b.t.Helper()
	addrFile := filepath.Join(b.s.dir, "backend.addr")
	os.Remove(addrFile)
	cmd := exec.Command(bin, "paybackend", "serve", "--db", b.db, "--listen", b.listen, "--addr-file", addrFile)
	cmd.Env = childEnv(b.s.home)
	logf, err := os.OpenFile(filepath.Join(b.s.dir, "backend.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.cmd, b.done = cmd, make(chan error, 1)
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		b.done <- cmd.Wait()
	}()
	select {
	case line := <-lines:
		url, ok := strings.CutPrefix(line, "listening ")
		if !ok {
			b.t.Fatalf("paybackend serve said %q", line)
		}
		if b.url != "" && url != b.url {
			b.t.Fatalf("backend restarted at %s, not %s", url, b.url)
		}
		b.url = url
		b.listen = strings.TrimPrefix(url, "http://")
		if data, err := os.ReadFile(addrFile); err != nil || strings.TrimSpace(string(data)) != url {
			b.t.Fatalf("--addr-file holds %q (%v), want %s", data, err, url)
		}
	case err := <-b.done:
		b.cmd = nil
		b.t.Fatalf("paybackend serve exited: %v\n%s", err, b.s.tail("backend.log"))
	case <-time.After(processWait):
		b.t.Fatalf("paybackend serve did not start\n%s", b.s.tail("backend.log"))
	}
}

// stop stops the backend gracefully (SIGTERM) and waits for it.
func (b *backendProc) stop() {
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(processWait):
		b.cmd.Process.Kill()
		<-b.done
		b.t.Errorf("paybackend serve ignored SIGTERM")
	}
	b.cmd = nil
}

// tail returns the end of a log file in the shop's directory.
func (s *shop) tail(name string) string {
	data, _ := os.ReadFile(filepath.Join(s.dir, name))
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

// tillOpts say how to start a till.
type tillOpts struct {
	mode        string // offline mode; "" is prefer-online
	waitTimeout time.Duration
	dataDir     string // "" is a new one
}

// scanGun is a pseudo-terminal: the test writes to its master end as a
// serial scan gun would; the till opens its slave end by path.
type scanGun struct {
	master *os.File
	path   string
}

func newScanGun(t *testing.T) *scanGun {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatalf("pty: %v", err)
	}
	path := slave.Name()
	slave.Close()
	t.Cleanup(func() { master.Close() })
	return &scanGun{master: master, path: path}
}

// scan sends a code with the CR suffix the till is configured for.
func (g *scanGun) scan(t *testing.T, code string) {
	t.Helper()
	if _, err := g.master.Write([]byte(code + "\r")); err != nil {
		t.Fatalf("scan gun: %v", err)
	}
}

// tillProc is a running headless till.
type tillProc struct {
	t       *testing.T
	s       *shop
	gun     *scanGun
	dataDir string
	config  string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	events  chan till.Event
	done    chan error
	exited  bool
	mu      sync.Mutex
	seen    []string // events consumed, for failure messages
}

// startTill starts `tillpay --headless` against the shop's backend with gun
// as its scanner, and waits until it is ready and the scan gun is open.
func (s *shop) startTill(gun *scanGun, o tillOpts) *tillProc {
	s.t.Helper()
	if o.dataDir == "" {
		o.dataDir = filepath.Join(s.t.TempDir(), "till")
	}
	if o.mode == "" {
		o.mode = "prefer-online"
	}
	if o.waitTimeout == 0 {
		o.waitTimeout = 30 * time.Second
	}
	cfg := filepath.Join(s.dir, "tillpay.toml")
	text := fmt.Sprintf(`backend = %q
terminal_id = %q
terminal_key_file = %q
currency = "CNY"

[offline]
mode = %q

[payment]
wait_timeout = %q
poll_interval = "100ms"
request_timeout = "3s"
`, s.be.url, s.demo.Terminal.ID, s.keyFile, o.mode, o.waitTimeout.String())
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		s.t.Fatal(err)
	}
	tp := &tillProc{t: s.t, s: s, gun: gun, dataDir: o.dataDir, config: cfg}
	tp.start()
	return tp
}

func (tp *tillProc) start() {
	tp.t.Helper()
	cmd := exec.Command(bin, "--headless", "--config", tp.config, "--data-dir", tp.dataDir,
		"--scanner", "serial:"+tp.gun.path+"?suffix=cr", "--log-level", "debug")
	cmd.Env = childEnv(tp.s.home)
	logf, err := os.OpenFile(filepath.Join(tp.s.dir, "till.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		tp.t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stderr = logf
	if tp.stdin, err = cmd.StdinPipe(); err != nil {
		tp.t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tp.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tp.t.Fatal(err)
	}
	tp.cmd, tp.exited = cmd, false
	tp.events, tp.done = make(chan till.Event, 4096), make(chan error, 1)
	events, done := tp.events, tp.done
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			var ev till.Event
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.Event == "" {
				ev = till.Event{Event: "not-json", Reason: sc.Text()}
			}
			events <- ev
		}
		close(events)
		done <- cmd.Wait()
	}()
	tp.t.Cleanup(tp.kill)
	// The scan gun opens while the till starts: the two events come in
	// either order.
	var ready, connected bool
	tp.expect("ready and scan gun connected", func(e till.Event) bool {
		ready = ready || e.Event == till.EventReady
		connected = connected || e.Event == till.EventScanner && e.State == till.ScannerConnected
		return ready && connected
	})
}

func describe(e till.Event) string {
	parts := []string{e.Event}
	for _, f := range []string{e.Status, e.State, e.Order, e.Amount, e.ReasonCode, e.Reason} {
		if f != "" {
			parts = append(parts, f)
		}
	}
	return strings.Join(parts, "/")
}

// expect waits for the first event that matches and returns it; the events
// before it are consumed.
func (tp *tillProc) expect(what string, match func(till.Event) bool) till.Event {
	tp.t.Helper()
	timeout := time.NewTimer(eventWait)
	defer timeout.Stop()
	for {
		select {
		case e, ok := <-tp.events:
			if !ok {
				tp.t.Fatalf("till exited while waiting for %s; events: %v\n%s", what, tp.history(), tp.s.tail("till.log"))
			}
			tp.mu.Lock()
			tp.seen = append(tp.seen, describe(e))
			tp.mu.Unlock()
			if e.Event == "not-json" {
				tp.t.Errorf("till wrote a line that is not a JSON event: %q", e.Reason)
				continue
			}
			if match(e) {
				return e
			}
		case <-timeout.C:
			tp.t.Fatalf("no %s within %v; events: %v\n%s", what, eventWait, tp.history(), tp.s.tail("till.log"))
		}
	}
}

func (tp *tillProc) history() []string {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	h := tp.seen
	if len(h) > 40 {
		h = h[len(h)-40:]
	}
	return append([]string(nil), h...)
}

// payment waits for the next payment event.
func (tp *tillProc) payment() till.Event {
	tp.t.Helper()
	return tp.expect("payment event", func(e till.Event) bool { return e.Event == till.EventPayment })
}

// paymentIs waits for a payment event with the status.
func (tp *tillProc) paymentIs(status string) till.Event {
	tp.t.Helper()
	return tp.expect("payment "+status, func(e till.Event) bool { return e.Event == till.EventPayment && e.Status == status })
}

// send writes one command line to the till.
func (tp *tillProc) send(line string) {
	tp.t.Helper()
	if _, err := io.WriteString(tp.stdin, line+"\n"); err != nil {
		tp.t.Fatalf("till stdin: %v", err)
	}
}

// charge arms the till and waits until it is armed.
func (tp *tillProc) charge(amount string) {
	tp.t.Helper()
	tp.send("charge " + amount)
	// A code a killed till left unread in the scan gun reaches this one
	// before the charge, and is refused: that is not the charge's answer.
	ev := tp.expect("armed", func(e till.Event) bool {
		return e.Event == till.EventArmed || e.Event == till.EventError && e.ReasonCode != till.ReasonNoPaymentWaiting
	})
	if ev.Event == till.EventError {
		tp.t.Fatalf("charge %s: %s", amount, ev.Reason)
	}
}

// quit stops the till with the quit command and checks it exits 0.
func (tp *tillProc) quit() {
	tp.t.Helper()
	tp.send("quit")
	tp.wait(true)
}

func (tp *tillProc) wait(wantZero bool) {
	tp.t.Helper()
	for range tp.events {
	}
	select {
	case err := <-tp.done:
		tp.exited = true
		if wantZero && err != nil {
			tp.t.Fatalf("till exited with %v\n%s", err, tp.s.tail("till.log"))
		}
	case <-time.After(processWait):
		tp.t.Fatalf("till did not exit")
	}
}

// kill9 kills the till with SIGKILL and waits for it to be gone.
func (tp *tillProc) kill9() {
	tp.t.Helper()
	if tp.exited {
		return
	}
	tp.cmd.Process.Signal(syscall.SIGKILL)
	tp.wait(false)
}

func (tp *tillProc) kill() {
	if tp.cmd != nil && !tp.exited {
		tp.cmd.Process.Kill()
		for range tp.events {
		}
		<-tp.done
		tp.exited = true
	}
}

// backendOrder queries an order at the backend with the terminal's
// credentials.
func (s *shop) backendOrder(order string) (api.Order, error) {
	ctx, cancel := context.WithTimeout(context.Background(), processWait)
	defer cancel()
	return s.term.Query(ctx, order)
}
