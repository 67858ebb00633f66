package wedge

import (
	"context"
	"encoding/hex"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"tillpay/scanner"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// burst is text typed with a fixed gap between keys; "\n" is Enter and
// "\t" Tab. pause is the silence before its first key.
type burst struct {
	text  string
	gap   time.Duration
	pause time.Duration
}

func keysOf(bs []burst) []Key {
	var keys []Key
	at := t0
	first := true
	for _, b := range bs {
		at = at.Add(b.pause)
		for _, r := range b.text {
			if !first {
				at = at.Add(b.gap)
			}
			first = false
			k := Key{Kind: Rune, Rune: r, At: at}
			switch r {
			case '\n':
				k = Key{Kind: Enter, At: at}
			case '\t':
				k = Key{Kind: Tab, At: at}
			}
			keys = append(keys, k)
		}
	}
	return keys
}

func keyText(ks []Key) string {
	var sb strings.Builder
	for _, k := range ks {
		switch k.Kind {
		case Enter:
			sb.WriteByte('\n')
		case Tab:
			sb.WriteByte('\t')
		default:
			sb.WriteRune(k.Rune)
		}
	}
	return sb.String()
}

// feed runs keys through w, ticking at every deadline that passes before
// the next key and at the end; it returns the UI text and the scans.
func feed(w *Wedge, keys []Key) (typed string, scans []string) {
	var out []Key
	for _, k := range keys {
		if dl, ok := w.Deadline(); ok && dl.Before(k.At) {
			out = append(out, w.Tick(dl.Add(time.Nanosecond))...)
		}
		out = append(out, w.Key(k)...)
	}
	if dl, ok := w.Deadline(); ok {
		out = append(out, w.Tick(dl.Add(time.Nanosecond))...)
	}
	w.mu.Lock()
	for _, c := range w.queue {
		scans = append(scans, string(c.Data))
	}
	w.queue = nil
	w.mu.Unlock()
	return keyText(out), scans
}

func TestDetector(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		in      []burst
		typed   string
		scans   []string
		dropped int
	}{
		{"scan with enter", []burst{{"134567890123456789\n", 8 * ms, 0}}, "", []string{"134567890123456789"}, 0},
		{"scan with tab", []burst{{"ABC-123\t", 3 * ms, 0}}, "", []string{"ABC-123"}, 0},
		{"human typing", []burst{{"12.50\n", 180 * ms, 0}}, "12.50\n", nil, 0},
		{"fast but short", []burst{{"12345\n", 5 * ms, 0}}, "12345\n", nil, 0},
		{"exactly min length", []burst{{"123456\n", 5 * ms, 0}}, "", []string{"123456"}, 0},
		{"mean gap at the limit", []burst{{"1234567\n", 30 * ms, 0}}, "", []string{"1234567"}, 0},
		{"mean gap just over", []burst{{"1234567\n", 31 * ms, 0}}, "1234567\n", nil, 0},
		{"typing then scan", []burst{{"88", 200 * ms, 0}, {"287634438256643940\n", 5 * ms, 300 * ms}}, "88", []string{"287634438256643940"}, 0},
		{"scan then typing", []burst{{"287634438256643940\n", 5 * ms, 0}, {"7\n", 150 * ms, 500 * ms}}, "7\n", []string{"287634438256643940"}, 0},
		{"unterminated burst dropped", []burst{{"1345678901234", 5 * ms, 0}, {"9\n", 150 * ms, 400 * ms}}, "9\n", nil, 1},
		{"two scans back to back", []burst{{"111111\n", 4 * ms, 0}, {"222222\n", 4 * ms, 50 * ms}}, "", []string{"111111", "222222"}, 0},
		{"enter alone", []burst{{"\n", 0, 0}}, "\n", nil, 0},
		{"unicode", []burst{{"价格1234567\n", 4 * ms, 0}}, "", []string{"价格1234567"}, 0},
		{"a jittery scan", []burst{{"1234", 2 * ms, 0}, {"567890", 2 * ms, 60 * ms}, {"\n", 0, 2 * ms}}, "", []string{"1234567890"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := New(WithLogger(slog.New(slog.DiscardHandler)))
			typed, scans := feed(w, keysOf(tc.in))
			if typed != tc.typed {
				t.Errorf("typed %q, want %q", typed, tc.typed)
			}
			if strings.Join(scans, "|") != strings.Join(tc.scans, "|") {
				t.Errorf("scans %q, want %q", scans, tc.scans)
			}
			if st := w.Stats(); st.Dropped != tc.dropped || st.Scans != len(tc.scans) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestHeldKeysWaitForTheDecision(t *testing.T) {
	w := New()
	if out := w.Key(Key{Kind: Rune, Rune: '5', At: t0}); len(out) != 0 {
		t.Fatalf("a first key was passed on at once: %v", out)
	}
	dl, ok := w.Deadline()
	if !ok || !dl.Equal(t0.Add(100*time.Millisecond)) {
		t.Fatalf("deadline %v %v", dl, ok)
	}
	if out := w.Tick(t0.Add(50 * time.Millisecond)); len(out) != 0 {
		t.Fatalf("released before the idle time: %v", out)
	}
	if out := w.Tick(t0.Add(101 * time.Millisecond)); keyText(out) != "5" {
		t.Fatalf("after idle got %q", keyText(out))
	}
	if _, ok := w.Deadline(); ok {
		t.Error("deadline with nothing held")
	}
}

func TestConfig(t *testing.T) {
	w := New(WithConfig(Config{MinLen: 3, MaxMeanGap: 50 * time.Millisecond}))
	_, scans := feed(w, keysOf([]burst{{"abc\n", 45 * time.Millisecond, 0}}))
	if len(scans) != 1 || scans[0] != "abc" {
		t.Errorf("scans %q", scans)
	}
	if w.cfg.Idle != 100*time.Millisecond {
		t.Errorf("idle %v: zero field did not keep the default", w.cfg.Idle)
	}
}

// TestSourceWithManager attaches the Wedge to a Manager, as the GUI does.
func TestSourceWithManager(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := New()
		m, err := scanner.NewManager(nil, scanner.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		go m.Run(ctx)
		if err := m.Attach("wedge", w, scanner.FrameConfig{}); err != nil {
			t.Fatal(err)
		}
		if ev := <-m.Events(); ev.State != scanner.Connected {
			t.Fatalf("got %+v", ev)
		}
		m.Arm()
		start := time.Now()
		for i, r := range "]Q1134567890123456789\n" {
			k := Key{Kind: Rune, Rune: r, At: start.Add(time.Duration(i) * 4 * time.Millisecond)}
			if r == '\n' {
				k.Kind = Enter
			}
			if out := w.Key(k); len(out) != 0 {
				t.Fatalf("scan keys leaked to the UI: %q", keyText(out))
			}
		}
		ev := <-m.Events()
		if !ev.ForPayment() || ev.Scan.Label != "134567890123456789" || ev.Scan.Symbology != scanner.QR || !ev.Scan.FirstByte.Equal(start) {
			t.Fatalf("got %+v", ev)
		}
		cancel()
		for range m.Events() {
		}
		w.Close()
		if _, err := w.Next(context.Background()); err == nil {
			t.Error("Next after Close succeeded")
		}
	})
}

func TestDriver(t *testing.T) {
	w := New()
	d := NewDriver(w)
	addr, _ := scanner.ParseAddress("wedge")
	src, err := d.Open(context.Background(), addr)
	if err != nil || d.Scheme() != "wedge" {
		t.Fatal(err)
	}
	src.Close() // the Manager's close does not close the keyboard
	if _, err := d.Open(context.Background(), addr); err != nil {
		t.Errorf("reopen: %v", err)
	}
	w.Close()
	if _, err := d.Open(context.Background(), addr); err == nil {
		t.Error("open after the wedge closed")
	}
}

// FuzzDetector: whatever the keys and timing, every character ends up in
// exactly one place (typed, scanned or counted as dropped), typed text
// keeps its order, and scans are at least MinLen long.
func FuzzDetector(f *testing.F) {
	// The Honeywell 1950gsr keyboard-mode fixture (received bytes), typed
	// fast, and the same typed slowly.
	rx, _ := hex.DecodeString("0505010100" + "0b000000177217" + "1d784c400d")
	for _, gap := range []byte{3, 200} {
		var seed []byte
		for _, b := range rx {
			seed = append(seed, b, gap)
		}
		f.Add(seed)
	}
	f.Add([]byte("1\x052\x053\x054\x055\x056\x05\n\x05x\xc8"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var keys []Key
		at := t0
		var runes []rune
		terms := 0
		for i := 0; i+1 < len(data); i += 2 {
			at = at.Add(time.Duration(data[i+1]) * time.Millisecond)
			k := Key{Kind: Rune, Rune: rune(data[i]), At: at}
			switch data[i] {
			case '\n', '\r':
				k = Key{Kind: Enter, At: at}
				terms++
			case '\t':
				k = Key{Kind: Tab, At: at}
				terms++
			default:
				if data[i] >= 0x80 {
					k.Rune = rune(0x4e00 + int(data[i])) // some CJK
				}
				runes = append(runes, k.Rune)
			}
			keys = append(keys, k)
		}
		w := New(WithLogger(slog.New(slog.DiscardHandler)))
		typed, scans := feed(w, keys)
		st := w.Stats()
		typedRunes, typedTerms := 0, 0
		for _, r := range typed {
			if r == '\n' || r == '\t' {
				typedTerms++
			} else {
				typedRunes++
			}
		}
		scanRunes := 0
		for _, s := range scans {
			n := utf8.RuneCountInString(s)
			if n < w.cfg.MinLen {
				t.Fatalf("scan %q shorter than %d", s, w.cfg.MinLen)
			}
			scanRunes += n
		}
		if typedRunes+scanRunes+st.DroppedRunes != len(runes) {
			t.Fatalf("characters lost or doubled: %d in, %d typed + %d scanned + %d dropped",
				len(runes), typedRunes, scanRunes, st.DroppedRunes)
		}
		if typedTerms+len(scans) != terms {
			t.Fatalf("terminators: %d in, %d typed, %d scans", terms, typedTerms, len(scans))
		}
		// Typed text is a subsequence of the input.
		i := 0
		for _, r := range typed {
			if r == '\n' || r == '\t' {
				continue
			}
			for i < len(runes) && runes[i] != r {
				i++
			}
			if i == len(runes) {
				t.Fatalf("typed %q out of order", typed)
			}
			i++
		}
	})
}
