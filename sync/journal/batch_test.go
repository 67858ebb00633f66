package journal

import (
	"errors"
	"testing"

	"tillpay/backend/api"
)

func TestCreateAndBeginSend(t *testing.T) {
	j, c, _ := newTest(t)
	p, req, err := j.CreateAndBeginSend(ctx, newPay(990, ModeOnline, c))
	if err != nil {
		t.Fatal(err)
	}
	if p.State != StateSending || p.Attempts != 1 || req.MerchantOrder != p.Order || req.Offline || !api.VerifyRecordSignature(testKey, req) {
		t.Fatalf("payment %+v, request %+v", p, req)
	}
	got, err := j.Get(ctx, p.Order)
	if err != nil || got.Attempts != 1 || got.State != StateSending {
		t.Fatalf("on disk: %+v, %v", got, err)
	}
	// The same bytes as a later re-send.
	again, err := j.BeginSend(ctx, p.Order)
	if err != nil || again != req {
		t.Fatalf("re-send %+v, %v; first %+v", again, err, req)
	}
	if _, _, err := j.CreateAndBeginSend(ctx, newPay(990, ModeOffline, c)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("offline payment: %v", err)
	}
}

func TestApplyAnswersOneTransactionEachAnswerAlone(t *testing.T) {
	j, c, _ := newTest(t)
	var ps []Payment
	for i := range 3 {
		ps = append(ps, mustCreate(t, j, newPay(int64(100*(i+1)), ModeOffline, c)))
	}
	reqs, _, err := j.BeginForward(ctx, 10)
	if err != nil || len(reqs) != 3 {
		t.Fatal(reqs, err)
	}
	got, errs, err := j.ApplyAnswers(ctx, []Answer{
		{Order: ps[0].Order, Result: &api.Order{MerchantOrder: ps[0].Order, Status: api.StatusPaid, Amount: cny(100)}},
		{Order: ps[1].Order, Refusal: &api.ErrorBody{Code: api.ErrConflict, Message: "order exists with another code"}},
		{Order: ps[2].Order, Result: &api.Order{MerchantOrder: ps[2].Order, Status: api.StatusPaid, Amount: cny(999)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || got[0].State != StateSettled {
		t.Fatalf("answer 0: %+v, %v", got[0], errs[0])
	}
	if errs[1] != nil || got[1].State != StateDeclinedLate || got[1].Reason != api.ErrConflict {
		t.Fatalf("answer 1: %+v, %v", got[1], errs[1])
	}
	if !errors.Is(errs[2], ErrMismatch) {
		t.Fatalf("answer 2 (wrong amount): %v", errs[2])
	}
	if p, _ := j.Get(ctx, ps[2].Order); p.State != StateForwarding {
		t.Fatalf("the refused answer changed its record: %+v", p)
	}
	if p, _ := j.Get(ctx, ps[0].Order); p.State != StateSettled {
		t.Fatalf("not on disk: %+v", p)
	}
}

// A journal written by the first schema is upgraded in place, its records
// kept.
func TestUpgradeFromSchema1(t *testing.T) {
	j, c, path := newTest(t)
	p := mustCreate(t, j, newPay(700, ModeOffline, c))
	j.Close()
	rawExec(t, path, "DROP INDEX payments_offline")
	rawExec(t, path, "DROP INDEX payments_state_scan")
	rawExec(t, path, "PRAGMA user_version = 1")
	j2 := openTest(t, path, c)
	if got, err := j2.Get(ctx, p.Order); err != nil || got.Amount != cny(700) {
		t.Fatalf("record after upgrade: %+v, %v", got, err)
	}
	var n int
	if err := j2.r.QueryRow("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN ('payments_offline', 'payments_state_scan')").Scan(&n); err != nil || n != 2 {
		t.Fatalf("indexes after upgrade: %d, %v", n, err)
	}
	var v int
	if err := j2.r.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != SchemaVersion {
		t.Fatalf("user_version %d, %v", v, err)
	}
}
