package walletcli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/paycode"
	"tillpay/wallet/wallettest"
)

// lockedBuffer is an output that a running command and the test share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type harness struct {
	t     *testing.T
	fb    *wallettest.Backend
	state string
	now   func() time.Time
}

func newHarness(t *testing.T) *harness {
	fb := wallettest.New(t, "alice", "pw")
	return &harness{t: t, fb: fb, state: filepath.Join(t.TempDir(), "w.json"), now: time.Now}
}

// run runs the wallet in-process and returns its exit status and output.
func (h *harness) run(args ...string) (int, string, string) {
	h.t.Helper()
	var out, errb lockedBuffer
	code := run(context.Background(), append(args[:1:1], append([]string{"--state", h.state}, args[1:]...)...), env{
		stdout: &out, stderr: &errb, now: h.now, getenv: func(string) string { return "" },
	})
	return code, out.String(), errb.String()
}

func (h *harness) enrol() {
	h.t.Helper()
	if rc, out, errs := h.run("enrol", "--backend", h.fb.URL, "--payer", "alice", "--password", "pw"); rc != 0 {
		h.t.Fatalf("enrol: %d %s %s", rc, out, errs)
	}
}

func (h *harness) codeJSON(args ...string) codeJSON {
	h.t.Helper()
	rc, out, errs := h.run(append([]string{"code", "--json"}, args...)...)
	if rc != 0 {
		h.t.Fatalf("code: exit %d: %s", rc, errs)
	}
	var c codeJSON
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		h.t.Fatalf("code --json printed %q: %v", out, err)
	}
	return c
}

func TestEnrolPayAndMoveOn(t *testing.T) {
	h := newHarness(t)
	// The phone's clock is five hours and a bit slow; codes must still pay.
	h.now = func() time.Time { return time.Now().Add(-5*time.Hour - 7*time.Second) }
	h.enrol()
	fi, err := os.Stat(h.state)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi, err)
	}

	c1 := h.codeJSON()
	if !c1.Online || len(c1.Digits) != paycode.Length || c1.Step != paycode.StepAt(time.Now()) && c1.Step != paycode.StepAt(time.Now())-1 {
		t.Fatalf("first code %+v", c1)
	}
	if c2 := h.codeJSON(); c2.Digits != c1.Digits && c2.Step == c1.Step {
		t.Fatalf("an unused code changed: %s then %s", c1.Digits, c2.Digits)
	}
	if rc, out, _ := h.run("code"); rc != 0 || strings.TrimSpace(out) == "" || len(strings.TrimSpace(out)) != 18 {
		t.Fatalf("code: %d %q", rc, out)
	}
	cur := h.codeJSON()
	if err := h.fb.Pay(cur.Digits, 1250); err != nil {
		t.Fatalf("backend refused the wallet's code: %v", err)
	}
	after := h.codeJSON()
	if after.Digits == cur.Digits || after.Counter <= cur.Counter {
		t.Fatalf("after a payment the wallet shows %+v (used %+v)", after, cur)
	}
	if err := h.fb.Pay(after.Digits, 100); err != nil {
		t.Fatalf("the fresh code was refused: %v", err)
	}

	rc, out, _ := h.run("inbox", "--all")
	if rc != 0 || !strings.Contains(out, "12.50") || !strings.Contains(out, "debit") {
		t.Errorf("inbox --all: %d\n%s", rc, out)
	}
	rc, out, _ = h.run("balance", "--json")
	var b api.BalanceResponse
	if rc != 0 || json.Unmarshal([]byte(out), &b) != nil || b.Balance.Minor != 100000-1250-100 {
		t.Errorf("balance: %d %s", rc, out)
	}
}

func TestOfflineCodes(t *testing.T) {
	h := newHarness(t)
	skew := 2*time.Hour + 30*time.Second
	h.now = func() time.Time { return time.Now().Add(skew) }
	h.enrol()
	h.fb.SetDown(true)

	rc, out, errs := h.run("code")
	if rc != 0 || !strings.Contains(errs, "offline") {
		t.Fatalf("offline code: %d %q %q", rc, out, errs)
	}
	c1 := h.codeJSON("--offline")
	if c1.Online || c1.Digits != strings.TrimSpace(out) {
		t.Fatalf("offline json %+v, text %q", c1, out)
	}
	// Paid at a till while the wallet is offline: move on by hand.
	h.fb.SetDown(false)
	if err := h.fb.Pay(c1.Digits, 10); err != nil {
		t.Fatalf("offline code refused: %v", err)
	}
	h.fb.SetDown(true)
	c2 := h.codeJSON("--offline", "--next")
	if c2.Digits == c1.Digits || c2.Counter <= c1.Counter {
		t.Fatalf("--next gave %+v after %+v", c2, c1)
	}
	// Back online, the inbox reports c1 used: the wallet keeps c2.
	h.fb.SetDown(false)
	if c3 := h.codeJSON(); c3.Digits != c2.Digits && c3.Step == c2.Step {
		t.Fatalf("online again: %+v, want %+v", c3, c2)
	}
}

func TestExhaustedStep(t *testing.T) {
	h := newHarness(t)
	// A fixed clock at the start of a step, ten minutes fast.
	start := time.Unix((paycode.StepAt(time.Now())+1)*paycode.StepSeconds, 0)
	h.fb.Now = func() time.Time { return start }
	h.now = func() time.Time { return start.Add(10 * time.Minute) }
	h.enrol()
	seen := map[string]bool{}
	for i := 0; i < paycode.SeqPerStep; i++ {
		args := []string{"--offline", "--no-wait"}
		if i > 0 {
			args = append(args, "--next")
		}
		c := h.codeJSON(args...)
		if c.Seq != i || seen[c.Digits] || c.Step != paycode.StepAt(start) {
			t.Fatalf("code %d: %+v", i, c)
		}
		seen[c.Digits] = true
	}
	rc, _, errs := h.run("code", "--next", "--no-wait", "--offline")
	if rc != 1 || !strings.Contains(errs, "all codes of this minute are used") || !strings.Contains(errs, "1m0s") {
		t.Fatalf("eleventh code: %d %q", rc, errs)
	}
	// Waiting (the default) is cut short by the context.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var out, errb lockedBuffer
	rc = run(ctx, []string{"code", "--state", h.state, "--offline"}, env{stdout: &out, stderr: &errb, now: h.now, getenv: os.Getenv})
	if rc != 1 || !strings.Contains(errb.String(), "waiting") || out.String() != "" {
		t.Fatalf("waiting code: %d %q %q", rc, out.String(), errb.String())
	}
}

func TestErrors(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		args []string
		rc   int
		want string
	}{
		{[]string{"code"}, 1, "not enrolled yet"},
		{[]string{"balance"}, 1, "not enrolled yet"},
		{[]string{"watch"}, 1, "not enrolled yet"},
		{[]string{"enrol", "--backend", h.fb.URL, "--payer", "alice", "--password", "bad"}, 1, "refused the payer id or password"},
		{[]string{"enrol", "--backend", "http://127.0.0.1:1", "--payer", "alice", "--password", "pw"}, 1, "cannot reach the payment backend"},
		{[]string{"enrol", "--payer", "alice"}, 2, "--backend URL is needed"},
		{[]string{"enrol", "--backend", "nonsense", "--payer", "a", "--password", "b"}, 2, "want http://host:port"},
		{[]string{"code", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"code", "extra"}, 2, "unexpected argument"},
		{[]string{"frobnicate"}, 2, "unknown command"},
	}
	for _, c := range cases {
		rc, _, errs := h.run(c.args...)
		if rc != c.rc || !strings.Contains(errs, c.want) {
			t.Errorf("%q: exit %d %q, want %d and %q", c.args, rc, errs, c.rc, c.want)
		}
		if strings.Count(strings.TrimSpace(errs), "\n") > 0 && c.rc == 1 {
			t.Errorf("%q: error is not one line: %q", c.args, errs)
		}
	}
	if _, err := os.Stat(h.state); !os.IsNotExist(err) {
		t.Error("a failed enrolment wrote a state file")
	}

	h.enrol()
	h.fb.SetDown(true)
	rc, _, errs := h.run("balance")
	if rc != 1 || !strings.Contains(errs, "cannot reach the payment backend") {
		t.Errorf("balance with the backend down: %d %q", rc, errs)
	}
	h.fb.SetDown(false)

	os.WriteFile(h.state, []byte(`{"version":1,"seed":"AAAA"}`), 0o600)
	for _, cmd := range []string{"code", "show", "balance", "inbox", "confirm"} {
		rc, _, errs := h.run(cmd)
		if rc != 1 || !strings.Contains(errs, "corrupted") || !strings.Contains(errs, "enrol again") {
			t.Errorf("%s with a corrupted state: %d %q", cmd, rc, errs)
		}
	}
	// Enrolling again repairs it.
	h.enrol()
	if c := h.codeJSON(); len(c.Digits) != 18 {
		t.Errorf("after re-enrolment: %+v", c)
	}
}

func TestDemoEnrol(t *testing.T) {
	h := newHarness(t)
	demo := filepath.Join(t.TempDir(), "demo.json")
	df := api.DemoFile{Currency: "CNY", Payer: api.DemoPayer{ID: "alice", Password: "pw"}}
	data, _ := json.Marshal(df)
	os.WriteFile(demo, data, 0o600)
	if rc, _, errs := h.run("enrol", "--demo", demo); rc != 2 || !strings.Contains(errs, "--backend") {
		t.Errorf("demo file without a URL: %d %q", rc, errs)
	}
	rc, out, errs := h.run("enrol", "--demo", demo, "--backend", h.fb.URL)
	if rc != 0 || !strings.Contains(out, "enrolled payer alice") {
		t.Fatalf("demo enrol: %d %q %q", rc, out, errs)
	}
	// A file with the URL in it needs nothing else.
	os.WriteFile(demo, []byte(`{"backend_url":"`+h.fb.URL+`","payer":{"payer_id":"alice","password":"pw"}}`), 0o600)
	if rc, _, errs := h.run("enrol", "--demo", demo); rc != 0 {
		t.Fatalf("demo enrol with URL: %d %q", rc, errs)
	}
	if h.fb.Enrolments() != 2 {
		t.Errorf("%d enrolments", h.fb.Enrolments())
	}
	os.WriteFile(demo, []byte(`{"payer":{}}`), 0o600)
	if rc, _, errs := h.run("enrol", "--demo", demo, "--backend", h.fb.URL); rc != 1 || !strings.Contains(errs, "no payer id") {
		t.Errorf("empty demo: %d %q", rc, errs)
	}
}

func TestShowAndPNG(t *testing.T) {
	h := newHarness(t)
	h.enrol()
	dir := filepath.Join(t.TempDir(), "png")
	rc, out, errs := h.run("show", "--png", dir)
	if rc != 0 {
		t.Fatalf("show: %d %q", rc, errs)
	}
	c := h.codeJSON()
	grouped := c.Digits[:4] + " " + c.Digits[4:9] + " " + c.Digits[9:13] + " " + c.Digits[13:]
	if !strings.Contains(out, grouped) || !strings.Contains(out, "█") || strings.Contains(out, "\x1b[") {
		t.Errorf("show (not a terminal) printed:\n%s", out)
	}
	for _, name := range []string{"qr.png", "code128.png"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() < 100 {
			t.Errorf("%s: %v %v", name, err, img)
		}
	}
	rc, out, _ = h.run("show", "--invert", "--wide", "--offline")
	if rc != 0 || !strings.Contains(out, strings.Repeat("█", 2)) {
		t.Errorf("show --invert --wide: %d", rc)
	}
}

func TestConfirm(t *testing.T) {
	h := newHarness(t)
	h.enrol()
	rc, out, _ := h.run("confirm")
	if rc != 0 || !strings.Contains(out, "no payment is waiting") {
		t.Errorf("confirm with none: %d %q", rc, out)
	}
	h.fb.AddPending("m1/big1", 250000)
	h.fb.AddPending("m1/big2", 300000)
	rc, out, _ = h.run("confirm")
	if rc != 0 || !strings.Contains(out, "m1/big1") || !strings.Contains(out, "2500.00 CNY") {
		t.Errorf("confirm list: %d %q", rc, out)
	}
	if rc, out, _ := h.run("confirm", "m1/big1"); rc != 0 || !strings.Contains(out, "confirmed payment m1/big1") {
		t.Errorf("confirm: %d %q", rc, out)
	}
	if rc, out, _ := h.run("confirm", "--decline", "m1/big2"); rc != 0 || !strings.Contains(out, "declined") {
		t.Errorf("decline: %d %q", rc, out)
	}
	if rc, _, errs := h.run("confirm", "m1/big2"); rc != 1 || !strings.Contains(errs, "no payment m1/big2 is waiting") {
		t.Errorf("answered twice: %d %q", rc, errs)
	}
	got := h.fb.Confirms()
	if len(got) != 2 || !got[0].Approve || got[1].Approve {
		t.Errorf("backend saw %+v", got)
	}
}

func TestWatch(t *testing.T) {
	h := newHarness(t)
	h.enrol()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	presented := make(chan string, 10)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			data, _ := io.ReadAll(conn)
			conn.Close()
			presented <- string(data)
		}
	}()

	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		rc := run(ctx, []string{"watch", "--state", h.state, "--json", "--poll", "100ms",
			"--present", "tcp=" + ln.Addr().String()}, env{stdout: pw, stderr: io.Discard, now: h.now, getenv: os.Getenv})
		pw.Close()
		done <- rc
	}()
	lines := bufio.NewScanner(pr)
	readCode := func() codeJSON {
		t.Helper()
		if !lines.Scan() {
			t.Fatal("watch ended early")
		}
		var c codeJSON
		if err := json.Unmarshal(lines.Bytes(), &c); err != nil {
			t.Fatalf("watch printed %q", lines.Text())
		}
		return c
	}
	first := readCode()
	select {
	case got := <-presented:
		if got != first.Digits+"\r" {
			t.Errorf("presented %q, want %q", got, first.Digits+"\r")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the code was not presented")
	}
	if err := h.fb.Pay(first.Digits, 500); err != nil {
		t.Fatal(err)
	}
	second := readCode()
	if second.Digits == first.Digits || second.Counter <= first.Counter {
		t.Fatalf("after a use watch shows %+v (was %+v)", second, first)
	}
	if got := <-presented; got != second.Digits+"\r" {
		t.Errorf("second presentation %q", got)
	}
	cancel()
	go io.Copy(io.Discard, pr)
	select {
	case rc := <-done:
		if rc != 0 {
			t.Errorf("watch ended with %d on cancel", rc)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not end on cancel")
	}
}
