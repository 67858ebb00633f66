package hid

import "testing"

// BenchmarkKeyboardDecode: ns and allocations per report, replaying the
// kbd-nodehid-323 and alt-mode fixtures.
func BenchmarkKeyboardDecode(b *testing.B) {
	var reports [][]byte
	for _, blk := range loadFixtures(b, "hid-keyboard.txt") {
		if blk.ID == "kbd-nodehid-323" || blk.ID == "kbd-unixse-392654-altnumpad" {
			reports = append(reports, keyboardReports(b, blk)...)
		}
	}
	var d KeyboardDecoder
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		buf, _ = d.Decode(buf[:0], reports[i%len(reports)])
	}
}

// BenchmarkPOSDecode: ns and allocations per report, replaying the
// Honeywell REVINF response (7 reports, 2 messages).
func BenchmarkPOSDecode(b *testing.B) {
	reports := blockReports(b, posBlock(b, "pos-honeywell-revinf-response"))
	d, _ := NewPOSDecoder(ProfileHoneywell, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, _, err := d.Decode(reports[i%len(reports)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSourcePOS: a whole Honeywell message through the reader
// goroutine and Next.
func BenchmarkSourcePOS(b *testing.B) {
	reports := blockReports(b, posBlock(b, "pos-honeywell-revinf-response"))
	dev := NewReplayDevice(honeywell)
	src := openSource(b, newTestDriver(dev), "hid:0c2e:0b61?mode=pos")
	defer src.Close()
	ctx := nextCtx(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		dev.Feed(reports[6])
		if _, err := src.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
