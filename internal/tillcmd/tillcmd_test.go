package tillcmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tillpay/config"
	"tillpay/internal/boot"
	"tillpay/money"
	"tillpay/sync/journal"
)

func TestFlagsOverrideTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tillpay.toml")
	os.WriteFile(path, []byte("backend = \"http://127.0.0.1:1\"\nscanners = [\"sim:stdin\"]\n[offline]\nmode = \"force-offline\"\n"), 0o600)
	var o tillOptions
	fs := tillFlags(Env{Stderr: &bytes.Buffer{}}, &o)
	if err := fs.Parse([]string{"--config", path, "--scanner", "serial:/dev/ttyACM0", "--scanner", "hid:0c2e:0b61", "--fixed-amount", "2"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := o.config(fs)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Backend != "http://127.0.0.1:1" || cfg.Offline.Mode != config.ForceOffline {
		t.Fatalf("file values lost: %+v", cfg)
	}
	if len(cfg.Scanners) != 2 || cfg.Scanners[0] != "serial:/dev/ttyACM0" || cfg.Payment.FixedAmount != "2" {
		t.Fatalf("flags did not win: %+v", cfg)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--offline-mode", "sometimes"},
		{"--fixed-amount", "0"},
		{"--backend", "ftp://x"},
		{"--no-such-flag"},
		{"frobnicate"},
		{"scan-test"},
		{"report", "--day", "yesterday"},
	} {
		var out, errb bytes.Buffer
		code := Run(context.Background(), append(args, "--config", filepath.Join(t.TempDir(), "none.toml")), Env{Stdout: &out, Stderr: &errb})
		if args[0] == "report" || args[0] == "scan-test" {
			code = Run(context.Background(), args, Env{Stdout: &out, Stderr: &errb})
		}
		if code != 2 || errb.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", args, code, errb.String())
		}
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	if code := Run(context.Background(), []string{"help"}, Env{Stdout: &out, Stderr: &out}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"scan-test", "report --day", "-headless", "-scanner"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestReport(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	j, err := journal.Open(ctx, filepath.Join(dir, boot.JournalFile), journal.Options{TerminalID: "t-1", TerminalKey: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, minor := range []int64{1250, 300} {
		p, err := j.Create(ctx, journal.NewPayment{Amount: money.Amount{Minor: minor, Currency: "CNY"}, Code: "711234567890123456", ScanTime: now, Mode: journal.ModeOffline})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if _, _, err := j.BeginForward(ctx, 1); err != nil {
				t.Fatal(err)
			}
			if _, err := j.Transition(ctx, p.Order, journal.Change{To: journal.StateSettled}); err != nil {
				t.Fatal(err)
			}
		}
	}
	j.Close()
	day := now.Format("2006-01-02")
	var out, errb bytes.Buffer
	// The report checks each record's seal with the terminal's key.
	keyFile := filepath.Join(dir, "terminal.key")
	os.WriteFile(keyFile, []byte(strings.Repeat("07", 32)), 0o600)
	cfgPath := filepath.Join(dir, "tillpay.toml")
	os.WriteFile(cfgPath, []byte("terminal_id = \"t-1\"\nterminal_key_file = \""+keyFile+"\"\n"), 0o600)
	if code := Run(ctx, []string{"report", "--day", day, "--data-dir", dir, "--config", cfgPath}, Env{Stdout: &out, Stderr: &errb}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	text := out.String()
	for _, want := range []string{"settled", "12.50", "queued", "3.00", "net takings: 12.50 CNY", "2 payments"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	out.Reset()
	if code := Run(ctx, []string{"report", "--day", day, "--data-dir", dir, "--config", cfgPath, "--csv"}, Env{Stdout: &out, Stderr: &errb}); code != 0 {
		t.Fatalf("csv exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "1250") && !strings.Contains(out.String(), "12.50") {
		t.Errorf("CSV lacks the amount:\n%s", out.String())
	}
	// No journal: a clear error.
	errb.Reset()
	if code := Run(ctx, []string{"report", "--data-dir", t.TempDir(), "--config", cfgPath}, Env{Stdout: &out, Stderr: &errb}); code != 1 || !strings.Contains(errb.String(), "no journal") {
		t.Fatalf("exit %d, %q", code, errb.String())
	}
}
