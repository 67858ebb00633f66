package journal

import (
	"errors"
	"strings"
	"testing"
)

func TestFullDiskChangesNothing(t *testing.T) {
	j, c, _ := newTest(t)
	// Fill the file's page limit: the next write fails with a real
	// SQLITE_FULL. max_page_count is a setting of the writer's connection.
	var pages int
	if err := j.w.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := j.w.Exec("PRAGMA max_page_count = " + itoa(pages)); err != nil {
		t.Fatal(err)
	}
	var err error
	var last Payment
	for i := 0; i < 10000; i++ {
		np := newPay(100, ModeOffline, c)
		np.Device = strings.Repeat("d", 250) // grow fast
		var p Payment
		if p, err = j.Create(ctx, np); err != nil {
			break
		}
		last = p
	}
	if !errors.Is(err, ErrStorage) {
		t.Fatalf("error = %v, want ErrStorage", err)
	}
	var se *StorageError
	if !errors.As(err, &se) || err.Error() != "The payment journal could not be written: the disk is full." {
		t.Fatalf("error text = %q", err)
	}
	before, _ := j.OfflineStats(ctx)
	var day string
	var seq int
	j.w.QueryRow("SELECT order_day, order_seq FROM terminal").Scan(&day, &seq)
	if got := (OrderNumber{"T01", day, seq}).String(); got != last.Order {
		t.Fatalf("counter moved by the failed write: %s, last order %s", got, last.Order)
	}
	// A failed state change leaves the record as it was.
	q, _ := j.Queue(ctx, 1)
	if len(q) == 0 {
		t.Fatal("nothing queued before the disk filled")
	}
	if _, err := j.Transition(ctx, q[0].Order, Change{To: StateCancelled, Reason: strings.Repeat("r", 20000)}); !errors.Is(err, ErrStorage) {
		t.Fatalf("Transition on a full disk: %v", err)
	}
	if p, _ := j.Get(ctx, q[0].Order); p.State != StateQueued || p.CodeMasked() {
		t.Fatalf("failed write changed the record: %+v", p)
	}
	after, _ := j.OfflineStats(ctx)
	if after.Count != before.Count {
		t.Fatalf("stats changed: %+v → %+v", before, after)
	}
	// Space comes back: writing works again.
	if _, err := j.w.Exec("PRAGMA max_page_count = 1000000"); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Create(ctx, newPay(100, ModeOffline, c)); err != nil {
		t.Fatalf("after freeing space: %v", err)
	}
	if err := j.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func TestReadOnlyJournal(t *testing.T) {
	j, c, path := newTest(t)
	p := mustCreate(t, j, newPay(100, ModeOffline, c))
	j.Close()

	opts := testOptions(c)
	opts.ReadOnly = true
	ro, err := Open(ctx, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if got, err := ro.Get(ctx, p.Order); err != nil || got.Amount != cny(100) {
		t.Fatalf("read: %+v, %v", got, err)
	}
	_, err = ro.Create(ctx, newPay(100, ModeOffline, c))
	if !errors.Is(err, ErrStorage) || err.Error() != "The payment journal could not be written: the journal file is read-only." {
		t.Fatalf("Create on a read-only journal: %v", err)
	}
	if err := ro.Check(ctx); !errors.Is(err, ErrStorage) {
		t.Fatalf("Check on a read-only journal: %v", err)
	}

	// query_only on the writer connection: the same refusal.
	j2 := openTest(t, path, c)
	if _, err := j2.w.Exec("PRAGMA query_only = ON"); err != nil {
		t.Fatal(err)
	}
	if _, err := j2.Transition(ctx, p.Order, Change{To: StateForwarding}); !errors.Is(err, ErrStorage) {
		t.Fatalf("Transition on a query_only journal: %v", err)
	}
	if got, _ := j2.Get(ctx, p.Order); got.State != StateQueued {
		t.Fatalf("state = %s", got.State)
	}
}

func TestDamagedFile(t *testing.T) {
	path := t.TempDir() + "/journal.db"
	if err := writeFile(path, strings.Repeat("not a database ", 500)); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, path, testOptions(newClock(fixedNow)))
	if !errors.Is(err, ErrStorage) || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("Open of a damaged file: %v", err)
	}
}
