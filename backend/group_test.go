package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/backend/client"
	"tillpay/paycode"
)

// codesOf makes n distinct fresh codes of a wallet at the test clock, over
// the steps the backend accepts around it.
func (e *env) codesOf(w *wallet, n int) []string {
	e.t.Helper()
	step := paycode.StepAt(e.clk.Now())
	out := make([]string, n)
	for i := range out {
		c, err := paycode.Generate(w.seed, w.key, step-paycode.Skew+int64(i/paycode.SeqPerStep), i%paycode.SeqPerStep)
		if err != nil {
			e.t.Fatal(err)
		}
		out[i] = c
	}
	return out
}

// outboxNotes reads every queued notification, oldest first.
func (e *env) outboxNotes() map[string][]api.Notification {
	e.t.Helper()
	rows, err := e.svc.st.read.QueryContext(e.ctx, "SELECT payer, body FROM outbox ORDER BY id")
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]api.Notification{}
	for rows.Next() {
		var payer, body string
		if err := rows.Scan(&payer, &body); err != nil {
			e.t.Fatal(err)
		}
		var n api.Notification
		if err := json.Unmarshal([]byte(body), &n); err != nil {
			e.t.Fatal(err)
		}
		out[payer] = append(out[payer], n)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// checkNotes checks that each payer's notifications tell a consistent
// story: every balance is the one before it minus the debit (plus the
// refund), from the payer's top-up to the current balance.
func (e *env) checkNotes(start map[string]int64) {
	e.t.Helper()
	notes := e.outboxNotes()
	for payer, bal := range start {
		for _, n := range notes[payer] {
			switch n.Kind {
			case "debit":
				bal -= n.Amount.Minor
			case "refund":
				bal += n.Amount.Minor
			case "declined", "waiting", "cancelled": // a code used up, no money moved
				if n.KeyID == 0 || n.Counter == 0 {
					e.t.Fatalf("%s: %s notification of %s names no code", payer, n.Kind, n.Order)
				}
			default:
				e.t.Fatalf("%s: notification kind %q", payer, n.Kind)
			}
			if n.Balance.Minor != bal {
				e.t.Fatalf("%s: notification of %s says balance %d, want %d", payer, n.Order, n.Balance.Minor, bal)
			}
		}
		if got := e.balance(payer); got != bal {
			e.t.Fatalf("%s: balance %d, notifications end at %d", payer, got, bal)
		}
	}
}

func TestConcurrentPaymentsMatchLedger(t *testing.T) {
	// Many terminals' requests at once, so that the writer groups them:
	// retries of the same order, a code stolen for a second order, cancels,
	// and payers whose balance runs out within a group. Afterwards every
	// answer must match the stored order, the ledger must balance and each
	// payer's notifications must tell its balance step by step.
	e := newEnv(t)
	const payers, perPayer, amount, topUp = 6, 16, 90, 1_000 // 11 payments fit, 5 do not
	type job struct {
		order, code string
		cancel      bool
	}
	var jobs []job
	start := map[string]int64{}
	for p := range payers {
		id := fmt.Sprintf("payer-%d", p)
		w := e.payer(id, topUp)
		start[id] = topUp
		for i, c := range e.codesOf(w, perPayer) {
			o := fmt.Sprintf("o-%d-%d", p, i)
			jobs = append(jobs, job{order: o, code: c}, job{order: o, code: c}) // a retry
			if i%4 == 0 {
				jobs = append(jobs, job{order: fmt.Sprintf("x-%d-%d", p, i), code: c}) // the code again
			}
			if i%7 == 3 {
				jobs = append(jobs, job{order: o, cancel: true})
			}
		}
	}
	rand.Shuffle(len(jobs), func(i, j int) { jobs[i], jobs[j] = jobs[j], jobs[i] })
	ch := make(chan job)
	var mu sync.Mutex
	answers := map[string][]api.Order{}
	cancelled := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				var o api.Order
				var err error
				if j.cancel {
					o, err = e.term.Cancel(e.ctx, j.order)
				} else {
					o, err = e.term.Pay(e.ctx, api.PayRequest{MerchantOrder: j.order, Code: j.code, Amount: cny(amount)})
				}
				if err != nil && !(j.cancel == false && client.IsCode(err, api.ErrConflict)) {
					select {
					case errs <- fmt.Errorf("%s: %w", j.order, err):
					default:
					}
					continue
				}
				mu.Lock()
				if j.cancel {
					cancelled[j.order] = true
				} else if err == nil {
					answers[j.order] = append(answers[j.order], o)
				}
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	e.audit()
	paid := map[string]int64{}
	var merchant int64
	for order, got := range answers {
		final, err := e.term.Query(e.ctx, order)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range got {
			if !cancelled[order] && o.Status != final.Status {
				t.Fatalf("order %s answered %s but is stored %s", order, o.Status, final.Status)
			}
		}
		if final.Status == api.StatusPaid {
			paid[final.PayerID] += final.Amount.Minor
			merchant += final.Amount.Minor
		}
	}
	// A code pays at most one order.
	for order := range answers {
		var p, i int
		if _, err := fmt.Sscanf(order, "x-%d-%d", &p, &i); err != nil {
			continue
		}
		a, _ := e.term.Query(e.ctx, fmt.Sprintf("o-%d-%d", p, i))
		b, _ := e.term.Query(e.ctx, order)
		if a.Status == api.StatusPaid && b.Status == api.StatusPaid {
			t.Fatalf("code of o-%d-%d paid twice", p, i)
		}
	}
	for id := range start {
		if got, want := e.balance(id), start[id]-paid[id]; got != want || got < 0 {
			t.Fatalf("%s: balance %d, want %d", id, got, want)
		}
		if paid[id] == 0 {
			t.Fatalf("%s: nothing paid", id)
		}
	}
	if got := e.merchantBalance(); got != merchant {
		t.Fatalf("merchant balance %d, want %d", got, merchant)
	}
	e.checkNotes(start)
}

func TestGroupUndoesFailedOperation(t *testing.T) {
	// One writer request holding payments, an operation that books a
	// transfer and a notification, marks a code used and then fails, and
	// an operation of another kind that reads a balance: the failed one
	// leaves no trace (the code it marked still pays), the reader sees the
	// payments before it written.
	e := newEnv(t)
	w := e.payer("alice", 10_000)
	codes := e.codesOf(w, 3)
	term, err := e.svc.terminal(e.ctx, e.tc.ID)
	if err != nil {
		t.Fatal(err)
	}
	pay := func(order, code string, minor int64) *writeOp {
		p, err := e.svc.prepare(e.ctx, term, api.PayRequest{MerchantOrder: order, Code: code, Amount: cny(minor)})
		if err != nil {
			t.Fatal(err)
		}
		return &writeOp{batch: true, fn: func(t *txn) (any, error) { return e.svc.payOp(t, p) }}
	}
	c1, err := paycode.Parse(codes[1])
	if err != nil {
		t.Fatal(err)
	}
	m1, ok := paycode.Window(c1, e.clk.Now())
	if !ok {
		t.Fatal("no window for the code")
	}
	var seen int64 = -1
	errBoom := errors.New("boom")
	req := &writeReq{done: make(chan struct{}), ops: []*writeOp{
		pay("g-1", codes[0], 1_000),
		{batch: true, fn: func(t *txn) (any, error) {
			f, err := payerAccount(t, "alice")
			if err != nil {
				return nil, err
			}
			t.book(f.account, term.account, 5_000, "payment", nil, 0)
			t.notify("alice", `{"kind":"debit"}`, 0, false)
			t.useCode(int64(c1.KeyID), int64(m1.Counter), 0)
			return nil, errBoom
		}},
		pay("g-2", codes[1], 2_000),
		{fn: func(t *txn) (any, error) {
			f, err := payerAccount(t, "alice")
			seen = f.balance
			return nil, err
		}},
	}}
	e.svc.w.ch <- req
	<-req.done
	for i, op := range req.ops {
		if (i == 1) != (op.err != nil) {
			t.Fatalf("op %d: %v", i, op.err)
		}
	}
	if !errors.Is(req.ops[1].err, errBoom) {
		t.Fatalf("failing op: %v", req.ops[1].err)
	}
	if seen != 7_000 {
		t.Fatalf("reader saw balance %d, want 7000", seen)
	}
	if got := e.balance("alice"); got != 7_000 {
		t.Fatalf("balance %d, want 7000", got)
	}
	if got := e.merchantBalance(); got != 3_000 {
		t.Fatalf("merchant balance %d, want 3000", got)
	}
	if n := len(e.outboxNotes()["alice"]); n != 2 {
		t.Fatalf("%d notifications, want 2", n)
	}
	e.checkNotes(map[string]int64{"alice": 10_000})
	e.audit()
}

func TestPaymentsSurviveReopen(t *testing.T) {
	// Answered payments are in the file: close (as after a crash, the WAL
	// is what holds them until a checkpoint) and open again.
	e := newEnv(t)
	w := e.payer("alice", 10_000)
	for i, c := range e.codesOf(w, 5) {
		wantStatus(t, e.pay(fmt.Sprintf("r-%d", i), c, 100), api.StatusPaid, "")
	}
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	svc, err := Open(context.Background(), e.dbDir+"/backend.db", e.key, WithClock(e.clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	p, err := svc.ShowPayer(e.ctx, "alice")
	if err != nil || p.Balance.Minor != 9_500 {
		t.Fatalf("after reopen: %+v %v", p, err)
	}
	r, err := svc.Audit(e.ctx)
	if err != nil || !r.OK() || r.Orders != 5 {
		t.Fatalf("audit after reopen: %+v %v", r, err)
	}
}

func TestEnrolmentCacheHonoursRevocation(t *testing.T) {
	e := newEnv(t)
	w := e.payer("alice", 10_000)
	old := e.codesOf(w, 2)
	wantStatus(t, e.pay("c-1", old[0], 100), api.StatusPaid, "")
	if _, ok := e.svc.enrols.get(int64(w.key)); !ok {
		t.Fatal("enrolment not cached after a payment")
	}
	oldKey := w.key
	e.enrol(w) // revokes the old key
	if _, ok := e.svc.enrols.get(int64(oldKey)); ok {
		t.Fatal("revoked enrolment still cached")
	}
	// Even with the old enrolment put back in the cache, its codes are refused.
	e.svc.enrols.put(int64(oldKey), enrolEntry{payer: "alice", box: mustBox(t, e.svc, oldKey)})
	wantStatus(t, e.pay("c-2", old[1], 100), api.StatusDeclined, api.ReasonUnknownPayer)
	wantStatus(t, e.pay("c-3", e.code(w), 100), api.StatusPaid, "")
	if got := e.balance("alice"); got != 9_800 {
		t.Fatalf("balance %d, want 9800", got)
	}
	e.audit()
}

// mustBox reads an enrolment's sealed seed, revoked or not.
func mustBox(t *testing.T, s *Service, key paycode.KeyID) []byte {
	t.Helper()
	var box []byte
	if err := s.readRow(context.Background(), "SELECT seed_sealed FROM enrolments WHERE key_id = ?",
		[]any{int64(key)}, &box); err != nil {
		t.Fatal(err)
	}
	return box
}

func TestEnrolCacheBounded(t *testing.T) {
	c := newEnrolCache(4)
	for i := range 10 {
		c.put(int64(i), enrolEntry{payer: fmt.Sprintf("p%d", i)})
		if c.len() > 4 {
			t.Fatalf("cache holds %d entries, bound 4", c.len())
		}
	}
	if _, ok := c.get(9); !ok {
		t.Fatal("the newest entry is missing")
	}
	c.put(20, enrolEntry{payer: "p9"}) // p9 enrolled again under key 20
	if _, ok := c.get(9); ok {
		t.Fatal("p9's old key still cached")
	}
	c.dropPayer("p9")
	if _, ok := c.get(20); ok {
		t.Fatal("dropped payer still cached")
	}
}

// Writes racing with Close either run (and are stored) or fail with
// errClosed: none hangs, and none that reported success is lost.
func TestWritesRacingCloseRunOrFail(t *testing.T) {
	path := t.TempDir() + "/close.db"
	key := make([]byte, 32)
	s, err := Open(context.Background(), path, key)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	results := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.w.do1(context.Background(), func(t *txn) (any, error) {
				_, err := t.exec("INSERT INTO meta(key, value) VALUES (?, x'00')", fmt.Sprintf("close-%d", i))
				return nil, err
			})
			results <- err
		}()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("writes still waiting after Close")
	}
	close(results)
	ok := 0
	for err := range results {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, errClosed):
			t.Fatalf("write failed with %v, want success or %v", err, errClosed)
		}
	}
	s2, err := Open(context.Background(), path, key)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var stored int
	if err := s2.st.read.QueryRow("SELECT count(*) FROM meta WHERE key LIKE 'close-%'").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != ok {
		t.Fatalf("%d writes reported success, %d stored", ok, stored)
	}
}

// doneCounter is a context that counts calls to Done.
type doneCounter struct {
	context.Context
	calls atomic.Int64
}

func (c *doneCounter) Done() <-chan struct{} {
	c.calls.Add(1)
	return c.Context.Done()
}

func TestSubmitHonoursContext(t *testing.T) {
	s, err := Open(context.Background(), t.TempDir()+"/submit.db", make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	insert := func(key string) func(*txn) (any, error) {
		return func(t *txn) (any, error) {
			_, err := t.exec("INSERT INTO meta(key, value) VALUES (?, x'00')", key)
			return nil, err
		}
	}
	stored := func(key string) bool {
		var n int
		if err := s.st.read.QueryRow("SELECT count(*) FROM meta WHERE key = ?", key).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}

	// A caller that has given up is refused before anything is queued.
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.w.do1(gone, insert("gone")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v, want %v", err, context.Canceled)
	}
	if stored("gone") {
		t.Fatal("a cancelled caller's write was stored")
	}

	// With room in the queue, the hand-over does not make the context's
	// Done channel (an HTTP request's context would make and close one).
	live, stop := context.WithCancel(context.Background())
	defer stop()
	counted := &doneCounter{Context: live}
	if _, err := s.w.do1(counted, insert("live")); err != nil {
		t.Fatal(err)
	}
	if !stored("live") {
		t.Fatal("the write was not stored")
	}
	if n := counted.calls.Load(); n != 0 {
		t.Fatalf("Done called %d times on the common path", n)
	}

	// With the writer held and its queue full, a caller whose deadline
	// passes gets its context's error, and its write never runs.
	release := make(chan struct{})
	held := make(chan struct{})
	go s.w.do1(context.Background(), func(*txn) (any, error) { //nolint:errcheck // checked by its effect below
		close(held)
		<-release
		return nil, nil
	})
	<-held
	var fillers []*writeReq
fill:
	for i := 0; ; i++ {
		r := &writeReq{done: make(chan struct{})}
		r.op = writeOp{fn: insert(fmt.Sprintf("fill-%d", i))}
		r.one[0] = &r.op
		r.ops = r.one[:]
		select {
		case s.w.ch <- r:
			fillers = append(fillers, r)
		default:
			break fill
		}
	}
	late, cancelLate := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelLate()
	_, err = s.w.do1(late, insert("late"))
	close(release)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("caller behind a full queue: %v, want %v", err, context.DeadlineExceeded)
	}
	for _, r := range fillers {
		<-r.done
		if r.ops[0].err != nil {
			t.Fatal(r.ops[0].err)
		}
	}
	if len(fillers) != maxGroup {
		t.Fatalf("the queue took %d requests, want %d", len(fillers), maxGroup)
	}
	if _, err := s.w.do1(context.Background(), insert("after")); err != nil {
		t.Fatal(err)
	}
	if stored("late") {
		t.Fatal("a write given up on behind a full queue was stored")
	}
	if !stored("fill-0") || !stored(fmt.Sprintf("fill-%d", maxGroup-1)) || !stored("after") {
		t.Fatal("the writes queued before and after were not all stored")
	}
}

// Reads that prepare new statements while the service closes (an HTTP
// server's Close does not wait for its handlers) either run or fail; they
// never race with Close over the prepared statements (run with -race).
func TestReadsRacingClose(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	var reads atomic.Int64
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				var n int
				// A new query text each time: each prepares a statement.
				q := fmt.Sprintf("SELECT %d + COUNT(*) FROM payers", g*1_000_000+i)
				if err := e.svc.readRowNow(e.ctx, q, nil, &n); err != nil {
					return // closed
				}
				reads.Add(1)
			}
		}()
	}
	for reads.Load() < 200 { // all running
		runtime.Gosched()
	}
	e.svc.Close()
	wg.Wait()
}
