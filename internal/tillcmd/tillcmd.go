// Package tillcmd is the command line of the tillpay binary: the till
// itself (headless, or the GUI when the binary has one) and its tools:
// scanners, scan-test and report. The payment backend and the wallet
// emulator are reached through the same binary as `tillpay paybackend …`
// and `tillpay wallet …`.
package tillcmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"tillpay/config"
	// The scan-gun drivers a till can use, registered by address scheme.
	_ "tillpay/drivers/hid"
	_ "tillpay/drivers/serial"
	_ "tillpay/drivers/sim"
	"tillpay/headless"
	"tillpay/internal/boot"
	"tillpay/internal/scancmd"
	"tillpay/sync/journal"
)

// Env is what the command line runs with.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// BackendCommand runs the payment backend's command line, for the
	// bundled backend (usually this binary with "paybackend").
	BackendCommand []string
	// GUI runs the cashier window; nil when the binary has none. It
	// returns ErrNoDisplay when there is no display to open it on.
	GUI func(ctx context.Context, opt boot.Options) error
}

// ErrNoDisplay is returned by Env.GUI when no display is available.
var ErrNoDisplay = errors.New("no display")

const usage = `usage:
  tillpay [flags]                      run the till (the cashier window; --headless for JSON lines)
  tillpay scanners                     list serial ports and USB HID devices
  tillpay scan-test --scanner ADDR     print every scan of a scan gun, with timing
  tillpay report --day YYYY-MM-DD [--csv]   the end-of-day (Z) report from the journal
  tillpay paybackend ...               the payment backend (see 'tillpay paybackend help')
  tillpay wallet ...                   the payer-wallet emulator (see 'tillpay wallet help')

till flags:`

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// Run runs the command line args (without the program name) and returns
// the exit status: 0 done, 1 failed, 2 bad usage.
func Run(ctx context.Context, args []string, env Env) int {
	if len(args) > 0 {
		switch args[0] {
		case "scanners":
			return exit(env, scancmd.Scanners(ctx, env.Stdout))
		case "scan-test":
			return scanTest(ctx, args[1:], env)
		case "report":
			return report(ctx, args[1:], env)
		case "help", "-h", "--help":
			fmt.Fprintln(env.Stdout, usage)
			tillFlags(env, &tillOptions{}).PrintDefaults()
			return 0
		}
	}
	var o tillOptions
	fs := tillFlags(env, &o)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "tillpay: unknown command %q; see tillpay help\n", fs.Arg(0))
		return 2
	}
	cfg, err := o.config(fs)
	if err != nil {
		fmt.Fprintf(env.Stderr, "tillpay: %v\n", err)
		return 2
	}
	log := newLogger(env.Stderr, o.logLevel)
	bopt := boot.Options{Config: cfg, ConfigPath: o.configPath, BackendCommand: env.BackendCommand, Logger: log}
	if bopt.ConfigPath == "" {
		bopt.ConfigPath = config.DefaultPath()
	}
	if !o.headless && env.GUI != nil {
		err := env.GUI(ctx, bopt)
		if !errors.Is(err, ErrNoDisplay) {
			return exit(env, err)
		}
		fmt.Fprintln(env.Stderr, "tillpay: no display found; running headless (commands on stdin, events on stdout).")
	}
	return exit(env, runHeadless(ctx, bopt, env, cfg))
}

func exit(env Env, err error) int {
	if err == nil || errors.Is(err, context.Canceled) {
		return 0
	}
	fmt.Fprintf(env.Stderr, "tillpay: %v\n", err)
	return 1
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

type tillOptions struct {
	configPath  string
	dataDir     string
	backend     string
	scanners    multi
	headless    bool
	fixedAmount string
	offlineMode string
	currency    string
	logLevel    string
}

func tillFlags(env Env, o *tillOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("tillpay", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.configPath, "config", "", "configuration file (TOML; default "+config.DefaultPath()+" if it exists)")
	fs.StringVar(&o.dataDir, "data-dir", "", "directory of the journal and the bundled backend (default: tillpay under the user config dir)")
	fs.StringVar(&o.backend, "backend", "", "payment backend URL (default: start the bundled backend)")
	fs.Var(&o.scanners, "scanner", "scanner address, repeatable (docs/scanners.md), e.g. serial:/dev/ttyACM0?baud=9600")
	fs.BoolVar(&o.headless, "headless", false, "no window: commands on stdin, JSON events on stdout")
	fs.StringVar(&o.fixedAmount, "fixed-amount", "", "charge every scan this amount (unattended readers, bus fares)")
	fs.StringVar(&o.offlineMode, "offline-mode", "", "prefer-online, require-online or force-offline")
	fs.StringVar(&o.currency, "currency", "", "currency of the till (default CNY)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error (logs go to stderr)")
	return fs
}

// config loads the file and lays the flags that were given over it.
func (o *tillOptions) config(fs *flag.FlagSet) (config.Config, error) {
	path, missingOK := o.configPath, false
	if path == "" {
		path, missingOK = config.DefaultPath(), true
	}
	cfg, err := config.Load(path, missingOK)
	if err != nil {
		return cfg, err
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "data-dir":
			cfg.DataDir = o.dataDir
		case "backend":
			cfg.Backend = o.backend
		case "scanner":
			cfg.Scanners = o.scanners
		case "fixed-amount":
			cfg.Payment.FixedAmount = o.fixedAmount
		case "offline-mode":
			cfg.Offline.Mode = o.offlineMode
		case "currency":
			cfg.Currency = strings.ToUpper(o.currency)
		}
	})
	return cfg, cfg.Validate()
}

func runHeadless(ctx context.Context, bopt boot.Options, env Env, cfg config.Config) error {
	st, err := boot.Start(ctx, bopt)
	if err != nil {
		return err
	}
	defer st.Close()
	// Subscribe before the till starts, so that its ready event is seen.
	events, unsubscribe := st.Till.Subscribe()
	defer unsubscribe()
	if err := st.Run(ctx); err != nil {
		return err
	}
	return headless.Run(ctx, headless.Options{
		In: env.Stdin, Out: env.Stdout, Till: st.Till, Events: events, Currency: cfg.Currency,
		KeepOnEOF: cfg.Payment.FixedAmount != "",
	})
}

func scanTest(ctx context.Context, args []string, env Env) int {
	fs := flag.NewFlagSet("scan-test", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var addrs multi
	fs.Var(&addrs, "scanner", "scanner address, repeatable")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if len(addrs) == 0 {
		fmt.Fprintln(env.Stderr, "tillpay scan-test: --scanner ADDR is required, e.g. --scanner serial:/dev/ttyACM0?suffix=cr")
		return 2
	}
	return exit(env, scancmd.ScanTest(ctx, env.Stdout, addrs))
}

func report(ctx context.Context, args []string, env Env) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	day := fs.String("day", time.Now().Format("2006-01-02"), "local calendar day, YYYY-MM-DD")
	csvOut := fs.Bool("csv", false, "CSV instead of text")
	dataDir := fs.String("data-dir", "", "the till's data directory (default from the configuration)")
	configPath := fs.String("config", "", "configuration file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	d, err := time.ParseInLocation("2006-01-02", *day, time.Local)
	if err != nil {
		fmt.Fprintf(env.Stderr, "tillpay report: --day %q: want YYYY-MM-DD\n", *day)
		return 2
	}
	path, missingOK := *configPath, false
	if path == "" {
		path, missingOK = config.DefaultPath(), true
	}
	cfg, err := config.Load(path, missingOK)
	if err != nil {
		return exit(env, err)
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	jpath := filepath.Join(cfg.DataDir, boot.JournalFile)
	if _, err := os.Stat(jpath); err != nil {
		return exit(env, fmt.Errorf("no journal at %s: %w", jpath, err))
	}
	// The terminal's key checks every record's seal: altered ones are listed.
	id, key, err := boot.Credentials(cfg)
	if err != nil {
		return exit(env, fmt.Errorf("the journal's terminal: %w", err))
	}
	j, err := journal.Open(ctx, jpath, journal.Options{ReadOnly: true, TerminalID: id, TerminalKey: key})
	if err != nil {
		return exit(env, err)
	}
	defer j.Close()
	z, err := j.ZReport(ctx, d)
	if err != nil {
		return exit(env, err)
	}
	if *csvOut {
		return exit(env, z.WriteCSV(env.Stdout))
	}
	return exit(env, writeZText(env.Stdout, z))
}

func writeZText(w io.Writer, z journal.ZReport) error {
	fmt.Fprintf(w, "Z report — terminal %s — %s\n\n", z.Terminal, z.Day)
	fmt.Fprintf(w, "%-20s %-4s %6s %14s %14s\n", "status", "cur", "count", "amount", "refunded")
	for _, t := range z.Totals {
		fmt.Fprintf(w, "%-20s %-4s %6d %14s %14s\n", t.State, t.Currency, t.Count, t.Amount.Decimal(), t.Refunded.Decimal())
	}
	for _, n := range z.Net {
		fmt.Fprintf(w, "\nnet takings: %s %s\n", n.Decimal(), n.Currency)
	}
	if z.Open > 0 {
		fmt.Fprintf(w, "open (no outcome yet): %d\n", z.Open)
	}
	if len(z.Tampered) > 0 {
		fmt.Fprintf(w, "ALTERED RECORDS (refused): %s\n", strings.Join(z.Tampered, ", "))
	}
	fmt.Fprintf(w, "\n%-26s %-20s %12s %s\n", "order", "status", "amount", "code")
	for _, p := range z.Payments {
		fmt.Fprintf(w, "%-26s %-20s %12s %s\n", p.Order, p.State, p.Amount.Decimal(), p.Code)
	}
	_, err := fmt.Fprintf(w, "\n%d payments, %d refund requests\n", len(z.Payments), len(z.Refunds))
	return err
}
