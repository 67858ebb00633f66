package till

import (
	"context"
	"time"

	"tillpay/config"
	"tillpay/sync/journal"
)

// Payments returns the payments made on day's local calendar day, oldest
// first, for a history screen.
func (t *Till) Payments(ctx context.Context, day time.Time) ([]journal.Payment, error) {
	return t.j.Day(ctx, day)
}

// Payment returns one payment of the journal.
func (t *Till) Payment(ctx context.Context, order string) (journal.Payment, error) {
	return t.j.Get(ctx, order)
}

// ZReport returns the end-of-day report of day's local calendar day.
func (t *Till) ZReport(ctx context.Context, day time.Time) (journal.ZReport, error) {
	return t.j.ZReport(ctx, day)
}

// LateDeclines returns the late declines the merchant has not acknowledged.
func (t *Till) LateDeclines(ctx context.Context) ([]journal.Payment, error) {
	return t.j.LateDeclines(ctx)
}

// Config returns the configuration the till runs with.
func (t *Till) Config() config.Config { return t.cfg }
