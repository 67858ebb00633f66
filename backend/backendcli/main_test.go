package backendcli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/backend/client"
	"tillpay/money"
	"tillpay/paycode"
)

func TestMain(m *testing.M) {
	if os.Getenv("PAYBACKEND_AS_CHILD") == "1" {
		os.Exit(Main(context.Background(), os.Args[1:])) // the test binary plays the command
	}
	os.Exit(m.Run())
}

func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestAdminCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "b.db")
	if code, _, stderr := runCmd(t, "", "admin", "merchant", "add", "--db", db, "--id", "shop", "--name", "Shop"); code != 0 {
		t.Fatalf("merchant add: %d %s", code, stderr)
	}
	code, out, stderr := runCmd(t, "", "admin", "terminal", "add", "--db", db, "--merchant", "shop", "--json")
	var tc struct{ ID, Merchant, Key string }
	if code != 0 || json.Unmarshal([]byte(out), &tc) != nil || tc.ID == "" || len(tc.Key) != 64 {
		t.Fatalf("terminal add: %d %q %s", code, out, stderr)
	}
	if code, _, stderr := runCmd(t, "password-1\n", "admin", "payer", "add", "--db", db, "--id", "ann",
		"--password-stdin", "--limit", "500", "--offline-credit", "20.50"); code != 0 {
		t.Fatalf("payer add: %d %s", code, stderr)
	}
	if code, out, _ := runCmd(t, "", "admin", "payer", "topup", "--db", db, "--id", "ann", "--amount", "99.99"); code != 0 ||
		!strings.Contains(out, "99.99 CNY") {
		t.Fatalf("topup: %d %q", code, out)
	}
	code, out, _ = runCmd(t, "", "admin", "payer", "show", "--db", db, "--id", "ann", "--json")
	var p struct {
		Balance, PasswordFreeLimit, OfflineCredit money.Amount
	}
	json.Unmarshal([]byte(strings.ReplaceAll(strings.ReplaceAll(out, "password_free_limit", "PasswordFreeLimit"), "offline_credit", "OfflineCredit")), &p)
	if code != 0 || p.Balance.Minor != 9_999 || p.PasswordFreeLimit.Minor != 50_000 || p.OfflineCredit.Minor != 2_050 {
		t.Fatalf("show: %d %q %+v", code, out, p)
	}
	// Limits change one at a time; the other stays.
	code, out, stderr = runCmd(t, "", "admin", "payer", "limits", "--db", db, "--id", "ann", "--offline-credit", "0")
	if code != 0 || !strings.Contains(out, "password-free limit 500.00 CNY, offline credit 0.00 CNY") {
		t.Fatalf("limits: %d %q %s", code, out, stderr)
	}
	if code, out, stderr := runCmd(t, "", "admin", "payer", "limits", "--db", db, "--id", "ann", "--limit", "1500"); code != 0 ||
		!strings.Contains(out, "password-free limit 1500.00 CNY, offline credit 0.00 CNY") {
		t.Fatalf("limits: %d %q %s", code, out, stderr)
	}
	// Mistakes: clear messages, non-zero status.
	for _, args := range [][]string{
		{"admin", "payer", "limits", "--db", db, "--id", "ann"},
		{"admin", "payer", "limits", "--db", db, "--id", "ann", "--limit", "-5"},
		{"admin", "payer", "limits", "--db", db, "--id", "nobody", "--limit", "5"},
		{"admin", "payer", "topup", "--db", db, "--id", "ann", "--amount", "-1"},
		{"admin", "payer", "topup", "--db", db, "--id", "nobody", "--amount", "1"},
		{"admin", "merchant", "add", "--db", db, "--id", "shop"},
		{"admin", "terminal", "add", "--db", db, "--merchant", "nobody"},
		{"admin", "payer", "add", "--db", db, "--id", "bad id", "--password", "password-2"},
		{"admin", "payer", "add", "--db", db, "--id", "bo", "--password", "short"},
		{"admin", "payer", "show", "--id", "ann"},
		{"frobnicate"},
	} {
		if code, _, stderr := runCmd(t, "", args...); code == 0 || !strings.Contains(stderr, "paybackend:") {
			t.Errorf("%v: status %d, stderr %q", args, code, stderr)
		}
	}
	if code, out, stderr := runCmd(t, "", "audit", "--db", db); code != 0 || !strings.Contains(out, "ledger balanced") {
		t.Fatalf("audit: %d %q %s", code, out, stderr)
	}
}

func TestDemoSetupIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	db, out := filepath.Join(dir, "b.db"), filepath.Join(dir, "demo.json")
	read := func() api.DemoFile {
		var d api.DemoFile
		data, err := os.ReadFile(out)
		if err != nil || json.Unmarshal(data, &d) != nil {
			t.Fatalf("demo file: %v %s", err, data)
		}
		return d
	}
	if code, _, stderr := runCmd(t, "", "demo-setup", "--db", db, "--out", out); code != 0 {
		t.Fatalf("demo-setup: %s", stderr)
	}
	first := read()
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Fatalf("demo file mode %v", fi.Mode())
	}
	if first.Payer.Balance.Minor != 1_000_000 || first.Terminal.Key == "" || first.Payer.Password == "" {
		t.Fatalf("demo %+v", first)
	}
	if code, _, stderr := runCmd(t, "", "demo-setup", "--db", db, "--out", out); code != 0 {
		t.Fatalf("demo-setup again: %s", stderr)
	}
	if second := read(); second != first {
		t.Fatalf("second run changed the demo:\n%+v\n%+v", first, second)
	}
	// Without the old file the password is reset, the rest stays.
	os.Remove(out)
	runCmd(t, "", "demo-setup", "--db", db, "--out", out)
	third := read()
	if third.Terminal != first.Terminal || third.Payer.Balance != first.Payer.Balance || third.Payer.Password == first.Payer.Password {
		t.Fatalf("third run: %+v", third)
	}
}

// TestServeAsChild starts the command as a till would: a child process that
// prints its address once ready, then stops on SIGTERM.
func TestServeAsChild(t *testing.T) {
	dir := t.TempDir()
	db, demoPath, addrFile := filepath.Join(dir, "b.db"), filepath.Join(dir, "demo.json"), filepath.Join(dir, "addr")
	if code, _, stderr := runCmd(t, "", "demo-setup", "--db", db, "--out", demoPath); code != 0 {
		t.Fatal(stderr)
	}
	cmd := exec.Command(os.Args[0], "serve", "--db", db, "--listen", "127.0.0.1:0", "--addr-file", addrFile)
	cmd.Env = append(os.Environ(), "PAYBACKEND_AS_CHILD=1")
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening http://127.0.0.1:") {
		t.Fatalf("first line %q, %v; stderr %s", line, err, stderr.String())
	}
	url := strings.TrimSpace(strings.TrimPrefix(line, "listening "))
	if data, _ := os.ReadFile(addrFile); strings.TrimSpace(string(data)) != url {
		t.Fatalf("addr file %q, want %q", data, url)
	}
	var demo api.DemoFile
	data, _ := os.ReadFile(demoPath)
	json.Unmarshal(data, &demo)
	key, _ := hex.DecodeString(demo.Terminal.Key)
	term, err := client.NewTerminal(url, demo.Terminal.ID, key)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := term.Health(ctx); err != nil {
		t.Fatal(err)
	}
	// The payer part of the demo file enrols and pays.
	enrol := func() api.EnrolResponse {
		req, _ := newBasic("POST", url+api.PathEnrol, demo.Payer.ID, demo.Payer.Password)
		var r api.EnrolResponse
		if err := doJSON(req, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	enr := enrol()
	code, _ := paycode.Generate(enr.Seed, paycode.KeyID(enr.KeyID), paycode.StepAt(time.Now()), 0)
	o, err := term.Pay(ctx, api.PayRequest{MerchantOrder: "child-1", Code: code, Amount: money.Amount{Minor: 100, Currency: "CNY"}})
	if err != nil || o.Status != api.StatusPaid {
		t.Fatalf("pay: %+v %v", o, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v; stderr %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), `"msg":"payment backend stopped"`) {
		t.Fatalf("logs: %s", stderr.String())
	}
	if strings.Contains(stderr.String(), code) {
		t.Fatal("a full code appears in the logs")
	}
	if code, out, _ := runCmd(t, "", "audit", "--db", db, "--json"); code != 0 || !strings.Contains(out, `"problems": []`) && !strings.Contains(out, `"problems": null`) {
		t.Fatalf("audit: %d %s", code, out)
	}
}
