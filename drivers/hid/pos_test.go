package hid

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"tillpay/scanner"
)

func posBlock(t testing.TB, id string) fixtureBlock {
	t.Helper()
	for _, b := range loadFixtures(t, "hid-pos.txt") {
		if b.ID == id {
			return b
		}
	}
	t.Fatalf("fixture block %s missing", id)
	return fixtureBlock{}
}

func blockReports(t testing.TB, b fixtureBlock) [][]byte {
	t.Helper()
	var out [][]byte
	for _, l := range b.Lines {
		out = append(out, hexLine(t, l))
	}
	return out
}

type posResult struct {
	data, aim string
	sym       scanner.Symbology
}

func decodePOS(t testing.TB, d *POSDecoder, reports [][]byte) (msgs []posResult, errs []error) {
	t.Helper()
	for _, r := range reports {
		msg, ok, err := d.Decode(r)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			msgs = append(msgs, posResult{string(msg.Data), msg.AIM(), msg.Symbology})
		}
		if ok && err != nil {
			t.Fatalf("message and error at once: %q, %v", msg.Data, err)
		}
	}
	return msgs, errs
}

// The REVINF answer of a Honeywell Voyager 1602g: block
// pos-honeywell-revinf-response, from github.com/HenkVanAsselt/python_hon_usbhid
// README.md @ 5144ad43707dd25331102640c71c3c547c715a5b.
const (
	revinfText = "Product Name: Voyager 1602g\r\nBoot Revision: : 8992\r\nSoftware Part Number: CW000082BBA\r\nSoftware Revision: $ProjectRevision: 16345 \r\nSerial Number: 15232B1F0C\r\nSupported IF: Bluetooth\r\nPCB Assembly ID: 000000\r\nEngine Firmware Type: N/A   Revision: N/A   Serial Number: N/A   Checksum: N/A\r\n"
	revinfEcho = "REVINF\x06."
)

// TestPOSHoneywellFixture replays every input block of testdata/hid-pos.txt.
func TestPOSHoneywellFixture(t *testing.T) {
	var inputs int
	for _, b := range loadFixtures(t, "hid-pos.txt") {
		if strings.HasPrefix(b.Headers["direction"], "host-to-scanner") {
			continue // output reports: TestDriverWriteReport
		}
		inputs++
		if b.ID != "pos-honeywell-revinf-response" {
			t.Fatalf("new input block %s: add its expected text", b.ID)
		}
		// The expected texts are the ones the block's decodes-to states.
		dt := b.Headers["decodes-to"]
		escaped := strings.ReplaceAll(revinfText, "\r\n", `\r\n`)
		if !strings.Contains(dt, "'"+escaped+"'") || !strings.Contains(dt, "'REVINF' 0x06 '.'") {
			t.Fatalf("decodes-to of %s no longer states the expected text: %s", b.ID, dt)
		}
		d, err := NewPOSDecoder(ProfileHoneywell, 0)
		if err != nil {
			t.Fatal(err)
		}
		msgs, errs := decodePOS(t, d, blockReports(t, b))
		if len(errs) > 0 {
			t.Fatalf("errors: %v", errs)
		}
		want := []posResult{
			{revinfText, "]X0", scanner.Unknown},
			{revinfEcho, "]Z6", scanner.Unknown},
		}
		if len(msgs) != len(want) {
			t.Fatalf("got %d messages %q, want %d", len(msgs), msgs, len(want))
		}
		for i := range want {
			if msgs[i] != want[i] {
				t.Errorf("message %d:\n got %q\nwant %q", i, msgs[i], want[i])
			}
		}
	}
	if inputs != 1 {
		t.Fatalf("%d input blocks replayed", inputs)
	}
}

// honeywellReport builds a Honeywell report in the layout the revinf
// fixture shows.
func honeywellReport(aim, data string, codeID byte, more bool) []byte {
	r := make([]byte, 64)
	r[0], r[1] = 2, byte(len(data))
	copy(r[2:5], aim)
	copy(r[5:], data)
	r[61] = codeID
	if more {
		r[63] = 1
	}
	return r
}

// newlandReport builds a Newland report after the NLS-FM430 layout in
// fixtures/README.md: [1] length, [2..57] data, [62] symbology id.
func newlandReport(data string, sym byte, more bool) []byte {
	r := make([]byte, 64)
	r[0], r[1] = 2, byte(len(data))
	copy(r[2:58], data)
	r[62] = sym
	if more {
		r[63] = 1
	}
	return r
}

func TestPOSHoneywellSymbology(t *testing.T) {
	d, _ := NewPOSDecoder(ProfileHoneywell, 0)
	code := "134567890123456789"
	msgs, errs := decodePOS(t, d, [][]byte{
		honeywellReport("]Q1", code, 0x73, false),
		honeywellReport("]E0", "6901234567892", 0x64, false),
		honeywellReport("]E0", "012345678905", 0x63, false),  // UPC-A by code id
		honeywellReport("]C1", "0100012345678905", 0, false), // AIM only
	})
	want := []posResult{
		{code, "]Q1", scanner.QR}, {"6901234567892", "]E0", scanner.EAN13},
		{"012345678905", "]E0", scanner.UPCA}, {"0100012345678905", "]C1", scanner.GS1128},
	}
	if len(errs) > 0 || len(msgs) != len(want) {
		t.Fatalf("msgs %q errs %v", msgs, errs)
	}
	for i := range want {
		if msgs[i] != want[i] {
			t.Errorf("%d: got %q want %q", i, msgs[i], want[i])
		}
	}
}

func TestPOSNewland(t *testing.T) {
	d, _ := NewPOSDecoder(ProfileNewland, 0)
	long := strings.Repeat("0123456789", 7) // 70 bytes: two reports
	msgs, errs := decodePOS(t, d, [][]byte{
		newlandReport("281234567890123456", 0, false),
		newlandReport(long[:56], 0x32, true),
		newlandReport(long[56:], 0x32, false),
	})
	if len(errs) > 0 || len(msgs) != 2 {
		t.Fatalf("msgs %q errs %v", msgs, errs)
	}
	if msgs[0].data != "281234567890123456" || msgs[0].aim != "" || msgs[1].data != long {
		t.Fatalf("got %q", msgs)
	}
}

func TestPOSGeneric(t *testing.T) {
	d, _ := NewPOSDecoder(ProfileGeneric, 0)
	r := make([]byte, 64)
	r[0] = 19
	copy(r[1:], "134567890123456789\r")
	msg, ok, err := d.Decode(r)
	if err != nil || !ok || msg.Framed || string(msg.Data) != "134567890123456789\r" {
		t.Fatalf("got %q framed=%v ok=%v err=%v", msg.Data, msg.Framed, ok, err)
	}
	r[0] = 64
	if _, ok, err := d.Decode(r); ok || !errors.Is(err, ErrLength) {
		t.Fatalf("length 64 in 64 bytes: ok=%v err=%v", ok, err)
	}
	if _, ok, err := d.Decode(nil); ok || !errors.Is(err, ErrReportSize) {
		t.Fatalf("empty: ok=%v err=%v", ok, err)
	}
}

// TestPOSBadInput: each broken input is an error, never a panic, a
// phantom code or two codes merged; the next good message still decodes.
func TestPOSBadInput(t *testing.T) {
	revinf := blockReports(t, posBlock(t, "pos-honeywell-revinf-response"))
	good := honeywellReport("]Q1", "134567890123456789", 0x73, false)
	badLen := bytes.Clone(revinf[0])
	badLen[1] = 57
	badID := bytes.Clone(revinf[1])
	badID[0] = 0x03
	tests := []struct {
		name     string
		reports  [][]byte
		wantErr  error
		wantMsgs []string
	}{
		{"short report mid-message", [][]byte{revinf[0], revinf[1][:40], revinf[2], revinf[5], good}, ErrReportSize, []string{"134567890123456789"}},
		{"long report", [][]byte{append(bytes.Clone(good), 0), good}, ErrReportSize, []string{"134567890123456789"}},
		{"length byte too large", [][]byte{badLen, revinf[1], revinf[5], good}, ErrLength, []string{"134567890123456789"}},
		{"unknown report id keeps the message", [][]byte{revinf[0], badID, revinf[1], revinf[2], revinf[3], revinf[4], revinf[5]}, ErrReportID, []string{revinfText}},
		{"continuation that never ends", repeat(revinf[0], 100), ErrTooLong, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := NewPOSDecoder(ProfileHoneywell, 1024)
			msgs, errs := decodePOS(t, d, tc.reports)
			if len(errs) == 0 || !errors.Is(errs[0], tc.wantErr) {
				t.Fatalf("errors %v, want %v", errs, tc.wantErr)
			}
			var got []string
			for _, m := range msgs {
				got = append(got, m.data)
			}
			if strings.Join(got, "|") != strings.Join(tc.wantMsgs, "|") {
				t.Fatalf("messages %q, want %q", got, tc.wantMsgs)
			}
		})
	}
}

func TestPOSNeverEndingThenGood(t *testing.T) {
	revinf := blockReports(t, posBlock(t, "pos-honeywell-revinf-response"))
	d, _ := NewPOSDecoder(ProfileHoneywell, 100)
	msgs, errs := decodePOS(t, d, append(repeat(revinf[0], 10), revinf[5], revinf[6]))
	if len(errs) != 1 || !errors.Is(errs[0], ErrTooLong) {
		t.Fatalf("errs %v", errs)
	}
	// The tail of the too-long message (revinf[5]) is skipped, not passed
	// off as a code; the echo after it is a message of its own.
	if len(msgs) != 1 || msgs[0].data != revinfEcho {
		t.Fatalf("msgs %q", msgs)
	}
}

func TestPOSInterrupt(t *testing.T) {
	revinf := blockReports(t, posBlock(t, "pos-honeywell-revinf-response"))
	d, _ := NewPOSDecoder(ProfileHoneywell, 0)
	decodePOS(t, d, revinf[:3])
	if !d.Pending() {
		t.Fatal("no message pending")
	}
	if err := d.Interrupt(); !errors.Is(err, ErrTruncated) {
		t.Fatalf("Interrupt: %v", err)
	}
	if err := d.Interrupt(); err != nil {
		t.Fatalf("second Interrupt: %v", err)
	}
	msgs, _ := decodePOS(t, d, revinf[3:6])
	if len(msgs) != 1 || msgs[0].data != revinfText[3*56:] {
		t.Fatalf("after Interrupt: %q", msgs)
	}
}

func TestNewPOSDecoderErrors(t *testing.T) {
	if _, err := NewPOSDecoder("zebra", 0); !errors.Is(err, scanner.ErrAddress) {
		t.Fatalf("unknown profile: %v", err)
	}
	if _, err := NewPOSDecoder(ProfileNewland, -1); err == nil {
		t.Fatal("negative size accepted")
	}
}

func TestPOSNoAllocs(t *testing.T) {
	revinf := blockReports(t, posBlock(t, "pos-honeywell-revinf-response"))
	d, _ := NewPOSDecoder(ProfileHoneywell, 0)
	allocs := testing.AllocsPerRun(50, func() {
		for _, r := range revinf {
			d.Decode(r)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per message", allocs)
	}
}

func repeat(r []byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = r
	}
	return out
}
