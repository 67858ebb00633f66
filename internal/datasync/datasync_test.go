package datasync

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func tempFile(t testing.TB) *os.File {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(t.TempDir(), "log"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestSyncKeepsData syncs a growing file many times, from several
// goroutines at once, and reads back what was written.
func TestSyncKeepsData(t *testing.T) {
	f := tempFile(t)
	s := Open(f)
	defer s.Close()
	aio := s.Parks()
	if runtime.GOOS == "linux" && !aio {
		t.Log("this kernel refuses Linux AIO: syncs are plain calls")
	}
	page := bytes.Repeat([]byte{0xA5}, 4096)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	var mu sync.Mutex
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				mu.Lock()
				_, err := f.Write(page)
				mu.Unlock()
				if err == nil {
					err = s.SyncParked()
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != 8*25*4096 {
		t.Fatalf("size %d, want %d", fi.Size(), 8*25*4096)
	}
	if aio && !s.Parks() {
		t.Error("a regular file's syncs fell back to plain calls")
	}
}

// TestSyncReportsFailure syncs what cannot be synced (a pipe): the error
// names the system call and the file and carries the kernel's errno.
func TestSyncReportsFailure(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("fdatasync of a pipe is Linux behaviour")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	s := Open(w)
	defer s.Close()
	for _, sync := range []func() error{s.SyncParked, s.SyncParked, s.Sync} {
		err := sync() // the second time without the asynchronous way
		var pe *os.PathError
		if !errors.As(err, &pe) || pe.Op != "fdatasync" || pe.Path != w.Name() {
			t.Fatalf("Sync of a pipe: %v, want a *PathError for fdatasync of %s", err, w.Name())
		}
		if !errors.Is(err, syscall.EINVAL) {
			t.Fatalf("Sync of a pipe: %v, want EINVAL", err)
		}
	}
	if s.Parks() {
		t.Error("still asynchronous after the kernel refused it for this file")
	}
}

// TestCloseKeepsSyncing: after Close the file itself stays open and Sync
// makes plain calls.
func TestCloseKeepsSyncing(t *testing.T) {
	f := tempFile(t)
	s := Open(f)
	if _, err := f.Write([]byte("before")); err != nil {
		t.Fatal(err)
	}
	if err := s.SyncParked(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.Parks() {
		t.Error("asynchronous after Close")
	}
	if _, err := f.Write([]byte(" after")); err != nil {
		t.Fatalf("the file was closed with the syncer: %v", err)
	}
	if err := s.SyncParked(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil || string(got) != "before after" {
		t.Fatalf("file holds %q (%v)", got, err)
	}
}

// BenchmarkSync measures a 4 KiB write and its sync, plain and parked,
// while as many goroutines as processors hash 4 KiB pieces beside it,
// yielding between pieces as request handlers do between requests.
// pieces/ms is how much they got done meanwhile: a plain fdatasync keeps
// its processor for the whole call. ns/op is how long a write and its sync
// took: a parked sync waits for the kernel's worker and for a processor.
func BenchmarkSync(b *testing.B) {
	for _, kind := range []string{"plain", "parked"} {
		b.Run(kind, func(b *testing.B) {
			f := tempFile(b)
			s := Open(f)
			defer s.Close()
			syncData := s.Sync
			if kind == "parked" {
				if !s.Parks() {
					b.Skip("Linux AIO is not available")
				}
				syncData = s.SyncParked
			}
			var stop atomic.Bool
			var pieces atomic.Int64
			var wg sync.WaitGroup
			for range runtime.GOMAXPROCS(0) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]byte, 4096)
					for !stop.Load() {
						sum := sha256.Sum256(buf)
						buf[0] = sum[0]
						pieces.Add(1)
						runtime.Gosched()
					}
				}()
			}
			page := bytes.Repeat([]byte{1}, 4096)
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if _, err := f.Write(page); err != nil {
					b.Fatal(err)
				}
				if err := syncData(); err != nil {
					b.Fatal(err)
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			stop.Store(true)
			wg.Wait()
			b.ReportMetric(float64(pieces.Load())/float64(elapsed.Milliseconds()+1), "pieces/ms")
		})
	}
}
