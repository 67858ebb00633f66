package hid

import (
	"bytes"
	"testing"
)

// FuzzKeyboardDecoder feeds arbitrary bytes as 8-byte reports (a short
// tail as a wrong-size report). Seeds: every keyboard fixture block.
func FuzzKeyboardDecoder(f *testing.F) {
	for _, b := range loadFixtures(f, "hid-keyboard.txt") {
		if b.Headers["format"] == "" {
			f.Add(bytes.Join(keyboardReports(f, b), nil))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var d, again KeyboardDecoder
		var out, out2 []byte
		sawAlt := false
		for len(data) > 0 {
			sawAlt = sawAlt || data[0]&modAlt != 0
			n := min(len(data), KeyboardReportSize)
			before := len(out)
			var err error
			out, err = d.Decode(out, data[:n])
			if (err != nil) != (n != KeyboardReportSize) {
				t.Fatalf("report % x: err %v", data[:n], err)
			}
			if len(out)-before > 7 {
				t.Fatalf("report % x typed %d bytes", data[:n], len(out)-before)
			}
			out2, _ = again.Decode(out2, data[:n])
			data = data[n:]
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("not deterministic: %q vs %q", out, out2)
		}
		if sawAlt {
			return // Alt mode may type any byte
		}
		for _, c := range out {
			if c != '\r' && (c < ' ' || c > '~') {
				t.Fatalf("typed %q without Alt mode", c)
			}
		}
	})
}

// FuzzPOSDecoder feeds reports cut from arbitrary bytes: each report is
// preceded by a length byte (so sizes vary, mostly 64) and decoded with
// the profile the first byte picks. Seeds: the Honeywell fixture.
func FuzzPOSDecoder(f *testing.F) {
	var seed []byte
	for _, r := range blockReports(f, posBlock(f, "pos-honeywell-revinf-response")) {
		seed = append(append(seed, 64), r...)
	}
	for p := range byte(3) {
		f.Add(append([]byte{p}, seed...))
	}
	profiles := []Profile{ProfileHoneywell, ProfileNewland, ProfileGeneric}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		const max = 300
		d, err := NewPOSDecoder(profiles[int(data[0])%3], max)
		if err != nil {
			t.Fatal(err)
		}
		data = data[1:]
		var fed int
		for len(data) > 0 {
			n := int(data[0])
			if n > 64 && n < 200 {
				n = 64
			}
			data = data[1:]
			n = min(n, len(data))
			r := data[:n]
			data = data[n:]
			fed += n
			msg, ok, err := d.Decode(r)
			if ok && err != nil {
				t.Fatalf("message and error at once: %v", err)
			}
			if ok && (len(msg.Data) == 0 || len(msg.Data) > max || len(msg.Data) > fed) {
				t.Fatalf("message of %d bytes after %d fed", len(msg.Data), fed)
			}
			if ok && d.Pending() {
				t.Fatal("message done but still pending")
			}
		}
		d.Interrupt()
		if d.Pending() {
			t.Fatal("pending after Interrupt")
		}
	})
}
