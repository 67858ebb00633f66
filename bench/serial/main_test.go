package main

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestPercentiles(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Microsecond)
	}
	r := summarize(d)
	if r.N != 100 || r.P50 != 50 || r.P90 != 90 || r.P99 != 99 || r.P999 != 100 || r.Max != 100 || r.Mean != 50.5 {
		t.Fatalf("%+v", r)
	}
	if !slices.IsSortedFunc(d, func(a, b time.Duration) int { return int(b - a) }) {
		t.Fatal("summarize reordered its input")
	}
	if r := summarize(nil); r.N != 0 {
		t.Fatalf("%+v", r)
	}
}

func TestCodesAreWeChatShaped(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range makeCodes(500, 7) {
		if len(c) != 18 || c[0] != '1' || c[1] < '0' || c[1] > '5' || seen[c] {
			t.Fatalf("code %q", c)
		}
		seen[c] = true
	}
}

// The Go side delivers every code through the real stack.
func TestGoSideDelivers(t *testing.T) {
	g, err := startGo(context.Background(), 115200)
	if err != nil {
		t.Fatal(err)
	}
	defer g.close()
	for _, c := range makeCodes(200, 3) {
		d, err := g.scan(c)
		if err != nil {
			t.Fatal(err)
		}
		if d <= 0 {
			t.Fatalf("latency %v", d)
		}
	}
}

// BenchmarkScanLatency is one scan from its last byte written to the
// pseudo-terminal to the scan event, through drivers/serial and the
// scanner Manager, with the percentiles as extra metrics.
func BenchmarkScanLatency(b *testing.B) {
	g, err := startGo(context.Background(), 115200)
	if err != nil {
		b.Fatal(err)
	}
	defer g.close()
	codes := makeCodes(1000, 5)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := g.scan(codes[i%len(codes)])
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, d)
	}
	r := summarize(lat)
	b.ReportMetric(r.P50, "p50-µs")
	b.ReportMetric(r.P99, "p99-µs")
}
