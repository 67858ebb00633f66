package backend

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"os"
	"testing"
)

// walRestarts reads the checkpoint sequence number from the WAL file's
// header (bytes 12–15, big-endian; SQLite's file format, section 4.1):
// SQLite adds one each time the log starts again from its beginning.
func walRestarts(t *testing.T, path string) uint32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var hdr [32]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		t.Fatalf("reading the log's header: %v", err)
	}
	return binary.BigEndian.Uint32(hdr[12:16])
}

// TestLogStartsAgain writes until the log has started again from its
// beginning three times, and checks that it never grew far past
// restartFrames: the checkpointer copies it and the writer starts it
// again, rather than appending to it for ever.
func TestLogStartsAgain(t *testing.T) {
	e := newEnv(t)
	wal := e.svc.st.path + "-wal"
	var pageSize int64
	if err := e.svc.readRow(e.ctx, "PRAGMA page_size", nil, &pageSize); err != nil {
		t.Fatal(err)
	}
	// A frame is a 24-byte header and a page; the log starts with a
	// 32-byte header. The writer is asked to start the log again at the
	// first checkpoint that finds restartFrames or more, and checkpoints
	// run every checkpointEvery: the log outgrows restartFrames by what
	// is written in between, far less than three times as much here.
	limit := 32 + 4*restartFrames*(24+pageSize)
	value := make([]byte, 32<<10) // about 9 pages a commit
	first := walRestarts(t, wal)
	var largest int64
	const maxCommits = 5000 // ~45,000 frames: 11 times restartFrames
	commits := 0
	for ; walRestarts(t, wal)-first < 3; commits++ {
		if commits == maxCommits {
			t.Fatalf("the log started again %d times in %d commits; it is %d bytes",
				walRestarts(t, wal)-first, commits, largest)
		}
		rand.Read(value)
		if _, err := e.svc.w.do1(e.ctx, func(tx *txn) (any, error) {
			return tx.exec("INSERT OR REPLACE INTO meta(key, value) VALUES ('log-test', ?)", value)
		}); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(wal)
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, fi.Size())
	}
	t.Logf("%d commits; the log reached %d bytes (%d frames)", commits, largest, (largest-32)/(24+pageSize))
	if largest > limit {
		t.Errorf("the log grew to %d bytes, more than %d (4 × %d frames)", largest, limit, restartFrames)
	}
	var got []byte
	if err := e.svc.readRow(e.ctx, "SELECT value FROM meta WHERE key = 'log-test'", nil, &got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, value) {
		t.Error("the last value written is not the one read back")
	}
}

// TestWriterSettings checks that the writer's own connection runs with the
// settings durability and integrity rest on (see pragmas).
func TestWriterSettings(t *testing.T) {
	e := newEnv(t)
	want := map[string]string{"journal_mode": "wal", "synchronous": "1", "wal_autocheckpoint": "0",
		"foreign_keys": "1", "query_only": "0"}
	for name, v := range want {
		got, err := e.svc.w.do1(e.ctx, func(tx *txn) (any, error) {
			var s string
			return s, tx.row("PRAGMA "+name, nil, &s)
		})
		if err != nil || got != v {
			t.Errorf("the writer's %s is %v (%v), want %s", name, got, err, v)
		}
	}
}
