package hid

import (
	"errors"
	"strings"
	"testing"
)

func decodeAll(t testing.TB, d *KeyboardDecoder, reports [][]byte) string {
	t.Helper()
	var out []byte
	for i, r := range reports {
		var err error
		if out, err = d.Decode(out, r); err != nil {
			t.Fatalf("report %d (% x): %v", i, r, err)
		}
	}
	return string(out)
}

// TestKeyboardFixtures replays every boot-keyboard block of
// testdata/hid-keyboard.txt (sources in each block's "source" header) and
// checks the text against the block's decodes-to.
func TestKeyboardFixtures(t *testing.T) {
	// Blocks that are not keyboard reports, and why.
	notReports := map[string]string{
		"wedge-so-71862795-binary-qr":       "characters an application received, not HID reports",
		"desc-uhs-669-datalogic-gd4400":     "a report descriptor (its 8-byte report layout is what KeyboardDecoder reads)",
		"devdesc-espidf-12552-zebra-ds6708": "a device descriptor; used by TestDriverKeyboardReplay",
	}
	want := map[string]bool{ // every block that must be replayed
		"kbd-nodehid-323": true, "kbd-nodehid-228-a": true, "kbd-nodehid-228-b": true,
		"kbd-nodehid-228-c": true, "kbd-unixse-392654-altnumpad": true, "kbd-nodehid-78-rfid": true,
		"kbd-nodehid-413-fragment": true, "kbd-hid4java-78-fragment": true,
		"kbd-rpiforum-55100-usages": true, "kbd-uhs-732-opticon-usages": true,
	}
	for _, b := range loadFixtures(t, "hid-keyboard.txt") {
		if why, skip := notReports[b.ID]; skip {
			t.Logf("%s: not replayed: %s", b.ID, why)
			continue
		}
		if !want[b.ID] {
			t.Errorf("%s: new fixture block, neither replayed nor skipped", b.ID)
			continue
		}
		delete(want, b.ID)
		t.Run(b.ID, func(t *testing.T) {
			expected := keyboardExpected(b)
			if expected == "" {
				t.Fatalf("no decodes-to in %s", b.ID)
			}
			var d KeyboardDecoder
			if got := decodeAll(t, &d, keyboardReports(t, b)); got != expected {
				t.Errorf("source %s\ndecoded %q, decodes-to says %q", b.Headers["source"], got, expected)
			}
		})
	}
	for id := range want {
		t.Errorf("fixture block %s missing", id)
	}
}

// TestKeyboardCtrlSuffixDoesNotLeak: in kbd-nodehid-323
// (github.com/node-hid/node-hid/issues/323) a Ctrl+Shift+J chord follows
// Enter; the next code must start clean.
func TestKeyboardCtrlSuffixDoesNotLeak(t *testing.T) {
	var block fixtureBlock
	for _, b := range loadFixtures(t, "hid-keyboard.txt") {
		if b.ID == "kbd-nodehid-323" {
			block = b
		}
	}
	reports := keyboardReports(t, block)
	var d KeyboardDecoder
	got := decodeAll(t, &d, append(reports, reports...))
	if want := "6957842208856\r6957842208856\r"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func rep(mod byte, keys ...byte) []byte {
	r := make([]byte, 8)
	r[0] = mod
	copy(r[2:], keys)
	return r
}

func TestKeyboardDecoder(t *testing.T) {
	zero := rep(0)
	tests := []struct {
		name    string
		reports [][]byte
		want    string
	}{
		{"letters and left shift", [][]byte{rep(0, 0x04), zero, rep(0x02, 0x1d), zero}, "aZ"},
		{"right shift", [][]byte{rep(0x20, 0x1e), rep(0x20, 0x0b), zero}, "!H"},
		{"digits", [][]byte{rep(0, 0x1e), zero, rep(0, 0x26), zero, rep(0, 0x27), zero}, "190"},
		{"punctuation", [][]byte{rep(0, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x33), zero, rep(0, 0x34, 0x35, 0x36, 0x37, 0x38, 0x2c), zero}, `-=[]\;'` + "`,./ "},
		{"shifted punctuation", [][]byte{rep(0x02, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x33), zero, rep(0x20, 0x34, 0x35, 0x36, 0x37, 0x38), zero}, `_+{}|:"~<>?`},
		{"keypad digits and symbols", [][]byte{rep(0, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e), zero, rep(0, 0x5f, 0x60, 0x61, 0x62, 0x63), zero, rep(0, 0x54, 0x55, 0x56, 0x57), zero}, "1234567890./*-+"},
		{"enter, keypad enter, tab", [][]byte{rep(0, 0x28), zero, rep(0, 0x58), zero, rep(0, 0x2b), zero}, "\r\r\r"},
		{"held key is one character", [][]byte{rep(0, 0x21), rep(0, 0x21), rep(0, 0x21), zero}, "4"},
		{"repeat needs a release", [][]byte{rep(0, 0x21), zero, rep(0, 0x21), zero}, "44"},
		{"roll: new key while another held", [][]byte{rep(0, 0x21), rep(0, 0x21, 0x22), rep(0, 0x22), zero}, "45"},
		{"slot order", [][]byte{rep(0, 0x22, 0x1e, 0x21), zero}, "514"},
		{"rollover error ignored", [][]byte{rep(0, 0x21), rep(0, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01), rep(0, 0x21), zero}, "4"},
		{"modifier-only reports", [][]byte{rep(0x02), rep(0x02, 0x25), rep(0x02), zero, rep(0x20), zero}, "*"},
		{"ctrl and gui chords dropped", [][]byte{rep(0x01, 0x06), zero, rep(0x10, 0x19), zero, rep(0x08, 0x15), zero, rep(0, 0x04), zero}, "a"},
		{"alt mode across reports", [][]byte{rep(0x04, 0x62), rep(0x04), rep(0x04, 0x5e), rep(0x04), rep(0x04, 0x5e), zero}, "B"},
		{"alt mode right alt", [][]byte{rep(0x40, 0x62, 0x5f, 0x5f), zero}, "M"},
		{"alt mode control character", [][]byte{rep(0x04, 0x62, 0x62, 0x5a, 0x61), zero}, "\x1d"},
		{"alt mode held digit repeated", [][]byte{rep(0x04, 0x5b), rep(0x04), rep(0x04, 0x5b), zero}, "!"},
		{"alt chord is no character", [][]byte{rep(0x04, 0x2b), zero, rep(0, 0x04), zero}, "a"},
		{"alt with nothing", [][]byte{rep(0x04), zero}, ""},
		{"alt code above ASCII is the byte", [][]byte{rep(0x04, 0x5a, 0x5c, 0x5d), zero}, "\xf5"}, // Alt+245
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d KeyboardDecoder
			if got := decodeAll(t, &d, tc.reports); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestKeyboardAltCodeWraps(t *testing.T) {
	var d KeyboardDecoder
	// Alt+3,3,9 = 339 = 256+83: 'S', as Windows takes the code mod 256.
	if got := decodeAll(t, &d, [][]byte{rep(0x04, 0x5b, 0x5b, 0x61), rep(0)}); got != "S" {
		t.Fatalf("got %q, want S", got)
	}
}

func TestKeyboardBadReport(t *testing.T) {
	var d KeyboardDecoder
	out, _ := d.Decode(nil, rep(0, 0x21)) // '4' held
	for _, bad := range [][]byte{nil, make([]byte, 7), make([]byte, 9), make([]byte, 64)} {
		var err error
		out, err = d.Decode(out, bad)
		if !errors.Is(err, ErrReportSize) {
			t.Errorf("% x: err %v, want ErrReportSize", bad, err)
		}
	}
	// The bad reports changed nothing: '4' is still held.
	out, _ = d.Decode(out, rep(0, 0x21))
	if string(out) != "4" {
		t.Fatalf("got %q", out)
	}
}

func TestKeyboardNoAllocs(t *testing.T) {
	reports := [][]byte{rep(0x02, 0x04), rep(0), rep(0x04, 0x62, 0x60, 0x5b), rep(0), rep(0, 0x28), rep(0)}
	var d KeyboardDecoder
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		buf = buf[:0]
		for _, r := range reports {
			buf, _ = d.Decode(buf, r)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run", allocs)
	}
	if !strings.HasSuffix(string(buf), "AS\r") {
		t.Fatalf("decoded %q", buf)
	}
}
