package backendcli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tillpay/backend"
	"tillpay/backend/api"
	"tillpay/backend/client"
	"tillpay/money"
	"tillpay/paycode"
)

// Shape of TestKill9DuringPayments.
const (
	crashWorkers   = 16 // goroutines paying at once through one terminal
	crashPayers    = 64 // payers, each with 2*paycode.SeqPerStep codes
	crashPoor      = 4  // payers topped up too little: some of their payments are declined
	crashCycles    = 6  // SIGKILLs under load, each followed by a restart
	crashMinLoad   = 20 * time.Millisecond
	crashMaxLoad   = 150 * time.Millisecond
	crashMaxAmount = 2_000 // fen; well under the password-free limit
	crashRichTopUp = 50_000
	crashPoorTopUp = 3_000
	crashReuseOne  = 8 // one new payment in this many presents a code already sent under another order
	crashPassword  = "crash-password"
)

// crashPayment is one merchant order as its till knows it.
type crashPayment struct {
	req     api.PayRequest
	payer   int    // index of the payer whose code it carries
	code    string // == req.Code
	sends   int    // requests sent so far
	lost    int    // sends that got no answer (transport errors)
	done    bool   // answered
	first   api.Order
	epoch   int // server run that gave the first answer
	refused error
}

// crashServer is one run of `paybackend serve` as a child process.
type crashServer struct {
	cmd    *exec.Cmd
	url    string
	stderr *bytes.Buffer // read only after wait
	waited bool
	err    error
}

func (s *crashServer) wait() error {
	if !s.waited {
		s.waited, s.err = true, s.cmd.Wait()
	}
	return s.err
}

func startCrashServer(t *testing.T, db string) *crashServer {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--db", db, "--listen", "127.0.0.1:0")
	// Under the race detector a process sleeps 1 s on exit unless told not to.
	cmd.Env = append(os.Environ(), "PAYBACKEND_AS_CHILD=1", "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &crashServer{cmd: cmd, stderr: new(bytes.Buffer)}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting serve: %v", err)
	}
	t.Cleanup(func() {
		if !s.waited {
			cmd.Process.Kill()
			s.wait()
		}
	})
	type lineErr struct {
		line string
		err  error
	}
	first := make(chan lineErr, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		first <- lineErr{line, err}
		io.Copy(io.Discard, stdout) // nothing more is printed; keep the pipe drained
	}()
	select {
	case le := <-first:
		if le.err != nil || !strings.HasPrefix(le.line, "listening http://127.0.0.1:") {
			cmd.Process.Kill()
			s.wait()
			t.Fatalf("serve on %s: first line %q, %v; exit %v; stderr:\n%s", db, le.line, le.err, s.err, s.stderr)
		}
		s.url = strings.TrimSpace(strings.TrimPrefix(le.line, "listening "))
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		s.wait()
		t.Fatalf("serve on %s printed no listening line in 30 s; stderr:\n%s", db, s.stderr)
	}
	return s
}

// crashRun is the tills' side of the test: every payment they made and what
// they still have to resend.
type crashRun struct {
	t        *testing.T
	termID   string
	termKey  []byte
	seeds    []api.EnrolResponse
	mu       sync.Mutex
	rng      *rand.Rand
	codes    []crashCode // fresh codes, shuffled across payers
	next     int
	all      []*crashPayment
	queue    []*crashPayment // to send in the current server run, resends first
	later    []*crashPayment // unanswered when the server died: resent after the restart
	epoch    int
	starts   []time.Time // when each server run was ready
	reused   int
	inFlight int // sends that got no answer, over the whole test
}

type crashCode struct {
	payer int
	code  string
}

// take returns the next payment to send: a resend if any, else (when fresh
// is true) a new order with a new code or, now and then, a code already sent.
func (r *crashRun) take(fresh bool) *crashPayment {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) > 0 {
		p := r.queue[0]
		r.queue = r.queue[1:]
		p.sends++
		return p
	}
	if !fresh {
		return nil
	}
	var c crashCode
	switch {
	case len(r.all) > 0 && r.rng.IntN(crashReuseOne) == 0:
		old := r.all[r.rng.IntN(len(r.all))]
		c = crashCode{old.payer, old.code}
		r.reused++
	case r.next < len(r.codes):
		c = r.codes[r.next]
		r.next++
	default:
		return nil // out of codes: this run's load is over
	}
	p := &crashPayment{
		req: api.PayRequest{
			MerchantOrder: fmt.Sprintf("k9-%05d", len(r.all)),
			Code:          c.code,
			Amount:        money.Amount{Minor: 1 + r.rng.Int64N(crashMaxAmount), Currency: "CNY"},
		},
		payer: c.payer, code: c.code, sends: 1,
	}
	r.all = append(r.all, p)
	return p
}

// settle records the outcome of one send of p.
func (r *crashRun) settle(p *crashPayment, o api.Order, err error, final bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err == nil:
		p.done, p.first, p.epoch = true, o, r.epoch
		if o.MerchantOrder != p.req.MerchantOrder || o.Amount != p.req.Amount ||
			(o.Status != api.StatusPaid && o.Status != api.StatusDeclined) {
			r.t.Errorf("order %s (send %d, server run %d): asked %s, answered %+v",
				p.req.MerchantOrder, p.sends, r.epoch, p.req.Amount, o)
		}
	case errors.Is(err, client.ErrUnreachable):
		p.lost++
		r.inFlight++
		if !final {
			r.later = append(r.later, p) // the server is dying: resend after the restart
		} else if p.lost > 5 {
			r.t.Errorf("order %s: no answer from the restarted backend after %d sends: %v", p.req.MerchantOrder, p.sends, err)
		} else {
			r.queue = append(r.queue, p)
		}
	default:
		// A refusal means nothing is stored; for the same request resent
		// after a lost answer it would break idempotency.
		p.refused = err
		r.t.Errorf("order %s (send %d, %d without answer before): refused: %v", p.req.MerchantOrder, p.sends, p.lost, err)
	}
}

func (r *crashRun) terminal(t *testing.T, url string) (*client.Terminal, *http.Transport) {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: crashWorkers}
	term, err := client.NewTerminal(url, r.termID, r.termKey,
		client.WithHTTPClient(&http.Client{Transport: tr, Timeout: 20 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	return term, tr
}

// pay runs the workers against one server run until stop is closed (final
// false: new payments keep coming) or the queue is empty (final true).
func (r *crashRun) pay(ctx context.Context, term *client.Terminal, stop <-chan struct{}, final bool) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range crashWorkers {
		wg.Go(func() {
			for ctx.Err() == nil {
				select {
				case <-stop:
					return
				default:
				}
				p := r.take(!final)
				if p == nil {
					return
				}
				o, err := term.Pay(ctx, p.req)
				r.settle(p, o, err, final)
			}
		})
	}
	return &wg
}

// TestKill9DuringPayments kills the backend with SIGKILL at random moments
// while tills pay, restarts it on the same database, and checks that what
// was answered stayed answered, that a payment whose answer was lost is
// charged once when it is resent, and that the ledger balances.
func TestKill9DuringPayments(t *testing.T) {
	t.Setenv(backend.MasterKeyEnv, "") // the key file beside the database
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	dir := t.TempDir()
	db := filepath.Join(dir, "backend.db")

	// Merchant and terminal through the command line.
	if code, _, stderr := runCmd(t, "", "admin", "merchant", "add", "--db", db, "--id", "shop", "--name", "Shop"); code != 0 {
		t.Fatalf("merchant add: %d %s", code, stderr)
	}
	code, out, stderr := runCmd(t, "", "admin", "terminal", "add", "--db", db, "--merchant", "shop", "--json")
	var tc struct{ ID, Key string }
	if code != 0 || json.Unmarshal([]byte(out), &tc) != nil || tc.ID == "" {
		t.Fatalf("terminal add: %d %q %s", code, out, stderr)
	}
	key, err := hex.DecodeString(tc.Key)
	if err != nil {
		t.Fatalf("terminal key %q: %v", tc.Key, err)
	}
	if _, err := os.Stat(db + ".masterkey"); err != nil {
		t.Fatalf("no master key file beside the database: %v", err)
	}

	// Payers in one go in process (the command would hash each password with
	// 600,000 PBKDF2 rounds, seconds for them all under the race detector).
	topUp := make([]int64, crashPayers)
	payerID := func(i int) string { return fmt.Sprintf("payer-%02d", i) }
	{
		svc, err := open(ctx, &common{db: db}, slog.New(slog.DiscardHandler), backend.WithPasswordIterations(1_000))
		if err != nil {
			t.Fatal(err)
		}
		for i := range crashPayers {
			topUp[i] = crashRichTopUp
			if i < crashPoor {
				topUp[i] = crashPoorTopUp
			}
			if err := svc.AddPayer(ctx, backend.NewPayer{ID: payerID(i), Password: crashPassword,
				PasswordFreeLimit: 100_000}); err != nil {
				t.Fatalf("add %s: %v", payerID(i), err)
			}
			if _, err := svc.TopUp(ctx, payerID(i), money.Amount{Minor: topUp[i], Currency: "CNY"}); err != nil {
				t.Fatalf("top up %s: %v", payerID(i), err)
			}
		}
		if err := svc.Close(); err != nil {
			t.Fatal(err)
		}
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	r := &crashRun{t: t, termID: tc.ID, termKey: key, rng: rand.New(rand.NewPCG(seed, 1))}
	delays := rand.New(rand.NewPCG(seed, 2)) // the moments of the kills; this goroutine only

	setupDone := time.Since(start)
	srv := startCrashServer(t, db)
	r.starts = append(r.starts, time.Now())

	// Wallets enrol over HTTP and make their codes: those of this step and
	// the next, valid for a minute at least.
	r.seeds = make([]api.EnrolResponse, crashPayers)
	{
		var wg sync.WaitGroup
		errs := make([]error, crashPayers)
		for i := range crashPayers {
			wg.Go(func() {
				p, err := client.NewPayer(srv.url, payerID(i), crashPassword)
				if err == nil {
					r.seeds[i], err = p.Enrol(ctx)
				}
				errs[i] = err
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("enrol: %v", err)
		}
	}
	step := paycode.StepAt(time.Now())
	for i, e := range r.seeds {
		for s := step; s <= step+1; s++ {
			for seq := range paycode.SeqPerStep {
				c, err := paycode.Generate(e.Seed, paycode.KeyID(e.KeyID), s, seq)
				if err != nil {
					t.Fatal(err)
				}
				r.codes = append(r.codes, crashCode{i, c})
			}
		}
	}
	r.rng.Shuffle(len(r.codes), func(i, j int) { r.codes[i], r.codes[j] = r.codes[j], r.codes[i] })

	// Load, SIGKILL, restart; crashCycles times.
	var answeredBefore []int
	for cycle := range crashCycles {
		if cycle > 0 {
			srv = startCrashServer(t, db)
			r.starts = append(r.starts, time.Now())
		}
		r.mu.Lock()
		r.epoch = cycle
		r.queue, r.later = r.later, nil
		r.mu.Unlock()
		term, tr := r.terminal(t, srv.url)
		stop := make(chan struct{})
		wg := r.pay(ctx, term, stop, false)
		time.Sleep(crashMinLoad + time.Duration(delays.Int64N(int64(crashMaxLoad-crashMinLoad))))
		if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("cycle %d: kill: %v", cycle, err)
		}
		close(stop)
		wg.Wait()
		tr.CloseIdleConnections()
		if err := srv.wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("cycle %d: serve ended with %v, want killed; stderr:\n%s", cycle, err, srv.stderr)
		}
		if strings.Contains(srv.stderr.String(), "WARNING: DATA RACE") || strings.Contains(srv.stderr.String(), "panic:") {
			t.Errorf("cycle %d: serve reported a race or panic before its kill:\n%s", cycle, srv.stderr)
		}
		r.mu.Lock()
		r.later = append(r.later, r.queue...) // resends this run had no time for
		r.queue = nil
		n := 0
		for _, p := range r.all {
			if p.done {
				n++
			}
		}
		answeredBefore = append(answeredBefore, n)
		r.mu.Unlock()
	}

	loadDone := time.Since(start)

	// Last restart: resend what never got an answer, until answered.
	srv = startCrashServer(t, db)
	r.starts = append(r.starts, time.Now())
	r.mu.Lock()
	r.epoch = crashCycles
	r.queue, r.later = r.later, nil
	resent := len(r.queue)
	r.mu.Unlock()
	term, tr := r.terminal(t, srv.url)
	r.pay(ctx, term, nil, true).Wait()

	var answered []*crashPayment
	for _, p := range r.all {
		if p.done {
			answered = append(answered, p)
		} else if p.refused == nil {
			t.Errorf("order %s: never answered after %d sends", p.req.MerchantOrder, p.sends)
		}
	}
	if len(answered) == 0 || r.inFlight == 0 {
		t.Fatalf("nothing tested: %d orders answered, %d sends lost to a kill", len(answered), r.inFlight)
	}

	// Every order as the backend has it now, and every request sent again:
	// the same answer as the first time.
	same := func(what string, p *crashPayment, o api.Order) {
		f := p.first
		if o.MerchantOrder != f.MerchantOrder || o.Status != f.Status || o.Reason != f.Reason ||
			o.Amount != f.Amount || o.PayerID != f.PayerID || !o.Created.Equal(f.Created) {
			t.Errorf("order %s (first answered in server run %d after %d sends): %s gives %s/%s %s payer %q created %v, first answer was %s/%s %s payer %q created %v",
				p.req.MerchantOrder, p.epoch, p.sends, what, o.Status, o.Reason, o.Amount, o.PayerID, o.Created,
				f.Status, f.Reason, f.Amount, f.PayerID, f.Created)
		}
	}
	parallel := func(what string, f func(p *crashPayment) (api.Order, error)) {
		var wg sync.WaitGroup
		work := make(chan *crashPayment)
		for range crashWorkers {
			wg.Go(func() {
				for p := range work {
					o, err := f(p)
					if err != nil {
						t.Errorf("order %s: %s: %v", p.req.MerchantOrder, what, err)
						continue
					}
					same(what, p, o)
				}
			})
		}
		for _, p := range answered {
			work <- p
		}
		close(work)
		wg.Wait()
	}
	parallel("query", func(p *crashPayment) (api.Order, error) { return term.Query(ctx, p.req.MerchantOrder) })
	parallel("resend", func(p *crashPayment) (api.Order, error) { return term.Pay(ctx, p.req) })

	// Money: each payer lost exactly its paid orders; each code paid once.
	want := append([]int64(nil), topUp...)
	paidCodes := map[string]string{}
	paid, declined, committedUnanswered := 0, 0, 0
	for _, p := range answered {
		if p.lost > 0 && p.first.Created.Before(r.starts[p.epoch]) {
			committedUnanswered++ // stored before a kill, answered only to its resend
		}
		switch p.first.Status {
		case api.StatusPaid:
			paid++
			want[p.payer] -= p.req.Amount.Minor
			if p.first.PayerID != payerID(p.payer) {
				t.Errorf("order %s paid by %q with a code of %s", p.req.MerchantOrder, p.first.PayerID, payerID(p.payer))
			}
			if prev, ok := paidCodes[p.code]; ok {
				t.Errorf("code %s paid twice: orders %s and %s", paycode.Mask(p.code), prev, p.req.MerchantOrder)
			}
			paidCodes[p.code] = p.req.MerchantOrder
		case api.StatusDeclined:
			declined++
		}
	}
	if len(paidCodes) != paid {
		t.Errorf("%d paid orders but %d distinct codes paid", paid, len(paidCodes))
	}
	wallets := &http.Client{Transport: &http.Transport{}, Timeout: 20 * time.Second}
	{
		var wg sync.WaitGroup
		for i := range crashPayers {
			wg.Go(func() {
				pc, err := client.NewPayer(srv.url, payerID(i), crashPassword, client.WithHTTPClient(wallets))
				if err != nil {
					t.Error(err)
					return
				}
				b, err := pc.Balance(ctx)
				if err != nil {
					t.Errorf("balance of %s: %v", payerID(i), err)
				} else if b.Balance.Minor != want[i] {
					t.Errorf("%s: balance %d fen, want top-up %d minus paid orders %d = %d",
						payerID(i), b.Balance.Minor, topUp[i], topUp[i]-want[i], want[i])
				}
			})
		}
		wg.Wait()
	}

	// Connections a transport dialled but never used would hold the
	// graceful stop for 5 s (net/http treats them as active until then).
	tr.CloseIdleConnections()
	wallets.CloseIdleConnections()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.wait(); err != nil {
		t.Errorf("serve after SIGTERM: %v; stderr:\n%s", err, srv.stderr)
	}

	// The ledger as the auditor sees it: balanced, one order per merchant
	// order number, one transfer per top-up and per paid order.
	code, out, stderr = runCmd(t, "", "audit", "--db", db, "--json")
	var rep backend.AuditReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("audit: status %d, output %q: %v; stderr %s", code, out, err, stderr)
	}
	if code != 0 || len(rep.Problems) != 0 {
		t.Errorf("audit: status %d, problems %q; stderr %s", code, rep.Problems, stderr)
	}
	if rep.Orders != int64(len(answered)) {
		t.Errorf("audit counts %d orders, the tills know %d", rep.Orders, len(answered))
	}
	if rep.Transfers != int64(crashPayers+paid) {
		t.Errorf("audit counts %d transfers, want %d top-ups + %d paid orders = %d", rep.Transfers, crashPayers, paid, crashPayers+paid)
	}
	if r.reused > 0 && declined == 0 {
		t.Errorf("%d codes were presented under a second order, yet nothing was declined", r.reused)
	}
	t.Logf("%d orders (%d paid, %d declined, %d with a reused code), %d kills; answered before each kill %v; %d sends lost to kills (%d of them stored before the kill), %d resent after the last restart; setup %v, kills done at %v, all done at %v",
		len(r.all), paid, declined, r.reused, crashCycles, answeredBefore, r.inFlight, committedUnanswered, resent,
		setupDone.Round(time.Millisecond), loadDone.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}
