// Package app is the till's cashier window, built with Fyne: the sale
// screen (amount keypad and the payment's result), today's history with
// refunds, the end-of-day report, the settings, and a status bar. It holds
// no business logic and no SQL: it sends commands to the till core
// (tillpay/till) and renders the events the core emits. Events reach the
// widgets through one bridge (bridge.go) that hands them to Fyne's main
// goroutine with fyne.Do.
//
// A keyboard-wedge scan gun types into the window: every key event goes
// through a tillpay/drivers/wedge detector first, which passes slow human
// typing on to the screen and turns fast bursts into scans for the till.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"

	"tillpay/app/sound"
	"tillpay/assets"
	"tillpay/config"
	"tillpay/drivers/wedge"
	"tillpay/internal/boot"
	"tillpay/scanner"
	"tillpay/till"
	"tillpay/wallet"
	"tillpay/wallet/walletwin"
)

// AppID is the application's reverse-DNS identifier (as in FyneApp.toml).
const AppID = "com.tillpay.till"

// ProbeEnv, when set to 1, makes the window log timing probes (the delay
// from a payment event to its result on screen) as "gui probe" lines.
const ProbeEnv = "TILLPAY_GUI_PROBE"

// Options say how to run the window.
type Options struct {
	// Boot starts the till; its Config is the configuration in use (the
	// file with command-line flags laid over it). Its ExtraSources are
	// attached to every till stack the window starts (a settings change
	// restarts it), beside the window's own keyboard wedge.
	Boot boot.Options
	// ConfigPath is the TOML file the settings screen saves to (default
	// config.DefaultPath()).
	ConfigPath string
	// Logger for the window's own logs (default Boot.Logger).
	Logger *slog.Logger
	// Now is the clock for countdowns and the history's day (default
	// time.Now).
	Now func() time.Time
	// Probe logs timing probes (see ProbeEnv).
	Probe bool
}

// ErrNoDisplay: neither DISPLAY nor WAYLAND_DISPLAY is set.
var ErrNoDisplay = errors.New("no display")

// HasDisplay reports whether a window can be opened (X11 or Wayland).
func HasDisplay() bool {
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}

// Run opens the cashier window and runs until it is closed or ctx ends.
// It returns ErrNoDisplay when there is nowhere to open it.
func Run(ctx context.Context, opt Options) error {
	if !HasDisplay() {
		return ErrNoDisplay
	}
	setupLanguage(opt.Boot.Config.Language)
	a := fyneapp.NewWithID(AppID)
	a.SetIcon(assets.Icon)
	u := New(a, opt)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		fyne.Do(a.Quit)
	}()
	u.Start(ctx)
	u.win.ShowAndRun()
	if path := os.Getenv(HeapProfileEnv); path != "" {
		writeHeapProfile(path, u.log)
	}
	u.Close()
	return nil
}

// HeapProfileEnv names a file to write a heap profile to when the window
// closes (for memory work: go tool pprof).
const HeapProfileEnv = "TILLPAY_GUI_HEAPPROFILE"

func writeHeapProfile(path string, log *slog.Logger) {
	f, err := os.Create(path)
	if err != nil {
		log.Error("heap profile", "err", err)
		return
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		log.Error("heap profile", "err", err)
	}
}

// phase is where the till stack is.
type phase int

const (
	phaseStarting phase = iota
	phaseUp
	phaseFailed
	phaseStopping
)

// UI is the cashier window. Its methods run on Fyne's main goroutine
// unless said otherwise.
type UI struct {
	app  fyne.App
	win  fyne.Window
	opt  Options
	log  *slog.Logger
	now  func() time.Time
	post func(func()) // run on the UI goroutine (fyne.Do)

	sound *sound.Player
	in    *input

	ctx    context.Context
	cancel context.CancelFunc

	cfg     config.Config // in use
	st      *boot.Stack
	gen     int // stack generation; events of older stacks are ignored
	phase   phase
	lastErr error
	wedge   *wedge.Wedge
	closed  chan struct{} // closed when the last stack is closed

	sale     *saleScreen
	hist     *historyScreen
	report   *reportScreen
	settings *settingsScreen
	status   *statusBar
	banner   *banner
	tabs     *container.AppTabs
	flash    *canvas.Rectangle
	walletW  fyne.Window
	flashes  int // flashes shown (for tests)
}

// New builds the window on a (a real app, or fyne.io/fyne/v2/test's).
// Call Start to bring the till up.
func New(a fyne.App, opt Options) *UI {
	if opt.Logger == nil {
		opt.Logger = opt.Boot.Logger
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.ConfigPath == "" {
		opt.ConfigPath = config.DefaultPath()
	}
	u := &UI{
		app: a, opt: opt, log: opt.Logger, now: opt.Now, post: fyne.Do,
		cfg:    opt.Boot.Config,
		closed: make(chan struct{}),
	}
	u.sound = sound.New(u.cfg.Sound, u.log)
	a.Settings().SetTheme(newTheme())
	u.win = a.NewWindow(T("tillpay — cashier"))
	u.win.Resize(fyne.NewSize(1024, 768))
	u.win.SetMaster()
	u.wedge = wedge.New(wedge.WithLogger(u.log))
	u.in = newInput(u)
	u.build()
	return u
}

// Window returns the cashier window.
func (u *UI) Window() fyne.Window { return u.win }

// build lays out the window's content (again after a language change).
func (u *UI) build() {
	u.sale = newSaleScreen(u)
	u.hist = newHistoryScreen(u)
	u.report = newReportScreen(u)
	u.settings = newSettingsScreen(u)
	if u.status == nil {
		u.status = newStatusBar(u)
	} else {
		u.status.rebuild()
	}
	if u.banner == nil {
		u.banner = newBanner(u)
	}
	u.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon(T("Sale")+"  F1", theme.HomeIcon(), u.sale.content),
		container.NewTabItemWithIcon(T("History")+"  F2", theme.ListIcon(), u.hist.content),
		container.NewTabItemWithIcon(T("End of day")+"  F3", theme.DocumentIcon(), u.report.content),
		container.NewTabItemWithIcon(T("Settings")+"  F4", theme.SettingsIcon(), u.settings.content),
	)
	u.tabs.OnSelected = func(ti *container.TabItem) {
		// The sale screen has no focusable widget: keys go to the canvas.
		u.win.Canvas().Unfocus()
		switch ti.Content {
		case u.hist.content:
			u.hist.refresh()
		case u.report.content:
			u.report.load()
		case u.settings.content:
			u.settings.load()
		}
	}
	u.flash = canvas.NewRectangle(transparent)
	body := container.NewBorder(u.banner.content, u.status.content, nil, nil, u.tabs)
	u.win.SetContent(container.NewStack(body, u.flash))
	u.in.attach(u.win.Canvas())
	u.renderPhase()
}

// Start brings the till stack up in the background; the window shows
// "starting" until the till is ready.
func (u *UI) Start(ctx context.Context) {
	u.ctx, u.cancel = context.WithCancel(ctx)
	u.startStack()
}

func (u *UI) startStack() {
	u.gen++
	gen := u.gen
	u.phase = phaseStarting
	u.renderPhase()
	bopt := u.opt.Boot
	bopt.Config = u.cfg
	w := wedge.New(wedge.WithLogger(u.log))
	u.wedge = w
	extra := map[string]scanner.Source{}
	for k, v := range u.opt.Boot.ExtraSources {
		extra[k] = v
	}
	extra["wedge"] = w
	bopt.ExtraSources = extra
	ctx := u.ctx
	go func() {
		st, err := boot.Start(ctx, bopt)
		if err != nil {
			u.post(func() { u.startFailed(gen, err) })
			return
		}
		events, unsubscribe := st.Till.Subscribe()
		ready := make(chan bool, 1)
		u.post(func() {
			current := gen == u.gen && u.phase != phaseStopping
			if current {
				u.st = st
			}
			ready <- current
		})
		if !<-ready {
			// The window closed or restarted the till meanwhile.
			unsubscribe()
			st.Close()
			return
		}
		go u.bridge(gen, events, unsubscribe)
		if err := st.Run(ctx); err != nil {
			u.post(func() { u.startFailed(gen, err) })
		}
	}()
}

func (u *UI) startFailed(gen int, err error) {
	if gen != u.gen {
		return
	}
	u.log.Error("the till could not start", "err", err)
	u.phase = phaseFailed
	u.lastErr = err
	if u.st != nil {
		st := u.st
		u.st = nil
		go st.Close()
	}
	u.renderPhase()
}

// renderPhase shows the stack's phase where it matters.
func (u *UI) renderPhase() {
	if u.sale != nil {
		u.sale.render()
	}
	if u.status != nil {
		u.status.render()
	}
}

// restart closes the running stack and starts a new one with cfg.
func (u *UI) restart(cfg config.Config) {
	u.cfg = cfg
	st := u.st
	u.st = nil
	u.gen++
	u.phase = phaseStarting
	u.sale.reset()
	u.status.resetScanners()
	u.renderPhase()
	go func() {
		if st != nil {
			st.Close()
		}
		u.post(u.startStack)
	}()
}

// Close stops the till stack; it blocks until it has stopped.
func (u *UI) Close() {
	if u.cancel != nil {
		u.cancel()
	}
	u.phase = phaseStopping
	u.gen++
	if u.st != nil {
		u.st.Close()
		u.st = nil
	}
	u.wedge.Close()
}

// busy reports whether a sale is under way (the stack must not restart).
func (u *UI) busy() bool { return u.sale.state != saleIdle && u.sale.state != saleResult }

// async runs work off the UI goroutine and done with its result on it.
func async[T any](u *UI, work func() (T, error), done func(T, error)) {
	go func() {
		v, err := work()
		u.post(func() { done(v, err) })
	}()
}

// command runs a till command off the UI goroutine; an error shows in the
// banner.
func (u *UI) command(name string, fn func(ctx context.Context, t *till.Till) error) {
	if u.st == nil {
		u.banner.showError(T("The till is not running yet."))
		return
	}
	ctx, t := u.ctx, u.st.Till
	go func() {
		if err := fn(ctx, t); err != nil {
			u.post(func() { u.banner.showError(fmt.Sprintf("%s: %v", T(name), err)) })
		}
	}()
}

// showWallet opens the demo payer's wallet in a second window.
func (u *UI) showWallet() {
	if u.walletW != nil {
		u.walletW.RequestFocus()
		return
	}
	if u.st == nil || u.st.WalletPath == "" {
		u.banner.showError(T("There is no demo wallet: the till uses an external backend."))
		return
	}
	w, err := wallet.Open(u.st.WalletPath)
	if err != nil {
		u.banner.showError(err.Error())
		return
	}
	win, err := walletwin.New(u.app, w, walletwin.Options{Logger: u.log, Post: u.post})
	if err != nil {
		u.banner.showError(err.Error())
		return
	}
	u.walletW = win.Window()
	u.walletW.SetOnClosed(func() {
		win.Stop()
		u.walletW = nil
	})
	win.Start(u.ctx)
	u.walletW.Show()
}

// probe logs a timing probe when enabled.
func (u *UI) probe(name string, args ...any) {
	if !u.opt.Probe {
		return
	}
	u.log.Info("gui probe", append([]any{"probe", name}, args...)...)
}

func shorten(s string, n int) string {
	s = strings.TrimSpace(s)
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
