package serial

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	bugst "go.bug.st/serial"

	"tillpay/scanner"
)

// config is a serial scanner address taken apart.
type config struct {
	// path is the device path, when the address names one.
	path string
	// usb selects the port by USB identity, when path is empty.
	usb *usbMatch
	// mode holds the line settings.
	mode bugst.Mode
}

// usbMatch selects a USB serial port by vendor, product and, optionally,
// the device's serial number.
type usbMatch struct {
	vid, pid uint16
	serial   string
}

func (m usbMatch) String() string {
	s := fmt.Sprintf("usb=%04x:%04x", m.vid, m.pid)
	if m.serial != "" {
		s += "&serial=" + m.serial
	}
	return s
}

// Line parameter defaults, those of most scan guns out of the box.
const (
	defaultBaud     = 9600
	defaultDataBits = 8
	maxBaud         = 4_000_000
)

// parseConfig reads a serial scanner address. Parameters it does not know
// are left alone: they belong to the framer.
func parseConfig(a scanner.Address) (config, error) {
	bad := func(format string, args ...any) (config, error) {
		return config{}, fmt.Errorf("%w %q: %s", scanner.ErrAddress, a.Raw, fmt.Sprintf(format, args...))
	}
	c := config{mode: bugst.Mode{
		BaudRate: defaultBaud,
		DataBits: defaultDataBits,
		Parity:   bugst.NoParity,
		StopBits: bugst.OneStopBit,
		// Leave DTR and RTS as the open set them: a pseudo-terminal and
		// some adapters reject the modem-control calls.
		InitialStatusBits: nil,
	}}
	params := url.Values{}
	for k, v := range a.Params {
		params[k] = v
	}

	target := strings.TrimSpace(a.Target)
	switch {
	case target == "":
		return bad("no port: want serial:/dev/ttyACM0 or serial:usb=VID:PID")
	case strings.HasPrefix(target, "usb="):
		sel, err := url.ParseQuery(target)
		if err != nil {
			return bad("%v", err)
		}
		for k, v := range sel {
			if len(v) != 1 {
				return bad("%s given %d times", k, len(v))
			}
			if k != "usb" && k != "serial" {
				// A line or framing parameter written with & instead of ?.
				if _, dup := params[k]; dup {
					return bad("%s given twice", k)
				}
				params[k] = v
			}
		}
		m, err := parseUSB(sel.Get("usb"))
		if err != nil {
			return bad("%v", err)
		}
		sn, inTarget := sel["serial"]
		if v, inParams := params["serial"]; inParams {
			if inTarget {
				return bad("serial given twice")
			}
			if len(v) != 1 {
				return bad("serial given %d times", len(v))
			}
			sn, inTarget = v, true
		}
		if inTarget {
			m.serial = strings.TrimSpace(sn[0])
			if m.serial == "" {
				return bad("empty serial number")
			}
		}
		c.usb = &m
	case strings.Contains(target, "="):
		return bad("unknown selector %q: want a device path or usb=VID:PID", target)
	case strings.Contains(target, "/"):
		c.path = target
	default:
		// A bare name such as ttyACM0.
		c.path = "/dev/" + target
	}

	for _, k := range []string{"baud", "databits", "parity", "stopbits"} {
		if v, ok := params[k]; ok && len(v) != 1 {
			return bad("%s given %d times", k, len(v))
		}
	}
	if v := params.Get("baud"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > maxBaud {
			return bad("baud %q: want a whole number of bits per second, such as 9600 or 115200", v)
		}
		c.mode.BaudRate = n
	}
	if v := params.Get("databits"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 8 {
			return bad("databits %q: want 5, 6, 7 or 8", v)
		}
		c.mode.DataBits = n
	}
	if v := params.Get("parity"); v != "" {
		p, ok := parities[strings.ToLower(v)]
		if !ok {
			return bad("parity %q: want none, odd, even, mark or space", v)
		}
		c.mode.Parity = p
	}
	if v := params.Get("stopbits"); v != "" {
		switch v {
		case "1":
			c.mode.StopBits = bugst.OneStopBit
		case "2":
			c.mode.StopBits = bugst.TwoStopBits
		default:
			return bad("stopbits %q: want 1 or 2", v)
		}
	}
	return c, nil
}

var parities = map[string]bugst.Parity{
	"none": bugst.NoParity, "n": bugst.NoParity,
	"odd": bugst.OddParity, "o": bugst.OddParity,
	"even": bugst.EvenParity, "e": bugst.EvenParity,
	"mark": bugst.MarkParity, "m": bugst.MarkParity,
	"space": bugst.SpaceParity, "s": bugst.SpaceParity,
}

// parseUSB reads "VID:PID" in hexadecimal, such as "0c2e:0b61".
func parseUSB(s string) (usbMatch, error) {
	v, p, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return usbMatch{}, fmt.Errorf("usb %q: want VID:PID in hexadecimal, such as 0c2e:0b61", s)
	}
	vid, err1 := parseHex16(v)
	pid, err2 := parseHex16(p)
	if err1 != nil || err2 != nil {
		return usbMatch{}, fmt.Errorf("usb %q: want VID:PID in hexadecimal, such as 0c2e:0b61", s)
	}
	return usbMatch{vid: vid, pid: pid}, nil
}

func parseHex16(s string) (uint16, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if s == "" || len(s) > 4 {
		return 0, fmt.Errorf("bad hex id %q", s)
	}
	n, err := strconv.ParseUint(s, 16, 16)
	return uint16(n), err
}
