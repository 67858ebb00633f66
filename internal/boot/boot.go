// Package boot assembles a running till from its configuration: the data
// directory, the payment backend (bundled as a child process when no URL is
// configured, with a demo merchant, terminal and payer on first run), the
// backend client, the journal, the connectivity monitor, the forwarder, the
// scanner manager and the till core. The GUI and the headless mode both
// start a till through it and only render its events.
package boot

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"tillpay/backend/api"
	"tillpay/backend/client"
	"tillpay/config"
	"tillpay/internal/bundle"
	"tillpay/scanner"
	"tillpay/sync/forward"
	"tillpay/sync/journal"
	"tillpay/sync/monitor"
	"tillpay/till"
	"tillpay/wallet"
)

// Options say how to start.
type Options struct {
	Config config.Config
	// ConfigPath is the file Config was read from (or would be): where the
	// window's settings screen saves. Empty means config.DefaultPath().
	ConfigPath string
	// BackendCommand runs the payment backend's command line (serve,
	// demo-setup), for the bundled backend.
	BackendCommand []string
	Logger         *slog.Logger
	// ScannerOptions are passed to the scanner manager.
	ScannerOptions []scanner.Option
	// MonitorOptions override the connectivity monitor's defaults.
	Monitor monitor.Options
	// Forward overrides the forwarder's defaults.
	Forward forward.Options
	// ExtraSources are scan guns opened by the caller (the keyboard wedge of
	// the GUI), attached to the manager by name.
	ExtraSources map[string]scanner.Source
}

// Stack is a running till and everything it needs.
type Stack struct {
	Till       *till.Till
	Journal    *journal.Journal
	Client     *client.Terminal
	Monitor    *monitor.Monitor
	Forwarder  *forward.Forwarder
	Scanners   *scanner.Manager
	Backend    *bundle.Process // nil with an external backend
	BackendURL string
	DataDir    string
	// WalletPath is the demo payer's wallet, made on first run with the
	// bundled backend ("" otherwise).
	WalletPath string

	cancel context.CancelFunc
	wg     sync.WaitGroup
	log    *slog.Logger
}

// Paths under the data directory.
const (
	JournalFile = "journal.db"
	DemoFile    = "demo.json"
	WalletFile  = "wallet.json"
)

// Start brings a till up. Close it when done.
func Start(ctx context.Context, opt Options) (st *Stack, err error) {
	cfg := opt.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", cfg.DataDir, err)
	}
	st = &Stack{DataDir: cfg.DataDir, log: log}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()

	// The backend.
	st.BackendURL = cfg.Backend
	if st.BackendURL == "" {
		if len(opt.BackendCommand) == 0 {
			return st, errors.New("no backend URL is configured and no bundled backend is available")
		}
		st.Backend, err = bundle.Start(ctx, bundle.Options{Command: opt.BackendCommand, DataDir: filepath.Join(cfg.DataDir, "backend"), Logger: log})
		if err != nil {
			return st, err
		}
		st.BackendURL = st.Backend.URL()
	}

	// The terminal's credentials.
	id, key, err := credentials(ctx, cfg, opt, st, log)
	if err != nil {
		return st, err
	}
	st.Client, err = client.NewTerminal(st.BackendURL, id, key)
	if err != nil {
		return st, err
	}
	st.Journal, err = journal.Open(ctx, filepath.Join(cfg.DataDir, JournalFile), journal.Options{TerminalID: id, TerminalKey: key, Logger: log})
	if err != nil {
		return st, err
	}

	rctx, cancel := context.WithCancel(context.Background())
	st.cancel = cancel
	var t *till.Till
	monOpt := opt.Monitor
	monOpt.Logger = log
	monOpt.OnChange = func(online bool) {
		if t == nil {
			return
		}
		if online {
			t.Reconcile(rctx)
		}
		t.Sync(rctx)
	}
	st.Monitor = monitor.New(st.Client.Health, monOpt)

	fwdOpt := opt.Forward
	fwdOpt.Logger = log
	fwdOpt.Reachable = st.Monitor.Report
	fwdOpt.OnResult = func(p journal.Payment) { t.Forwarded(p) }
	fwdOpt.OnPass = func(ctx context.Context, err error) { t.ForwardPassDone(ctx) }
	st.Forwarder = forward.New(st.Journal, st.Client, fwdOpt)

	st.Scanners, err = scanner.NewManager(cfg.Scanners, append([]scanner.Option{scanner.WithLogger(log)}, opt.ScannerOptions...)...)
	if err != nil {
		return st, err
	}
	for name, src := range opt.ExtraSources {
		if err := st.Scanners.Attach(name, src, scanner.FrameConfig{}); err != nil {
			return st, err
		}
	}

	t, err = till.New(till.Options{
		Config: cfg, Journal: st.Journal, Backend: st.Client, BackendURL: st.BackendURL,
		Monitor: st.Monitor, Scanners: st.Scanners, Forwarder: st.Forwarder, Logger: log,
	})
	if err != nil {
		return st, err
	}
	st.Till = t
	return st, nil
}

// Run starts the background work (monitor, forwarder, scanners) and the
// till, which announces itself with a ready event. Subscribe to the till's
// events before calling Run to see every event.
func (st *Stack) Run(ctx context.Context) error {
	rctx, cancel := context.WithCancel(context.Background())
	prev := st.cancel
	st.cancel = func() { cancel(); prev() }
	st.wg.Add(4)
	go func() { defer st.wg.Done(); st.Monitor.Run(rctx) }()
	go func() { defer st.wg.Done(); st.Forwarder.Run(rctx) }()
	go func() {
		defer st.wg.Done()
		if err := st.Scanners.Run(rctx); err != nil && rctx.Err() == nil {
			st.log.Error("scanners stopped", "err", err)
		}
	}()
	go func() {
		defer st.wg.Done()
		for {
			select {
			case <-rctx.Done():
				return
			case ev := <-st.Scanners.Events():
				st.Till.HandleScanner(ev)
			}
		}
	}()
	return st.Till.Start(ctx)
}

// Close stops everything, in order, and waits for it.
func (st *Stack) Close() {
	if st.cancel != nil {
		st.cancel()
	}
	st.wg.Wait()
	if st.Till != nil {
		st.Till.Close()
	}
	if st.Journal != nil {
		if err := st.Journal.Close(); err != nil {
			st.log.Error("closing the journal", "err", err)
		}
	}
	if st.Backend != nil {
		if err := st.Backend.Stop(10 * time.Second); err != nil {
			st.log.Error("stopping the bundled backend", "err", err)
		}
	}
}

// credentials returns the terminal id and key: from the configuration, or
// with the bundled backend from the demo set-up, made on first run.
func credentials(ctx context.Context, cfg config.Config, opt Options, st *Stack, log *slog.Logger) (string, []byte, error) {
	if cfg.TerminalID != "" {
		return configuredCredentials(cfg)
	}
	if st.Backend == nil {
		return "", nil, errors.New("an external backend needs terminal_id and terminal_key_file in the configuration")
	}
	demoPath := filepath.Join(cfg.DataDir, DemoFile)
	if _, err := os.Stat(demoPath); errors.Is(err, os.ErrNotExist) {
		args := append(append([]string{}, opt.BackendCommand[1:]...), "demo-setup", "--db", bundle.DBPath(filepath.Join(cfg.DataDir, "backend")), "--out", demoPath)
		out, err := exec.CommandContext(ctx, opt.BackendCommand[0], args...).CombinedOutput()
		if err != nil {
			return "", nil, fmt.Errorf("setting up the demo merchant: %w: %s", err, strings.TrimSpace(string(out)))
		}
		log.Info("demo merchant, terminal and payer created", "file", demoPath)
	}
	demo, key, err := readDemo(demoPath)
	if err != nil {
		return "", nil, err
	}
	// The demo payer's wallet, enrolled once; the bundled backend listens on
	// a new port at each start, so the wallet follows it there.
	st.WalletPath = filepath.Join(cfg.DataDir, WalletFile)
	if _, err := os.Stat(st.WalletPath); errors.Is(err, os.ErrNotExist) {
		payer, err := client.NewPayer(st.BackendURL, demo.Payer.ID, demo.Payer.Password)
		if err != nil {
			return "", nil, err
		}
		if _, err := wallet.Enrol(ctx, st.WalletPath, wallet.Credentials{BackendURL: st.BackendURL, PayerID: demo.Payer.ID, Password: demo.Payer.Password}, payer); err != nil {
			return "", nil, fmt.Errorf("enrolling the demo wallet: %w", err)
		}
		log.Info("demo wallet enrolled", "file", st.WalletPath)
	} else if err := repointWallet(st.WalletPath, st.BackendURL, log); err != nil {
		// The till works without its demo wallet.
		log.Warn("the demo wallet cannot be pointed at the bundled backend; delete it to enrol a fresh one",
			"file", st.WalletPath, "backend", st.BackendURL, "err", err)
	}
	return demo.Terminal.ID, key, nil
}

// repointWallet makes the wallet whose state is at path use the backend at
// url, logging at Info when that changed its address.
func repointWallet(path, url string, log *slog.Logger) error {
	w, err := wallet.Open(path)
	if err != nil {
		return err
	}
	old := w.State().BackendURL
	changed, err := w.SetBackendURL(url)
	if err != nil {
		return err
	}
	if changed {
		log.Info("demo wallet now uses the bundled backend's address", "file", path, "backend", w.State().BackendURL, "was", old)
	}
	return nil
}

// Credentials returns the terminal id and key of a till's journal without
// starting anything: from terminal_id and terminal_key_file, else from the
// demo set-up the bundled backend made in the data directory. Tools that
// read the journal (the Z report) use it.
func Credentials(cfg config.Config) (string, []byte, error) {
	if cfg.TerminalID != "" {
		return configuredCredentials(cfg)
	}
	demo, key, err := readDemo(filepath.Join(cfg.DataDir, DemoFile))
	if err != nil {
		return "", nil, err
	}
	return demo.Terminal.ID, key, nil
}

// configuredCredentials reads terminal_id and terminal_key_file.
func configuredCredentials(cfg config.Config) (string, []byte, error) {
	if cfg.TerminalKeyFile == "" {
		return "", nil, errors.New("terminal_id is set but terminal_key_file is not")
	}
	data, err := os.ReadFile(cfg.TerminalKeyFile)
	if err != nil {
		return "", nil, fmt.Errorf("terminal key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) < 16 {
		return "", nil, fmt.Errorf("terminal key file %s: want the key in hex (at least 16 bytes)", cfg.TerminalKeyFile)
	}
	return cfg.TerminalID, key, nil
}

// readDemo reads the demo credentials the bundled backend's set-up wrote.
func readDemo(path string) (api.DemoFile, []byte, error) {
	var demo api.DemoFile
	data, err := os.ReadFile(path)
	if err != nil {
		return demo, nil, fmt.Errorf("demo credentials: %w", err)
	}
	if err := json.Unmarshal(data, &demo); err != nil {
		return demo, nil, fmt.Errorf("demo credentials %s: %w", path, err)
	}
	key, err := hex.DecodeString(demo.Terminal.Key)
	if err != nil || demo.Terminal.ID == "" {
		return demo, nil, fmt.Errorf("demo credentials %s: no usable terminal", path)
	}
	return demo, key, nil
}
