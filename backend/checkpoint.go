package backend

import (
	"context"
	"time"
)

// checkpointEvery is the shortest time between two checkpoints.
const checkpointEvery = 50 * time.Millisecond

// restartFrames is the length of the log (in frames of one page) from
// which the writer itself finishes a checkpoint, so that the log starts
// again from its beginning instead of growing (about 4 MiB). A short log
// is cheaper to sync, not only smaller: once it has started again, its
// frames overwrite blocks the file already has, and fdatasync then has
// only data to write, where an append also commits the file's new size
// and extents to the file system's journal. Under sustained load the log
// reaches this length about every checkpointEvery, so that nearly all
// its writes overwrite.
const restartFrames = 1024

// checkpointer copies the WAL into the database file. SQLite would do it
// inside a writer's COMMIT (every 1,000 pages), stalling all writes for two
// fsyncs; here a PASSIVE checkpoint runs on its own connection beside the
// writer, nudged by the syncer after each fsync and at most once per
// checkpointEvery. It syncs the log before copying and the database after
// (synchronous=NORMAL), so a checkpoint never loses a durable commit. The
// writer's next transaction starts the log again from its beginning once
// all of it is copied; but a checkpoint beside a busy writer never copies
// all of it, so once the log is long the checkpointer asks the writer to
// finish the copy itself between two groups (see restartLog).
func (w *writer) checkpointer(done chan struct{}) {
	defer close(done)
	ctx := context.Background()
	last := time.Time{}
	for {
		select {
		case <-w.ckptNudge:
		case <-w.ckptStop:
			return
		}
		if wait := checkpointEvery - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-w.ckptStop:
				t.Stop()
				return
			}
		}
		last = time.Now()
		var busy, logFrames, copied int64
		err := w.st.ckpt.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &copied)
		if err != nil {
			w.log.Error("checkpoint failed", "err", err)
			continue
		}
		if logFrames >= restartFrames {
			w.restart.Store(true)
		}
	}
}

// restartLog runs in the writer between groups when asked: a checkpoint
// with no write beside it copies the rest of the log (little, after the
// checkpointer's work), so that the next transaction starts the log again.
func (w *writer) restartLog() {
	if !w.restart.CompareAndSwap(true, false) {
		return
	}
	var busy, logFrames, copied int64
	if err := w.st.wdb.QueryRow("PRAGMA wal_checkpoint(PASSIVE)", nil, &busy, &logFrames, &copied); err != nil {
		w.log.Error("checkpoint failed", "err", err)
	}
}

// nudgeCheckpointer asks for a checkpoint soon.
func (w *writer) nudgeCheckpointer() {
	select {
	case w.ckptNudge <- struct{}{}:
	default:
	}
}
