package walletcli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"image/png"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/internal/lockedbuf"
	"tillpay/money"
	"tillpay/paycode"
	"tillpay/wallet/wallettest"
)

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
	var out, errb lockedbuf.Buffer
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
	var out, errb lockedbuf.Buffer
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
	h.fb.AddPending("m1/big1", 60000)
	h.fb.AddPending("m1/big2", 300000)
	h.fb.AddPending("m1/big3", 250000)
	h.fb.AddPending("m1/big4", 1000)
	rc, out, _ = h.run("confirm")
	if rc != 0 || !strings.Contains(out, "m1/big1") || !strings.Contains(out, "3000.00 CNY") {
		t.Errorf("confirm list: %d %q", rc, out)
	}
	// Paid: the money is taken, and the payer sees the new balance.
	if rc, out, errs := h.run("confirm", "m1/big1"); rc != 0 || !strings.Contains(out, "paid: m1/big1 600.00 CNY taken") ||
		!strings.Contains(out, "balance 400.00 CNY") {
		t.Errorf("confirm: %d %q %q", rc, out, errs)
	}
	// The balance (400.00) does not cover 3000.00: declined, exit 1, and
	// said so in words.
	rc, out, errs := h.run("confirm", "m1/big2")
	if rc != 1 || strings.Contains(out, "paid") || !strings.Contains(errs, "declined: m1/big2 3000.00 CNY not taken") ||
		!strings.Contains(errs, "balance") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Errorf("confirm without the money: %d %q %q", rc, out, errs)
	}
	// A refusal, flags after the order.
	if rc, out, errs := h.run("confirm", "m1/big3", "--decline"); rc != 0 || !strings.Contains(out, "declined: m1/big3") {
		t.Errorf("decline: %d %q %q", rc, out, errs)
	}
	if rc, _, errs := h.run("confirm", "m1/big2"); rc != 1 || !strings.Contains(errs, "no payment m1/big2 is waiting") {
		t.Errorf("answered twice: %d %q", rc, errs)
	}
	// --json prints the order.
	rc, out, errs = h.run("confirm", "--json", "m1/big4")
	var o api.Order
	if rc != 0 || json.Unmarshal([]byte(out), &o) != nil || o.Status != api.StatusPaid || o.Amount.Minor != 1000 || o.MerchantOrder != "big4" {
		t.Errorf("confirm --json: %d %q %q", rc, out, errs)
	}
	got := h.fb.Confirms()
	if len(got) != 4 || !got[0].Approve || !got[1].Approve || got[2].Approve {
		t.Errorf("backend saw %+v", got)
	}
}

func TestConfirmOutcomeWords(t *testing.T) {
	amt := money.Amount{Minor: 110000, Currency: "CNY"}
	low := &api.BalanceResponse{Balance: money.Amount{Minor: 5000, Currency: "CNY"}}
	cases := []struct {
		status, reason string
		approve        bool
		bal            *api.BalanceResponse
		ok             bool
		want           string
	}{
		{api.StatusPaid, "", true, low, true, "paid: shop/x 1100.00 CNY taken; balance 50.00 CNY"},
		{api.StatusPaid, "", true, nil, true, "paid: shop/x 1100.00 CNY taken"},
		{api.StatusDeclined, api.ReasonInsufficientBalance, true, low, false, "your balance (50.00 CNY) is too low"},
		{api.StatusDeclined, api.ReasonInsufficientBalance, true, nil, false, "your balance is too low"},
		{api.StatusCancelled, api.ReasonCancelled, true, nil, false, "cancelled: shop/x 1100.00 CNY not taken: the shop cancelled"},
		{api.StatusCancelled, api.ReasonPayerTimeout, true, nil, false, "not confirmed in time"},
		{api.StatusDeclined, api.ReasonPayerDeclined, false, nil, true, "declined: shop/x 1100.00 CNY; no money was taken"},
		{api.StatusDeclined, api.ReasonPayerDeclined, true, nil, false, "you had already declined it"},
		{api.StatusPaid, "", false, nil, false, "already paid"},
		{api.StatusCancelled, api.ReasonPayerTimeout, false, nil, true, "not confirmed in time"},
		{api.StatusWaitingPayer, "", true, nil, false, "still waiting"},
	}
	for _, c := range cases {
		o := api.Order{Status: c.status, Reason: c.reason, Amount: amt}
		line, ok := confirmOutcome("shop/x", o, c.approve, c.bal)
		if ok != c.ok || !strings.Contains(line, c.want) || strings.Contains(line, "\n") {
			t.Errorf("%s/%s approve %v: %q %v, want %q %v", c.status, c.reason, c.approve, line, ok, c.want, c.ok)
		}
	}
}

func TestInboxNotConsumedBySync(t *testing.T) {
	h := newHarness(t)
	h.enrol()
	c1 := h.codeJSON()
	if err := h.fb.Pay(c1.Digits, 1250); err != nil {
		t.Fatal(err)
	}
	// Making codes reads the inbox to learn that c1 was used…
	if c2 := h.codeJSON(); c2.Counter <= c1.Counter {
		t.Fatalf("the wallet did not move on: %+v", c2)
	}
	if rc, _, errs := h.run("show"); rc != 0 {
		t.Fatalf("show: %d %q", rc, errs)
	}
	// …but the payer has not seen the deduction yet.
	rc, out, errs := h.run("inbox")
	if rc != 0 || !strings.Contains(out, "12.50 CNY") || !strings.Contains(out, "debit") {
		t.Fatalf("inbox after code: %d %q %q", rc, out, errs)
	}
	if rc, out, _ := h.run("inbox"); rc != 0 || !strings.Contains(out, "no new notifications") {
		t.Errorf("inbox again: %d %q", rc, out)
	}
	if rc, out, _ := h.run("inbox", "--all", "--json"); rc != 0 || !strings.Contains(out, `"minor": 1250`) {
		t.Errorf("inbox --all: %d %q", rc, out)
	}
}

func TestFlagsAnywhere(t *testing.T) {
	h := newHarness(t)
	h.enrol()
	h.fb.AddPending("m1/big2", 300000)
	h.fb.AddPending("m1/big3", 300000)
	// The shape that failed: flags on both sides of the order.
	rc, out, errs := h.run("confirm", "m1/big2", "--decline")
	if rc != 0 || !strings.Contains(out, "declined: m1/big2") {
		t.Fatalf("confirm ORDER --decline: %d %q %q", rc, out, errs)
	}
	rc, out, errs = h.run("confirm", "--json", "m1/big3", "--decline")
	var o api.Order
	if rc != 0 || json.Unmarshal([]byte(out), &o) != nil || o.Reason != api.ReasonPayerDeclined {
		t.Fatalf("confirm --json ORDER --decline: %d %q %q", rc, out, errs)
	}
	if got := h.fb.Confirms(); len(got) != 2 || got[0].Approve || got[1].Approve {
		t.Errorf("backend saw %+v", got)
	}
	// After --, everything is an argument, even what looks like a flag.
	if rc, _, errs := h.run("confirm", "--", "--decline"); rc != 1 || !strings.Contains(errs, `no payment --decline is waiting`) {
		t.Errorf("confirm -- --decline: %d %q", rc, errs)
	}
	cases := []struct {
		args []string
		rc   int
		want string
	}{
		{[]string{"code", "--offline", "--", "--json"}, 2, `unexpected argument "--json"`},
		{[]string{"confirm", "a/1", "b/2"}, 2, `unexpected argument "b/2"`},
		{[]string{"confirm", "a/1", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"inbox", "x", "--all"}, 2, `unexpected argument "x"`},
	}
	for _, c := range cases {
		if rc, _, errs := h.run(c.args...); rc != c.rc || !strings.Contains(errs, c.want) {
			t.Errorf("%q: exit %d %q, want %d and %q", c.args, rc, errs, c.rc, c.want)
		}
	}
	// Flags after a positional argument take effect, and --json after it.
	if rc, out, _ := h.run("code", "--offline", "--json"); rc != 0 || !strings.HasPrefix(out, "{") {
		t.Errorf("code --offline --json: %d %q", rc, out)
	}
}

func TestParseInterspersed(t *testing.T) {
	cases := []struct {
		args []string
		pos  []string
		str  string
		b    bool
	}{
		{[]string{"a", "-b", "c"}, []string{"a", "c"}, "", true},
		{[]string{"-s", "x", "a", "--b"}, []string{"a"}, "x", true},
		{[]string{"a", "--", "-b", "-s"}, []string{"a", "-b", "-s"}, "", false},
		{[]string{"-s", "--", "a", "-b"}, []string{"a"}, "--", true}, // "--" as a flag's value
		{[]string{"--s=--", "--", "-b"}, []string{"-b"}, "--", false},
		{[]string{"-", "-b=false", "z"}, []string{"-", "z"}, "", false},
		{nil, nil, "", false},
	}
	for _, c := range cases {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		s := fs.String("s", "", "")
		b := fs.Bool("b", false, "")
		pos, err := parseInterspersed(fs, c.args)
		if err != nil || !slices.Equal(pos, c.pos) || *s != c.str || *b != c.b {
			t.Errorf("%q: %q s=%q b=%v %v; want %q s=%q b=%v", c.args, pos, *s, *b, err, c.pos, c.str, c.b)
		}
	}
}

func TestBackendFlagRefusesBadURL(t *testing.T) {
	h := newHarness(t)
	h.enrol()
	before, err := os.ReadFile(h.state)
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"code", "show", "watch", "balance", "inbox", "confirm"} {
		for _, bad := range []string{"nonsense", "127.0.0.1:80", "ftp://127.0.0.1:21"} {
			rc, out, errs := h.run(cmd, "--backend", bad)
			if rc != 2 || !strings.Contains(errs, "--backend") || !strings.Contains(errs, "http://host:port") || out != "" {
				t.Errorf("%s --backend %s: %d %q %q", cmd, bad, rc, out, errs)
			}
		}
	}
	if after, _ := os.ReadFile(h.state); !bytes.Equal(before, after) {
		t.Error("a refused --backend changed the state file")
	}
	// A good one is remembered.
	rc, _, errs := h.run("balance", "--backend", h.fb.URL+"/")
	if rc != 0 {
		t.Fatalf("balance --backend: %d %q", rc, errs)
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

func FuzzParseInterspersed(f *testing.F) {
	for _, s := range []string{"confirm\x00--state\x00w.json\x00shop/big2\x00--decline", "a\x00--\x00-b", "-s\x00--\x00a", "--s=x\x00-\x00-b=true"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.String("s", "", "")
		fs.Bool("b", false, "")
		pos, err := parseInterspersed(fs, args)
		if err != nil {
			return
		}
		// The positional arguments are some of args, in their order.
		i := 0
		for _, p := range pos {
			for i < len(args) && args[i] != p {
				i++
			}
			if i == len(args) {
				t.Fatalf("%q: positional %q is not in order in the arguments (got %q)", args, p, pos)
			}
			i++
		}
	})
}
