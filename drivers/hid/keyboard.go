package hid

import (
	"errors"
	"fmt"
)

// KeyboardReportSize is the size of a USB HID boot-keyboard input report:
// modifier bits, one reserved byte and six key-usage slots.
const KeyboardReportSize = 8

// ErrReportSize is wrapped by the error for a report whose length does not
// fit the decoder.
var ErrReportSize = errors.New("hid: report has the wrong size")

// Modifier bits of byte 0 of a boot-keyboard report (HID 1.11 §8.3).
const (
	modLeftCtrl   = 0x01
	modLeftShift  = 0x02
	modLeftAlt    = 0x04
	modLeftGUI    = 0x08
	modRightCtrl  = 0x10
	modRightShift = 0x20
	modRightAlt   = 0x40
	modRightGUI   = 0x80

	modShift = modLeftShift | modRightShift
	modAlt   = modLeftAlt | modRightAlt
	modChord = modLeftCtrl | modRightCtrl | modLeftGUI | modRightGUI
)

// Keyboard usages (HID Usage Tables, page 0x07) with a special meaning.
const (
	usageErrorRollOver = 0x01
	usageErrorUndef    = 0x03
	usageEnter         = 0x28
	usageTab           = 0x2b
	usageKeypadEnter   = 0x58
	usageKeypad1       = 0x59
	usageKeypad0       = 0x62
)

// keyTerminator marks a usage that ends a code in keyboardTable.
const keyTerminator = 0xff

// keyboardTable maps a key usage to the character it types on a US
// keyboard, unshifted and shifted; 0 means the key types nothing. The
// table is independent of the host's keyboard layout on purpose: a scan
// gun always sends US usages, and a French or German layout would turn its
// digits into other characters.
var keyboardTable = func() (t [256][2]byte) {
	for u := byte(0x04); u <= 0x1d; u++ { // a..z
		t[u] = [2]byte{'a' + u - 0x04, 'A' + u - 0x04}
	}
	const digits, shifted = "1234567890", "!@#$%^&*()"
	for i := range 10 {
		t[0x1e+i] = [2]byte{digits[i], shifted[i]}
	}
	for u, pair := range map[byte]string{
		0x2c: "  ", 0x2d: "-_", 0x2e: "=+", 0x2f: "[{", 0x30: "]}", 0x31: `\|`,
		0x32: `\|`, // non-US # and ~: Linux maps it to the backslash key too
		0x33: ";:", 0x34: `'"`, 0x35: "`~", 0x36: ",<", 0x37: ".>", 0x38: "/?",
		0x54: "//", 0x55: "**", 0x56: "--", 0x57: "++", 0x63: "..", 0x64: `\|`,
		0x67: "==", 0x85: ",,",
	} {
		t[u] = [2]byte{pair[0], pair[1]}
	}
	// Keypad digits type digits whatever the Num Lock state: scan guns
	// assume it is on.
	for i := range 9 {
		t[usageKeypad1+i] = [2]byte{'1' + byte(i), '1' + byte(i)}
	}
	t[usageKeypad0] = [2]byte{'0', '0'}
	for _, u := range []byte{usageEnter, usageTab, usageKeypadEnter} {
		t[u] = [2]byte{keyTerminator, keyTerminator}
	}
	return t
}()

// KeyboardDecoder turns boot-keyboard input reports from a scan gun in
// keyboard-emulation mode into the bytes the gun meant to type.
//
// It emits a character only for a usage that is newly pressed in a report
// (a key held over several reports is one character; a repeated character
// arrives as press, release, press), in key-slot order when several keys
// are new in one report. Enter, keypad Enter and Tab come out as CR (0x0D),
// the terminator the scanner Framer splits codes on.
//
// "Alt mode" is understood: while Alt is held, keypad digits build a
// decimal character code that is emitted as one byte (value mod 256, no
// code-page translation) when Alt is released, so Alt+0,8,3 gives 'S'.
// Chords with Ctrl or GUI (Windows) are not characters and are dropped; so
// are Alt chords with other keys. A report whose key slots hold
// ErrorRollOver (too many keys down) is ignored.
//
// The zero value is ready to use. A KeyboardDecoder is not safe for
// concurrent use.
type KeyboardDecoder struct {
	down     [6]byte // usages down in the last accepted report
	altCode  int     // character code typed so far in Alt mode
	altKeys  int     // keypad digits typed in Alt mode
	altValid bool    // Alt mode has seen only keypad digits
}

// Reset forgets keys held down and any Alt-mode character in progress, as
// after a reconnect.
func (d *KeyboardDecoder) Reset() { *d = KeyboardDecoder{} }

// Decode decodes one report and appends the characters it types to dst,
// returning the extended slice. It allocates nothing when dst has room for
// KeyboardReportSize more bytes. A report of the wrong size is an error
// and changes nothing.
func (d *KeyboardDecoder) Decode(dst, report []byte) ([]byte, error) {
	if len(report) != KeyboardReportSize {
		return dst, fmt.Errorf("%w: keyboard report of %d bytes, want %d", ErrReportSize, len(report), KeyboardReportSize)
	}
	mods := report[0]
	keys := report[2:8]
	for _, u := range keys {
		if u >= usageErrorRollOver && u <= usageErrorUndef {
			// Phantom state: the keys cannot be told apart. Keep the
			// previous state so nothing is pressed twice afterwards.
			return dst, nil
		}
	}
	alt := mods&modAlt != 0
	if !alt && d.altKeys > 0 {
		// Alt released: the character built from keypad digits is done.
		if d.altValid {
			dst = append(dst, byte(d.altCode))
		}
		d.altCode, d.altKeys, d.altValid = 0, 0, false
	}
	for _, u := range keys {
		if u == 0 || d.wasDown(u) {
			continue
		}
		switch {
		case alt:
			d.altKey(u, mods)
		case mods&modChord != 0:
			// Ctrl or GUI chord, such as a configured Ctrl+Shift+J
			// suffix: a command, not a character.
		default:
			shift := 0
			if mods&modShift != 0 {
				shift = 1
			}
			switch c := keyboardTable[u][shift]; c {
			case 0:
			case keyTerminator:
				dst = append(dst, '\r')
			default:
				dst = append(dst, c)
			}
		}
	}
	copy(d.down[:], keys)
	return dst, nil
}

// altKey handles a key newly pressed while Alt is held.
func (d *KeyboardDecoder) altKey(u, mods byte) {
	if d.altKeys == 0 {
		d.altValid = true
	}
	d.altKeys++
	if u < usageKeypad1 || u > usageKeypad0 || mods&modChord != 0 {
		d.altValid = false // an Alt chord such as Alt+Tab, not a character
		return
	}
	digit := 0
	if u != usageKeypad0 {
		digit = int(u-usageKeypad1) + 1
	}
	d.altCode = (d.altCode*10 + digit) % 256 // only the low byte counts, as on Windows
}

func (d *KeyboardDecoder) wasDown(u byte) bool {
	for _, p := range d.down {
		if p == u {
			return true
		}
	}
	return false
}
