package headless_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tillpay/backend/backendtest"
	"tillpay/config"
	"tillpay/drivers/sim"
	"tillpay/headless"
	"tillpay/internal/boot"
	"tillpay/till"
	"tillpay/wallet"
)

// session runs a headless till, wired by boot against a real in-process
// backend over HTTP, with an in-process simulated scan gun.
type session struct {
	t      *testing.T
	in     *io.PipeWriter
	events chan till.Event
	gun    *sim.InProcess
	wallet *wallet.Wallet
	done   chan struct{} // closed when headless.Run returned
	err    error         // what it returned
}

func start(t *testing.T) *session {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	be := backendtest.Start(t)
	url, demo := be.URL, be.Demo
	keyFile := be.WriteTerminalKey(dir)
	w, err := wallet.Enrol(ctx, filepath.Join(dir, "wallet.json"), wallet.Credentials{BackendURL: url, PayerID: demo.Payer.ID, Password: demo.Payer.Password}, be.Payer())
	if err != nil {
		t.Fatal(err)
	}
	gun, err := sim.NewInProcess()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gun.Close() })

	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "till")
	cfg.Backend = url
	cfg.TerminalID = demo.Terminal.ID
	cfg.TerminalKeyFile = keyFile
	cfg.Scanners = []string{gun.Address()}
	st, err := boot.Start(ctx, boot.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	evs, unsubscribe := st.Till.Subscribe()
	if err := st.Run(ctx); err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &session{t: t, in: inW, events: make(chan till.Event, 100), gun: gun, wallet: w, done: make(chan struct{})}
	go func() {
		s.err = headless.Run(ctx, headless.Options{In: inR, Out: outW, Till: st.Till, Events: evs, Currency: "CNY"})
		outW.Close()
		close(s.done)
	}()
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			var ev till.Event
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Errorf("not a JSON event line: %q", sc.Text())
				continue
			}
			s.events <- ev
		}
		close(s.events)
	}()
	t.Cleanup(func() {
		inW.Close()
		<-s.done
		unsubscribe()
		st.Close()
	})
	return s
}

func (s *session) send(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		s.t.Fatal(err)
	}
}

func (s *session) expect(kind string, match func(till.Event) bool) till.Event {
	s.t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				s.t.Fatalf("output ended waiting for %s", kind)
			}
			if ev.Time.IsZero() {
				s.t.Errorf("event without a time: %+v", ev)
			}
			if ev.Event == kind && (match == nil || match(ev)) {
				return ev
			}
		case <-timeout:
			s.t.Fatalf("no %s event", kind)
		}
	}
}

func TestHeadlessPayment(t *testing.T) {
	s := start(t)
	ready := s.expect(till.EventReady, nil)
	if !strings.HasPrefix(ready.Backend, "http://127.0.0.1:") || !strings.HasSuffix(ready.Journal, "journal.db") {
		t.Fatalf("ready %+v", ready)
	}
	s.send("charge 12.5")
	armed := s.expect(till.EventArmed, nil)
	if armed.Amount != "12.50" || armed.Currency != "CNY" {
		t.Fatalf("armed %+v", armed)
	}
	code, err := s.wallet.Next()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.gun.Type(code.Digits); err != nil {
		t.Fatal(err)
	}
	scan := s.expect(till.EventScan, nil)
	if scan.Code != "**************"+code.Digits[14:] || scan.Device != s.gun.Address() || scan.LatencyUS == nil {
		t.Fatalf("scan %+v", scan)
	}
	paid := s.expect(till.EventPayment, nil)
	if paid.Status != till.StatusPaid || paid.Amount != "12.50" || paid.Order == "" {
		t.Fatalf("payment %+v", paid)
	}
	s.send("refund " + paid.Order + " 2.50")
	ref := s.expect(till.EventRefund, nil)
	if ref.Status != till.StatusPartRefunded || ref.Refunded != "2.50" {
		t.Fatalf("refund %+v", ref)
	}
	s.send("query " + paid.Order)
	q := s.expect(till.EventPayment, func(e till.Event) bool { return e.Order == paid.Order })
	if q.Status != till.StatusPartRefunded {
		t.Fatalf("query %+v", q)
	}
	s.send("status")
	sync := s.expect(till.EventSync, nil)
	if sync.Online == nil || !*sync.Online || sync.Queued == nil || *sync.Queued != 0 {
		t.Fatalf("sync %+v", sync)
	}
	st := s.expect(till.EventStatus, nil)
	if st.Status != "idle" || st.Mode != config.PreferOnline {
		t.Fatalf("status %+v", st)
	}
	s.send("quit")
	select {
	case <-s.done:
		if s.err != nil {
			t.Fatal(s.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("quit did not end the session")
	}
}

func TestHeadlessBadCommands(t *testing.T) {
	s := start(t)
	s.expect(till.EventReady, nil)
	for _, tc := range []struct{ line, want string }{
		{"charge", "wrong number of arguments"},
		{"charge 1.234", "not an amount"},
		{"charge -5", "not an amount"},
		{"charge abc", "not an amount"},
		{"refund nosuchorder", "not in the payment journal"},
		{"cancel", "no payment is in progress"},
		{"fly away", "unknown command"},
		{"ack", "wrong number of arguments"},
	} {
		s.send(tc.line)
		ev := s.expect(till.EventError, nil)
		if !strings.Contains(ev.Reason, tc.want) {
			t.Errorf("%q: error %q, want it to say %q", tc.line, ev.Reason, tc.want)
		}
	}
	// Nothing was armed by any of them: a scan is not charged.
	code, _ := s.wallet.Next()
	s.gun.Type(code.Digits)
	s.expect(till.EventScan, nil)
	if ev := s.expect(till.EventError, nil); !strings.Contains(ev.Reason, "enter an amount first") {
		t.Fatalf("%+v", ev)
	}
	s.send("help")
	if ev := s.expect(till.EventStatus, nil); !strings.Contains(ev.Detail, "charge <amount>") {
		t.Fatalf("help %+v", ev)
	}
}

// A session that ends writes what the till said before: the ready event,
// and the answer to the last command before quit, even when both lines
// arrive at once and nobody reads the output until the end.
func TestLastAnswersBeforeQuit(t *testing.T) {
	for i := range 5 {
		s := start(t)
		if _, err := io.WriteString(s.in, "status\nquit\n"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			t.Fatal("quit did not end the session")
		}
		var kinds []string
		for ev := range s.events {
			kinds = append(kinds, ev.Event)
		}
		got := strings.Join(kinds, " ")
		if !strings.Contains(got, till.EventReady) || !strings.Contains(got, till.EventSync) || !strings.Contains(got, till.EventStatus) {
			t.Fatalf("run %d: events %q, want ready, sync and status", i, got)
		}
	}
}
