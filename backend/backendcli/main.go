// Package backendcli is the command line of tillpay's payment backend: an HTTP/JSON service over
// one SQLite database (docs/api.md), with its administration commands. It
// runs as the paybackend command and as `tillpay paybackend`.
//
//	paybackend serve --db PATH [--listen 127.0.0.1:0] [--addr-file PATH] [--currency CNY]
//	paybackend admin merchant add --db PATH --id ID [--name NAME]
//	paybackend admin terminal add --db PATH --merchant ID
//	paybackend admin terminal revoke --db PATH --id ID
//	paybackend admin payer add --db PATH --id ID [--name NAME] (--password PW | --password-stdin)
//	                           [--limit 1000.00] [--offline-credit 0] [--webhook URL]
//	paybackend admin payer topup --db PATH --id ID --amount 100.00
//	paybackend admin payer limits --db PATH --id ID [--limit 500.00] [--offline-credit 20.00]
//	paybackend admin payer show --db PATH --id ID
//	paybackend demo-setup --db PATH --out demo.json
//	paybackend audit --db PATH
//
// Every command takes --master-key-file (else $TILLPAY_MASTER_KEY, else a
// key file beside the database, made on first use) and --json where its
// output is data. serve prints "listening http://HOST:PORT" on stdout once
// it accepts connections, and stops gracefully on SIGINT or SIGTERM.
//
// The database records its currency when it is made (--currency of the
// command that makes it, default CNY). Amounts are read in that currency;
// --currency, where a command takes it, must name it, else the command
// stops and changes nothing.
package backendcli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"tillpay/backend"
	"tillpay/backend/api"
	"tillpay/money"
)

// Main runs the command line args (without the program name) with the
// process's standard streams and returns the exit status: 0 done, 1 failed,
// 2 bad usage. serve stops on SIGINT or SIGTERM.
func Main(ctx context.Context, args []string) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `usage:
  paybackend serve --db PATH [--listen 127.0.0.1:0] [--addr-file PATH] [--currency CNY]
  paybackend admin merchant add --db PATH --id ID [--name NAME]
  paybackend admin terminal add --db PATH --merchant ID
  paybackend admin terminal revoke --db PATH --id ID
  paybackend admin payer add --db PATH --id ID [--name NAME] (--password PW | --password-stdin)
                             [--limit 1000.00] [--offline-credit 0] [--webhook URL]
  paybackend admin payer topup --db PATH --id ID --amount 100.00
  paybackend admin payer limits --db PATH --id ID [--limit 500.00] [--offline-credit 20.00]
  paybackend admin payer show --db PATH --id ID
  paybackend demo-setup --db PATH --out demo.json
  paybackend audit --db PATH
Run a command with -h for its flags.`

// run is the whole program; it returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	err := dispatch(ctx, args, stdin, stdout, stderr, log)
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "paybackend: %s\n", ue.msg)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 2
	}
	fmt.Fprintf(stderr, "paybackend: %v\n", err)
	return 1
}

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, log *slog.Logger) error {
	if len(args) == 0 {
		return usageError{usage}
	}
	name := strings.Join(args[:min(len(args), 3)], " ")
	switch {
	case args[0] == "serve":
		return cmdServe(ctx, args[1:], stdout, stderr, log)
	case args[0] == "demo-setup":
		return cmdDemo(ctx, args[1:], stdout, stderr, log)
	case args[0] == "audit":
		return cmdAudit(ctx, args[1:], stdout, stderr, log)
	case name == "admin merchant add":
		return cmdMerchantAdd(ctx, args[3:], stdout, stderr, log)
	case name == "admin terminal add":
		return cmdTerminalAdd(ctx, args[3:], stdout, stderr, log)
	case name == "admin terminal revoke":
		return cmdTerminalRevoke(ctx, args[3:], stdout, stderr, log)
	case name == "admin payer add":
		return cmdPayerAdd(ctx, args[3:], stdin, stdout, stderr, log)
	case name == "admin payer topup":
		return cmdPayerTopup(ctx, args[3:], stdout, stderr, log)
	case name == "admin payer show":
		return cmdPayerShow(ctx, args[3:], stdout, stderr, log)
	case name == "admin payer limits":
		return cmdPayerLimits(ctx, args[3:], stdout, stderr, log)
	case args[0] == "-h" || args[0] == "--help" || args[0] == "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return usageError{fmt.Sprintf("unknown command %q\n%s", name, usage)}
}

// common holds the flags every command takes.
type common struct {
	db      string
	keyFile string
	json    bool
}

func newFlags(name string, stderr io.Writer, c *common, withJSON bool) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.db, "db", "", "path of the backend's SQLite database (required)")
	fs.StringVar(&c.keyFile, "master-key-file", "", "file with the master key as hex (default: $"+
		backend.MasterKeyEnv+", else DB.masterkey, made on first use)")
	if withJSON {
		fs.BoolVar(&c.json, "json", false, "print the result as JSON")
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string, c *common) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	if c.db == "" {
		return usageError{fs.Name() + ": --db is required"}
	}
	return nil
}

func open(ctx context.Context, c *common, log *slog.Logger, opts ...backend.Option) (*backend.Service, error) {
	if dir := filepath.Dir(c.db); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("database directory: %w", err)
		}
	}
	key, err := backend.LoadMasterKey(c.keyFile, c.db, log)
	if err != nil {
		return nil, err
	}
	return backend.Open(ctx, c.db, key, append([]backend.Option{backend.WithLogger(log)}, opts...)...)
}

// currencyFlag adds --currency to fs.
func currencyFlag(fs *flag.FlagSet, what string) *string {
	return fs.String("currency", "", what+": the database's (default), which it must be if given; "+
		"a new database is made in it (else in "+money.DefaultCurrency+")")
}

// withCurrency is the Open option for --currency: none if it was not
// given, so that the database's currency applies.
func withCurrency(code string) []backend.Option {
	if code == "" {
		return nil
	}
	return []backend.Option{backend.WithCurrency(code)}
}

// amountsIn is the currency a command reads its amounts in: --currency if
// given (Open made sure it is the database's), else the database's.
func amountsIn(svc *backend.Service, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return svc.Currency()
}

// serveGCPercent is the garbage collector's target (GOGC) while serving,
// unless GOGC is set. The server's live heap is small (a few MiB) while
// every request allocates some 20 KiB (HTTP, JSON, SQL), so with the
// default of 100 the collector runs dozens of times a second under load;
// measured on BenchmarkPayHTTP (c=64), 400 cuts the CPU of a payment by
// about a tenth for a heap a few times larger (tens of MiB).
const serveGCPercent = 400

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	var c common
	fs := newFlags("serve", stderr, &c, false)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on (port 0: any free port)")
	addrFile := fs.String("addr-file", "", "also write the bound address (http://host:port) to this file")
	currency := currencyFlag(fs, "currency of all accounts")
	confirm := fs.Duration("confirm-timeout", backend.DefaultConfirmTimeout, "how long a payment waits for the payer's confirmation")
	window := fs.Duration("offline-window", backend.DefaultOfflineWindow, "how old an uploaded offline payment may be")
	sweep := fs.Duration("sweep-interval", backend.DefaultSweepInterval, "how often unconfirmed payments are closed")
	if err := parse(fs, args, &c); err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(serveGCPercent))
	}
	svc, err := open(ctx, &c, log, append(withCurrency(*currency), backend.WithConfirmTimeout(*confirm),
		backend.WithOfflineWindow(*window), backend.WithSweepInterval(*sweep))...)
	if err != nil {
		return err
	}
	defer svc.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *listen, err)
	}
	url := "http://" + ln.Addr().String()
	svc.Start()
	if *addrFile != "" {
		if err := writeFileAtomic(*addrFile, []byte(url+"\n")); err != nil {
			ln.Close()
			return err
		}
	}
	log.Info("payment backend ready", "url", url, "db", c.db)
	fmt.Fprintf(stdout, "listening %s\n", url)
	err = svc.Serve(ctx, ln)
	log.Info("payment backend stopped")
	return err
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func printOut(stdout io.Writer, asJSON bool, v any, text string) error {
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	_, err := fmt.Fprintln(stdout, text)
	return err
}

func cmdMerchantAdd(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	var c common
	fs := newFlags("admin merchant add", stderr, &c, true)
	id := fs.String("id", "", "merchant id (letters, digits, - _ .)")
	name := fs.String("name", "", "merchant name shown to payers")
	if err := parse(fs, args, &c); err != nil {
		return err
	}
	svc, err := open(ctx, &c, log)
	if err != nil {
		return err
	}
	defer svc.Close()
	if err := svc.AddMerchant(ctx, *id, *name); err != nil {
		return err
	}
	return printOut(stdout, c.json, map[string]string{"id": *id, "name": *name}, "merchant "+*id+" added")
}

func cmdTerminalAdd(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	var c common
	fs := newFlags("admin terminal add", stderr, &c, true)
	merchant := fs.String("merchant", "", "merchant id")
	if err := parse(fs, args, &c); err != nil {
		return err
	}
	svc, err := open(ctx, &c, log)
	if err != nil {
		return err
	}
	defer svc.Close()
	tc, err := svc.AddTerminal(ctx, *merchant)
	if err != nil {
		return err
	}
	return printOut(stdout, c.json, tc, fmt.Sprintf("terminal %s\nkey %s", tc.ID, tc.KeyHex))
}

func cmdTerminalRevoke(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	var c common
	fs := newFlags("admin terminal revoke", stderr, &c, true)
	id := fs.String("id", "", "terminal id")
	if err := parse(fs, args, &c); err != nil {
		return err
	}
	if *id == "" {
		return usageError{"admin terminal revoke: --id is required"}
	}
	svc, err := open(ctx, &c, log)
	if err != nil {
		return err
	}
	defer svc.Close()
	at, err := svc.RevokeTerminal(ctx, *id)
	if err != nil {
		return err
	}
	return printOut(stdout, c.json, map[string]any{"id": *id, "revoked": at},
		fmt.Sprintf("terminal %s revoked at %s; a running backend refuses it within %s",
			*id, at.Format(time.RFC3339), backend.TerminalCacheLifetime))
}

func cmdPayerAdd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, log *slog.Logger) error {
	var c common
	fs := newFlags("admin payer add", stderr, &c, true)
	id := fs.String("id", "", "payer id (letters, digits, - _ .)")
	name := fs.String("name", "", "payer name")
	pw := fs.String("password", "", "payer password, at least 8 characters (visible to other users of this machine; prefer --password-stdin)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	limit := fs.String("limit", money.Amount{Minor: backend.DefaultPasswordFreeLimit, Currency: money.DefaultCurrency}.Decimal(),
		"password-free limit: larger payments wait for the payer's confirmation")
	credit := fs.String("offline-credit", "0", "how far below zero offline payments may take the balance")
	webhook := fs.String("webhook", "", "URL that receives the payer's notifications (POST JSON)")
	currency := currencyFlag(fs, "currency of the amounts")
	if err := parse(fs, args, &c); err != nil {
		return err
	}
	if *pwStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("reading the password from stdin: %w", err)
		}
		*pw = strings.TrimRight(line, "\r\n")
	}
	svc, err := open(ctx, &c, log, withCurrency(*currency)...)
	if err != nil {
		return err
	}
	defer svc.Close()
	cur := amountsIn(svc, *currency)
	lim, err := parseLimit("--limit", *limit, cur)
	if err != nil {
		return err
	}
	cred, err := parseLimit("--offline-credit", *credit, cur)
	if err != nil {
		return err
	}
	if err := svc.AddPayer(ctx, backend.NewPayer{ID: *id, Name: *name, Password: *pw,
		PasswordFreeLimit: lim, OfflineCredit: cred, Webhook: *webhook, Currency: cur}); err != nil {
		return err
	}
	info, err := svc.ShowPayer(ctx, *id)
	if err != nil {
		return err
	}
	return printOut(stdout, c.json, info, "payer "+*id+" added")
}

// parseLimit reads a decimal amount that may be zero.
func parseLimit(flagName, text, currency string) (int64, error) {
	if strings.Trim(strings.TrimSpace(text), "0.") == "" && strings.TrimSpace(text) != "" {
		return 0, nil
	}
	a, err := money.Parse(text, currency)
	if err != nil {
		return 0, usageError{fmt.Sprintf("%s: %v", flagName, err)}
	}
	return a.Minor, nil
}

func cmdPayerTopup(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	var c common
	fs := newFlags("admin payer topup", stderr, &c, true)
	id := fs.String("id", "", "payer id")
	amount := fs.String("amount", "", "amount to add, such as 100.00")
	currency := currencyFlag(fs, "currency of the amount")
	if err := parse(fs, args, &c); err != nil {
		return err
	}
	svc, err := open(ctx, &c, log, withCurrency(*currency)...)
	if err != nil {
		return err
	}
	defer svc.Close()
	a, err := money.Parse(*amount, amountsIn(svc, *currency))
	if err != nil {
		return usageError{fmt.Sprintf("--amount: %v", err)}
	}
	bal, err := svc.TopUp(ctx, *id, a)
	if err != nil {
		return err
	}
	return printOut(stdout, c.json, map[string]any{"id": *id, "balance": bal},
		fmt.Sprintf("payer %s balance %s", *id, bal))
}

func cmdPayerLimits(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	var c common
	fs := newFlags("admin payer limits", stderr, &c, true)
	id := fs.String("id", "", "payer id")
	limit := fs.String("limit", "", "new password-free limit: larger payments wait for the payer's confirmation")
	credit := fs.String("offline-credit", "", "new offline credit: how far below zero offline payments may take the balance")
	currency := currencyFlag(fs, "currency of the amounts")
	if err := parse(fs, args, &c); err != nil {
		return err
	}
	if *limit == "" && *credit == "" {
		return usageError{"admin payer limits: give --limit, --offline-credit or both"}
	}
	svc, err := open(ctx, &c, log, withCurrency(*currency)...)
	if err != nil {
		return err
	}
	defer svc.Close()
	l := backend.PayerLimits{Currency: amountsIn(svc, *currency)}
	for _, f := range []struct {
		name, text string
		dst        **int64
	}{{"--limit", *limit, &l.PasswordFreeLimit}, {"--offline-credit", *credit, &l.OfflineCredit}} {
		if f.text == "" {
			continue
		}
		v, err := parseLimit(f.name, f.text, l.Currency)
		if err != nil {
			return err
		}
		*f.dst = &v
	}
	if err := svc.SetPayerLimits(ctx, *id, l); err != nil {
		return err
	}
	p, err := svc.ShowPayer(ctx, *id)
	if err != nil {
		return err
	}
	return printOut(stdout, c.json, p, fmt.Sprintf("payer %s: password-free limit %s, offline credit %s",
		p.ID, p.PasswordFreeLimit, p.OfflineCredit))
}

func cmdPayerShow(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	var c common
	fs := newFlags("admin payer show", stderr, &c, true)
	id := fs.String("id", "", "payer id")
	if err := parse(fs, args, &c); err != nil {
		return err
	}
	svc, err := open(ctx, &c, log)
	if err != nil {
		return err
	}
	defer svc.Close()
	p, err := svc.ShowPayer(ctx, *id)
	if err != nil {
		return err
	}
	text := fmt.Sprintf("payer %s (%s)\nbalance %s\npassword-free limit %s\noffline credit %s",
		p.ID, p.Name, p.Balance, p.PasswordFreeLimit, p.OfflineCredit)
	if p.KeyID != 0 {
		text += fmt.Sprintf("\nkey id %07d, %d wrong codes", p.KeyID, p.Failures)
	}
	if p.LockedUntil != nil {
		text += "\nlocked until " + p.LockedUntil.Format(time.RFC3339)
	}
	if p.Webhook != "" {
		text += "\nwebhook " + p.Webhook
	}
	return printOut(stdout, c.json, p, text)
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	var c common
	fs := newFlags("demo-setup", stderr, &c, false)
	out := fs.String("out", "", "file to write the demo credentials to (JSON, mode 0600)")
	if err := parse(fs, args, &c); err != nil {
		return err
	}
	if *out == "" {
		return usageError{"demo-setup: --out is required"}
	}
	var prev *api.DemoFile
	if data, err := os.ReadFile(*out); err == nil {
		var p api.DemoFile
		if json.Unmarshal(data, &p) == nil {
			prev = &p
		}
	}
	svc, err := open(ctx, &c, log)
	if err != nil {
		return err
	}
	defer svc.Close()
	demo, err := svc.DemoSetup(ctx, prev)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(demo, "", "  ")
	if err != nil {
		return err
	}
	tmp := *out + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", *out, err)
	}
	if err := os.Rename(tmp, *out); err != nil {
		return fmt.Errorf("writing %s: %w", *out, err)
	}
	_, err = fmt.Fprintf(stdout, "demo merchant %s, terminal %s, payer %s (balance %s) written to %s\n",
		demo.Merchant.ID, demo.Terminal.ID, demo.Payer.ID, demo.Payer.Balance, *out)
	return err
}

func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	var c common
	fs := newFlags("audit", stderr, &c, true)
	if err := parse(fs, args, &c); err != nil {
		return err
	}
	if _, err := os.Stat(c.db); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	svc, err := open(ctx, &c, log)
	if err != nil {
		return err
	}
	defer svc.Close()
	r, err := svc.Audit(ctx)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d accounts, %d transfers, %d orders; top-ups %s, held by payers and merchants %s\n",
		r.Accounts, r.Transfers, r.Orders, money.Amount{Minor: r.TopUps}.Decimal(), money.Amount{Minor: r.Held}.Decimal())
	if r.OK() {
		b.WriteString("ledger balanced: every account matches its entries, no code paid twice")
	} else {
		for _, p := range r.Problems {
			b.WriteString("PROBLEM: " + p + "\n")
		}
		fmt.Fprintf(&b, "ledger NOT balanced: %d problems", len(r.Problems))
	}
	if err := printOut(stdout, c.json, r, b.String()); err != nil {
		return err
	}
	if !r.OK() {
		return fmt.Errorf("audit found %d problems", len(r.Problems))
	}
	return nil
}
