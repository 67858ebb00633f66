package serial

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/creack/pty"

	"tillpay/scanner"
)

// newPty opens a pseudo-terminal and returns its master end (the scan
// gun's side) and the path of its slave end (the port the driver opens).
func newPty(t testing.TB) (*os.File, string) {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	name := slave.Name()
	// The driver opens the slave by path; this descriptor is not needed.
	slave.Close()
	t.Cleanup(func() { master.Close() })
	return master, name
}

func mustAddr(t testing.TB, s string) scanner.Address {
	t.Helper()
	a, err := scanner.ParseAddress(s)
	if err != nil {
		t.Fatalf("ParseAddress(%q): %v", s, err)
	}
	return a
}

func openSource(t testing.TB, d *Driver, addr string) scanner.Source {
	t.Helper()
	src, err := d.Open(context.Background(), mustAddr(t, addr))
	if err != nil {
		t.Fatalf("Open(%q): %v", addr, err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// readN reads chunks until n bytes have arrived, failing on any error or
// after a deadline.
func readN(t testing.TB, src scanner.Source, n int) ([]byte, []scanner.Chunk) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got []byte
	var chunks []scanner.Chunk
	for len(got) < n {
		c, err := src.Next(ctx)
		if err != nil {
			t.Fatalf("Next after %d of %d bytes: %v", len(got), n, err)
		}
		got = append(got, c.Data...)
		chunks = append(chunks, c)
	}
	return got, chunks
}

// nextErr waits for Next to fail and returns the error.
func nextErr(t testing.TB, src scanner.Source) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		c, err := src.Next(ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatal("Next did not fail within 5s")
			}
			return err
		}
		t.Logf("bytes before the error: %q", c.Data)
	}
}

// linkTo points the symlink at link to target, atomically, as udev does
// with a /dev/serial/by-id link when a device comes back.
func linkTo(t testing.TB, link, target string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(link), ".link.tmp")
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
}

// waitGoroutines waits until at most n goroutines run.
func waitGoroutines(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d, want <= %d\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func runtimeGoroutines() int { return runtime.NumGoroutine() }
