// Package walletcli is the command line of the payer-wallet emulator, run as
// the `wallet` command or as `tillpay wallet`: it enrols a payer with the
// payment backend and shows one-time payment codes (digits, QR code and
// Code 128 barcode) that a till's scan gun reads off the screen. Codes need
// no network; the wallet keeps the token seed in its state file and learns
// the backend's clock whenever it is online.
package walletcli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"tillpay/backend/api"
	"tillpay/backend/client"
	"tillpay/paycode"
	"tillpay/wallet"
	"tillpay/wallet/render"
)

// Main runs the wallet command line args (without the program name) with
// the process's standard streams and returns the exit status: 0 done,
// 1 failed, 2 bad usage.
func Main(ctx context.Context, args []string) int {
	return run(ctx, args, env{
		stdout: os.Stdout,
		stderr: os.Stderr,
		now:    time.Now,
		getenv: os.Getenv,
		tty:    isTerminal(os.Stdout),
	})
}

// isTerminal reports whether f is a character device (a terminal, most
// likely), where the wallet draws in colour and redraws in place.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// env is what the commands take from the outside world, so that tests can
// run them in-process with their own clock and output.
type env struct {
	stdout, stderr io.Writer
	now            func() time.Time
	getenv         func(string) string
	tty            bool // stdout is a terminal
}

// syncTimeout bounds the best-effort sync before making a code.
const syncTimeout = 3 * time.Second

const usage = `wallet: tillpay payer-wallet emulator

usage:
  wallet enrol   --backend URL --payer ID --password PW   enrol (again) with the backend
  wallet enrol   --demo demo.json [--backend URL]          enrol the payer of paybackend demo-setup
  wallet code    [--next] [--offline] [--no-wait] [--json] print the current payment code
  wallet show    [--next] [--offline] [--png DIR] [--plain|--invert] [--wide] [--window]
                                                          draw it as QR code and Code 128 barcode
  wallet watch   [--poll 2s] [--present tcp=HOST:PORT] [--plain|--invert] [--json]
                                                          keep showing a fresh code; Ctrl-C ends
  wallet balance [--json]                                 balance and limits
  wallet inbox   [--all] [--json]                         deductions and refunds not shown yet
  wallet confirm [ORDER] [--decline] [--json]             confirm a waiting payment, or list them

every command: --state PATH (default $TILLPAY_WALLET_STATE or <config dir>/tillpay/wallet.json)
every command but enrol: --backend URL   use the payment backend at this address from now
                                          on (it moved, e.g. restarted on another port); the
                                          enrolment stays
flags may come before or after arguments; -- ends the flags
confirm exits 1 unless the payment ends paid (declined or cancelled, with --decline)
`

// usageError is bad command-line usage (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(e.stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmds := map[string]func(*cli, context.Context, []string) error{
		"enrol":   (*cli).enrol,
		"enroll":  (*cli).enrol,
		"code":    (*cli).code,
		"show":    (*cli).show,
		"watch":   (*cli).watch,
		"balance": (*cli).balance,
		"inbox":   (*cli).inbox,
		"confirm": (*cli).confirm,
	}
	fn, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "wallet: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	c := &cli{env: e, name: args[0]}
	err := fn(c, ctx, args[1:])
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "wallet %s: %s\n", c.name, ue.msg)
		return 2
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return 1
	}
	fmt.Fprintf(e.stderr, "wallet %s: %s\n", c.name, c.explain(err))
	return 1
}

// cli holds one command's flags and state.
type cli struct {
	env
	name      string
	statePath string
	json      bool
	backend   string // for messages
	// newBackend is the --backend of a command that talks to an enrolled
	// wallet's backend: the address to use and remember.
	newBackend string
}

// flags returns a flag set with the flags every command has.
func (c *cli) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("wallet "+c.name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.StringVar(&c.statePath, "state", "", "wallet state file")
	fs.BoolVar(&c.json, "json", false, "print JSON for scripts")
	return fs
}

// onlineFlags returns the flags of a command that talks to the backend of an
// enrolled wallet: those of every command and --backend.
func (c *cli) onlineFlags() *flag.FlagSet {
	fs := c.flags()
	fs.StringVar(&c.newBackend, "backend", "", "payment backend URL, http://host:port: use it from now on (the backend moved)")
	return fs
}

// parse parses args, flags and positional arguments in any order, and
// returns the positional ones (at most maxArgs).
func (c *cli) parse(fs *flag.FlagSet, args []string, maxArgs int) ([]string, error) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{err.Error()}
	}
	if len(pos) > maxArgs {
		return nil, usageError{fmt.Sprintf("unexpected argument %q", pos[maxArgs])}
	}
	if c.newBackend != "" {
		c.newBackend = strings.TrimRight(c.newBackend, "/")
		if err := wallet.CheckBackendURL(c.newBackend); err != nil {
			return nil, usageError{fmt.Sprintf("--backend %q: want http://host:port", c.newBackend)}
		}
	}
	if c.statePath == "" {
		c.statePath = c.getenv("TILLPAY_WALLET_STATE")
	}
	if c.statePath == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return nil, fmt.Errorf("no --state given and no user config directory: %w", err)
		}
		c.statePath = filepath.Join(dir, "tillpay", "wallet.json")
	}
	return pos, nil
}

// parseInterspersed parses args with fs, letting flags come before, between
// and after positional arguments, which it returns in order. A "--" where a
// flag could be ends the flags: everything after it is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if endedByDashDash(fs, args[:len(args)-len(rest)]) {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// endedByDashDash reports whether the flags fs parsed (consumed, which
// parsed without error) ended with a "--" that ends the flags, rather than
// with a "--" that is a flag's value.
func endedByDashDash(fs *flag.FlagSet, consumed []string) bool {
	for i := 0; i < len(consumed); i++ {
		a := consumed[i]
		if a == "--" {
			return true
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		i++ // the next argument is the flag's value
	}
	return false
}

// explain turns an error into one line a person can act on.
func (c *cli) explain(err error) string {
	var msg string
	switch {
	case errors.Is(err, wallet.ErrNotEnrolled):
		msg = fmt.Sprintf("not enrolled yet (no state file %s): run `wallet enrol --backend URL --payer ID --password PW` first", c.statePath)
	case errors.Is(err, wallet.ErrCorrupt):
		msg = fmt.Sprintf("%v; enrol again to replace it", err)
	case client.IsCode(err, api.ErrUnauthorized):
		msg = "the backend refused the payer id or password"
	case errors.Is(err, client.ErrUnreachable):
		msg = fmt.Sprintf("cannot reach the payment backend at %s: %v", c.backend, err)
		if c.name != "enrol" && c.name != "enroll" {
			msg += "; if it moved, add --backend http://host:port"
		}
	case errors.Is(err, context.DeadlineExceeded):
		msg = fmt.Sprintf("the payment backend at %s did not answer in time", c.backend)
	default:
		msg = err.Error()
	}
	return strings.Join(strings.Fields(msg), " ")
}

// open opens the wallet, pointing it at --backend first if given.
func (c *cli) open() (*wallet.Wallet, error) {
	w, err := wallet.Open(c.statePath, wallet.WithClock(c.now))
	if err != nil {
		return nil, err
	}
	if c.newBackend != "" {
		old := w.State().BackendURL
		changed, err := w.SetBackendURL(c.newBackend)
		if err != nil {
			return nil, err
		}
		if changed {
			fmt.Fprintf(c.stderr, "wallet %s: now using the payment backend at %s (was %s)\n", c.name, w.State().BackendURL, old)
		}
	}
	c.backend = w.State().BackendURL
	return w, nil
}

func (c *cli) payer(st wallet.State) (*client.Payer, error) {
	c.backend = st.BackendURL
	return client.NewPayer(st.BackendURL, st.PayerID, st.Password, client.WithClock(c.now))
}

func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ---- enrol ----

// demoFile is the payer part of the file `paybackend demo-setup --out`
// writes (api.DemoFile), plus the backend's URL if the file has one.
type demoFile struct {
	BackendURL string `json:"backend_url"`
	PayerID    string `json:"payer_id"`
	Password   string `json:"password"`
	Payer      struct {
		ID         string `json:"id"`
		PayerID    string `json:"payer_id"`
		Password   string `json:"password"`
		BackendURL string `json:"backend_url"`
	} `json:"payer"`
}

func readDemo(path string) (wallet.Credentials, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return wallet.Credentials{}, fmt.Errorf("reading demo file: %w", err)
	}
	var d demoFile
	if err := json.Unmarshal(data, &d); err != nil {
		return wallet.Credentials{}, fmt.Errorf("demo file %s is not JSON: %w", path, err)
	}
	first := func(s ...string) string {
		for _, v := range s {
			if v != "" {
				return v
			}
		}
		return ""
	}
	cr := wallet.Credentials{
		BackendURL: first(d.Payer.BackendURL, d.BackendURL),
		PayerID:    first(d.Payer.ID, d.Payer.PayerID, d.PayerID),
		Password:   first(d.Payer.Password, d.Password),
	}
	if cr.PayerID == "" || cr.Password == "" {
		return cr, fmt.Errorf("demo file %s has no payer id and password", path)
	}
	return cr, nil
}

func (c *cli) enrol(ctx context.Context, args []string) error {
	fs := c.flags()
	var cr wallet.Credentials
	var demo string
	fs.StringVar(&cr.BackendURL, "backend", "", "payment backend URL, http://host:port")
	fs.StringVar(&cr.PayerID, "payer", "", "payer id")
	fs.StringVar(&cr.Password, "password", "", "payer password")
	fs.StringVar(&demo, "demo", "", "enrol the payer of this demo file (paybackend demo-setup --out)")
	if _, err := c.parse(fs, args, 0); err != nil {
		return err
	}
	if demo != "" {
		d, err := readDemo(demo)
		if err != nil {
			return err
		}
		if cr.BackendURL == "" {
			cr.BackendURL = d.BackendURL
		}
		if cr.PayerID == "" {
			cr.PayerID, cr.Password = d.PayerID, d.Password
		}
	}
	switch {
	case cr.BackendURL == "":
		return usageError{"--backend URL is needed"}
	case cr.PayerID == "" || cr.Password == "":
		return usageError{"--payer and --password (or --demo FILE) are needed"}
	}
	cr.BackendURL = strings.TrimRight(cr.BackendURL, "/")
	c.backend = cr.BackendURL
	p, err := client.NewPayer(cr.BackendURL, cr.PayerID, cr.Password, client.WithClock(c.now))
	if err != nil {
		return usageError{err.Error()}
	}
	w, err := wallet.Enrol(ctx, c.statePath, cr, p, wallet.WithClock(c.now))
	if err != nil {
		return err
	}
	st := w.State()
	if c.json {
		return c.printJSON(map[string]any{"payer_id": st.PayerID, "key_id": st.KeyID,
			"backend_url": st.BackendURL, "clock_offset_ms": st.ClockOffset.Milliseconds(), "state": c.statePath})
	}
	fmt.Fprintf(c.stdout, "enrolled payer %s with key %s at %s (clock offset %s); state in %s\n",
		st.PayerID, paycode.KeyID(st.KeyID), st.BackendURL, st.ClockOffset.Round(time.Millisecond), c.statePath)
	return nil
}

// ---- code and show ----

// sync learns the clock offset and uses from the backend, if it answers in
// time. It reports whether it did; failures are noted on stderr unless
// quiet, since codes work offline.
func (c *cli) sync(ctx context.Context, w *wallet.Wallet, quiet bool) (wallet.SyncResult, bool) {
	p, err := c.payer(w.State())
	if err != nil {
		fmt.Fprintf(c.stderr, "wallet %s: %s\n", c.name, c.explain(err))
		return wallet.SyncResult{}, false
	}
	sctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	res, err := w.Sync(sctx, p)
	if err != nil {
		if !quiet {
			st := w.State()
			fmt.Fprintf(c.stderr, "wallet %s: offline (%s); using the clock offset %s learned %s\n",
				c.name, c.explain(err), st.ClockOffset.Round(time.Millisecond), st.OffsetLearned.Format(time.RFC3339))
		}
		return res, false
	}
	return res, true
}

// makeCode returns the code to show, waiting for the next time step when
// this one's codes are spent (unless noWait).
func (c *cli) makeCode(ctx context.Context, w *wallet.Wallet, next, noWait bool) (wallet.Code, error) {
	var code wallet.Code
	var err error
	if next {
		code, err = w.Next()
	} else {
		code, err = w.Current()
	}
	for {
		var ex *wallet.ExhaustedError
		if !errors.As(err, &ex) || noWait {
			return code, err
		}
		fmt.Fprintf(c.stderr, "wallet %s: %v; waiting\n", c.name, ex)
		if err := sleep(ctx, ex.Wait+50*time.Millisecond); err != nil {
			return code, err
		}
		code, err = w.Current()
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// codeJSON is the JSON form of a code.
type codeJSON struct {
	wallet.Code
	Online bool `json:"online"`
}

func (c *cli) code(ctx context.Context, args []string) error {
	fs := c.onlineFlags()
	next := fs.Bool("next", false, "the last code was used (offline): move on to a fresh one")
	offline := fs.Bool("offline", false, "do not ask the backend about uses and its clock")
	noWait := fs.Bool("no-wait", false, "fail instead of waiting when this minute's codes are spent")
	if _, err := c.parse(fs, args, 0); err != nil {
		return err
	}
	w, err := c.open()
	if err != nil {
		return err
	}
	online := false
	if !*offline {
		_, online = c.sync(ctx, w, c.json)
	}
	code, err := c.makeCode(ctx, w, *next, *noWait)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(codeJSON{Code: code, Online: online})
	}
	fmt.Fprintln(c.stdout, code.Digits)
	return nil
}

// drawOpts say how to draw codes in the terminal.
type drawOpts struct {
	plain, invert, wide bool
}

func (c *cli) drawFlags(fs *flag.FlagSet) *drawOpts {
	var d drawOpts
	fs.BoolVar(&d.plain, "plain", false, "no colour escapes: light modules as blocks (light-on-dark terminal)")
	fs.BoolVar(&d.invert, "invert", false, "no colour escapes: dark modules as blocks (dark-on-light terminal)")
	fs.BoolVar(&d.wide, "wide", false, "draw the barcode one column a module (needs 160 columns)")
	return &d
}

func (d *drawOpts) style(tty bool) render.Style {
	switch {
	case d.invert:
		return render.PlainInverted
	case d.plain || !tty:
		return render.Plain
	}
	return render.ANSI
}

// draw writes the code's digits, QR code and barcode.
func (c *cli) draw(w io.Writer, code wallet.Code, d *drawOpts, status string) error {
	qr, err := render.QR(code.Digits)
	if err != nil {
		return err
	}
	bars, err := render.Code128(code.Digits)
	if err != nil {
		return err
	}
	style := d.style(c.tty)
	var sb strings.Builder
	if err := qr.Terminal(&sb, style); err != nil {
		return err
	}
	cols := 0
	if d.wide {
		cols = 1
	}
	if err := bars.Terminal(&sb, style, 5, cols); err != nil {
		return err
	}
	fmt.Fprintf(&sb, "\n  %s %s %s %s   (sequence %d, %d more this minute; refreshes at %s)\n",
		code.Digits[:4], code.Digits[4:9], code.Digits[9:13], code.Digits[13:], code.Seq, code.Left,
		code.Expires.Local().Format("15:04:05"))
	if status != "" {
		fmt.Fprintf(&sb, "  %s\n", status)
	}
	_, err = io.WriteString(w, sb.String())
	return err
}

// writePNGs writes the code as qr.png and code128.png in dir.
func writePNGs(dir string, code wallet.Code) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("PNG directory: %w", err)
	}
	qr, err := render.QR(code.Digits)
	if err != nil {
		return nil, err
	}
	bars, err := render.Code128(code.Digits)
	if err != nil {
		return nil, err
	}
	qrPath, barsPath := filepath.Join(dir, "qr.png"), filepath.Join(dir, "code128.png")
	if err := render.WritePNG(qrPath, qr.Image(10)); err != nil {
		return nil, err
	}
	if err := render.WritePNG(barsPath, bars.Image(3, 120)); err != nil {
		return nil, err
	}
	return []string{qrPath, barsPath}, nil
}

// Window shows a wallet's codes in a window until it is closed (wallet
// show --window): the payer's phone on a second screen. Binaries with a
// GUI set it; it is nil where there is none.
var Window func(ctx context.Context, w *wallet.Wallet) error

func (c *cli) show(ctx context.Context, args []string) error {
	fs := c.onlineFlags()
	window := fs.Bool("window", false, "show the code in a window (QR code and barcode, refreshed after each use)")
	next := fs.Bool("next", false, "the last code was used (offline): move on to a fresh one")
	offline := fs.Bool("offline", false, "do not ask the backend about uses and its clock")
	noWait := fs.Bool("no-wait", false, "fail instead of waiting when this minute's codes are spent")
	pngDir := fs.String("png", "", "also write qr.png and code128.png into this directory")
	d := c.drawFlags(fs)
	if _, err := c.parse(fs, args, 0); err != nil {
		return err
	}
	w, err := c.open()
	if err != nil {
		return err
	}
	if *window {
		if Window == nil {
			return errors.New("this build has no window (it was built with the nogui tag)")
		}
		return Window(ctx, w)
	}
	online := false
	if !*offline {
		_, online = c.sync(ctx, w, false)
	}
	code, err := c.makeCode(ctx, w, *next, *noWait)
	if err != nil {
		return err
	}
	var files []string
	if *pngDir != "" {
		if files, err = writePNGs(*pngDir, code); err != nil {
			return err
		}
	}
	if c.json {
		return c.printJSON(map[string]any{"code": codeJSON{Code: code, Online: online}, "png": files})
	}
	if err := c.draw(c.stdout, code, d, ""); err != nil {
		return err
	}
	for _, f := range files {
		fmt.Fprintf(c.stdout, "  wrote %s\n", f)
	}
	return nil
}

// ---- watch ----

func (c *cli) watch(ctx context.Context, args []string) error {
	fs := c.onlineFlags()
	poll := fs.Duration("poll", 2*time.Second, "how often to ask the backend whether the code was used")
	present := fs.String("present", "", "type each new code into a simulated scan gun: tcp=HOST:PORT")
	d := c.drawFlags(fs)
	if _, err := c.parse(fs, args, 0); err != nil {
		return err
	}
	if *poll < 100*time.Millisecond {
		return usageError{"--poll must be at least 100ms"}
	}
	var presentAddr string
	if *present != "" {
		addr, ok := strings.CutPrefix(*present, "tcp=")
		if !ok || addr == "" {
			return usageError{fmt.Sprintf("--present %q: want tcp=HOST:PORT", *present)}
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return usageError{fmt.Sprintf("--present %q: %v", *present, err)}
		}
		presentAddr = addr
	}
	w, err := c.open()
	if err != nil {
		return err
	}
	shown := ""
	wasOnline := true
	for {
		res, online := c.sync(ctx, w, true)
		if ctx.Err() != nil {
			return nil // Ctrl-C
		}
		status := "online"
		if !online {
			status = "offline: codes made from the learned clock offset"
		}
		for _, n := range res.Notifications {
			status = fmt.Sprintf("%s %s %s at %s; balance %s", noteKind(n), n.Amount.Decimal(), n.Amount.Currency, n.Merchant, n.Balance.Decimal())
		}
		code, err := w.Current()
		var ex *wallet.ExhaustedError
		switch {
		case errors.As(err, &ex):
			if shown != "exhausted" || online != wasOnline {
				c.redraw(fmt.Sprintf("%v\n", ex))
				shown = "exhausted"
			}
		case err != nil:
			return err
		case code.Digits != shown || online != wasOnline || len(res.Notifications) > 0:
			changed := code.Digits != shown
			if c.json {
				if changed {
					json.NewEncoder(c.stdout).Encode(codeJSON{Code: code, Online: online})
				}
			} else {
				var sb strings.Builder
				if err := c.draw(&sb, code, d, status); err != nil {
					return err
				}
				c.redraw(sb.String())
			}
			shown = code.Digits
			if changed && presentAddr != "" {
				if err := presentCode(ctx, presentAddr, code.Digits); err != nil {
					fmt.Fprintf(c.stderr, "wallet watch: presenting the code: %v\n", err)
				}
			}
		}
		wasOnline = online
		wait := *poll
		if err == nil {
			wait = min(wait, code.Expires.Sub(w.BackendNow())+50*time.Millisecond)
		} else if ex != nil {
			wait = min(wait, ex.Wait+50*time.Millisecond)
		}
		if sleep(ctx, max(wait, 10*time.Millisecond)) != nil {
			return nil
		}
	}
}

// redraw replaces the screen on a terminal; elsewhere it appends.
func (c *cli) redraw(s string) {
	if c.tty {
		io.WriteString(c.stdout, "\x1b[H\x1b[2J"+s)
		return
	}
	io.WriteString(c.stdout, s+"\n")
}

// presentCode types code and a carriage return into the simulated scan gun
// listening at addr, as a scan would.
func presentCode(ctx context.Context, addr, code string) error {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	_, err = io.WriteString(conn, code+"\r")
	return err
}

// ---- balance, inbox, confirm ----

// online opens the wallet and its client, learning the clock offset on the
// way (a wallet that is online keeps its offset fresh).
func (c *cli) online(ctx context.Context) (*wallet.Wallet, *client.Payer, error) {
	w, err := c.open()
	if err != nil {
		return nil, nil, err
	}
	p, err := c.payer(w.State())
	if err != nil {
		return nil, nil, err
	}
	_, off, err := p.Time(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := w.SetOffset(off); err != nil {
		return nil, nil, err
	}
	return w, p, nil
}

func (c *cli) balance(ctx context.Context, args []string) error {
	fs := c.onlineFlags()
	if _, err := c.parse(fs, args, 0); err != nil {
		return err
	}
	_, p, err := c.online(ctx)
	if err != nil {
		return err
	}
	b, err := p.Balance(ctx)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(b)
	}
	fmt.Fprintf(c.stdout, "payer %s\nbalance             %s %s\noffline credit      %s %s\npassword-free limit %s %s\n",
		b.PayerID, b.Balance.Decimal(), b.Balance.Currency, b.OfflineCredit.Decimal(), b.OfflineCredit.Currency,
		b.PasswordFreeLimit.Decimal(), b.PasswordFreeLimit.Currency)
	return nil
}

func (c *cli) inbox(ctx context.Context, args []string) error {
	fs := c.onlineFlags()
	all := fs.Bool("all", false, "every notification, not only the new ones")
	if _, err := c.parse(fs, args, 0); err != nil {
		return err
	}
	w, p, err := c.online(ctx)
	if err != nil {
		return err
	}
	// The notifications not shown yet (even those read to learn of used
	// codes), or all of them; from now on they count as shown.
	ns, err := w.Inbox(ctx, p, *all)
	if err != nil {
		return err
	}
	if c.json {
		if ns == nil {
			ns = []api.Notification{}
		}
		return c.printJSON(api.InboxResponse{Notifications: ns})
	}
	if len(ns) == 0 {
		fmt.Fprintln(c.stdout, "no new notifications")
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tKIND\tAMOUNT\tMERCHANT\tORDER\tBALANCE")
	for _, n := range ns {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s %s\t%s\t%s\t%s\n", n.ID, n.Time.Local().Format("2006-01-02 15:04:05"),
			noteKind(n), n.Amount.Decimal(), n.Amount.Currency, n.Merchant, n.Order, n.Balance.Decimal())
	}
	return tw.Flush()
}

// noteKind is a notification's kind, with its reason if it has one (a
// declined payment's).
func noteKind(n api.Notification) string {
	if n.Reason != "" {
		return n.Kind + " (" + n.Reason + ")"
	}
	return n.Kind
}

func (c *cli) confirm(ctx context.Context, args []string) error {
	fs := c.onlineFlags()
	decline := fs.Bool("decline", false, "decline the payment instead")
	pos, err := c.parse(fs, args, 1)
	if err != nil {
		return err
	}
	var order string
	if len(pos) == 1 {
		order = pos[0]
	}
	_, p, err := c.online(ctx)
	if err != nil {
		return err
	}
	if order == "" {
		return c.listPending(ctx, p)
	}
	approve := !*decline
	o, err := p.Confirm(ctx, order, approve)
	if err != nil {
		if client.IsCode(err, api.ErrNotFound) {
			return fmt.Errorf("no payment %s is waiting for confirmation (expired, or already answered)", order)
		}
		return err
	}
	var bal *api.BalanceResponse
	if o.Status == api.StatusPaid || o.Reason == api.ReasonInsufficientBalance {
		// Best effort: the payer wants to know what is left.
		bctx, cancel := context.WithTimeout(ctx, syncTimeout)
		if b, err := p.Balance(bctx); err == nil {
			bal = &b
		}
		cancel()
	}
	line, ok := confirmOutcome(order, o, approve, bal)
	if c.json {
		if err := c.printJSON(o); err != nil {
			return err
		}
	} else if ok {
		fmt.Fprintln(c.stdout, line)
	}
	if !ok {
		return errors.New(line)
	}
	return nil
}

// listPending prints the payments waiting for the payer's confirmation.
func (c *cli) listPending(ctx context.Context, p *client.Payer) error {
	ps, err := p.Pending(ctx)
	if err != nil {
		return err
	}
	if c.json {
		if ps == nil {
			ps = []api.PendingPayment{}
		}
		return c.printJSON(api.PendingResponse{Payments: ps})
	}
	if len(ps) == 0 {
		fmt.Fprintln(c.stdout, "no payment is waiting for confirmation")
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ORDER\tMERCHANT\tAMOUNT\tEXPIRES")
	for _, pp := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\n", pp.Order, pp.Merchant, pp.Amount.Decimal(), pp.Amount.Currency,
			pp.Expires.Local().Format("15:04:05"))
	}
	tw.Flush()
	fmt.Fprintln(c.stdout, "confirm one with: wallet confirm ORDER   (or --decline)")
	return nil
}

// confirmOutcome says in one line what became of the payment ref after the
// payer approved (or declined) it, o being the order as the backend answered,
// and bal the balance after, if known. ok is whether the payer got what they
// asked for: an approval that ended paid, or a refusal that ended with no
// money taken (declined, or cancelled before it).
func confirmOutcome(ref string, o api.Order, approve bool, bal *api.BalanceResponse) (line string, ok bool) {
	amount := o.Amount.String()
	balance := ""
	if bal != nil {
		balance = bal.Balance.String()
	}
	switch o.Status {
	case api.StatusPaid:
		if !approve {
			return fmt.Sprintf("not declined: %s was already paid (%s taken)", ref, amount), false
		}
		if balance != "" {
			return fmt.Sprintf("paid: %s %s taken; balance %s", ref, amount, balance), true
		}
		return fmt.Sprintf("paid: %s %s taken", ref, amount), true
	case api.StatusDeclined, api.StatusCancelled:
		if !approve && o.Reason == api.ReasonPayerDeclined {
			return fmt.Sprintf("declined: %s %s; no money was taken", ref, amount), true
		}
		var why, advice string
		switch o.Reason {
		case api.ReasonInsufficientBalance:
			why, advice = "your balance is too low", "top up, then ask the cashier to scan a new code"
			if balance != "" {
				why = fmt.Sprintf("your balance (%s) is too low", balance)
			}
		case api.ReasonCancelled:
			why = "the shop cancelled the payment before you confirmed it"
		case api.ReasonPayerTimeout:
			why, advice = "it was not confirmed in time and was cancelled", "ask the cashier to scan a new code"
		case api.ReasonPayerDeclined:
			why, advice = "you had already declined it", "ask the cashier to scan a new code"
		default:
			why = o.Message
			if why == "" {
				why = words(o.Reason)
			}
		}
		if approve && advice != "" {
			why += "; " + advice
		}
		return fmt.Sprintf("%s: %s %s not taken: %s", o.Status, ref, amount, why), !approve
	case api.StatusWaitingPayer:
		return fmt.Sprintf("still waiting: %s %s: the backend did not record your answer; try again", ref, amount), false
	case api.StatusRefunded, api.StatusPartRefunded:
		return fmt.Sprintf("already answered: %s was paid earlier (%s) and has since been %s", ref, amount, words(o.Status)), false
	}
	return fmt.Sprintf("%s: %s %s: unexpected status from the backend", words(o.Status), ref, amount), false
}

// words turns a status or reason code into words: "partially refunded".
func words(code string) string { return strings.ReplaceAll(code, "_", " ") }
