package client_test

import (
	"context"
	"testing"
	"time"

	"tillpay/backend/api"
	"tillpay/backend/backendtest"
	"tillpay/backend/client"
)

// A terminal whose clock is two hours slow is refused until it has read
// the backend's clock, then stamps its requests on the backend's time.
func TestTerminalLearnsTheBackendClock(t *testing.T) {
	ctx := context.Background()
	be := backendtest.Start(t)
	slow := func() time.Time { return time.Now().Add(-2 * time.Hour) }
	term := be.Terminal(client.WithClock(slow))
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
