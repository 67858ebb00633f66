package scanner

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzConfigs = []FrameConfig{
	{Suffix: TermAuto, MaxLen: 64},
	{Suffix: TermCR, MaxLen: 32, Prefix: "P"},
	{Suffix: TermLF, MaxLen: 16},
	{Suffix: TermCRLF, MaxLen: 64, Trailer: "X"},
	{Suffix: TermTab, MaxLen: 64, NoAIM: true},
	{Suffix: TermNone, MaxLen: 64, Idle: DefaultIdleNone},
}

// FuzzFramer checks that framing never panics, that every code it gives
// is clean text found in its raw bytes, and that the codes do not depend
// on where the stream was cut into chunks (so bytes never merge into, or
// vanish from, a code because of read boundaries).
func FuzzFramer(f *testing.F) {
	for _, b := range fixtureStreams(f) {
		f.Add(b, uint8(0), uint8(3))
		f.Add(append(bytes.Clone(b), '\r', '\n'), uint8(3), uint8(1))
	}
	f.Add([]byte("\x00\x00]Q1123\r\n]C1ab\x1dcd\r"), uint8(0), uint8(2))
	f.Add([]byte("\x02abc\x03\x02de"), uint8(5), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, cfgSel, cut uint8) {
		cfg := fuzzConfigs[int(cfgSel)%len(fuzzConfigs)]
		whole := frameAll(cfg, [][]byte{data}, true)
		step := int(cut)%7 + 1
		var chunks [][]byte
		for i := 0; i < len(data); i += step {
			chunks = append(chunks, data[i:min(i+step, len(data))])
		}
		split := frameAll(cfg, chunks, true)
		if whole != split {
			t.Fatalf("chunking changed the result:\nwhole %s\nsplit %s", whole, split)
		}
	})
}

// frameAll frames chunks (all at the same instant, then a final idle
// check and end of stream) and checks each code's invariants, returning a
// summary that must not depend on chunking.
func frameAll(cfg FrameConfig, chunks [][]byte, end bool) string {
	fr := NewFramer("fuzz", cfg)
	var sb strings.Builder
	emit := func(s Scan, err error) {
		if err != nil {
			fmt.Fprintf(&sb, "E(%d)", len(err.(*FrameError).Raw))
			return
		}
		if s.Label == "" || !utf8.ValidString(s.Label) {
			panic(fmt.Sprintf("bad label %q", s.Label))
		}
		for _, b := range []byte(s.Label) {
			if (b < 0x20 && !allowedControl(b)) || b == 0x7f {
				panic(fmt.Sprintf("control byte in label %q", s.Label))
			}
		}
		if !bytes.Contains(s.Raw, []byte(s.Label)) {
			panic(fmt.Sprintf("label %q not in raw %q", s.Label, s.Raw))
		}
		if len(s.Label) > cfg.MaxLen {
			panic(fmt.Sprintf("label of %d bytes over maxlen %d", len(s.Label), cfg.MaxLen))
		}
		var forbidden string
		switch cfg.Suffix {
		case TermAuto:
			forbidden = "\r\n"
		case TermCR:
			forbidden = "\r"
		case TermLF:
			forbidden = "\n"
		case TermTab:
			forbidden = "\t"
		}
		if forbidden != "" && strings.ContainsAny(s.Label, forbidden) {
			panic(fmt.Sprintf("terminator inside label %q", s.Label))
		}
		fmt.Fprintf(&sb, "S(%q,%s)", s.Label, s.Symbology)
	}
	for _, c := range chunks {
		fr.Feed(Chunk{Data: c, At: t0}, emit)
	}
	if end {
		fr.Feed(Chunk{At: t0, End: true}, emit)
	}
	if fr.Pending() {
		panic("pending after end of stream")
	}
	return sb.String()
}

func benchStream(codes int) []byte {
	var b bytes.Buffer
	for i := range codes {
		fmt.Fprintf(&b, "]Q1%018d\r\n", 134567890123456789+i)
	}
	return b.Bytes()
}

// BenchmarkFramerStream frames 18-digit payment codes with AIM id and CRLF
// arriving in 64-byte reads.
func BenchmarkFramerStream(b *testing.B) {
	data := benchStream(1000)
	fr := NewFramer("bench", DefaultFrameConfig())
	n := 0
	emit := func(s Scan, err error) {
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for i := 0; i < len(data); i += 64 {
			fr.Feed(Chunk{Data: data[i:min(i+64, len(data))], At: t0}, emit)
		}
	}
	b.StopTimer()
	if n != 1000*b.N {
		b.Fatalf("framed %d codes, want %d", n, 1000*b.N)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(data)), "ns/byte")
}

// BenchmarkFramerLongCode frames one 4000-byte code: allocations stay
// those of one code, whatever its length.
func BenchmarkFramerLongCode(b *testing.B) {
	data := append(bytes.Repeat([]byte("A"), 4000), '\r')
	fr := NewFramer("bench", DefaultFrameConfig())
	emit := func(s Scan, err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for range b.N {
		for i := 0; i < len(data); i += 64 {
			fr.Feed(Chunk{Data: data[i:min(i+64, len(data))], At: t0}, emit)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(data)), "ns/byte")
}

// BenchmarkFramerNoise feeds line noise that never forms a code: no
// allocation at all.
func BenchmarkFramerNoise(b *testing.B) {
	data := bytes.Repeat([]byte{0}, 4096)
	fr := NewFramer("bench", DefaultFrameConfig())
	emit := func(Scan, error) { b.Fatal("noise gave a result") }
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for range b.N {
		fr.Feed(Chunk{Data: data, At: t0}, emit)
	}
}
