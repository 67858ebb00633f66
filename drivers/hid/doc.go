// Package hid reads USB HID scan guns through github.com/karalabe/usb
// (hidapi over libusb on Linux) and registers the scanner driver for
// addresses of the scheme "hid":
//
//	hid:0c2e:0b61                          keyboard mode (the default)
//	hid:0c2e:0b61?mode=pos                 HID POS, profile from the vendor
//	hid:1eab:1d10?mode=pos&profile=newland
//	hid:05e0:0600?mode=pos&profile=generic
//	hid:0c2e:0b61?serial=15232B1F0C&interface=1
//
// The target is the USB vendor and product ID in hex. serial= and
// interface= pick one among several matching HID interfaces; when more
// than one matches without them, Open fails and lists the candidates.
// Devices are chosen by VID:PID and interface because hidapi's libusb
// backend reports the usage page as 0 on Linux. Parameters the driver
// does not know (such as a framing suffix) are left for the scanner
// Framer.
//
// # Modes
//
// mode=keyboard reads 8-byte boot-keyboard reports from a gun in keyboard
// emulation and decodes the key usages with a US table, whatever the
// desktop's keyboard layout (see KeyboardDecoder). Next delivers the typed
// characters unframed, with Enter, keypad Enter and Tab as CR, and the
// scanner Framer splits codes on CR. Ctrl and GUI chords are dropped, so
// guns that send control characters as Ctrl+letter lose them; Alt mode
// (Alt plus keypad digits) carries any byte. A gun whose keyboard
// interface numbers its reports (9-byte reads) is not supported.
//
// mode=pos reads HID POS (usage page 0x8C) scanned-data reports with a
// vendor profile (see POSDecoder): honeywell (the default for vendor
// 0c2e), newland (the default for 1eab) or generic, the "length byte +
// data" layout of Symbol/Zebra's Simple COM Port Emulation (the default
// for every other vendor). Honeywell and Newland messages, joined across
// continued reports, come out as framed chunks with the symbology and
// AIM identifier; generic data comes out unframed for the Framer. The gun
// must already be in HID POS mode (set by a programming barcode from its
// manual): the Honeywell "HID mode" switch is a feature report, which
// karalabe/usb cannot send.
//
// # Exclusive access and permissions
//
// Opening a gun through libusb detaches the kernel's usbhid driver from
// the interface and claims it: from then on the gun no longer types into
// the desktop, and no other program can read it. This version of hidapi
// does not reattach the kernel driver on close, so after the till lets go
// the gun types into the desktop again only once it is replugged.
//
// libusb needs write access to the device node under /dev/bus/usb. Grant
// it with a udev rule, for example in
// /etc/udev/rules.d/70-tillpay-scanner.rules:
//
//	SUBSYSTEM=="usb", ATTRS{idVendor}=="0c2e", MODE="0660", GROUP="plugdev"
//
// then run "udevadm control --reload" and replug the gun; the till's user
// must be in the plugdev group. Without it Open fails with an error
// wrapping scanner.ErrPermission; a gun claimed by another program gives
// scanner.ErrBusy, a missing one scanner.ErrNotFound, and unplugging an
// open gun ends Next with scanner.ErrDisconnected.
//
// List enumerates the HID interfaces of the machine for setup tools.
// Tests and demonstrations replay recorded reports through Replay.
package hid
