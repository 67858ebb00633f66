// Package datasync makes a file's data durable (fdatasync) without keeping
// a processor of the Go runtime while the disk works.
//
// A plain fdatasync is a blocking system call: the goroutine's thread keeps
// its processor (P) for the whole call, until the runtime's monitor notices
// and hands the processor to another thread, which on a busy server it does
// only after a tick that grows to milliseconds. On a machine with two
// processors, a database's log sync of 0.3 ms then leaves half the machine
// unused for most of the sync. On Linux, File.SyncParked submits the sync
// asynchronously instead (Linux AIO, IOCB_CMD_FDSYNC, which the kernel runs
// on a worker thread) and waits for its completion parked: the processor
// runs other goroutines meanwhile. Where that is not available (other
// systems, or a kernel or file that refuses it), it makes the plain call.
//
// Parking is not free: the kernel's worker must be scheduled, and a busy
// Go runtime notices the completion later than a returning system call.
// When the processors have time to spare, the plain call (File.Sync) ends
// sooner; SyncParked pays when they are all busy.
package datasync

import (
	"errors"
	"os"
	"sync"
)

// File syncs the data of one open file. Its methods are safe for concurrent
// use; syncs are made one at a time.
type File struct {
	f  *os.File
	mu sync.Mutex
	a  *aio // nil: plain calls
}

// Open returns a syncer for f, which must stay open until Close. It never
// fails: without the asynchronous way it makes plain calls.
func Open(f *os.File) *File {
	return &File{f: f, a: openAIO(f)}
}

// Parks reports whether SyncParked submits syncs asynchronously.
func (s *File) Parks() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.a != nil
}

// Sync makes the file's data durable with a plain fdatasync (fsync where
// there is none): everything written to it before the call is on stable
// storage when it returns nil. An error is an *os.PathError from the file
// system (EIO, ENOSPC…).
func (s *File) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return pathError(s.f, plainSync(s.f))
}

// SyncParked is Sync with the goroutine parked, not blocked in a system
// call, while the kernel syncs, where the system allows it.
func (s *File) SyncParked() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.a != nil {
		err, ok := s.a.sync()
		if ok {
			return pathError(s.f, err)
		}
		// The asynchronous way failed before the kernel took the sync (or
		// is not supported for this file): make the plain call, which
		// reports the file's own errors, and keep to it from now on.
		if errors.Is(err, errUnsupported) {
			s.a.close()
			s.a = nil
		}
	}
	return pathError(s.f, plainSync(s.f))
}

// Close releases what Open set up, after any sync in flight; the file itself
// stays open, and later syncs are plain calls.
func (s *File) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.a == nil {
		return nil
	}
	err := s.a.close()
	s.a = nil
	return err
}

// errUnsupported marks an asynchronous sync the kernel refused for good.
var errUnsupported = errors.New("asynchronous fdatasync not supported")

func pathError(f *os.File, err error) error {
	if err == nil {
		return nil
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return err
	}
	return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
}
