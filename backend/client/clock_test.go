package client_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"tillpay/backend"
	"tillpay/backend/api"
	"tillpay/backend/client"
)

// A terminal whose clock is two hours slow is refused until it has read
// the backend's clock, then stamps its requests on the backend's time.
func TestTerminalLearnsTheBackendClock(t *testing.T) {
	ctx := context.Background()
	key := make([]byte, backend.MasterKeySize)
	rand.Read(key)
	svc, err := backend.Open(ctx, filepath.Join(t.TempDir(), "b.db"), key, backend.WithPasswordIterations(1000))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()
	demo, err := svc.DemoSetup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	tk, _ := hex.DecodeString(demo.Terminal.Key)
	slow := func() time.Time { return time.Now().Add(-2 * time.Hour) }
	term, err := client.NewTerminal(srv.URL, demo.Terminal.ID, tk, client.WithClock(slow))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := term.Query(ctx, "nope"); !client.IsCode(err, api.ErrUnauthorized) {
		t.Fatalf("a request stamped two hours late: %v, want 401", err)
	}
	_, off, err := term.Time(ctx)
	if err != nil || off < 2*time.Hour-time.Minute || off > 2*time.Hour+time.Minute {
		t.Fatalf("offset %v, %v", off, err)
	}
	if _, err := term.Query(ctx, "nope"); !client.IsCode(err, api.ErrNotFound) {
		t.Fatalf("after learning the clock: %v, want 404 (authenticated)", err)
	}
}
