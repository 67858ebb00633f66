package backend

import (
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/backend/client"
)

func TestOfflineBatch(t *testing.T) {
	e := newEnv(t)
	w := e.payer("lea", 1_000, func(p *NewPayer) { p.OfflineCredit = 5_000 })
	rich := e.payer("max", 1_000_000)
	now := e.clk.Now()
	rec := func(order string, w *wallet, at time.Time, minor int64) api.PayRequest {
		return e.term.SignRecord(api.PayRequest{MerchantOrder: order, Code: e.codeAt(w, at), Amount: cny(minor),
			ScanTime: at, Offline: true})
	}
	tampered := rec("off-3", w, now.Add(-2*time.Hour), 100)
	tampered.Amount = cny(1)
	reused := rec("off-a", rich, now.Add(-time.Hour), 100)
	reused2 := reused
	reused2.MerchantOrder = "off-b"
	reused2 = e.term.SignRecord(reused2)
	batch := []api.PayRequest{
		rec("off-1", w, now.Add(-48*time.Hour), 800),   // paid from the balance, verified at scan time
		rec("off-2", w, now.Add(-47*time.Hour), 3_000), // paid on offline credit
		tampered, // record edited after signing
		rec("off-4", w, now.Add(-73*time.Hour), 100),                                                        // outside the 72 h window
		rec("off-5", w, now.Add(10*time.Minute), 100),                                                       // in the future
		rec("off-6", rich, now.Add(-time.Hour), 150_000),                                                    // above the password-free limit
		rec("off-7", w, now.Add(-time.Hour), 5_000),                                                         // beyond the offline credit
		{MerchantOrder: "off-8", Code: "28763443825664394", Amount: cny(100), ScanTime: now, Offline: true}, // Alipay
		reused,
		reused2, // the same code under another order
		rec("off-1", w, now.Add(-time.Hour), 900), // order number reused with other content
	}
	res, err := e.term.PayBatch(e.ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ status, reason, err string }{
		{api.StatusPaid, "", ""},
		{api.StatusPaid, "", ""},
		{api.StatusDeclined, api.ReasonRecordSignature, ""},
		{api.StatusDeclined, api.ReasonOfflineWindow, ""},
		{api.StatusDeclined, api.ReasonScanTimeFuture, ""},
		{api.StatusDeclined, api.ReasonConfirmationNeeded, ""},
		{api.StatusDeclined, api.ReasonInsufficientBalance, ""},
		{"", "", api.ErrBadRequest},
		{api.StatusPaid, "", ""},
		{api.StatusDeclined, api.ReasonCodeUsed, ""},
		{"", "", api.ErrConflict},
	}
	for i, r := range res {
		switch {
		case want[i].err != "":
			if r.Error == nil || r.Error.Code != want[i].err || r.Order != nil {
				t.Errorf("%d: %+v, want error %s", i, r, want[i].err)
			}
		case r.Order == nil:
			t.Errorf("%d: error %+v, want %s/%s", i, r.Error, want[i].status, want[i].reason)
		case r.Order.Status != want[i].status || r.Order.Reason != want[i].reason || !r.Order.Offline:
			t.Errorf("%d: %s/%s, want %s/%s", i, r.Order.Status, r.Order.Reason, want[i].status, want[i].reason)
		}
	}
	if got := e.balance("lea"); got != 1_000-800-3_000 {
		t.Fatalf("balance %d, want -2800 (on credit)", got)
	}
	// Uploading the same batch again charges nothing more.
	res2, err := e.term.PayBatch(e.ctx, batch[:2])
	if err != nil || res2[0].Order.Status != api.StatusPaid || res2[1].Order.Status != api.StatusPaid {
		t.Fatalf("repeat: %+v %v", res2, err)
	}
	if got := e.balance("lea"); got != -2_800 {
		t.Fatalf("balance %d after repeat", got)
	}
	// One by one works too, and a record needs its signature.
	one := rec("off-9", rich, now.Add(-time.Minute), 100)
	o, err := e.term.Pay(e.ctx, one)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, o, api.StatusPaid, "")
	unsigned := rec("off-10", rich, now.Add(-time.Minute), 100)
	unsigned.RecordSig = ""
	o, _ = e.term.Pay(e.ctx, unsigned)
	wantStatus(t, o, api.StatusDeclined, api.ReasonRecordSignature)
	// Batch limits.
	if _, err := e.term.PayBatch(e.ctx, make([]api.PayRequest, api.MaxBatch+1)); err == nil {
		t.Fatal("oversized batch accepted")
	}
	if _, err := e.term.PayBatch(e.ctx, nil); !client.IsCode(err, api.ErrBadRequest) {
		t.Fatalf("empty batch: %v", err)
	}
	e.audit()
}

// A record refused before its scan time is trusted still presents its
// code: one that is good at the backend's time is used up, as a declined
// online payment's is, and a wrong token counts towards the payer's lock.
func TestRefusedRecordsUseTheirCodes(t *testing.T) {
	e := newEnv(t)
	w := e.payer("ren", 100_000)
	now := e.clk.Now()
	signed := func(order, code string, scan time.Time) api.PayRequest {
		return e.term.SignRecord(api.PayRequest{MerchantOrder: order, Code: code, Amount: cny(100),
			ScanTime: scan, Offline: true})
	}
	edited := func(order, code string) api.PayRequest {
		r := signed(order, code, now.Add(-time.Hour))
		r.Amount = cny(1)
		return r
	}
	for _, c := range []struct {
		name   string
		record func(order, code string) api.PayRequest
		reason string
	}{
		{"edited record", edited, api.ReasonRecordSignature},
		{"scan time ahead", func(o, c string) api.PayRequest { return signed(o, c, now.Add(10*time.Minute)) }, api.ReasonScanTimeFuture},
		{"scan time outside the window", func(o, c string) api.PayRequest { return signed(o, c, now.Add(-73*time.Hour)) }, api.ReasonOfflineWindow},
	} {
		code := e.code(w) // good now, whatever the record says
		o := e.payReq(c.record("r-"+c.reason, code))
		wantStatus(t, o, api.StatusDeclined, c.reason)
		if o.PayerID != "ren" {
			t.Errorf("%s: order's payer %q, want ren", c.name, o.PayerID)
		}
		again := e.pay("again-"+c.reason, code, 100)
		if again.Status != api.StatusDeclined || again.Reason != api.ReasonCodeUsed {
			t.Errorf("%s: the code presented again: %s/%s, want declined/%s", c.name, again.Status, again.Reason, api.ReasonCodeUsed)
		}
	}
	// A wrong token in a refused record is a failed try like any other.
	wantStatus(t, e.payReq(edited("r-forged", e.forged(w))), api.StatusDeclined, api.ReasonRecordSignature)
	var failures int
	if err := e.svc.st.read.QueryRow("SELECT failures FROM enrolments WHERE payer = 'ren' AND revoked IS NULL").Scan(&failures); err != nil {
		t.Fatal(err)
	}
	if failures != 1 {
		t.Fatalf("failures after a forged code in a refused record: %d, want 1", failures)
	}
	if got := e.balance("ren"); got != 100_000 {
		t.Fatalf("balance %d, want 100000: refused records move no money", got)
	}
	e.audit()
}

func TestOfflineBatchManyPayers(t *testing.T) {
	// A batch of many payers' payments goes through in one request. (Kept
	// small: the race detector slows SQLite a hundredfold.)
	const n = 500
	e := newEnv(t)
	var batch []api.PayRequest
	var ws []*wallet
	for i := range 50 {
		ws = append(ws, e.payer("p"+string(rune('A'+i%26))+string(rune('a'+i/26)), 100_000))
	}
	at := e.clk.Now().Add(-3 * time.Hour)
	for i := range n {
		w := ws[i%len(ws)]
		batch = append(batch, e.term.SignRecord(api.PayRequest{MerchantOrder: "fast-" + itoa(i),
			Code: e.codeAt(w, at), Amount: cny(10), ScanTime: at, Offline: true}))
	}
	res, err := e.term.PayBatch(e.ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	paid := 0
	for _, r := range res {
		if r.Order != nil && r.Order.Status == api.StatusPaid {
			paid++
		}
	}
	if paid != n {
		t.Fatalf("%d of %d paid", paid, n)
	}
	if got := e.merchantBalance(); got != 10*n {
		t.Fatalf("merchant balance %d", got)
	}
	e.audit()
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// A code presented under a merchant order number already taken is refused
// (409), but presented all the same: a wrong token counts towards the lock
// and a right one is used up, so that reusing an order number is no way to
// try tokens unthrottled.
func TestConflictingOrderPresentsItsCode(t *testing.T) {
	e := newEnv(t)
	w := e.payer("ida", 100_000)
	wantStatus(t, e.pay("taken", e.code(w), 100), api.StatusPaid, "")
	for i := range e.svc.cfg.maxFailures {
		if _, err := e.term.Pay(e.ctx, api.PayRequest{MerchantOrder: "taken", Code: e.forged(w), Amount: cny(100)}); !client.IsCode(err, api.ErrConflict) {
			t.Fatalf("guess %d under a taken order number: %v, want conflict", i, err)
		}
	}
	var failures int
	var locked int64
	if err := e.svc.st.read.QueryRow("SELECT failures, locked_until FROM enrolments WHERE payer = 'ida' AND revoked IS NULL").Scan(&failures, &locked); err != nil {
		t.Fatal(err)
	}
	if failures != e.svc.cfg.maxFailures || locked <= e.clk.Now().UnixNano() {
		t.Fatalf("after %d wrong tokens under a taken order number: failures %d, locked until %d", e.svc.cfg.maxFailures, failures, locked)
	}
	e.clk.Advance(time.Hour) // past the lock
	fresh := e.code(w)
	if _, err := e.term.Pay(e.ctx, api.PayRequest{MerchantOrder: "taken", Code: fresh, Amount: cny(100)}); !client.IsCode(err, api.ErrConflict) {
		t.Fatalf("a right code under a taken order number: %v, want conflict", err)
	}
	wantStatus(t, e.pay("next", fresh, 100), api.StatusDeclined, api.ReasonCodeUsed)
	// The payer hears of it (their wallet moves on to a fresh code); the
	// wrong tokens told nobody.
	notes := e.outboxNotes()["ida"]
	if len(notes) != 2 || notes[1].Kind != "declined" || notes[1].Reason != api.ReasonOrderConflict ||
		notes[1].Order != "shop/taken" {
		t.Fatalf("notifications %+v, want the payment's and one declined/%s", notes, api.ReasonOrderConflict)
	}
	if got := e.balance("ida"); got != 100_000-100 {
		t.Fatalf("balance %d, want %d", got, 100_000-100)
	}
	e.audit()
}

// A code declined as expired is dead: a back-dated offline record with
// that code cannot pay later. Being a real code, it counts no failure.
func TestExpiredCodeCannotBeRevivedOffline(t *testing.T) {
	e := newEnv(t)
	w := e.payer("jon", 100_000)
	scan := e.clk.Now().Add(-2 * time.Hour)
	old := e.codeAt(w, scan)
	wantStatus(t, e.pay("late", old, 100), api.StatusDeclined, api.ReasonCodeExpired)
	record := e.term.SignRecord(api.PayRequest{MerchantOrder: "back-dated", Code: old, Amount: cny(100), ScanTime: scan, Offline: true})
	wantStatus(t, e.payReq(record), api.StatusDeclined, api.ReasonCodeUsed)
	// The same within one batch: the expired presentation first, then the
	// record, in one group.
	scan2 := e.clk.Now().Add(-3 * time.Hour)
	old2 := e.codeAt(w, scan2)
	res, err := e.term.PayBatch(e.ctx, []api.PayRequest{
		e.term.SignRecord(api.PayRequest{MerchantOrder: "b-late", Code: old2, Amount: cny(100), ScanTime: e.clk.Now(), Offline: true}),
		e.term.SignRecord(api.PayRequest{MerchantOrder: "b-back", Code: old2, Amount: cny(100), ScanTime: scan2, Offline: true}),
	})
	if err != nil || res[0].Order == nil || res[0].Order.Reason != api.ReasonCodeExpired ||
		res[1].Order == nil || res[1].Order.Reason != api.ReasonCodeUsed {
		t.Fatalf("batch: %+v %v", res, err)
	}
	var failures int
	if err := e.svc.st.read.QueryRow("SELECT failures FROM enrolments WHERE payer = 'jon' AND revoked IS NULL").Scan(&failures); err != nil {
		t.Fatal(err)
	}
	if failures != 0 {
		t.Fatalf("failures %d after expired codes, want 0", failures)
	}
	if got := e.balance("jon"); got != 100_000 {
		t.Fatalf("balance %d, want 100000", got)
	}
	e.audit()
}
