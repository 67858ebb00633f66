package bundle

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for `paybackend serve`: with
// BUNDLE_FAKE_BACKEND set it listens where told, prints the ready line and
// serves /healthz until SIGTERM.
func TestMain(m *testing.M) {
	if os.Getenv("BUNDLE_FAKE_BACKEND") == "" {
		os.Exit(m.Run())
	}
	args := os.Args
	listen := ""
	for i, a := range args {
		if a == "--listen" && i+1 < len(args) {
			listen = args[i+1]
		}
	}
	if os.Getenv("BUNDLE_FAKE_BACKEND") == "fail" {
		fmt.Fprintln(os.Stderr, "cannot open database")
		os.Exit(3)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Printf("listening http://%s\n", ln.Addr())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "ok %d", os.Getpid())
	})}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		<-sig
		srv.Close()
	}()
	_ = srv.Serve(ln)
	os.Exit(0)
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func start(t *testing.T, mode string) (*Process, error) {
	t.Setenv("BUNDLE_FAKE_BACKEND", mode)
	return Start(context.Background(), Options{
		Command:      []string{os.Args[0]},
		DataDir:      t.TempDir(),
		ReadyTimeout: 10 * time.Second,
		Logger:       slog.New(slog.DiscardHandler),
	})
}

func TestStartRestartStop(t *testing.T) {
	p, err := start(t, "serve")
	if err != nil {
		t.Fatal(err)
	}
	url := p.URL()
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("URL %q", url)
	}
	first := get(t, url)
	pid := p.PID()
	if first != fmt.Sprintf("ok %d", pid) {
		t.Fatalf("answer %q from pid %d", first, pid)
	}

	// The backend dies: it is restarted on the same port.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for p.Starts() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("backend not restarted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if p.URL() != url {
		t.Fatalf("URL changed from %s to %s after restart", url, p.URL())
	}
	if got := get(t, url); got == first || !strings.HasPrefix(got, "ok ") {
		t.Fatalf("after restart the answer is %q (before %q)", got, first)
	}

	newPID := p.PID()
	if err := p.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(newPID, 0); err == nil {
		t.Fatalf("backend %d still running after Stop", newPID)
	}
}

func TestStartFailureIsExplained(t *testing.T) {
	_, err := start(t, "fail")
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "backend.log") {
		t.Fatalf("error = %v", err)
	}
}
