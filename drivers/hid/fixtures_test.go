package hid

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureBlock is one block of testdata/fixtures/hid-*.txt, the recorded
// scanner bytes in /work/shared/fixtures (README.md there names the
// sources). A block is "# key: value" headers (an indented "#   " line
// continues the previous value) followed by data lines.
type fixtureBlock struct {
	ID      string
	Headers map[string]string
	Lines   []string
}

func loadFixtures(t testing.TB, name string) []fixtureBlock {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "fixtures", name))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []fixtureBlock
	for _, chunk := range strings.Split(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n\n") {
		b := fixtureBlock{Headers: map[string]string{}}
		last := ""
		for _, line := range strings.Split(chunk, "\n") {
			switch {
			case strings.TrimSpace(line) == "":
			case strings.HasPrefix(line, "#   ") && last != "":
				b.Headers[last] += " " + strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "# "):
				key, value, ok := strings.Cut(line[2:], ": ")
				if !ok || strings.Contains(key, " ") {
					last = ""
					continue
				}
				b.Headers[key], last = value, key
			default:
				b.Lines = append(b.Lines, line)
			}
		}
		if b.ID = b.Headers["id"]; b.ID != "" {
			blocks = append(blocks, b)
		}
	}
	if len(blocks) == 0 {
		t.Fatalf("%s: no blocks", name)
	}
	return blocks
}

// hexLine decodes "02 38 5d …", after an optional "label: ".
func hexLine(t testing.TB, line string) []byte {
	t.Helper()
	if _, after, ok := strings.Cut(line, ": "); ok {
		line = after
	}
	b, err := hex.DecodeString(strings.ReplaceAll(line, " ", ""))
	if err != nil {
		t.Fatalf("bad hex line %q: %v", line, err)
	}
	return b
}

// keyboardReports turns a keyboard block into 8-byte reports. A
// usage-sequence block becomes one press and one release per usage, the
// shape the verbatim blocks show.
func keyboardReports(t testing.TB, b fixtureBlock) [][]byte {
	t.Helper()
	var out [][]byte
	if strings.HasPrefix(b.Headers["format"], "usage-sequence") {
		for _, u := range hexLine(t, b.Lines[0]) {
			out = append(out, []byte{0, 0, u, 0, 0, 0, 0, 0}, make([]byte, 8))
		}
		return out
	}
	for _, l := range b.Lines {
		out = append(out, hexLine(t, l))
	}
	return out
}

// keyboardExpected reads the text a keyboard block decodes to from its
// decodes-to header: its first word, quotes removed, <Enter> as CR. For
// example "6957842208856<Enter> then one chord …" and "'8' (first …".
func keyboardExpected(b fixtureBlock) string {
	f := strings.Fields(b.Headers["decodes-to"])
	if len(f) == 0 {
		return ""
	}
	return strings.ReplaceAll(strings.Trim(f[0], "'"), "<Enter>", "\r")
}
