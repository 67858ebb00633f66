package scanner

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type got struct {
	label string
	sym   Symbology
	aim   string
	raw   string
	err   error
}

func (g got) String() string {
	if g.err != nil {
		return "ERR(" + g.err.Error() + ")"
	}
	return g.label + "/" + string(g.sym) + "/" + g.aim
}

// step is one input to the framer: a chunk at an offset from t0, or an
// idle check (idle true), or a break.
type step struct {
	data   string
	at     time.Duration
	framed bool
	aim    string
	sym    Symbology
	end    bool
	idle   bool
	brk    error
}

func runFramer(t *testing.T, params string, steps []step) []got {
	t.Helper()
	q, err := url.ParseQuery(params)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseFrameConfig(q)
	if err != nil {
		t.Fatalf("ParseFrameConfig(%q): %v", params, err)
	}
	f := NewFramer("test:1", cfg)
	var out []got
	emit := func(s Scan, err error) {
		if err != nil {
			var fe *FrameError
			if !errors.As(err, &fe) || fe.Device != "test:1" {
				t.Errorf("error %v is not a *FrameError for the device", err)
			}
			out = append(out, got{err: err})
			return
		}
		if s.Device != "test:1" {
			t.Errorf("scan device %q", s.Device)
		}
		out = append(out, got{label: s.Label, sym: s.Symbology, aim: s.AIM, raw: string(s.Raw)})
	}
	for _, st := range steps {
		at := t0.Add(st.at)
		switch {
		case st.idle:
			f.Idle(at, emit)
		case st.brk != nil:
			f.Break(st.brk, emit)
		default:
			f.Feed(Chunk{Data: []byte(st.data), At: at, Framed: st.framed, AIM: st.aim, Symbology: st.sym, End: st.end}, emit)
		}
	}
	return out
}

// want describes an expected output: a label (with symbology) or an error.
type want struct {
	label string
	sym   Symbology
	err   error
}

func ok(label string) want                 { return want{label: label, sym: Unknown} }
func okSym(label string, s Symbology) want { return want{label: label, sym: s} }
func bad(err error) want                   { return want{err: err} }

func check(t *testing.T, out []got, wants []want) {
	t.Helper()
	if len(out) != len(wants) {
		t.Fatalf("got %d results %v, want %d %v", len(out), out, len(wants), wants)
	}
	for i, w := range wants {
		g := out[i]
		if w.err != nil {
			if !errors.Is(g.err, w.err) {
				t.Errorf("result %d: got %v, want error %v", i, g, w.err)
			}
			continue
		}
		if g.err != nil || g.label != w.label || g.sym != w.sym {
			t.Errorf("result %d: got %v, want %q/%s", i, g, w.label, w.sym)
		}
	}
}

func TestFramer(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		params string
		steps  []step
		want   []want
	}{
		{"cr", "suffix=cr", []step{{data: "123\r456\r"}}, []want{ok("123"), ok("456")}},
		{"cr then lf of a crlf scanner gives no empty code", "suffix=cr", []step{{data: "123\r\n456\r\n"}}, []want{ok("123"), ok("456")}},
		{"crlf", "suffix=crlf", []step{{data: "123\r\n456\r\n"}}, []want{ok("123"), ok("456")}},
		{"auto crlf", "", []step{{data: "123\r\n456\r\n"}}, []want{ok("123"), ok("456")}},
		{"auto lf", "", []step{{data: "123\n456\n"}}, []want{ok("123"), ok("456")}},
		{"lone cr then lf later", "", []step{{data: "123\r"}, {data: "\n456\r", at: 50 * ms}}, []want{ok("123"), ok("456")}},
		{"crlf split across chunks", "suffix=crlf", []step{{data: "abc\r"}, {data: "\n", at: 2 * ms}}, []want{ok("abc")}},
		{"crlf keeps a lone cr inside", "suffix=crlf", []step{{data: "ab\rcd\r\n"}}, []want{ok("ab\rcd")}},
		{"lf strips cr", "suffix=lf", []step{{data: "123\r\n"}}, []want{ok("123")}},
		{"tab", "suffix=tab", []step{{data: "123\t456\t"}}, []want{ok("123"), ok("456")}},
		{"blank lines ignored", "", []step{{data: "\r\n\r\n\n123\r\r\r"}}, []want{ok("123")}},
		{"none flushes on idle", "suffix=none&idle=80ms", []step{
			{data: "123"}, {data: "456", at: 10 * ms}, {idle: true, at: 50 * ms}, {idle: true, at: 90 * ms},
			{data: "789", at: 300 * ms}, {idle: true, at: 380 * ms},
		}, []want{ok("123456"), ok("789")}},
		{"none: a gap inside a feed splits", "suffix=none", []step{{data: "123"}, {data: "456", at: 200 * ms}, {idle: true, at: time.Second}},
			[]want{ok("123"), ok("456")}},
		{"none: end of stream is end of code", "suffix=none", []step{{data: "123", end: true}}, []want{ok("123")}},
		{"cr: end of stream discards", "suffix=cr", []step{{data: "1\r123", end: true}, {data: "456\r"}}, []want{ok("1"), bad(ErrIncomplete), ok("456")}},
		{"cr: silence mid-code discards", "suffix=cr&idle=500ms", []step{{data: "123"}, {data: "456\r", at: 600 * ms}}, []want{bad(ErrIncomplete), ok("456")}},
		{"cr: idle off keeps waiting", "suffix=cr&idle=0", []step{{data: "123"}, {idle: true, at: time.Hour}, {data: "456\r", at: time.Hour}}, []want{ok("123456")}},
		{"unplug discards partial", "", []step{{data: "1234"}, {brk: ErrDisconnected}, {data: "5678\r"}}, []want{bad(ErrDisconnected), ok("5678")}},
		{"prefix and trailer", "suffix=cr&prefix=PFX&trailer=END", []step{{data: "PFX123END\r456\r"}}, []want{ok("123"), ok("456")}},
		{"gm60 backslash prefix", "prefix=%5C000026", []step{{data: "\\000026Gurkensalat\r"}}, []want{ok("Gurkensalat")}},
		{"stx etx", "", []step{{data: "\x02123\x03\x02456\x03\r"}}, []want{ok("123"), ok("456")}},
		{"stx etx with none", "suffix=none", []step{{data: "\x02123\x03"}}, []want{ok("123")}},
		{"gs kept", "", []step{{data: "]C101095011010209171719050810ABCD1234\x1d2110\r"}},
			[]want{okSym("01095011010209171719050810ABCD1234\x1d2110", GS1128)}},
		{"maxlen resyncs", "maxlen=5", []step{{data: "123456789\r12345\r"}}, []want{bad(ErrTooLong), ok("12345")}},
		{"maxlen over chunks", "maxlen=5", []step{{data: "1234"}, {data: "5678"}, {data: "9\r1\r"}}, []want{bad(ErrTooLong), ok("1")}},
		{"maxlen none resyncs on idle", "maxlen=3&suffix=none", []step{{data: "123456"}, {idle: true, at: time.Second}, {data: "12", at: time.Second}, {idle: true, at: 2 * time.Second}},
			[]want{bad(ErrTooLong), ok("12")}},
		{"maxlen crlf fits exactly", "maxlen=3&suffix=crlf", []step{{data: "123\r\n"}}, []want{ok("123")}},
		{"nuls between scans", "", []step{{data: "\x00\x00123\r\x00\x00\x00456\r\x00"}}, []want{ok("123"), ok("456")}},
		{"line noise", "", []step{{data: "\xff\xfe\x81\r123\r"}}, []want{bad(ErrBadData), ok("123")}},
		{"invalid utf8", "", []step{{data: "12\xc3\r"}}, []want{bad(ErrBadData)}},
		{"utf8 ok", "", []step{{data: "价格12\r"}}, []want{ok("价格12")}},
		{"control char", "", []step{{data: "12\x0734\r"}}, []want{bad(ErrBadData)}},
		{"partial aim", "", []step{{data: "]Q\r]\r]Q1\r"}}, []want{bad(ErrBadData), bad(ErrBadData), bad(ErrBadData)}},
		{"aim off keeps bracket", "aim=off", []step{{data: "]Q1x\r"}}, []want{ok("]Q1x")}},
		{"aim sticky catches a cut", "", []step{{data: "]Q1abc\rdef\r]Q1ghi\r"}}, []want{okSym("abc", QR), bad(ErrBadData), okSym("ghi", QR)}},
		{"aim then plain code later is fine", "", []step{{data: "]Q1abc\r"}, {data: "def\r", at: time.Second}}, []want{okSym("abc", QR), ok("def")}},
		{"unknown aim", "", []step{{data: "]Y9abc\r"}}, []want{okSym("abc", Unknown)}},
		{"framed", "", []step{{data: "]E09780201379624", framed: true}}, []want{okSym("9780201379624", EAN13)}},
		{"framed aim field", "", []step{{data: "abc\r", framed: true, aim: "]Q1"}}, []want{okSym("abc", QR)}},
		{"framed symbology field", "", []step{{data: "abc", framed: true, sym: PDF417}}, []want{okSym("abc", PDF417)}},
		{"framed prefix", "prefix=P", []step{{data: "P12", framed: true}}, []want{ok("12")}},
		{"framed too long", "maxlen=2", []step{{data: "123", framed: true}}, []want{bad(ErrTooLong)}},
		{"framed bare terminator", "", []step{{data: "\r", framed: true}}, []want{bad(ErrBadData)}},
		{"framed drops partial stream", "", []step{{data: "12"}, {data: "34", framed: true}}, []want{bad(ErrIncomplete), ok("34")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check(t, runFramer(t, tc.params, tc.steps), tc.want)
		})
	}
}

func TestFramerAIM(t *testing.T) {
	for id, sym := range map[string]Symbology{
		"]Q1": QR, "]C0": Code128, "]C1": GS1128, "]E0": EAN13, "]E4": EAN8, "]d1": DataMatrix, "]d2": DataMatrix,
		"]A0": Code39, "]I0": ITF, "]L0": PDF417, "]z0": Aztec, "]F0": Codabar, "]e0": GS1DataBar, "]G0": Code93,
		"]A4": Code39, "]Q3": QR, "]X0": Unknown,
	} {
		out := runFramer(t, "", []step{{data: id + "12345\r"}})
		if len(out) != 1 || out[0].err != nil || out[0].label != "12345" || out[0].sym != sym || out[0].aim != id {
			t.Errorf("%s: got %v, want 12345/%s/%s", id, out, sym, id)
		}
		if SymbologyOfAIM(id) != sym {
			t.Errorf("SymbologyOfAIM(%s) = %s", id, SymbologyOfAIM(id))
		}
	}
}

func TestFramerTimesAndRaw(t *testing.T) {
	f := NewFramer("d", FrameConfig{})
	var scans []Scan
	emit := func(s Scan, err error) {
		if err != nil {
			t.Fatal(err)
		}
		scans = append(scans, s)
	}
	f.Feed(Chunk{Data: []byte("]Q1ab"), At: t0}, emit)
	f.Feed(Chunk{Data: []byte("c\r\n"), At: t0.Add(7 * time.Millisecond)}, emit)
	if len(scans) != 1 {
		t.Fatalf("got %d scans", len(scans))
	}
	s := scans[0]
	if string(s.Raw) != "]Q1abc\r" || s.Label != "abc" || !s.FirstByte.Equal(t0) || !s.LastByte.Equal(t0.Add(7*time.Millisecond)) {
		t.Errorf("scan %+v", s)
	}
	if f.Pending() {
		t.Error("framer still pending after a full code")
	}
}

// fixtureStreams reads testdata/fixtures/serial.txt (the recorded
// scanner bytes): block id → stream bytes. Exchange blocks give the
// scanner's side.
func fixtureStreams(t testing.TB) map[string][]byte {
	f, err := os.Open("../testdata/fixtures/serial.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	id := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			id = ""
		case strings.HasPrefix(line, "# id:"):
			id = strings.TrimSpace(strings.TrimPrefix(line, "# id:"))
		case strings.HasPrefix(line, "#") || id == "" || strings.HasPrefix(line, "host:"):
		default:
			line = strings.TrimPrefix(line, "scanner:")
			b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(line), " ", ""))
			if err != nil {
				t.Fatalf("fixture %s: %v", id, err)
			}
			out[id] = append(out[id], b...)
		}
	}
	if len(out) < 5 {
		t.Fatalf("read only %d fixture streams", len(out))
	}
	return out
}

func TestFramerFixtures(t *testing.T) {
	fx := fixtureStreams(t)
	ms := time.Millisecond

	// The QR with a CR inside, as the recorded scanner sent it, plus a CRLF
	// suffix: with suffix=crlf it is one code.
	qr := string(fx["ser-webserial-1-qr-with-cr"])
	check(t, runFramer(t, "suffix=crlf", []step{{data: qr + "\r\n"}}),
		[]want{okSym("Some line\r breaks\nin here.", QR)})
	// With the default suffix the CR splits it: the first part is read, the
	// rest is refused (no AIM id) rather than delivered as phantom codes.
	check(t, runFramer(t, "", []step{{data: qr + "\r\n"}}),
		[]want{okSym("Some line", QR), bad(ErrBadData), bad(ErrBadData)})

	// Keyence reply: CR-terminated Code 128.
	check(t, runFramer(t, "suffix=cr", []step{{data: string(fx["ser-keyence-bl600ha-lon"])}}), []want{ok("Test")})

	// QZ Tray EAN-13 in the observed read chunks. Printed as "13 13" (DC3):
	// refused as control characters, never merged with the next code.
	ean := fx["ser-qztray-647-ean13"]
	parts := []string{"9", "78", "87", "4", "29", "40", "44", "0", string(ean[13:])}
	var steps []step
	for i, p := range parts {
		steps = append(steps, step{data: p, at: time.Duration(i) * ms})
	}
	steps = append(steps, step{idle: true, at: time.Second}, step{data: "123\r", at: 2 * time.Second})
	check(t, runFramer(t, "", steps), []want{bad(ErrIncomplete), ok("123")})
	check(t, runFramer(t, "suffix=none", steps[:len(steps)-1]), []want{bad(ErrBadData)})
	// Read as the maintainer did, CR CR: one code, no empty second one.
	steps[len(parts)-1].data = "\r\r"
	check(t, runFramer(t, "", steps), []want{ok("9788742940440"), ok("123")})
}

func TestParseFrameConfig(t *testing.T) {
	for _, bad := range []string{"suffix=xx", "idle=fast", "idle=-1s", "maxlen=0", "maxlen=abc", "maxlen=99999999", "aim=maybe", "suffix=none&idle=0"} {
		q, _ := url.ParseQuery(bad)
		if _, err := ParseFrameConfig(q); !errors.Is(err, ErrAddress) {
			t.Errorf("%s: err %v, want ErrAddress", bad, err)
		}
	}
	q, _ := url.ParseQuery("suffix=NONE&prefix=%02&maxlen=64&aim=off&baud=9600")
	cfg, err := ParseFrameConfig(q)
	if err != nil {
		t.Fatal(err)
	}
	want := FrameConfig{Suffix: TermNone, Idle: DefaultIdleNone, Prefix: "\x02", MaxLen: 64, NoAIM: true}
	if cfg != want {
		t.Errorf("got %+v, want %+v", cfg, want)
	}
}

func TestFrameErrorText(t *testing.T) {
	out := runFramer(t, "", []step{{data: strings.Repeat("\x07", 100) + "\r"}})
	if len(out) != 1 || out[0].err == nil {
		t.Fatalf("got %v", out)
	}
	msg := out[0].err.Error()
	if !strings.Contains(msg, "test:1") || !strings.Contains(msg, "101 bytes") || !strings.Contains(msg, "control character 0x07") {
		t.Errorf("message %q lacks device, size or reason", msg)
	}
	var fe *FrameError
	if errors.As(out[0].err, &fe); !bytes.Equal(fe.Raw, []byte(strings.Repeat("\x07", 100)+"\r")) {
		t.Errorf("raw %q", fe.Raw)
	}
}
