package journal

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tillpay/backend/api"
)

const crashEnv = "TILLPAY_JOURNAL_CRASH_CHILD"

// TestCrashChild is the child process of TestCrashSafety: it writes payments
// and changes into the journal named by the environment, printing one line
// after each write returns, until it is killed.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("runs only as the child of TestCrashSafety")
	}
	offset := time.Duration(0)
	now := func() time.Time { return time.Now().Add(offset) }
	j, err := Open(context.Background(), path, Options{TerminalID: "T01", TerminalKey: testKey, Now: now, Location: shanghai})
	if err != nil {
		fmt.Fprintf(os.Stdout, "E open %v\n", err)
		os.Exit(2)
	}
	say := func(format string, args ...any) { fmt.Fprintf(os.Stdout, format+"\n", args...) }
	must := func(err error) {
		if err != nil {
			say("E %v", err)
			os.Exit(3)
		}
	}
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
	ctx := context.Background()
	for {
		switch x := r.IntN(20); {
		case x == 0:
			offset -= 26 * time.Hour // the clock steps back a day
		case x == 1:
			offset += 25 * time.Hour
		}
		mode := ModeOnline
		if r.IntN(2) == 0 {
			mode = ModeOffline
		}
		np := NewPayment{Amount: cny(int64(1 + r.IntN(100000))), Code: fmt.Sprintf("13%016d", r.Int64N(1e16)),
			Device: "sim", Symbology: "]Q1", ScanTime: now(), Mode: mode}
		p, err := j.Create(ctx, np)
		must(err)
		say("C %s %s", p.Order, p.State)
		if mode == ModeOnline {
			_, err := j.BeginSend(ctx, p.Order)
			must(err)
			switch r.IntN(4) {
			case 0:
				p, err = j.SendFailed(ctx, p.Order, errors.New("timeout"))
			case 1:
				p, err = j.ApplyOrder(ctx, p.Order, api.Order{MerchantOrder: p.Order, Status: api.StatusDeclined, Amount: p.Amount})
			default:
				p, err = j.ApplyOrder(ctx, p.Order, api.Order{MerchantOrder: p.Order, Status: api.StatusPaid, Amount: p.Amount})
			}
			must(err)
			say("S %s %s", p.Order, p.State)
			if p.State == StatePaid && r.IntN(3) == 0 {
				rf, err := j.CreateRefund(ctx, p.Order, cny(1+r.Int64N(p.Amount.Minor)), "")
				must(err)
				_, err = j.FinishRefund(ctx, rf.No, api.RefundResponse{RefundNo: rf.No, Amount: rf.Amount})
				must(err)
				p, err = j.Get(ctx, p.Order)
				must(err)
				say("S %s %s", p.Order, p.State)
			}
			continue
		}
		reqs, _, err := j.BeginForward(ctx, 1+r.IntN(5))
		must(err)
		for _, req := range reqs {
			say("S %s %s", req.MerchantOrder, StateForwarding)
			var q Payment
			if r.IntN(3) == 0 {
				q, err = j.SendFailed(ctx, req.MerchantOrder, errors.New("EOF"))
			} else {
				q, err = j.ApplyOrder(ctx, req.MerchantOrder, api.Order{MerchantOrder: req.MerchantOrder, Status: api.StatusPaid, Amount: req.Amount})
			}
			must(err)
			say("S %s %s", q.Order, q.State)
		}
	}
}

// reachable reports whether the machine can go from a to b in zero or more
// moves.
func reachable(a, b State) bool {
	seen := map[State]bool{a: true}
	todo := []State{a}
	for len(todo) > 0 {
		s := todo[0]
		todo = todo[1:]
		for _, n := range transitions[s] {
			if !seen[n] {
				seen[n] = true
				todo = append(todo, n)
			}
		}
	}
	return seen[b]
}

// TestCrashSafety kills a writing child process with SIGKILL at random
// points, many times, and checks after each kill that the journal lost
// nothing that was confirmed and is consistent.
func TestCrashSafety(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("child")
	}
	runs := 15
	if testing.Short() {
		runs = 8
	}
	path := filepath.Join(t.TempDir(), "journal.db")
	created := map[string]bool{} // every order whose Create returned, over all runs
	lastState := map[string]State{}
	var counter OrderNumber
	r := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	for run := 0; run < runs; run++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 1 + r.IntN(80) // lines
		sc := bufio.NewScanner(out)
		lines := 0
		killed := false
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) >= 1 && f[0] == "E" {
				t.Fatalf("child: %s", sc.Text())
			}
			if len(f) != 3 {
				continue
			}
			if f[0] == "C" {
				if created[f[1]] {
					t.Fatalf("run %d: order number %s reused", run, f[1])
				}
				created[f[1]] = true
			}
			lastState[f[1]] = State(f[2])
			if lines++; lines == killAfter && !killed {
				cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		}
		if !killed {
			cmd.Process.Signal(syscall.SIGKILL)
		}
		cmd.Wait()

		j, err := Open(context.Background(), path, Options{TerminalID: "T01", TerminalKey: testKey, Location: shanghai})
		if err != nil {
			t.Fatalf("run %d: reopen: %v", run, err)
		}
		checkJournal(t, j, created, lastState)
		var now OrderNumber
		now.Terminal = "T01"
		if err := j.w.QueryRow("SELECT order_day, order_seq FROM terminal").Scan(&now.Day, &now.Seq); err != nil {
			t.Fatal(err)
		}
		if now.Less(counter) {
			t.Fatalf("run %d: order counter went back from %s to %s", run, counter, now)
		}
		counter = now
		var maxOrder string
		j.w.QueryRow("SELECT MAX(order_no) FROM payments").Scan(&maxOrder)
		if maxOrder > counter.String() {
			t.Fatalf("run %d: order %s is beyond the counter %s", run, maxOrder, counter)
		}
		if err := j.Check(context.Background()); err != nil {
			t.Fatalf("run %d: Check: %v", run, err)
		}
		j.Close()
	}
	if len(created) < runs {
		t.Fatalf("only %d payments in %d runs", len(created), runs)
	}
	t.Logf("%d runs, %d payments created and found", runs, len(created))
}

func checkJournal(t *testing.T, j *Journal, created map[string]bool, lastState map[string]State) {
	t.Helper()
	ps, seals, err := j.queryPayments(context.Background(), j.r, "ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]Payment{}
	prev := ""
	for i, p := range ps {
		if p.Order <= prev {
			t.Fatalf("order %s made after %s sorts before it", p.Order, prev)
		}
		prev = p.Order
		have[p.Order] = p
		if !p.State.Valid() || p.State.Final() != p.CodeMasked() {
			t.Fatalf("%s: state %s, code %q", p.Order, p.State, p.Code)
		}
		if err := j.verify(p, seals[i]); err != nil {
			t.Fatalf("%s: %v", p.Order, err)
		}
		if s, ok := lastState[p.Order]; ok && !reachable(s, p.State) {
			t.Fatalf("%s: confirmed %s, found %s", p.Order, s, p.State)
		}
		ev, err := j.Events(context.Background(), p.Order)
		if err != nil || len(ev) == 0 || ev[0].From != "" || ev[len(ev)-1].To != p.State {
			t.Fatalf("%s: events %+v, %v", p.Order, ev, err)
		}
		for k := 1; k < len(ev); k++ {
			if ev[k].From != ev[k-1].To {
				t.Fatalf("%s: event chain broken: %+v", p.Order, ev)
			}
		}
		rs, err := j.Refunds(context.Background(), p.Order)
		if err != nil {
			t.Fatal(err)
		}
		var done int64
		for _, r := range rs {
			if r.State == RefundDone {
				done += r.Amount.Minor
			}
		}
		if done != p.Refunded.Minor {
			t.Fatalf("%s: refunds done %d, record says %d", p.Order, done, p.Refunded.Minor)
		}
	}
	for o := range created {
		if _, ok := have[o]; !ok {
			t.Fatalf("order %s was confirmed created but is missing", o)
		}
	}
}
