package backend

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/backend/client"
	"tillpay/paycode"
)

// Benchmarks. Run them with
//
//	go test -run XXX -bench . ./backend/
//	TILLPAY_BENCH_LARGE=1 go test -run XXX -bench Verify ./backend/   # adds 1,000,000 payers
//
// They report payments/s and ns/verify as custom metrics, one line each.

type benchPayer struct {
	keyID paycode.KeyID
	seed  []byte
}

// bulkPayers inserts n enrolled payers with balance, straight into the
// database in large transactions, with key ids from first.
func bulkPayers(tb testing.TB, s *Service, first, n int, balance int64) []benchPayer {
	tb.Helper()
	ctx := context.Background()
	out := make([]benchPayer, n)
	const chunk = 20_000
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		_, err := s.w.do1(ctx, func(t *txn) (any, error) {
			fund, err := s.fundingAccount(t)
			if err != nil {
				return nil, err
			}
			for i := lo; i < hi; i++ {
				id := fmt.Sprintf("bench-%d", first+i)
				key := int64(first + i)
				seed := make([]byte, paycode.SeedBytes)
				rand.Read(seed)
				out[i] = benchPayer{keyID: paycode.KeyID(key), seed: seed}
				acc, err := t.insert("INSERT INTO accounts(kind, owner, currency) VALUES ('payer', ?, 'CNY')", id)
				if err != nil {
					return nil, err
				}
				if _, err := t.exec(`INSERT INTO payers(id, name, pw_hash, account, free_limit, offline_credit, created)
					VALUES (?, ?, 'none', ?, ?, 0, 0)`, id, id, acc, DefaultPasswordFreeLimit); err != nil {
					return nil, err
				}
				if _, err := t.exec("INSERT INTO enrolments(key_id, payer, seed_sealed, created) VALUES (?, ?, ?, 0)",
					key, id, s.seal.seal(seed, seedAD(key))); err != nil {
					return nil, err
				}
				if balance > 0 {
					if err := transfer(t, fund, acc, balance, "topup", nil, 0); err != nil {
						return nil, err
					}
				}
			}
			return nil, nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// fileSizes describes the sizes of files, in MiB.
func fileSizes(paths ...string) string {
	var out []string
	for _, p := range paths {
		size := int64(-1)
		if fi, err := os.Stat(p); err == nil {
			size = fi.Size()
		}
		out = append(out, fmt.Sprintf("%s %.1f MiB", filepath.Base(p), float64(size)/(1<<20)))
	}
	return strings.Join(out, ", ")
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	d, _ := processTime()
	return d
}

func benchService(tb testing.TB, now time.Time) *Service {
	tb.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	s, err := Open(context.Background(), tb.TempDir()+"/bench.db", key,
		WithClock(func() time.Time { return now }))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkPayHTTP measures durable payments per second through HTTP on
// loopback (real server, real SQLite file, each answered after its commit
// is durable), beside a no-op handler behind the same authentication.
// The notifier runs too, moving every payment's notification to the
// payer's inbox as `paybackend serve` does. Last, ratio/c=64 runs the two
// at concurrency 64 in alternating rounds, so that a machine shared with
// other work slows both alike, and reports the payments' share of the
// no-op rate.
func BenchmarkPayHTTP(b *testing.B) {
	for _, conc := range []int{1, 16, 64} {
		for _, kind := range []string{"noop", "pay"} {
			b.Run(fmt.Sprintf("%s/c=%d", kind, conc), func(b *testing.B) {
				r := payHTTP(b, kind, conc, b.N)
				b.ReportMetric(r.rate(), "payments/s")
				// CPU of the whole process (server and client) per
				// request: steadier than the rate on a machine shared
				// with other work.
				b.ReportMetric(r.cpuPerOp(), "cpu-µs/op")
				if kind == "pay" {
					b.ReportMetric(r.perCommit, "ops/commit")
					b.ReportMetric(r.commitMicros, "µs/commit")
				}
			})
		}
	}
	b.Run("ratio/c=64", func(b *testing.B) {
		// An op is one no-op request and one payment.
		const rounds = 3
		var noop, pay payRun
		for r := range rounds {
			n := b.N / rounds
			if r < b.N%rounds {
				n++
			}
			if n > 0 {
				noop.add(payHTTP(b, "noop", 64, n))
				pay.add(payHTTP(b, "pay", 64, n))
			}
		}
		b.ReportMetric(noop.rate(), "noop-payments/s")
		b.ReportMetric(pay.rate(), "payments/s")
		b.ReportMetric(pay.rate()/noop.rate(), "pay/noop")
	})
}

// benchGCPercent is backendcli's serveGCPercent.
const benchGCPercent = 400

// payRun is what payHTTP measured.
type payRun struct {
	n            int
	elapsed, cpu time.Duration
	perCommit    float64 // payments a commit (pay only)
	commitMicros float64 // from a group's start until it is durable
}

func (r payRun) rate() float64     { return float64(r.n) / r.elapsed.Seconds() }
func (r payRun) cpuPerOp() float64 { return float64(r.cpu.Microseconds()) / float64(r.n) }

// add sums the requests and times of o into r.
func (r *payRun) add(o payRun) {
	r.n += o.n
	r.elapsed += o.elapsed
	r.cpu += o.cpu
}

// payHTTP sets up a service (outside the benchmark's timer) and sends it n
// payments, or n requests to a no-op handler, from conc clients at once.
func payHTTP(b *testing.B, kind string, conc, n int) payRun {
	b.StopTimer()
	// The collector's target of `paybackend serve` (see backendcli), for
	// both handlers.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(benchGCPercent))
	}
	now := time.Now()
	s := benchService(b, now)
	defer s.Close()
	s.Start() // the notifier and sweeper run beside the payments, as in serve
	ctx := context.Background()
	if err := s.AddMerchant(ctx, "shop", "Shop"); err != nil {
		b.Fatal(err)
	}
	tc, err := s.AddTerminal(ctx, "shop")
	if err != nil {
		b.Fatal(err)
	}
	// Every payer has 30 fresh codes at the fixed clock: ten per step for
	// the steps before, at and after it.
	const perPayer = (2*paycode.Skew + 1) * paycode.SeqPerStep
	payers := bulkPayers(b, s, 1, n/perPayer+1, 1_000_000)
	codes := make([]string, n)
	step := paycode.StepAt(now)
	for i := range codes {
		p := payers[i/perPayer]
		k := i % perPayer
		codes[i], _ = paycode.Generate(p.seed, p.keyID, step-paycode.Skew+int64(k/paycode.SeqPerStep), k%paycode.SeqPerStep)
	}
	var h http.Handler = s.Handler()
	if kind == "noop" {
		h = s.TerminalHandler(maxBody, func(w http.ResponseWriter, r *http.Request, t *Terminal, body []byte) {
			var req api.PayRequest
			if err := decodeStrict(body, &req); err != nil {
				s.answer(w, nil, err)
				return
			}
			writeJSON(w, http.StatusOK, api.Order{MerchantOrder: req.MerchantOrder, Status: api.StatusPaid,
				Amount: req.Amount, Refunded: req.Amount, Created: now, Updated: now, ScanTime: now})
		})
		mux := http.NewServeMux()
		mux.Handle("POST "+api.PathPay, h)
		h = mux
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * conc, MaxIdleConns: 2 * conc}}
	term, err := client.NewTerminal(srv.URL, tc.ID, tc.Key, client.WithHTTPClient(hc),
		client.WithClock(func() time.Time { return now }))
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	b.StartTimer()
	cpu0 := cpuTime()
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				o, err := term.Pay(ctx, api.PayRequest{MerchantOrder: fmt.Sprintf("b-%d", i), Code: codes[i], Amount: cny(1)})
				if err == nil && o.Status != api.StatusPaid {
					err = fmt.Errorf("payment %d: %s/%s", i, o.Status, o.Reason)
				}
				if err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	r := payRun{n: n, elapsed: time.Since(start), cpu: cpuTime() - cpu0}
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	if kind == "pay" {
		if mfs, err := s.Registry().Gather(); err == nil {
			for _, mf := range mfs {
				switch mf.GetName() {
				case "tillpay_commit_group_size":
					h := mf.GetMetric()[0].GetHistogram()
					r.perCommit = h.GetSampleSum() / float64(h.GetSampleCount())
				case "tillpay_commit_duration_seconds":
					h := mf.GetMetric()[0].GetHistogram()
					r.commitMicros = 1e6 * h.GetSampleSum() / float64(h.GetSampleCount())
				}
			}
		}
	}
	return r
}

// readEnrolment reads a current enrolment by key, as a cache miss does (in
// the writer's lookup, payLookupSeed), on a read connection of its own.
func (s *Service) readEnrolment(ctx context.Context, key int64) (enrolEntry, bool, error) {
	var e enrolEntry
	err := s.readRowNow(ctx, "SELECT payer, seed_sealed FROM enrolments WHERE key_id = ? AND revoked IS NULL",
		[]any{key}, &e.payer, &e.box)
	if isNoRows(err) {
		return e, false, nil
	}
	return e, err == nil, err
}

// verifyCode checks a code as a payment does: through the enrolment cache,
// and on a miss with the enrolment read from the database, then cached.
func (s *Service) verifyCode(ctx context.Context, code paycode.Code, at time.Time) (verification, error) {
	if v, ok, err := s.verifyCached(code, at); ok || err != nil {
		return v, err
	}
	key := int64(code.KeyID)
	e, ok, err := s.readEnrolment(ctx, key)
	if err != nil || !ok {
		return verification{}, err
	}
	s.enrols.put(key, e)
	return s.checkToken(e, code, at)
}

// BenchmarkVerify measures finding a code's enrolment and checking its
// token, with 1,000 payers and (TILLPAY_BENCH_LARGE=1) 1,000,000: first each
// size alone, then (with both) the two in alternating rounds, so that a
// machine shared with other work slows both alike, with their spread.
func BenchmarkVerify(b *testing.B) {
	sizes := []int{1_000}
	if os.Getenv("TILLPAY_BENCH_LARGE") != "" {
		sizes = append(sizes, 1_000_000)
	}
	now := time.Now()
	ctx := context.Background()
	type setup struct {
		n     int
		s     *Service
		codes []paycode.Code
	}
	var all []setup
	for _, n := range sizes {
		// The setup is made once per size, outside the timed rounds.
		s := benchService(b, now)
		start := time.Now()
		payers := bulkPayers(b, s, 1, n, 0)
		// Lookups read the database file, as in a backend whose
		// checkpointer has caught up, not the log the inserts left.
		if _, err := s.st.ckpt.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			b.Fatal(err)
		}
		b.Logf("%d payers inserted in %s; %s", n, time.Since(start).Round(time.Millisecond), fileSizes(s.st.path, s.st.path+"-wal"))
		// Codes of payers spread over the whole table.
		codes := make([]paycode.Code, 4096)
		for i := range codes {
			p := payers[mrand.IntN(len(payers))]
			c, _ := paycode.Generate(p.seed, p.keyID, paycode.StepAt(now), i%paycode.SeqPerStep)
			codes[i], _ = paycode.Parse(c)
		}
		all = append(all, setup{n, s, codes})
	}
	// The database path (a cache miss: what grows with the payers), and
	// through the enrolment cache.
	fromDB := func(b *testing.B, s *Service, c paycode.Code) {
		e, ok, err := s.readEnrolment(ctx, int64(c.KeyID))
		if err != nil || !ok {
			b.Fatalf("enrolment %d: %v %v", c.KeyID, ok, err)
		}
		v, err := s.checkToken(e, c, now)
		if err != nil || !v.enrolled || v.err != nil {
			b.Fatalf("verify: %+v %v", v, err)
		}
	}
	cached := func(b *testing.B, s *Service, c paycode.Code) {
		v, err := s.verifyCode(ctx, c, now)
		if err != nil || !v.enrolled || v.err != nil {
			b.Fatalf("verify: %+v %v", v, err)
		}
	}
	fill := func(b *testing.B, u setup) {
		for _, c := range u.codes {
			if _, err := u.s.verifyCode(ctx, c, now); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, u := range all {
		b.Run(fmt.Sprintf("payers=%d", u.n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				fromDB(b, u.s, u.codes[i%len(u.codes)])
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/verify")
		})
		b.Run(fmt.Sprintf("cached/payers=%d", u.n), func(b *testing.B) {
			fill(b, u)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				cached(b, u.s, u.codes[i%len(u.codes)])
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/verify")
		})
	}
	if len(all) < 2 {
		return
	}
	// Both sizes in turn, in rounds of verifyRound codes; b.N codes each.
	const verifyRound = 8192
	alternate := func(b *testing.B, verify func(*testing.B, *Service, paycode.Code)) {
		spent := make([]time.Duration, len(all))
		for done := 0; done < b.N; done += verifyRound {
			k := min(verifyRound, b.N-done)
			for j, u := range all {
				start := time.Now()
				for i := done; i < done+k; i++ {
					verify(b, u.s, u.codes[i%len(u.codes)])
				}
				spent[j] += time.Since(start)
			}
		}
		for j, u := range all {
			b.ReportMetric(float64(spent[j].Nanoseconds())/float64(b.N), fmt.Sprintf("ns/verify-%d", u.n))
		}
		first, last := spent[0], spent[len(spent)-1]
		b.ReportMetric(100*(float64(last)/float64(first)-1), "spread-%")
	}
	b.Run("alternating", func(b *testing.B) { alternate(b, fromDB) })
	b.Run("alternating/cached", func(b *testing.B) {
		for _, u := range all {
			fill(b, u)
		}
		b.ResetTimer()
		alternate(b, cached)
	})
}
