package scanner

import (
	"strings"
	"testing"
)

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"serial:/dev/ttyACM0?baud=9600&suffix=cr", "serial:usb=0c2e:0b61", "hid:0c2e:0b61?mode=pos",
		"wedge", "sim:tcp=127.0.0.1:7000", "sim:stdin", ":", "?", "a:b?%zz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			return
		}
		if a.Scheme == "" || a.Scheme != strings.ToLower(a.Scheme) || strings.ContainsAny(a.Scheme, "/?=") {
			t.Fatalf("ParseAddress(%q): scheme %q", s, a.Scheme)
		}
		if a.Raw != strings.TrimSpace(s) || a.String() != a.Raw {
			t.Fatalf("ParseAddress(%q): raw %q", s, a.Raw)
		}
		if a.Params == nil {
			t.Fatalf("ParseAddress(%q): nil params", s)
		}
	})
}
