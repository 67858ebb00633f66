package backend

import (
	"database/sql"
	"reflect"
	"strings"
	"testing"

	"tillpay/backend/api"
)

// A database whose outbox still marks inbox delivery per row (an earlier
// layout) is brought to the mark in meta: what was delivered is not
// delivered again, what was pending is, and the flag and its index go.
func TestMigrateInboxFlag(t *testing.T) {
	e := newEnv(t)
	nia := e.payer("nia", 10_000)
	e.svc.Close()
	path := e.dbDir + "/backend.db"
	rewrite(t, path, append(oldInbox, []string{
		"DELETE FROM meta WHERE key = 'inbox_delivered'",
		"DELETE FROM outbox",
		"ALTER TABLE outbox ADD COLUMN inbox_done INTEGER NOT NULL DEFAULT 0",
		"CREATE INDEX outbox_inbox ON outbox(id) WHERE inbox_done = 0",
		`INSERT INTO outbox(id, payer, body, created, hook_done, inbox_done) VALUES
			(1, 'nia', '{"id":1}', 0, 1, 1), (2, 'nia', '{"id":2}', 0, 1, 1),
			(3, 'nia', '{"id":3}', 0, 1, 0), (4, 'nia', '{"id":4}', 0, 1, 0)`,
		`INSERT INTO inbox(id, payer, body) VALUES (1, 'nia', '{"id":1}'), (2, 'nia', '{"id":2}')`,
	}...)...)

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

// rewrite runs statements on the database file at path, with no backend
// open, to give it the layout of an earlier version.
func rewrite(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// oldInbox turns the inbox into the layout of versions that copied each
// notification's body into it.
var oldInbox = []string{
	"DROP TABLE inbox",
	"CREATE TABLE inbox (id INTEGER PRIMARY KEY, payer TEXT NOT NULL, body TEXT NOT NULL)",
	"CREATE INDEX inbox_payer ON inbox(payer, id)",
}

// inboxLayout describes the inbox table as SQLite has it: its columns,
// whether it has rowids, and each index's origin, uniqueness and columns.
func inboxLayout(t *testing.T, db *sql.DB) string {
	t.Helper()
	var out []string
	query := func(q string) {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			out = append(out, line)
		}
	}
	query(`SELECT 'column ' || name || ' ' || type || ' notnull=' || "notnull" || ' pk=' || pk
		FROM pragma_table_info('inbox') ORDER BY cid`)
	query(`SELECT 'without rowid ' || (sql LIKE '%WITHOUT ROWID') FROM sqlite_schema WHERE type = 'table' AND name = 'inbox'`)
	query(`SELECT 'index ' || l.origin || ' unique=' || l."unique" || ' on ' ||
		(SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info(l.name) ORDER BY seqno))
		FROM pragma_index_list('inbox') l ORDER BY 1`)
	return strings.Join(out, "\n")
}

// A database whose inbox holds copies of the notifications' bodies (an
// earlier layout) is brought to an inbox of references: each payer sees the
// same notifications as before, new deliveries work, and opening it again
// changes nothing.
func TestMigrateInboxByReference(t *testing.T) {
	e := newEnv(t)
	ana := e.payer("ana", 10_000)
	bo := e.payer("bo", 10_000)
	wantStatus(t, e.pay("m-1", e.code(ana), 100), "paid", "")
	wantStatus(t, e.pay("m-2", e.code(bo), 200), "paid", "")
	wantStatus(t, e.pay("m-3", e.code(ana), 300), "paid", "")
	if err := e.svc.Deliver(e.ctx); err != nil {
		t.Fatal(err)
	}
	before := map[string]api.InboxResponse{}
	for _, p := range []string{ana.id, bo.id} {
		r, err := e.svc.Inbox(e.ctx, p, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		before[p] = r
	}
	if len(before[ana.id].Notifications) != 2 || len(before[bo.id].Notifications) != 1 {
		t.Fatalf("inboxes before: %+v", before)
	}
	current := inboxLayout(t, e.svc.st.read)
	e.svc.Close()

	path := e.dbDir + "/backend.db"
	rewrite(t, path, append(oldInbox, "INSERT INTO inbox(id, payer, body) SELECT id, payer, body FROM outbox")...)

	svc, err := Open(e.ctx, path, e.key, WithClock(e.clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { svc.Close() }()
	if got := inboxLayout(t, svc.st.read); got != current {
		t.Fatalf("inbox after migration:\n%s\nwant:\n%s", got, current)
	}
	for p, want := range before {
		got, err := svc.Inbox(e.ctx, p, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s's inbox after migration %+v, want %+v", p, got, want)
		}
	}
	// A notification written after is delivered by reference.
	svc.Close()
	if svc, err = Open(e.ctx, path, e.key, WithClock(e.clk.Now)); err != nil {
		t.Fatal(err)
	}
	term, err := svc.terminal(e.ctx, e.tc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if o, err := svc.Pay(e.ctx, term, api.PayRequest{MerchantOrder: "m-4", Code: e.code(bo), Amount: cny(400)}); err != nil || o.Status != api.StatusPaid {
		t.Fatalf("payment after migration: %+v (%v)", o, err)
	}
	if err := svc.Deliver(e.ctx); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Inbox(e.ctx, bo.id, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Notifications) != 2 || got.Notifications[1].Amount != cny(400) {
		t.Fatalf("bo's inbox after a new payment: %+v", got)
	}
}

// An inbox copy that does not match its outbox row (a body changed by hand,
// or an outbox row gone) is not migrated: Open fails and says why, and the
// database keeps its earlier layout and rows.
func TestMigrateInboxByReferenceRefusesMismatch(t *testing.T) {
	e := newEnv(t)
	ana := e.payer("ana", 10_000)
	wantStatus(t, e.pay("x-1", e.code(ana), 100), "paid", "")
	e.svc.Close()
	path := e.dbDir + "/backend.db"
	rewrite(t, path, append(oldInbox,
		"INSERT INTO inbox(id, payer, body) SELECT id, payer, body FROM outbox",
		`INSERT INTO inbox(id, payer, body) VALUES (9999, 'ana', '{"kind":"debit"}')`)...)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	old := inboxLayout(t, db)
	if _, err := Open(e.ctx, path, e.key, WithClock(e.clk.Now)); err == nil || !strings.Contains(err.Error(), "1 rows cannot be carried over") {
		t.Fatalf("Open: %v, want a refused migration", err)
	}
	if got := inboxLayout(t, db); got != old {
		t.Fatalf("layout after the refused migration:\n%s\nwant:\n%s", got, old)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM inbox WHERE body <> ''").Scan(&n); err != nil || n != 2 {
		t.Fatalf("inbox rows with bodies after the refused migration: %d (%v), want 2", n, err)
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
