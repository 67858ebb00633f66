package wallet_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"tillpay/backend/client"
	"tillpay/paycode"
	"tillpay/wallet"
	"tillpay/wallet/wallettest"
)

// clock is a settable clock safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)         { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// setup enrols a wallet whose local clock is off by skew from the fake
// backend's clock.
func setup(t *testing.T, skew time.Duration) (*wallet.Wallet, *wallettest.Backend, *clock, *clock, *client.Payer) {
	t.Helper()
	backendClock := &clock{t: time.Date(2031, 3, 4, 10, 20, 5, 0, time.UTC)}
	local := &clock{t: backendClock.Now().Add(skew)}
	fb := wallettest.New(t, "alice", "pw")
	fb.Now = backendClock.Now
	p, err := client.NewPayer(fb.URL, "alice", "pw", client.WithClock(local.Now))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sub", "wallet.json")
	w, err := wallet.Enrol(context.Background(), path,
		wallet.Credentials{BackendURL: fb.URL, PayerID: "alice", Password: "pw"}, p,
		wallet.WithClock(local.Now))
	if err != nil {
		t.Fatal(err)
	}
	return w, fb, backendClock, local, p
}

func TestClockOffsetLearned(t *testing.T) {
	for _, skew := range []time.Duration{0, -5*time.Hour - 13*time.Second, 49 * time.Hour, 45 * time.Second} {
		w, fb, bc, _, _ := setup(t, skew)
		if got := w.State().ClockOffset; got != -skew {
			t.Errorf("skew %v: offset %v", skew, got)
		}
		c, err := w.Current()
		if err != nil {
			t.Fatal(err)
		}
		if c.Step != paycode.StepAt(bc.Now()) || c.Seq != 0 {
			t.Errorf("skew %v: code at step %d seq %d, backend step %d", skew, c.Step, c.Seq, paycode.StepAt(bc.Now()))
		}
		if err := fb.Pay(c.Digits, 100); err != nil {
			t.Errorf("skew %v: backend refused the wallet's code: %v", skew, err)
		}
	}
}

func TestOfflineSequence(t *testing.T) {
	w, fb, bc, local, _ := setup(t, 0)
	// Go to the start of a step so that ten codes fit.
	start := time.Unix((paycode.StepAt(bc.Now())+1)*paycode.StepSeconds, 0)
	bc.Set(start)
	local.Set(start)

	seen := map[string]bool{}
	c, err := w.Current()
	if err != nil {
		t.Fatal(err)
	}
	again, err := w.Current()
	if err != nil || again.Digits != c.Digits {
		t.Fatalf("an unused code must stay: %v then %v (%v)", c.Digits, again.Digits, err)
	}
	for i := 0; i < paycode.SeqPerStep; i++ {
		if c.Seq != i || c.Left != paycode.SeqPerStep-1-i {
			t.Fatalf("code %d: seq %d left %d", i, c.Seq, c.Left)
		}
		if seen[c.Digits] {
			t.Fatalf("code %s shown twice", c.Digits)
		}
		seen[c.Digits] = true
		if err := fb.Pay(c.Digits, 1); err != nil {
			t.Fatalf("code %d refused: %v", i, err)
		}
		local.Advance(time.Second)
		bc.Advance(time.Second)
		c, err = w.Next()
		if i < paycode.SeqPerStep-1 && err != nil {
			t.Fatal(err)
		}
	}
	var ex *wallet.ExhaustedError
	if !errors.As(err, &ex) || !errors.Is(err, wallet.ErrExhausted) {
		t.Fatalf("after ten codes: %v, want exhausted", err)
	}
	if ex.Wait != 50*time.Second || !ex.Ready.Equal(start.Add(time.Minute)) {
		t.Errorf("exhausted: wait %v ready %v", ex.Wait, ex.Ready)
	}
	// A new step starts again at sequence 0.
	local.Advance(ex.Wait)
	bc.Advance(ex.Wait)
	c, err = w.Current()
	if err != nil || c.Seq != 0 || c.Step != paycode.StepAt(start)+1 || seen[c.Digits] {
		t.Fatalf("next step: %+v, %v", c, err)
	}
}

func TestSyncMovesOn(t *testing.T) {
	w, fb, _, _, p := setup(t, 3*time.Hour)
	ctx := context.Background()
	c1, err := w.Current()
	if err != nil {
		t.Fatal(err)
	}
	// Nothing used yet: sync changes nothing.
	res, err := w.Sync(ctx, p)
	if err != nil || res.Used || len(res.Notifications) != 0 {
		t.Fatalf("sync: %+v, %v", res, err)
	}
	if c, _ := w.Current(); c.Digits != c1.Digits {
		t.Fatal("code changed without a use")
	}
	if err := fb.Pay(c1.Digits, 250); err != nil {
		t.Fatal(err)
	}
	res, err = w.Sync(ctx, p)
	if err != nil || !res.Used || len(res.Notifications) != 1 || res.Notifications[0].Amount.Minor != 250 {
		t.Fatalf("sync after a payment: %+v, %v", res, err)
	}
	c2, err := w.Current()
	if err != nil || c2.Digits == c1.Digits || c2.Counter != c1.Counter+1 {
		t.Fatalf("after a use: %+v (was %+v), %v", c2, c1, err)
	}
	// The inbox is read once.
	res, err = w.Sync(ctx, p)
	if err != nil || res.Used || len(res.Notifications) != 0 {
		t.Fatalf("second sync: %+v, %v", res, err)
	}
	if got := w.State().InboxAfter; got != 1 {
		t.Errorf("inbox position %d", got)
	}
	// A reopened wallet remembers all of it.
	w2, err := wallet.Open(w.Path(), wallet.WithClock(time.Now))
	if err != nil {
		t.Fatal(err)
	}
	if st := w2.State(); st.Used == nil || st.Used.Counter() != c1.Counter || st.Last.Counter() != c2.Counter {
		t.Errorf("reopened state: %+v", st)
	}
}

func TestSyncUnreachableKeepsState(t *testing.T) {
	w, fb, _, _, p := setup(t, 0)
	before, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	fb.SetDown(true)
	if _, err := w.Sync(context.Background(), p); !errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("sync with the backend down: %v", err)
	}
	after, _ := os.ReadFile(w.Path())
	if !bytes.Equal(before, after) {
		t.Error("a failed sync changed the state file")
	}
	// Codes still work offline.
	if _, err := w.Current(); err != nil {
		t.Fatal(err)
	}
}

func TestNeverShowUsedCode(t *testing.T) {
	w, _, bc, local, _ := setup(t, 0)
	c, err := w.Current()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.MarkUsed(c.Position()); err != nil {
		t.Fatal(err)
	}
	// The backend clock seems to go back a few minutes (a new offset):
	// the wallet must not make codes at or before the used one.
	local.Set(bc.Now().Add(-3 * time.Minute))
	_, err = w.Current()
	var ex *wallet.ExhaustedError
	if !errors.As(err, &ex) || ex.Wait <= 2*time.Minute {
		t.Fatalf("clock went back: %v", err)
	}
	moved, err := w.MarkUsed(wallet.Position{Step: c.Step - 1, Seq: 9})
	if err != nil || moved {
		t.Errorf("an older use moved the wallet: %v %v", moved, err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := wallet.Open(filepath.Join(dir, "none.json")); !errors.Is(err, wallet.ErrNotEnrolled) {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"version":1,"seed":`), 0o600)
	if _, err := wallet.Open(bad); !errors.Is(err, wallet.ErrCorrupt) {
		t.Errorf("truncated file: %v", err)
	}
}

func TestEnrolRefused(t *testing.T) {
	fb := wallettest.New(t, "alice", "pw")
	p, _ := client.NewPayer(fb.URL, "alice", "nope")
	path := filepath.Join(t.TempDir(), "w.json")
	_, err := wallet.Enrol(context.Background(), path, wallet.Credentials{BackendURL: fb.URL, PayerID: "alice", Password: "nope"}, p)
	if !client.IsCode(err, "unauthorized") {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("a refused enrolment left a state file")
	}
}

func TestConcurrentUpdates(t *testing.T) {
	w, _, _, local, _ := setup(t, 0)
	// Two wallets on one file (as two processes) lose no use.
	w2, err := wallet.Open(w.Path(), wallet.WithClock(local.Now))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := w.Current()
	var wg sync.WaitGroup
	for i, ww := range []*wallet.Wallet{w, w2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ww.MarkUsed(wallet.Position{Step: c.Step, Seq: i})
			ww.SetOffset(time.Duration(i))
		}()
	}
	wg.Wait()
	w3, err := wallet.Open(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	if u := w3.State().Used; u == nil || u.Seq != 1 {
		t.Errorf("used = %+v, want seq 1", u)
	}
}

func BenchmarkPeek(b *testing.B) {
	st := wallet.State{Version: wallet.StateVersion, BackendURL: "http://127.0.0.1:1", PayerID: "alice",
		KeyID: 1234567, Seed: bytes.Repeat([]byte{1}, paycode.SeedBytes)}
	path := filepath.Join(b.TempDir(), "w.json")
	if err := wallet.SaveState(path, st); err != nil {
		b.Fatal(err)
	}
	w, err := wallet.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := w.Peek(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCurrent includes the locked, synced state-file update.
func BenchmarkCurrent(b *testing.B) {
	st := wallet.State{Version: wallet.StateVersion, BackendURL: "http://127.0.0.1:1", PayerID: "alice",
		KeyID: 1234567, Seed: bytes.Repeat([]byte{1}, paycode.SeedBytes)}
	path := filepath.Join(b.TempDir(), "w.json")
	if err := wallet.SaveState(path, st); err != nil {
		b.Fatal(err)
	}
	w, err := wallet.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := w.Current(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestInboxShowsWhatSyncRead(t *testing.T) {
	w, fb, _, _, p := setup(t, 0)
	ctx := context.Background()
	c1, _ := w.Current()
	if err := fb.Pay(c1.Digits, 300); err != nil {
		t.Fatal(err)
	}
	// Making a code syncs: the wallet moves on, but the payer has not
	// seen the deduction yet.
	if res, err := w.Sync(ctx, p); err != nil || !res.Used {
		t.Fatalf("sync: %+v, %v", res, err)
	}
	if st := w.State(); st.InboxAfter != 1 || st.InboxShown != 0 {
		t.Fatalf("after sync: read %d, shown %d", st.InboxAfter, st.InboxShown)
	}
	ns, err := w.Inbox(ctx, p, false)
	if err != nil || len(ns) != 1 || ns[0].Amount.Minor != 300 {
		t.Fatalf("inbox after sync: %+v, %v", ns, err)
	}
	if ns, err := w.Inbox(ctx, p, false); err != nil || len(ns) != 0 {
		t.Fatalf("inbox read twice: %+v, %v", ns, err)
	}
	// A payment the inbox sees first also moves the wallet on, and sync
	// does not report it again as unread.
	c2, _ := w.Current()
	if c2.Counter != c1.Counter+1 {
		t.Fatalf("second code %+v after %+v", c2, c1)
	}
	if err := fb.Pay(c2.Digits, 40); err != nil {
		t.Fatal(err)
	}
	if ns, err := w.Inbox(ctx, p, false); err != nil || len(ns) != 1 || ns[0].ID != 2 {
		t.Fatalf("inbox: %+v, %v", ns, err)
	}
	if c3, _ := w.Current(); c3.Counter != c2.Counter+1 {
		t.Errorf("the inbox did not move the wallet on: %+v after %+v", c3, c2)
	}
	if res, err := w.Sync(ctx, p); err != nil || len(res.Notifications) != 0 {
		t.Errorf("sync after the inbox: %+v, %v", res, err)
	}
	// All of it, again, on request.
	if ns, err := w.Inbox(ctx, p, true); err != nil || len(ns) != 2 {
		t.Errorf("whole inbox: %+v, %v", ns, err)
	}
	if st := w.State(); st.InboxAfter != 2 || st.InboxShown != 2 {
		t.Errorf("positions: read %d, shown %d", st.InboxAfter, st.InboxShown)
	}
}

func TestSetBackendURL(t *testing.T) {
	w, _, _, _, _ := setup(t, 0)
	before, _ := os.ReadFile(w.Path())
	for _, bad := range []string{"", "nonsense", "127.0.0.1:9", "ftp://127.0.0.1:9"} {
		if _, err := w.SetBackendURL(bad); !errors.Is(err, wallet.ErrBadBackendURL) {
			t.Errorf("%q: %v, want ErrBadBackendURL", bad, err)
		}
	}
	if after, _ := os.ReadFile(w.Path()); !bytes.Equal(before, after) {
		t.Fatal("a refused URL changed the state file")
	}
	old := w.State()
	changed, err := w.SetBackendURL("http://127.0.0.1:4321/")
	if err != nil || !changed {
		t.Fatalf("new URL: %v %v", changed, err)
	}
	if changed, err := w.SetBackendURL("http://127.0.0.1:4321"); err != nil || changed {
		t.Errorf("same URL again: %v %v", changed, err)
	}
	w2, err := wallet.Open(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	st := w2.State()
	if st.BackendURL != "http://127.0.0.1:4321" {
		t.Errorf("saved URL %q", st.BackendURL)
	}
	// Nothing else changed: the enrolment stays.
	st.BackendURL = old.BackendURL
	if st.KeyID != old.KeyID || !bytes.Equal(st.Seed, old.Seed) || st.PayerID != old.PayerID || st.InboxAfter != old.InboxAfter {
		t.Errorf("state changed beyond the URL: %+v", st)
	}
}
