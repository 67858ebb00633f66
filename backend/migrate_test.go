package backend

import (
	"database/sql"
	"strings"
	"testing"
)

// A database whose outbox still marks inbox delivery per row (an earlier
// layout) is brought to the mark in meta: what was delivered is not
// delivered again, what was pending is, and the flag and its index go.
func TestMigrateInboxFlag(t *testing.T) {
	e := newEnv(t)
	nia := e.payer("nia", 10_000)
	e.svc.Close()
	path := e.dbDir + "/backend.db"
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"DELETE FROM meta WHERE key = 'inbox_delivered'",
		"DELETE FROM outbox",
		"DELETE FROM inbox",
		"ALTER TABLE outbox ADD COLUMN inbox_done INTEGER NOT NULL DEFAULT 0",
		"CREATE INDEX outbox_inbox ON outbox(id) WHERE inbox_done = 0",
		`INSERT INTO outbox(id, payer, body, created, hook_done, inbox_done) VALUES
			(1, 'nia', '{"id":1}', 0, 1, 1), (2, 'nia', '{"id":2}', 0, 1, 1),
			(3, 'nia', '{"id":3}', 0, 1, 0), (4, 'nia', '{"id":4}', 0, 1, 0)`,
		`INSERT INTO inbox(id, payer, body) VALUES (1, 'nia', '{"id":1}'), (2, 'nia', '{"id":2}')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	svc, err := Open(e.ctx, path, e.key, WithClock(e.clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	var mark int64
	if err := svc.st.read.QueryRow(deliverMark).Scan(&mark); err != nil || mark != 2 {
		t.Fatalf("inbox mark %d (%v), want 2", mark, err)
	}
	var left int
	svc.st.read.QueryRow(`SELECT (SELECT COUNT(*) FROM pragma_table_info('outbox') WHERE name = 'inbox_done')
		+ (SELECT COUNT(*) FROM sqlite_schema WHERE name = 'outbox_inbox')`).Scan(&left)
	if left != 0 {
		t.Fatal("the per-row flag or its index is still there")
	}
	if err := svc.Deliver(e.ctx); err != nil {
		t.Fatal(err)
	}
	inbox, err := svc.Inbox(e.ctx, nia.id, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(inbox.Notifications) != 4 {
		t.Fatalf("inbox holds %d notifications, want 4 (each once)", len(inbox.Notifications))
	}
	for i, n := range inbox.Notifications {
		if n.ID != int64(i+1) {
			t.Fatalf("inbox %+v", inbox.Notifications)
		}
	}
	// Opening again changes nothing more.
	svc.Close()
	if svc, err = Open(e.ctx, path, e.key, WithClock(e.clk.Now)); err != nil {
		t.Fatal(err)
	}
	if err := svc.st.read.QueryRow(deliverMark).Scan(&mark); err != nil || mark != 4 {
		t.Fatalf("inbox mark after delivery %d (%v), want 4", mark, err)
	}
}

// A notification is written with its webhook state settled: done from the
// start for a payer without a webhook, pending for one with a webhook,
// before any notifier pass.
func TestOutboxHookState(t *testing.T) {
	e := newEnv(t)
	plain := e.payer("pia", 10_000)
	hooked := e.payer("hal", 10_000, func(p *NewPayer) { p.Webhook = "http://127.0.0.1:1/hook" })
	wantStatus(t, e.pay("h-1", e.code(plain), 100), "paid", "")
	wantStatus(t, e.pay("h-2", e.code(hooked), 100), "paid", "")
	if _, err := e.term.Refund(e.ctx, "h-1", "hr-1", cny(50)); err != nil {
		t.Fatal(err)
	}
	rows, err := e.svc.st.read.Query("SELECT payer, hook_done FROM outbox ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var payer string
		var done int
		rows.Scan(&payer, &done)
		got = append(got, payer+"="+itoa(done))
	}
	if want := "pia=1 hal=0 pia=1"; strings.Join(got, " ") != want {
		t.Fatalf("outbox hook state %v, want %s", got, want)
	}
}

// A database whose payers table has rowids (made before payers were keyed
// by id alone) keeps it and works the same.
func TestPayersRowidLayout(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", dir+"/backend.db")
	if err != nil {
		t.Fatal(err)
	}
	// The payers table as the schema has it, with rowids.
	start := strings.Index(schema, "CREATE TABLE IF NOT EXISTS payers (")
	end := strings.Index(schema[start:], ") WITHOUT ROWID;")
	if start < 0 || end < 0 {
		t.Fatal("no payers table keyed by id alone in the schema")
	}
	if _, err := db.Exec(schema[start:start+end+1] + ";"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	e := newEnvIn(t, dir)
	var withoutRowid int
	e.svc.st.read.QueryRow("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'payers' AND sql LIKE '%WITHOUT ROWID%'").Scan(&withoutRowid)
	if withoutRowid != 0 {
		t.Fatal("the payers table was rebuilt")
	}
	w := e.payer("ria", 5_000)
	wantStatus(t, e.pay("r-1", e.code(w), 1_200), "paid", "")
	bal, err := e.svc.Balance(e.ctx, "ria")
	if err != nil || bal.Balance != cny(3_800) {
		t.Fatalf("balance %+v (%v)", bal, err)
	}
}
