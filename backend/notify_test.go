package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/paycode"
)

func TestNotifications(t *testing.T) {
	var mu sync.Mutex
	var got []api.Notification
	var ids []string
	fails := 2
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 { // the receiver is down at first: retried with backoff
			fails--
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var n api.Notification
		body, _ := io.ReadAll(r.Body)
		json.Unmarshal(body, &n)
		got = append(got, n)
		ids = append(ids, r.Header.Get(NotificationHeader))
	}))
	defer hook.Close()
	e := newEnv(t, WithWebhooks(hook.Client(), time.Millisecond, 5*time.Millisecond, 10),
		WithNotifyInterval(5*time.Millisecond))
	e.svc.Start()
	w := e.payer("nia", 10_000, func(p *NewPayer) { p.Webhook = hook.URL })
	code := e.code(w)
	wantStatus(t, e.pay("n-1", code, 1_200), api.StatusPaid, "")
	if _, err := e.term.Refund(e.ctx, "n-1", "nr-1", cny(200)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var inbox api.InboxResponse
	for {
		e.payerCall(w, http.MethodGet, api.PathInbox+"?after=0", nil, &inbox)
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if len(inbox.Notifications) == 2 && n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("inbox %d, webhook %d", len(inbox.Notifications), n)
		}
		time.Sleep(5 * time.Millisecond)
		e.clk.Advance(10 * time.Millisecond) // retries are due on the service's clock
	}
	c, _ := parseCode(code)
	debit := inbox.Notifications[0]
	if debit.Kind != "debit" || debit.Amount != cny(1_200) || debit.Balance != cny(8_800) ||
		debit.Merchant != "Corner Shop" || debit.Order != "shop/n-1" || debit.KeyID != uint32(c.KeyID) || debit.Counter == 0 || debit.ID == 0 {
		t.Fatalf("debit notification %+v", debit)
	}
	refund := inbox.Notifications[1]
	if refund.Kind != "refund" || refund.Amount != cny(200) || refund.Balance != cny(9_000) || refund.ID <= debit.ID {
		t.Fatalf("refund notification %+v", refund)
	}
	mu.Lock()
	if got[0] != debit || got[1] != refund || ids[0] == "" {
		t.Fatalf("webhook got %+v (ids %v)", got, ids)
	}
	mu.Unlock()
	// Paging: after the first id only the second comes.
	e.payerCall(w, http.MethodGet, api.PathInbox+"?after="+itoa(int(debit.ID)), nil, &inbox)
	if len(inbox.Notifications) != 1 || inbox.Notifications[0].ID != refund.ID {
		t.Fatalf("after: %+v", inbox)
	}
	// Another payer sees nothing of it.
	o := e.payer("oli", 0)
	e.payerCall(o, http.MethodGet, api.PathInbox, nil, &inbox)
	if len(inbox.Notifications) != 0 {
		t.Fatalf("other payer's inbox: %+v", inbox)
	}
}

// A payment that uses up a code and takes no money tells the payer too, so
// that their wallet moves on: declined (with the reason), waiting for them,
// or under an order cancelled before the code arrived. A presentation that
// uses nothing up (a code already used, a wrong token) tells nobody.
func TestUnpaidPresentationsNotify(t *testing.T) {
	e := newEnv(t)
	w := e.payer("uma", 500)
	short := e.code(w)
	wantStatus(t, e.pay("u-1", short, 1_000), api.StatusDeclined, api.ReasonInsufficientBalance)
	wantStatus(t, e.pay("u-2", short, 100), api.StatusDeclined, api.ReasonCodeUsed)
	wantStatus(t, e.pay("u-3", e.forged(w), 100), api.StatusDeclined, api.ReasonCodeInvalid)
	if _, err := e.term.Cancel(e.ctx, "u-4"); err != nil {
		t.Fatal(err)
	}
	late := e.code(w)
	wantStatus(t, e.pay("u-4", late, 100), api.StatusCancelled, api.ReasonCancelled)
	big := e.code(w)
	wantStatus(t, e.pay("u-5", big, DefaultPasswordFreeLimit+1), api.StatusWaitingPayer, "")

	position := func(code string) (uint32, uint64) {
		c, err := paycode.Parse(code)
		if err != nil {
			t.Fatal(err)
		}
		m, ok := paycode.Window(c, e.clk.Now())
		if !ok {
			t.Fatalf("no window for %s", code)
		}
		return uint32(c.KeyID), m.Counter
	}
	want := []struct {
		kind, reason, order, code string
		amount                    int64
	}{
		{"declined", api.ReasonInsufficientBalance, "shop/u-1", short, 1_000},
		{"cancelled", api.ReasonCancelled, "shop/u-4", late, 100},
		{"waiting", "", "shop/u-5", big, DefaultPasswordFreeLimit + 1},
	}
	got := e.outboxNotes()["uma"]
	if len(got) != len(want) {
		t.Fatalf("%d notifications, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		n := got[i]
		key, counter := position(w.code)
		if n.Kind != w.kind || n.Reason != w.reason || n.Order != w.order || n.Amount != cny(w.amount) ||
			n.Balance != cny(500) || n.Merchant != "Corner Shop" || n.KeyID != key || n.Counter != counter {
			t.Errorf("notification %d: %+v, want %s/%s of %s for %d with key %d counter %d, balance 500",
				i, n, w.kind, w.reason, w.order, w.amount, key, counter)
		}
	}
	e.checkNotes(map[string]int64{"uma": 500})
	// They reach the inbox as any other.
	if err := e.svc.Deliver(e.ctx); err != nil {
		t.Fatal(err)
	}
	in, err := e.svc.Inbox(e.ctx, "uma", 0, 10)
	if err != nil || len(in.Notifications) != 3 || in.Notifications[0].Reason != api.ReasonInsufficientBalance {
		t.Fatalf("inbox %+v (%v)", in, err)
	}
}

func TestAuditFindsTampering(t *testing.T) {
	e := newEnv(t)
	w := e.payer("pam", 10_000)
	e.pay("t-1", e.code(w), 1_000)
	e.audit()
	// Tamper behind the backend's back.
	if _, err := e.svc.w.do1(e.ctx, func(tx *txn) (any, error) {
		if _, err := tx.exec("UPDATE accounts SET balance = balance + 5 WHERE owner = 'pam'"); err != nil {
			return nil, err
		}
		return tx.exec(`INSERT INTO orders(merchant, merchant_order, terminal, code_hash, amount, currency, status,
			payer, key_id, counter, scan_time, created, updated)
			SELECT merchant, 't-2', terminal, code_hash, amount, currency, status, payer, key_id, counter, scan_time, created, updated
			FROM orders WHERE merchant_order = 't-1'`)
	}); err != nil {
		t.Fatal(err)
	}
	var oid int64
	e.svc.readRow(e.ctx, "SELECT id FROM orders WHERE merchant_order = 't-2'", nil, &oid)
	e.svc.w.do1(e.ctx, func(tx *txn) (any, error) {
		return nil, transfer(tx, 1, 2, 1_000, "payment", oid, 0)
	})
	r, err := e.svc.Audit(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.OK() || len(r.Problems) < 3 {
		t.Fatalf("audit missed tampering: %+v", r)
	}
	t.Logf("problems: %q", r.Problems)
}

func TestMasterKey(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "b.db")
	t.Setenv(MasterKeyEnv, "")
	k1, err := LoadMasterKey("", db, nil)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(db + ".masterkey")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	k2, _ := LoadMasterKey("", db, nil)
	if !bytes.Equal(k1, k2) {
		t.Fatal("key changed on second load")
	}
	t.Setenv(MasterKeyEnv, "zz")
	if _, err := LoadMasterKey("", db, nil); err == nil {
		t.Fatal("bad env key accepted")
	}
	t.Setenv(MasterKeyEnv, "")
	ctx := context.Background()
	svc, err := Open(ctx, db, k1, WithPasswordIterations(1000))
	if err != nil {
		t.Fatal(err)
	}
	svc.AddPayer(ctx, NewPayer{ID: "q", Password: "password1"})
	enr, err := svc.Enrol(ctx, "q")
	if err != nil {
		t.Fatal(err)
	}
	svc.Close()
	// The seed is not in the database file in clear.
	for _, f := range []string{db, db + "-wal"} {
		data, _ := os.ReadFile(f)
		if bytes.Contains(data, enr.Seed) {
			t.Fatalf("seed in clear in %s", f)
		}
	}
	wrong := bytes.Clone(k1)
	wrong[0] ^= 1
	if _, err := Open(ctx, db, wrong); err == nil || !bytesIs(err, ErrWrongMasterKey) {
		t.Fatalf("wrong key: %v", err)
	}
	// The database without its key file: no new key is made beside it.
	if err := os.Remove(db + ".masterkey"); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadMasterKey("", db, nil); !bytesIs(err, ErrMasterKeyMissing) {
		t.Fatalf("missing key file of an existing database: %v, want ErrMasterKeyMissing", err)
	}
	if _, err := os.Stat(db + ".masterkey"); !bytesIs(err, os.ErrNotExist) {
		t.Fatalf("a key file was made for an existing database: %v", err)
	}
}

// The notifier's statements read pending rows through indexes and payers
// by key: none scans a whole table, whose cost would grow with the payers
// and the notifications ever sent.
func TestDeliverPlans(t *testing.T) {
	e := newEnv(t)
	for _, q := range []string{deliverMark, deliverToInbox, deliverMarkSet, deliverNoHook, deliverHooksPending} {
		args := make([]any, strings.Count(q, "?"))
		for i := range args {
			args[i] = 0
		}
		rows, err := e.svc.st.read.QueryContext(e.ctx, "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if len(plan) == 0 {
			t.Fatalf("no plan for %s", q)
		}
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN ") && !strings.Contains(step, " USING ") && step != "SCAN CONSTANT ROW" {
				t.Errorf("%s\nscans a whole table: %q (plan %q)", q, step, plan)
			}
		}
	}
}
