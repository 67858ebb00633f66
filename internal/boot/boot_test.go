package boot

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tillpay/backend/backendcli"
	"tillpay/backend/client"
	"tillpay/config"
	"tillpay/internal/lockedbuf"
	"tillpay/wallet"
)

// asBackend makes the test binary play `paybackend` (serve, demo-setup),
// so that a till can bundle the real backend in a test.
const asBackend = "TILLPAY_BOOT_TEST_PAYBACKEND"

func TestMain(m *testing.M) {
	if os.Getenv(asBackend) == "1" {
		os.Exit(backendcli.Main(context.Background(), os.Args[1:]))
	}
	os.Exit(m.Run())
}

// TestDemoWalletFollowsBundledBackend starts a till with the bundled
// backend twice on one data directory: the second start points the demo
// wallet, enrolled on the first, at the backend's new address.
func TestDemoWalletFollowsBundledBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the bundled backend twice (seconds with -race); TestRepointWallet covers the logic")
	}
	t.Setenv(asBackend, "1")
	ctx := context.Background()
	var logs lockedbuf.Buffer
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "till")
	opt := Options{Config: cfg, BackendCommand: []string{os.Args[0]}, Logger: slog.New(slog.NewTextHandler(&logs, nil))}

	st, err := Start(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	walletPath := st.WalletPath
	w, err := wallet.Open(walletPath)
	st.Close()
	if err != nil {
		t.Fatalf("demo wallet: %v", err)
	}
	if got := w.State().BackendURL; got != st.BackendURL {
		t.Fatalf("demo wallet enrolled at %s, backend at %s", got, st.BackendURL)
	}
	// The backend is gone; its port may be reused by the next one, so make
	// the wallet's address certainly stale.
	const dead = "http://127.0.0.1:1"
	if _, err := w.SetBackendURL(dead); err != nil {
		t.Fatal(err)
	}
	enrolled := w.State()

	st, err = Start(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w, err = wallet.Open(walletPath)
	if err != nil {
		t.Fatal(err)
	}
	now := w.State()
	if now.BackendURL != st.BackendURL {
		t.Errorf("after a restart the demo wallet uses %s, the backend is at %s", now.BackendURL, st.BackendURL)
	}
	if now.KeyID != enrolled.KeyID || !bytes.Equal(now.Seed, enrolled.Seed) {
		t.Error("the demo wallet was enrolled again")
	}
	if out := logs.String(); !strings.Contains(out, "level=INFO") || !strings.Contains(out, "demo wallet now uses the bundled backend's address") ||
		!strings.Contains(out, "was="+dead) {
		t.Errorf("log:\n%s", out)
	}
	// The wallet reaches the backend with its enrolment.
	p, err := client.NewPayer(now.BackendURL, now.PayerID, now.Password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Balance(ctx); err != nil {
		t.Errorf("the demo wallet cannot reach its backend: %v", err)
	}
}

func TestRepointWallet(t *testing.T) {
	path := filepath.Join(t.TempDir(), WalletFile)
	st := wallet.State{Version: wallet.StateVersion, BackendURL: "http://127.0.0.1:40001", PayerID: "demo-payer",
		Password: "pw", KeyID: 1234567, Seed: bytes.Repeat([]byte{3}, 32)}
	if err := wallet.SaveState(path, st); err != nil {
		t.Fatal(err)
	}
	var logs lockedbuf.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	if err := repointWallet(path, "http://127.0.0.1:40002", log); err != nil {
		t.Fatal(err)
	}
	got, err := wallet.LoadState(path)
	if err != nil || got.BackendURL != "http://127.0.0.1:40002" || got.KeyID != st.KeyID {
		t.Fatalf("after repointing: %+v, %v", got, err)
	}
	if out := logs.String(); !strings.Contains(out, "level=INFO") || !strings.Contains(out, "was=http://127.0.0.1:40001") {
		t.Errorf("log: %q", out)
	}
	// The same address again: nothing to say.
	logs.Reset()
	if err := repointWallet(path, "http://127.0.0.1:40002", log); err != nil || logs.String() != "" {
		t.Errorf("same address: %v, log %q", err, logs.String())
	}
	// A damaged wallet or a bad address is an error and changes nothing.
	before, _ := os.ReadFile(path)
	if err := repointWallet(path, "127.0.0.1:40003", log); err == nil {
		t.Error("a bad address was taken")
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("a refused address changed the wallet")
	}
	if err := repointWallet(filepath.Join(t.TempDir(), "none.json"), "http://127.0.0.1:40002", log); err == nil {
		t.Error("a missing wallet was repointed")
	}
}
