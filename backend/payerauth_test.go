package backend

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/internal/lockedbuf"
)

// login sends GET /v1/payer/balance as id with pw and returns the status and
// the error body, if any.
func (e *env) login(ctx context.Context, id, pw string) (int, api.ErrorBody, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+api.PathBalance, nil)
	if err != nil {
		return 0, api.ErrorBody{}, err
	}
	req.SetBasicAuth(id, pw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, api.ErrorBody{}, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var body api.Error
	if resp.StatusCode != 200 {
		if err := json.Unmarshal(data, &body); err != nil {
			return resp.StatusCode, api.ErrorBody{}, err
		}
	}
	return resp.StatusCode, body.Error, nil
}

// mustLogin is login that fails the test on a transport error and on an
// unexpected status.
func (e *env) mustLogin(id, pw string, want int) api.ErrorBody {
	e.t.Helper()
	code, body, err := e.login(e.ctx, id, pw)
	if err != nil {
		e.t.Fatal(err)
	}
	if code != want {
		e.t.Fatalf("login %s: HTTP %d (%s: %s), want %d", id, code, body.Code, body.Message, want)
	}
	return body
}

// checkRecorder replaces the service's password check, counting checks and
// the iteration counts of the hashes checked against.
type checkRecorder struct {
	mu     sync.Mutex
	iters  []int
	hashes []string
}

func recordChecks(s *Service) *checkRecorder {
	r := &checkRecorder{}
	f := func(stored, pw string) bool {
		parts := strings.Split(stored, "$")
		n, _ := strconv.Atoi(parts[1])
		r.mu.Lock()
		r.iters = append(r.iters, n)
		r.hashes = append(r.hashes, stored)
		r.mu.Unlock()
		return checkPassword(stored, pw)
	}
	s.pauth.check.Store(&f)
	return r
}

func (r *checkRecorder) calls() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.iters) }

func (r *checkRecorder) last() (int, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.iters[len(r.iters)-1], r.hashes[len(r.hashes)-1]
}

// setSlots gives the service n password check slots.
func setSlots(s *Service, n int) chan struct{} {
	s.pauth.mu.Lock()
	defer s.pauth.mu.Unlock()
	s.pauth.sem = make(chan struct{}, n)
	return s.pauth.sem
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPayerAuthUnknownIDCostsAsMuch(t *testing.T) {
	e := newEnv(t, WithPasswordIterations(1234))
	w := e.payer("alice", 0)
	rec := recordChecks(e.svc)

	e.mustLogin("nobody", "whatever-pw", 401)
	if n := rec.calls(); n != 1 {
		t.Fatalf("unknown id: %d password checks, want 1", n)
	}
	iter, dummy := rec.last()
	if iter != 1234 {
		t.Fatalf("unknown id checked with %d iterations, want the configured 1234", iter)
	}
	e.mustLogin("alice", "wrong-password", 401)
	if iter, _ := rec.last(); rec.calls() != 2 || iter != 1234 {
		t.Fatalf("wrong password: %d checks, last with %d iterations", rec.calls(), iter)
	}
	e.mustLogin("nobody-else", "whatever-pw", 401)
	if _, again := rec.last(); again != dummy {
		t.Fatal("the dummy hash was made again")
	}
	// Both refusals read alike.
	a := e.mustLogin("nobody", "whatever-pw", 401)
	b := e.mustLogin("alice", "wrong-password", 401)
	if a != b {
		t.Fatalf("unknown id answered %+v, wrong password %+v", a, b)
	}

	// A right password is checked once, then found in the cache, which
	// needs no slot: it works with every slot taken.
	e.svc.pwCache.Delete("alice") // cached by the enrolment
	before := rec.calls()
	e.mustLogin("alice", w.pw, 200)
	sem := setSlots(e.svc, 1)
	sem <- struct{}{}
	e.mustLogin("alice", w.pw, 200)
	<-sem
	if n := rec.calls() - before; n != 1 {
		t.Fatalf("two right logins ran %d password checks, want 1", n)
	}
}

func TestPayerAuthLocksAfterFailures(t *testing.T) {
	var logs lockedbuf.Buffer
	e := newEnv(t, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	w := e.payer("alice", 50_000)
	rec := recordChecks(e.svc)

	fail := func(times int) {
		t.Helper()
		for range times {
			if m := e.mustLogin("alice", "wrong-password", 401).Message; m != "wrong payer id or password" {
				t.Fatalf("wrong password answered %q", m)
			}
		}
	}
	locked := func() {
		t.Helper()
		before := rec.calls()
		b := e.mustLogin("alice", w.pw, 401)
		if b.Code != api.ErrUnauthorized || !strings.Contains(b.Message, "try again in") {
			t.Fatalf("locked login answered %+v", b)
		}
		if rec.calls() != before {
			t.Fatal("a locked login ran the password check")
		}
	}

	// checked is a right login that runs the password check, not found in
	// the cache of recent logins; only such a login resets the count.
	checked := func() {
		t.Helper()
		e.svc.pwCache.Delete("alice")
		e.mustLogin("alice", w.pw, 200)
	}

	fail(4)
	checked() // resets the count
	fail(4)
	e.mustLogin("alice", w.pw+"x", 401)
	locked()
	if !strings.Contains(e.mustLogin("alice", w.pw, 401).Message, "try again in 1 minute") {
		t.Fatal("the lock is not 1 minute")
	}

	// The payer's codes still pay.
	if o := e.pay("o-1", e.code(w), 1_000); o.Status != api.StatusPaid {
		t.Fatalf("payment during the lock: %s/%s", o.Status, o.Reason)
	}

	e.clk.Advance(59 * time.Second)
	locked()
	e.clk.Advance(time.Second)
	checked()

	// The success reset the count: 5 failures lock for 1 minute again; one
	// more after it doubles the lock.
	fail(5)
	e.clk.Advance(time.Minute)
	fail(1)
	e.clk.Advance(time.Minute + 59*time.Second)
	locked()
	e.clk.Advance(time.Second)

	// Further failures double the lock up to 15 minutes.
	var got []time.Duration
	for range 5 {
		fail(1)
		until, ok := e.svc.pauth.lockedUntil("alice", e.clk.Now())
		if !ok {
			t.Fatal("not locked after a failure past the limit")
		}
		got = append(got, until.Sub(e.clk.Now()))
		e.clk.Advance(until.Sub(e.clk.Now()))
	}
	want := []time.Duration{4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute, 15 * time.Minute}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("locks %v, want %v", got, want)
		}
	}
	checked()
	fail(4)
	checked()
	// A login found in the cache proves no more than the check it skipped;
	// it does not reset the count, so that a wallet polling with its right
	// password does not give a guesser four more tries each time.
	fail(4)
	e.mustLogin("alice", w.pw, 200)
	fail(1)
	locked()

	out := logs.String()
	if n := strings.Count(out, "payer login locked"); n != 9 {
		t.Fatalf("%d lock warnings, want one per lock (9):\n%s", n, out)
	}
	if !strings.Contains(out, "level=WARN msg=\"payer login locked after wrong passwords\" payer=alice failures=5 until=") {
		t.Fatalf("lock warning lacks payer, failures or end:\n%s", out)
	}
	if strings.Contains(out, w.pw) || strings.Contains(out, "wrong-password") {
		t.Fatal("a password reached the log")
	}
}

func TestPayerAuthForgetsOldFailures(t *testing.T) {
	e := newEnv(t)
	e.payer("alice", 0)
	e.payer("bob", 0)
	for range 5 {
		e.mustLogin("alice", "wrong-password", 401)
	}
	for range 3 {
		e.mustLogin("nobody", "wrong-password", 401)
	}
	count := func() int {
		e.svc.pauth.mu.Lock()
		defer e.svc.pauth.mu.Unlock()
		return len(e.svc.pauth.fails)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d failure records, want 1 (unknown ids are not kept)", n)
	}
	e.clk.Advance(time.Minute + payerLoginForget + time.Second)
	e.mustLogin("bob", "wrong-password", 401) // sweeps
	if n := count(); n != 1 {
		t.Fatalf("%d failure records after the sweep, want 1 (bob's)", n)
	}
	if _, ok := e.svc.pauth.fails["alice"]; ok {
		t.Fatal("alice's expired record was kept")
	}
}

func TestPayerAuthConcurrencyCap(t *testing.T) {
	e := newEnv(t)
	w := e.payer("payer", 10_000)
	for _, id := range []string{"p1", "p2", "p3", "p4"} {
		e.payer(id, 0)
	}
	const slots, logins = 3, 16
	setSlots(e.svc, slots)
	var inside, most atomic.Int64
	release := make(chan struct{})
	f := func(stored, pw string) bool {
		n := inside.Add(1)
		defer inside.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		<-release
		return checkPassword(stored, pw)
	}
	e.svc.pauth.check.Store(&f)

	codes := make(chan int, logins)
	for i := range logins {
		id := []string{"p1", "p2", "p3", "p4"}[(i/2)%4] // 2 failures each: no lock
		if i%2 == 1 {
			id = "unknown-" + strconv.Itoa(i)
		}
		go func() {
			code, _, err := e.login(e.ctx, id, "wrong-password")
			if err != nil {
				code = -1
			}
			codes <- code
		}()
	}
	waitFor(t, "every login to check or wait", func() bool {
		return inside.Load()+e.svc.pauth.waiting.Load() == logins
	})
	if n := inside.Load(); n != slots {
		t.Fatalf("%d password checks at once, want %d", n, slots)
	}
	// Payments go on while the checks hold every slot.
	if o := e.pay("o-1", e.code(w), 100); o.Status != api.StatusPaid {
		t.Fatalf("payment during a login flood: %s/%s", o.Status, o.Reason)
	}
	close(release)
	for range logins {
		if c := <-codes; c != 401 {
			t.Fatalf("wrong login answered %d, want 401", c)
		}
	}
	if m := most.Load(); m != slots {
		t.Fatalf("at most %d password checks at once, want %d", m, slots)
	}
}

func TestPayerAuthCancelledWait(t *testing.T) {
	e := newEnv(t)
	e.payer("alice", 0)
	rec := recordChecks(e.svc)
	sem := setSlots(e.svc, 1)
	sem <- struct{}{} // every slot taken
	defer func() { <-sem }()

	// Over HTTP: the client gives up, and so does the handler.
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() {
		_, _, err := e.login(ctx, "alice", "wrong-password")
		done <- err
	}()
	waitFor(t, "the login to wait for a slot", func() bool { return e.svc.pauth.waiting.Load() == 1 })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled login: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled login kept waiting")
	}
	waitFor(t, "the handler to stop waiting", func() bool { return e.svc.pauth.waiting.Load() == 0 })

	// Directly: the error says why.
	ctx, cancel = context.WithTimeout(e.ctx, 20*time.Millisecond)
	defer cancel()
	if err := e.svc.authenticatePayer(ctx, "nobody", "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("authenticate past its deadline: %v", err)
	}
	if n := rec.calls(); n != 0 {
		t.Fatalf("%d password checks ran without a slot", n)
	}
}

// BenchmarkPayerAuth measures one payer login check at the default
// iteration count: an unknown id, a wrong password (its failure count reset
// each time, so it never locks) and a cached right password.
func BenchmarkPayerAuth(b *testing.B) {
	s := benchService(b, time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	ctx := context.Background()
	if err := s.AddPayer(ctx, NewPayer{ID: "alice", Password: "right-password"}); err != nil {
		b.Fatal(err)
	}
	b.Run("unknown", func(b *testing.B) {
		for b.Loop() {
			if s.authenticatePayer(ctx, "nobody", "wrong-password") == nil {
				b.Fatal("unknown id accepted")
			}
		}
	})
	b.Run("wrong", func(b *testing.B) {
		for b.Loop() {
			if s.authenticatePayer(ctx, "alice", "wrong-password") == nil {
				b.Fatal("wrong password accepted")
			}
			s.pauth.succeed("alice")
		}
	})
	b.Run("cached", func(b *testing.B) {
		if err := s.authenticatePayer(ctx, "alice", "right-password"); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := s.authenticatePayer(ctx, "alice", "right-password"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
