package hid

import (
	"errors"
	"fmt"

	"tillpay/scanner"
)

// Profile names a vendor's layout of the HID POS (usage page 0x8C) scanned
// data report.
type Profile string

// Profiles the POS decoder knows.
const (
	// ProfileHoneywell: report ID 2 of 64 bytes; [1] payload length L
	// (at most 56); [2..4] AIM identifier; [5..5+L) payload; [61]
	// Honeywell code id; [63] bit 0 set when more reports follow. Byte
	// positions checked against a recorded Voyager 1602g response
	// (github.com/HenkVanAsselt/python_hon_usbhid README) and agreeing
	// with github.com/NielsLeenheer/WebHidBarcodeScanner src/main.js.
	ProfileHoneywell Profile = "honeywell"
	// ProfileNewland: report ID 2 of 64 bytes; [1] length L (at most 56);
	// [2..2+L) data; [58..61] reserved; [62] Newland symbology id or 0;
	// [63] bit 0 set when more reports follow. Layout after the NLS-FM430
	// user guide as quoted in a public node-hid driver; the continuation
	// bit is the one the HID POS usage tables place in the last byte.
	// The symbology byte is Newland's own numbering, which is not
	// mapped: scans come out with scanner.Unknown.
	ProfileNewland Profile = "newland"
	// ProfileGeneric: "length byte + data" reports with no report ID and
	// no continuation flag, as Symbol/Zebra "Simple COM Port Emulation"
	// sends them: [0] data length L, [1..1+L) data, then padding. The data
	// is a byte stream, so it is delivered unframed and the scanner Framer
	// splits it on the configured suffix.
	ProfileGeneric Profile = "generic"
)

// ParseProfile returns the profile named s (case-sensitive, as in
// addresses).
func ParseProfile(s string) (Profile, error) {
	switch p := Profile(s); p {
	case ProfileHoneywell, ProfileNewland, ProfileGeneric:
		return p, nil
	}
	return "", fmt.Errorf("%w: unknown HID POS profile %q (want honeywell, newland or generic)", scanner.ErrAddress, s)
}

// DefaultMaxMessage caps the size of one HID POS message (all its
// continued reports together) unless NewPOSDecoder is told otherwise. A QR
// code holds at most 7089 digits.
const DefaultMaxMessage = 8192

// posReportSize is the size of the vendor POS reports, report ID included.
const posReportSize = 64

// Errors of the POS decoder, wrapped; match them with errors.Is.
var (
	// ErrReportID: the report ID is not the scanned-data report.
	ErrReportID = errors.New("hid: unexpected report ID")
	// ErrLength: the length byte says more than the report can hold.
	ErrLength = errors.New("hid: length byte larger than the report")
	// ErrTooLong: continued reports add up to more than the maximum
	// message size; the message is dropped.
	ErrTooLong = errors.New("hid: message too long")
	// ErrTruncated: a message was cut short (the device went away, or a
	// broken report interrupted it); the part received is dropped.
	ErrTruncated = errors.New("hid: message cut short")
)

// POSMessage is one decoded HID POS message. Data aliases the decoder's
// buffer and is valid until the next call to Decode or Reset.
type POSMessage struct {
	Data []byte
	// Framed is false for ProfileGeneric, whose data is part of a byte
	// stream, and true for a complete message otherwise.
	Framed bool
	// Symbology comes from the vendor code id byte when it names one,
	// else from the AIM identifier.
	Symbology scanner.Symbology
	aim       [3]byte
}

// AIM returns the AIM symbology identifier (such as "]Q1") the device
// sent, or "" when it sent none.
func (m POSMessage) AIM() string {
	if m.aim[0] != ']' {
		return ""
	}
	return string(m.aim[:])
}

// POSDecoder joins HID POS input reports into messages according to a
// vendor profile. A report with its continuation flag set is held until
// the last report of the message arrives. Broken input yields an error and
// never a code: a broken report drops the message it belongs to, including
// any continued reports still to come. A POSDecoder is not safe for
// concurrent use.
type POSDecoder struct {
	profile    Profile
	max        int
	buf        []byte
	aim        [3]byte
	codeID     byte
	inMessage  bool // reports received with the continuation flag set
	discarding bool // skipping the rest of a broken message
}

// NewPOSDecoder returns a decoder for profile. maxMessage caps the size of
// one message; 0 means DefaultMaxMessage.
func NewPOSDecoder(profile Profile, maxMessage int) (*POSDecoder, error) {
	if _, err := ParseProfile(string(profile)); err != nil {
		return nil, err
	}
	if maxMessage < 0 {
		return nil, fmt.Errorf("hid: negative maximum message size %d", maxMessage)
	}
	if maxMessage == 0 {
		maxMessage = DefaultMaxMessage
	}
	return &POSDecoder{profile: profile, max: maxMessage, buf: make([]byte, 0, maxMessage)}, nil
}

// Profile returns the decoder's vendor profile.
func (d *POSDecoder) Profile() Profile { return d.profile }

// Reset drops any message in progress.
func (d *POSDecoder) Reset() {
	d.buf, d.inMessage, d.discarding = d.buf[:0], false, false
}

// Interrupt ends the input, as when the device goes away. It returns an
// error wrapping ErrTruncated when part of a message had arrived, and
// resets the decoder.
func (d *POSDecoder) Interrupt() error {
	pending := d.inMessage
	n := len(d.buf)
	d.Reset()
	if pending {
		return fmt.Errorf("%w: %d bytes of a continued message received, the rest never came", ErrTruncated, n)
	}
	return nil
}

// Decode feeds one input report, report ID first as hidapi reads it.
// When the report completes a message, ok is true and msg holds it. It
// allocates nothing.
func (d *POSDecoder) Decode(report []byte) (msg POSMessage, ok bool, err error) {
	if d.profile == ProfileGeneric {
		return d.decodeGeneric(report)
	}
	if len(report) != posReportSize {
		return d.fail(report, fmt.Errorf("%w: %s report of %d bytes, want %d", ErrReportSize, d.profile, len(report), posReportSize))
	}
	if report[0] != 0x02 {
		// Not the scanned-data report (a status or vendor report): a
		// message in progress stays intact.
		return msg, false, fmt.Errorf("%w 0x%02x, want 0x02 (scanned data)", ErrReportID, report[0])
	}
	var data []byte
	n := int(report[1])
	switch d.profile {
	case ProfileHoneywell:
		if n > 56 {
			return d.fail(report, fmt.Errorf("%w: Honeywell length %d, at most 56", ErrLength, n))
		}
		data = report[5 : 5+n]
	case ProfileNewland:
		if n > 56 {
			return d.fail(report, fmt.Errorf("%w: Newland length %d, at most 56", ErrLength, n))
		}
		data = report[2 : 2+n]
	}
	more := report[posReportSize-1]&1 != 0
	if d.discarding {
		d.discarding = more
		return msg, false, nil
	}
	if !d.inMessage {
		d.buf = d.buf[:0]
		if d.profile == ProfileHoneywell {
			copy(d.aim[:], report[2:5])
			d.codeID = report[61]
		} else {
			d.aim = [3]byte{}
			d.codeID = report[62]
		}
	}
	if len(d.buf)+len(data) > d.max {
		got := len(d.buf) + len(data)
		d.buf, d.inMessage, d.discarding = d.buf[:0], false, more
		return msg, false, fmt.Errorf("%w: %d bytes and more, at most %d", ErrTooLong, got, d.max)
	}
	d.buf = append(d.buf, data...)
	if more {
		d.inMessage = true
		return msg, false, nil
	}
	d.inMessage = false
	if len(d.buf) == 0 {
		return msg, false, nil // an empty message is no code
	}
	msg = POSMessage{Data: d.buf, Framed: true, aim: d.aim}
	msg.Symbology = d.symbology()
	return msg, true, nil
}

// fail drops the message a broken report belongs to. When the report may
// be part of a continued message, the reports still to come are skipped
// up to the last one, so that their tail cannot pass for a code.
func (d *POSDecoder) fail(report []byte, err error) (POSMessage, bool, error) {
	more := len(report) > 0 && report[len(report)-1]&1 != 0
	if d.inMessage {
		err = fmt.Errorf("%w (%w: the message in progress is dropped)", err, ErrTruncated)
	}
	d.discarding = d.inMessage || d.discarding || more
	d.buf, d.inMessage = d.buf[:0], false
	return POSMessage{}, false, err
}

func (d *POSDecoder) decodeGeneric(report []byte) (POSMessage, bool, error) {
	if len(report) == 0 {
		return POSMessage{}, false, fmt.Errorf("%w: empty report", ErrReportSize)
	}
	n := int(report[0])
	if n > len(report)-1 {
		return POSMessage{}, false, fmt.Errorf("%w: length %d in a report of %d bytes", ErrLength, n, len(report))
	}
	if n == 0 {
		return POSMessage{}, false, nil
	}
	d.buf = append(d.buf[:0], report[1:1+n]...)
	return POSMessage{Data: d.buf, Symbology: scanner.Unknown}, true, nil
}

func (d *POSDecoder) symbology() scanner.Symbology {
	if d.profile == ProfileHoneywell {
		if s, ok := honeywellCodeIDs[d.codeID]; ok {
			return s
		}
	}
	return aimSymbology(d.aim)
}

// honeywellCodeIDs maps Honeywell code id bytes to symbologies, after
// github.com/NielsLeenheer/WebHidBarcodeScanner src/main.js.
var honeywellCodeIDs = map[byte]scanner.Symbology{
	0x61: scanner.Codabar, 0x62: scanner.Code39, 0x64: scanner.EAN13,
	0x44: scanner.EAN8, 0x63: scanner.UPCA, 0x45: scanner.UPCE,
	0x6a: scanner.Code128, 0x49: scanner.GS1128, 0x65: scanner.ITF,
	0x72: scanner.PDF417, 0x73: scanner.QR, 0x77: scanner.DataMatrix,
	0x7a: scanner.Aztec,
}

// aimSymbology maps an AIM identifier "]cm" (ISO/IEC 15424) to a symbology.
func aimSymbology(aim [3]byte) scanner.Symbology {
	if aim[0] != ']' {
		return scanner.Unknown
	}
	switch aim[1] {
	case 'Q':
		return scanner.QR
	case 'C':
		if aim[2] == '1' {
			return scanner.GS1128
		}
		return scanner.Code128
	case 'E':
		if aim[2] == '4' {
			return scanner.EAN8
		}
		return scanner.EAN13
	case 'd':
		return scanner.DataMatrix
	case 'z':
		return scanner.Aztec
	case 'L':
		return scanner.PDF417
	case 'A':
		return scanner.Code39
	case 'I':
		return scanner.ITF
	case 'F':
		return scanner.Codabar
	}
	return scanner.Unknown
}

// Pending reports whether part of a continued message has arrived.
func (d *POSDecoder) Pending() bool { return d.inMessage }
