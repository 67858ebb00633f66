// Package serial drives scan guns that talk over a serial line: RS-232
// readers and USB scanners in USB-CDC ("virtual COM port") mode, through
// go.bug.st/serial.
//
// Importing the package registers the "serial" address scheme with the
// scanner package:
//
//	serial:/dev/ttyACM0?baud=9600&databits=8&parity=none&stopbits=1&suffix=cr
//	serial:ttyUSB0                          (short for /dev/ttyUSB0)
//	serial:usb=0c2e:0b61                    (the port of a USB device, by VID:PID)
//	serial:usb=0c2e:0b61&serial=ABC123      (... and USB serial number)
//
// The line parameters are baud (default 9600), databits (5–8, default 8),
// parity (none, odd, even, mark, space; default none) and stopbits (1 or 2,
// default 1). Other parameters, such as the framing ones (suffix, prefix,
// idle, ...), are left for the scanner package's framer.
//
// A USB address is resolved to a device path each time it is opened, so a
// scanner that comes back under a new /dev name after a replug is found
// again. Opening takes the port exclusively: the kernel's TIOCEXCL keeps
// other unprivileged programs out, and an advisory lock (flock) keeps out
// other tillpay processes even when they run as root.
//
// A Source delivers the bytes as they arrive, as unframed chunks stamped
// with their arrival time. An unplugged device ends it with an error
// wrapping scanner.ErrDisconnected; Open reports scanner.ErrNotFound,
// scanner.ErrPermission or scanner.ErrBusy, wrapping the underlying error
// too.
package serial
