package serial

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"strings"
)

// fixtureBlock is one block of a recorded-bytes fixture file (see
// shared/fixtures/README.md, "Block format").
type fixtureBlock struct {
	headers map[string][]string
	// stream is all unlabelled data lines joined: one byte stream.
	stream []byte
	// exchange holds labelled lines ("host:", "scanner:") in order.
	exchange []fixtureLine
}

type fixtureLine struct {
	label string
	data  []byte
}

func (b fixtureBlock) header(k string) string {
	if v := b.headers[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// parseFixtures reads a fixture file into its blocks, those with an id
// header. Comment lines without the "# key: value" form are skipped; a data
// line that is not hex, or data in a block without an id, is an error.
func parseFixtures(text string) ([]fixtureBlock, error) {
	var out []fixtureBlock
	var cur *fixtureBlock
	var err error
	flush := func() {
		switch {
		case cur == nil:
		case cur.header("id") != "":
			out = append(out, *cur)
		case len(cur.stream) > 0 || len(cur.exchange) > 0:
			// A file's preamble has headers only; data needs an id.
			err = fmt.Errorf("a block of data has no '# id:' header")
		}
		cur = nil
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \t\r")
		if line == "" {
			if flush(); err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			continue
		}
		if cur == nil {
			cur = &fixtureBlock{headers: map[string][]string{}}
		}
		if rest, ok := strings.CutPrefix(line, "#"); ok {
			k, v, ok := strings.Cut(rest, ":")
			k = strings.TrimSpace(k)
			if ok && k != "" && !strings.ContainsAny(k, " \t") {
				cur.headers[strings.ToLower(k)] = append(cur.headers[strings.ToLower(k)], strings.TrimSpace(v))
			}
			continue
		}
		label := ""
		if l, rest, ok := strings.Cut(line, ":"); ok && !strings.ContainsAny(l, " \t") {
			label, line = l, rest
		}
		data, err := parseHexBytes(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if label == "" {
			cur.stream = append(cur.stream, data...)
		} else {
			cur.exchange = append(cur.exchange, fixtureLine{label: label, data: data})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// parseHexBytes reads bytes written as two-digit hex separated by spaces.
func parseHexBytes(s string) ([]byte, error) {
	var out []byte
	for _, f := range strings.Fields(s) {
		if len(f) != 2 {
			return nil, fmt.Errorf("byte %q: want two hex digits", f)
		}
		b, err := hex.DecodeString(f)
		if err != nil {
			return nil, fmt.Errorf("byte %q: %w", f, err)
		}
		out = append(out, b[0])
	}
	return out, nil
}

// chunkSizes reads a "# chunks:" header of quoted reads ('9' '78' ... ”)
// into the sizes of the reads; an empty last quote stands for the rest,
// which the source could not print.
func chunkSizes(h string) []int {
	var sizes []int
	for {
		i := strings.IndexByte(h, '\'')
		if i < 0 {
			return sizes
		}
		j := strings.IndexByte(h[i+1:], '\'')
		if j < 0 {
			return sizes
		}
		sizes = append(sizes, j)
		h = h[i+1+j+1:]
	}
}
