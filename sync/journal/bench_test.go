package journal

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkQueueOffline measures writing an offline payment durably: one
// committed transaction (counter, record, event) with synchronous=FULL.
func BenchmarkQueueOffline(b *testing.B) {
	c := newClock(fixedNow)
	j := openTest(b, filepath.Join(b.TempDir(), "journal.db"), c)
	np := newPay(1234, ModeOffline, c)
	ctx := context.Background()
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := j.Create(ctx, np); err != nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, durs)
}

func reportPercentiles(b *testing.B, durs []time.Duration) {
	if len(durs) == 0 {
		return
	}
	slices.Sort(durs)
	at := func(q float64) float64 {
		return float64(durs[int(q*float64(len(durs)-1))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

// BenchmarkZReport10k builds the Z report of a day with 10,000 payments.
func BenchmarkZReport10k(b *testing.B) {
	c := newClock(time.Date(2026, 3, 14, 8, 0, 0, 0, shanghai))
	j := openTest(b, filepath.Join(b.TempDir(), "journal.db"), c)
	ctx := context.Background()
	// Fill fast: durability does not matter for the set-up.
	if _, err := j.w.Exec("PRAGMA synchronous = OFF"); err != nil {
		b.Fatal(err)
	}
	for i := range 10000 {
		mode := ModeOnline
		if i%4 == 0 {
			mode = ModeOffline
		}
		p, err := j.Create(ctx, newPay(int64(100+i), mode, c))
		if err != nil {
			b.Fatal(err)
		}
		if mode == ModeOnline {
			to := StatePaid
			if i%10 == 1 {
				to = StateDeclined
			}
			if _, err := j.Transition(ctx, p.Order, Change{To: to}); err != nil {
				b.Fatal(err)
			}
		}
		c.Add(3 * time.Second)
	}
	j.w.Exec("PRAGMA synchronous = FULL")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		z, err := j.ZReport(ctx, fixedNow)
		if err != nil || len(z.Payments) != 10000 {
			b.Fatal(len(z.Payments), err)
		}
	}
}
