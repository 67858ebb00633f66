package tillbench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/creack/pty"

	"tillpay/backend"
	"tillpay/backend/api"
	"tillpay/backend/backendtest"
	"tillpay/backend/client"
	"tillpay/config"
	_ "tillpay/drivers/serial" // the scan gun's driver, by address scheme
	"tillpay/internal/boot"
	"tillpay/money"
	"tillpay/paycode"
	"tillpay/sync/forward"
	"tillpay/sync/journal"
	"tillpay/till"
	"tillpay/wallet"
)

var quiet = slog.New(slog.DiscardHandler)

// codeLen is what a scan gun sends for one code: 18 digits and CR.
const codeLen = paycode.Length + 1

// wireTime is how long codeLen bytes take on a serial line at baud (8N1:
// ten bits a byte). A pseudo-terminal has no line: its wire time is the
// write itself, measured separately.
func wireTime(baud int) time.Duration {
	return time.Duration(codeLen*10) * time.Second / time.Duration(baud)
}

// world is a payment backend on loopback with the demo merchant and
// terminal, and a pool of enrolled payers.
type world struct {
	dir     string
	svc     *backend.Service
	url     string
	demo    api.DemoFile
	key     []byte
	keyFile string
	wallets []*wallet.Wallet
	next    int // the wallet codes come from
}

func newWorld(b *testing.B) *world {
	b.Helper()
	srv := backendtest.Start(b, backendtest.WithBackendOptions(backend.WithLogger(quiet)))
	w := &world{dir: b.TempDir(), svc: srv.Service, url: srv.URL, demo: srv.Demo, key: srv.TerminalKey}
	w.keyFile = srv.WriteTerminalKey(w.dir)
	return w
}

// addPayer creates a funded payer and enrols its wallet.
func (w *world) addPayer(b *testing.B) *wallet.Wallet {
	b.Helper()
	ctx := context.Background()
	id := fmt.Sprintf("payer-%d", len(w.wallets))
	pw := "password-" + id
	if err := w.svc.AddPayer(ctx, backend.NewPayer{ID: id, Password: pw, PasswordFreeLimit: 100_000}); err != nil {
		b.Fatal(err)
	}
	if _, err := w.svc.TopUp(ctx, id, money.Amount{Minor: 100_000_00, Currency: "CNY"}); err != nil {
		b.Fatal(err)
	}
	p, err := client.NewPayer(w.url, id, pw)
	if err != nil {
		b.Fatal(err)
	}
	wl, err := wallet.Enrol(ctx, filepath.Join(w.dir, id+".json"), wallet.Credentials{BackendURL: w.url, PayerID: id, Password: pw}, p)
	if err != nil {
		b.Fatal(err)
	}
	w.wallets = append(w.wallets, wl)
	return wl
}

// ensurePayers enrols enough payers for n codes within one minute (each
// wallet makes ten codes a minute).
func (w *world) ensurePayers(b *testing.B, n int) {
	for len(w.wallets) < n/paycode.SeqPerStep+2 {
		w.addPayer(b)
	}
}

// code returns a fresh code of the pool, moving to the next wallet when one
// has spent this minute's codes, and enrolling one more payer when all have.
func (w *world) code(b *testing.B) string {
	b.Helper()
	for range len(w.wallets) {
		c, err := w.wallets[w.next].Next()
		if err == nil {
			return c.Digits
		}
		if !errors.Is(err, wallet.ErrExhausted) {
			b.Fatal(err)
		}
		w.next = (w.next + 1) % len(w.wallets)
	}
	w.addPayer(b)
	w.next = len(w.wallets) - 1
	c, err := w.wallets[w.next].Next()
	if err != nil {
		b.Fatal(err)
	}
	return c.Digits
}

// stack is a till assembled by internal/boot, as the tillpay command
// assembles it, with a scan gun on a pseudo-terminal.
type stack struct {
	st     *boot.Stack
	events <-chan till.Event
	gun    *os.File // the pty's master: the scan gun's end
}

func startTill(b *testing.B, w *world, mode, backendURL string) *stack {
	b.Helper()
	ctx := context.Background()
	master, slave, err := pty.Open()
	if err != nil {
		b.Fatal(err)
	}
	path := slave.Name()
	slave.Close()
	b.Cleanup(func() { master.Close() })

	cfg := config.Default()
	cfg.DataDir = filepath.Join(b.TempDir(), "till")
	cfg.Backend = backendURL
	cfg.TerminalID = w.demo.Terminal.ID
	cfg.TerminalKeyFile = w.keyFile
	cfg.Scanners = []string{"serial:" + path + "?suffix=cr"}
	cfg.Offline = config.Offline{Mode: mode} // no limits: the queue grows to b.N
	cfg.Payment.RequestTimeout.Duration = 5 * time.Second
	st, err := boot.Start(ctx, boot.Options{Config: cfg, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	events, unsubscribe := st.Till.Subscribe()
	b.Cleanup(func() {
		st.Close()
		unsubscribe()
	})
	if err := st.Run(ctx); err != nil {
		b.Fatal(err)
	}
	s := &stack{st: st, events: events, gun: master}
	var ready, connected bool
	s.await(b, func(e till.Event) bool {
		ready = ready || e.Event == till.EventReady
		connected = connected || e.Event == till.EventScanner && e.State == till.ScannerConnected
		return ready && connected
	})
	return s
}

// await returns the first event that matches.
func (s *stack) await(b *testing.B, match func(till.Event) bool) till.Event {
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case e := <-s.events:
			if match(e) {
				return e
			}
		case <-timeout.C:
			b.Fatal("no matching event within 10 s")
		}
	}
}

// pay arms the till, writes code+CR to the scan gun and waits for the
// payment event. It returns the event, the time the write took and the time
// from the end of the write to the event.
func (s *stack) pay(b *testing.B, code string) (till.Event, time.Duration, time.Duration) {
	if err := s.st.Till.Charge(context.Background(), money.Amount{Minor: 100, Currency: "CNY"}); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if _, err := s.gun.Write([]byte(code + "\r")); err != nil {
		b.Fatal(err)
	}
	t1 := time.Now()
	ev := s.await(b, func(e till.Event) bool { return e.Event == till.EventPayment })
	return ev, t1.Sub(t0), time.Since(t1)
}

// percentile returns the q-quantile (nearest rank) of sorted durations.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted)) + 0.999999)
	return sorted[min(max(i, 1), len(sorted))-1]
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

func reportLatency(b *testing.B, lat, writes []time.Duration) {
	slices.Sort(lat)
	slices.Sort(writes)
	b.ReportMetric(us(percentile(lat, 0.50)), "p50-µs")
	b.ReportMetric(us(percentile(lat, 0.99)), "p99-µs")
	b.ReportMetric(us(lat[len(lat)-1]), "max-µs")
	b.ReportMetric(us(percentile(writes, 0.50)), "write-p50-µs")
	b.ReportMetric(us(wireTime(9600)), "wire9600-µs")
	b.ReportMetric(us(wireTime(115200)), "wire115200-µs")
}

// BenchmarkScanToPaid: a code written to the pty until the till's paid
// event, online, the backend on loopback. Run with -benchtime 2000x.
func BenchmarkScanToPaid(b *testing.B) {
	w := newWorld(b)
	w.ensurePayers(b, b.N)
	s := startTill(b, w, config.PreferOnline, w.url)
	// Warm up connections and caches.
	for range 5 {
		if ev, _, _ := s.pay(b, w.code(b)); ev.Status != till.StatusPaid {
			b.Fatalf("warm-up payment %+v", ev)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	writes := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		code := w.code(b)
		b.StartTimer()
		ev, wr, d := s.pay(b, code)
		if ev.Status != till.StatusPaid {
			b.Fatalf("payment %+v, want paid", ev)
		}
		lat, writes = append(lat, d), append(writes, wr)
	}
	b.StopTimer()
	reportLatency(b, lat, writes)
}

// deadURL returns a loopback URL where nothing listens.
func deadURL(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// offlineCodes returns n distinct well-formed codes of one key (a queued
// payment is not verified until its upload).
func offlineCodes(b *testing.B, n int) []string {
	seed, err := paycode.NewSeed()
	if err != nil {
		b.Fatal(err)
	}
	step := paycode.StepAt(time.Now())
	seen := map[string]bool{}
	var out []string
	for i := 0; len(out) < n; i++ {
		c, err := paycode.Generate(seed, 1234567, step-int64(i/paycode.SeqPerStep), i%paycode.SeqPerStep)
		if err != nil {
			b.Fatal(err)
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// BenchmarkScanToQueued: a code written to the pty until the till's queued
// event (the record committed to the journal), in force-offline mode with
// the backend out of reach. Run with -benchtime 2000x.
func BenchmarkScanToQueued(b *testing.B) {
	w := newWorld(b)
	s := startTill(b, w, config.ForceOffline, deadURL(b))
	codes := offlineCodes(b, b.N+5)
	for _, c := range codes[:5] {
		if ev, _, _ := s.pay(b, c); ev.Status != till.StatusQueued {
			b.Fatalf("warm-up payment %+v", ev)
		}
	}
	codes = codes[5:]
	lat := make([]time.Duration, 0, b.N)
	writes := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		ev, wr, d := s.pay(b, codes[i])
		if ev.Status != till.StatusQueued {
			b.Fatalf("payment %+v, want queued", ev)
		}
		lat, writes = append(lat, d), append(writes, wr)
	}
	b.StopTimer()
	st, err := s.st.Journal.OfflineStats(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if st.Count < b.N {
		b.Fatalf("the journal holds %d queued payments, want at least %d", st.Count, b.N)
	}
	reportLatency(b, lat, writes)
}

// BenchmarkDrain10k: uploading 10,000 queued payments (codes of ten
// enrolled payers, scanned over the last 110 minutes) to the backend on
// loopback, through the forwarder, until every one is settled in the
// journal. Run with -benchtime 1x; the set-up writes 10,000 records first.
func BenchmarkDrain10k(b *testing.B) {
	const payers, steps = 10, 100 // × SeqPerStep codes = 10,000
	const n = payers * steps * paycode.SeqPerStep
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		w := newWorld(b)
		for range payers {
			w.addPayer(b)
		}
		j, err := journal.Open(ctx, filepath.Join(b.TempDir(), "journal.db"),
			journal.Options{TerminalID: w.demo.Terminal.ID, TerminalKey: w.key, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		last := paycode.StepAt(time.Now()) - 10
		for s := last - steps + 1; s <= last; s++ { // oldest first
			for _, wl := range w.wallets {
				st := wl.State()
				for q := range paycode.SeqPerStep {
					code, err := paycode.Generate(st.Seed, paycode.KeyID(st.KeyID), s, q)
					if err != nil {
						b.Fatal(err)
					}
					at := time.Unix(s*paycode.StepSeconds+int64(q)*5+1, 0)
					if _, err := j.Create(ctx, journal.NewPayment{Amount: money.Amount{Minor: 100, Currency: "CNY"}, Code: code,
						Device: "bench", Symbology: "unknown", ScanTime: at, ScanLocal: at, Mode: journal.ModeOffline}); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		term, err := client.NewTerminal(w.url, w.demo.Terminal.ID, w.key)
		if err != nil {
			b.Fatal(err)
		}
		settled := 0
		up := &timedUploader{u: term}
		f := forward.New(j, up, forward.Options{Logger: quiet, OnResult: func(p journal.Payment) {
			if p.State == journal.StateSettled {
				settled++
			}
		}})
		b.StartTimer()
		t0 := time.Now()
		got, err := f.Drain(ctx)
		elapsed := time.Since(t0)
		b.StopTimer()
		if err != nil || got != n || settled != n {
			b.Fatalf("drained %d (%d settled) of %d: %v", got, settled, n, err)
		}
		if st, err := j.OfflineStats(ctx); err != nil || st.Count != 0 {
			b.Fatalf("after the drain: %+v %v", st, err)
		}
		if rep, err := w.svc.Audit(ctx); err != nil || !rep.OK() {
			b.Fatalf("backend audit: %+v %v", rep, err)
		}
		b.ReportMetric(elapsed.Seconds(), "drain-s")
		b.ReportMetric(up.spent.Seconds(), "upload-s")
		b.ReportMetric(float64(n)/elapsed.Seconds(), "payments/s")
		j.Close()
	}
}

// timedUploader measures the time spent in batch uploads (HTTP and the
// backend), to tell it from the journal's share of a drain.
type timedUploader struct {
	u     forward.Uploader
	spent time.Duration
}

func (t *timedUploader) PayBatch(ctx context.Context, reqs []api.PayRequest) ([]api.BatchResult, error) {
	t0 := time.Now()
	r, err := t.u.PayBatch(ctx, reqs)
	t.spent += time.Since(t0)
	return r, err
}
