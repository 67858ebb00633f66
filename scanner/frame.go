package scanner

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Errors the Framer reports inside a *FrameError; match them with errors.Is.
var (
	// ErrTooLong: a code was longer than the configured maximum; its bytes
	// are dropped up to the next terminator.
	ErrTooLong = errors.New("code too long")
	// ErrIncomplete: a code was cut before its terminator (the device was
	// unplugged, the stream ended, or it fell silent mid-code).
	ErrIncomplete = errors.New("incomplete code")
	// ErrBadData: the bytes do not form a code (invalid UTF-8, control
	// characters, a partial AIM identifier, nothing left after stripping).
	ErrBadData = errors.New("unreadable code")
)

// FrameError is a code the Framer refused, with the raw bytes for audit.
type FrameError struct {
	Device string
	Raw    []byte
	Err    error
}

func (e *FrameError) Error() string {
	raw := e.Raw
	more := ""
	if len(raw) > 40 {
		raw, more = raw[:40], "…"
	}
	return fmt.Sprintf("scanner %s: %v (%d bytes %q%s)", e.Device, e.Err, len(e.Raw), raw, more)
}

func (e *FrameError) Unwrap() error { return e.Err }

// Terminator is the byte sequence a scan gun sends after each code.
type Terminator int

// Terminators. TermAuto ends a code at CR, LF or CRLF (a CRLF never gives
// an empty second code); TermNone relies on silence (Idle) alone.
const (
	TermAuto Terminator = iota
	TermCR
	TermLF
	TermCRLF
	TermTab
	TermNone
)

var termNames = [...]string{"auto", "cr", "lf", "crlf", "tab", "none"}

func (t Terminator) String() string {
	if t >= 0 && int(t) < len(termNames) {
		return termNames[t]
	}
	return "Terminator(" + strconv.Itoa(int(t)) + ")"
}

// FrameConfig says how to split a device's byte stream into codes.
type FrameConfig struct {
	// Suffix is the terminator after each code.
	Suffix Terminator
	// Idle is the silence that finishes a partial code: with Suffix
	// TermNone the bytes so far are the code; with a terminator they are
	// an incomplete code and are discarded. Zero disables it.
	Idle time.Duration
	// Prefix and Trailer are stripped from the start and the end of a
	// code when present (a scanner's configured prefix and suffix text).
	Prefix, Trailer string
	// MaxLen is the longest code accepted, in bytes.
	MaxLen int
	// NoAIM turns AIM identifier recognition off (aim=off).
	NoAIM bool
}

// Defaults for FrameConfig.
const (
	DefaultMaxLen        = 4096
	DefaultIdleNone      = 80 * time.Millisecond
	DefaultIdleTerminate = 500 * time.Millisecond
	maxMaxLen            = 1 << 20
)

// DefaultFrameConfig returns the framing used when an address sets none.
func DefaultFrameConfig() FrameConfig {
	return FrameConfig{Suffix: TermAuto, Idle: DefaultIdleTerminate, MaxLen: DefaultMaxLen}
}

// ParseFrameConfig reads the framing parameters of an address (suffix,
// idle, prefix, trailer, maxlen, aim; see the package documentation).
// Other parameters are left to the driver.
func ParseFrameConfig(params url.Values) (FrameConfig, error) {
	cfg := DefaultFrameConfig()
	idleSet := false
	if v := params.Get("suffix"); v != "" {
		found := false
		for i, n := range termNames {
			if strings.EqualFold(v, n) {
				cfg.Suffix, found = Terminator(i), true
			}
		}
		if !found {
			return cfg, fmt.Errorf("%w: suffix=%q: want cr, lf, crlf, tab, none or auto", ErrAddress, v)
		}
	}
	if v := params.Get("idle"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return cfg, fmt.Errorf("%w: idle=%q: want a duration such as 80ms (0 turns it off)", ErrAddress, v)
		}
		cfg.Idle, idleSet = d, true
	}
	if !idleSet && cfg.Suffix == TermNone {
		cfg.Idle = DefaultIdleNone
	}
	if cfg.Suffix == TermNone && cfg.Idle == 0 {
		return cfg, fmt.Errorf("%w: suffix=none needs idle > 0 to know where a code ends", ErrAddress)
	}
	cfg.Prefix = params.Get("prefix")
	cfg.Trailer = params.Get("trailer")
	if v := params.Get("maxlen"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxMaxLen {
			return cfg, fmt.Errorf("%w: maxlen=%q: want a number from 1 to %d", ErrAddress, v, maxMaxLen)
		}
		cfg.MaxLen = n
	}
	switch v := strings.ToLower(params.Get("aim")); v {
	case "", "auto", "on":
	case "off":
		cfg.NoAIM = true
	default:
		return cfg, fmt.Errorf("%w: aim=%q: want auto or off", ErrAddress, v)
	}
	return cfg, nil
}

// Control characters the framer treats specially.
const (
	stx = 0x02
	etx = 0x03
)

// fragmentWindow: a code without AIM identifier that starts this soon
// after one with an identifier is taken for the rest of that code, split
// at a CR or LF inside it; nobody scans two codes that fast.
const fragmentWindow = 250 * time.Millisecond

// Framer turns a device's chunks into Scans. It is not safe for
// concurrent use; give each device its own Framer so that codes from two
// scan guns never merge. It allocates per code, never per byte.
type Framer struct {
	cfg      FrameConfig
	device   string
	buf      []byte
	first    time.Time
	last     time.Time
	dropping bool      // over-long code: skip to the next terminator
	prevCR   bool      // last byte seen (also while dropping) was CR
	aimEnd   time.Time // last byte of the last code with an AIM identifier
	prefix   []byte
	trailer  []byte
}

// NewFramer returns a Framer for the named device. Zero fields of cfg
// take their defaults.
func NewFramer(device string, cfg FrameConfig) *Framer {
	if cfg.MaxLen <= 0 {
		cfg.MaxLen = DefaultMaxLen
	}
	if cfg.MaxLen > maxMaxLen {
		cfg.MaxLen = maxMaxLen
	}
	if cfg.Suffix == TermNone && cfg.Idle <= 0 {
		cfg.Idle = DefaultIdleNone
	}
	return &Framer{
		cfg:     cfg,
		device:  device,
		buf:     make([]byte, 0, cfg.MaxLen+2),
		prefix:  []byte(cfg.Prefix),
		trailer: []byte(cfg.Trailer),
	}
}

// Emit receives each finished code, or the error that refused one.
type Emit func(Scan, error)

// Feed frames one chunk. Codes and errors go to emit in order; a chunk can
// give none, one or several.
func (f *Framer) Feed(c Chunk, emit Emit) {
	if c.Framed {
		f.Break(nil, emit)
		f.framed(c, emit)
		return
	}
	f.Idle(c.At, emit)
	for _, b := range c.Data {
		f.byte(b, c.At, emit)
	}
	if c.End {
		if f.cfg.Suffix == TermNone && !f.dropping {
			f.finish(len(f.buf), emit)
			f.aimEnd = time.Time{}
		} else {
			f.Break(errors.New("stream ended"), emit)
		}
	}
}

// Pending reports whether part of a code is buffered.
func (f *Framer) Pending() bool { return len(f.buf) > 0 || f.dropping }

// Deadline returns when Idle will finish the buffered partial code, if
// there is one and an idle time is set.
func (f *Framer) Deadline() (time.Time, bool) {
	if !f.Pending() || f.cfg.Idle <= 0 {
		return time.Time{}, false
	}
	return f.last.Add(f.cfg.Idle), true
}

// Idle finishes the buffered partial code if the device has been silent
// for the idle time at now: as a code with suffix none, as an incomplete
// code otherwise.
func (f *Framer) Idle(now time.Time, emit Emit) {
	dl, ok := f.Deadline()
	if !ok || now.Before(dl) {
		return
	}
	switch {
	case f.dropping:
		f.reset()
	case f.cfg.Suffix == TermNone:
		f.finish(len(f.buf), emit)
	default:
		f.Break(fmt.Errorf("no %s terminator after %v of silence", f.cfg.Suffix, f.cfg.Idle), emit)
	}
}

// Break discards a partial code because the stream was cut (cause says
// why, such as an unplug), reporting it as ErrIncomplete.
func (f *Framer) Break(cause error, emit Emit) {
	if len(f.buf) > 0 && !f.dropping {
		err := ErrIncomplete
		if cause != nil {
			err = fmt.Errorf("%w: %w", ErrIncomplete, cause)
		}
		emit(Scan{}, &FrameError{Device: f.device, Raw: bytes.Clone(f.buf), Err: err})
	}
	f.reset()
	f.aimEnd = time.Time{} // a new stream: nothing in it continues the last code
}

func (f *Framer) reset() {
	f.buf = f.buf[:0]
	f.dropping = false
	f.prevCR = false
}

func (f *Framer) byte(b byte, at time.Time, emit Emit) {
	prevCR := f.prevCR
	f.prevCR = b == '\r'
	// Terminator: n is the length of the code before it.
	n := -1
	switch f.cfg.Suffix {
	case TermAuto:
		if b == '\r' || b == '\n' {
			n = len(f.buf)
		}
	case TermCR:
		if b == '\r' {
			n = len(f.buf)
		}
		if b == '\n' && prevCR && len(f.buf) == 0 && !f.dropping {
			return // the LF of a scanner that sends CRLF
		}
	case TermLF:
		if b == '\n' {
			n = len(f.buf)
			if n > 0 && f.buf[n-1] == '\r' {
				n--
			}
		}
	case TermCRLF:
		if b == '\n' && prevCR {
			n = len(f.buf) - 1
		}
	case TermTab:
		if b == '\t' {
			n = len(f.buf)
		}
	}
	if f.dropping {
		if n >= 0 {
			f.reset()
		}
		return
	}
	if n < 0 && b == etx && len(f.buf) > 0 && f.buf[0] == stx {
		n = len(f.buf) + 1 // STX … ETX frames end themselves
	}
	if n < 0 && len(f.buf) == 0 && b == 0 {
		return // NULs on an idle line between codes
	}
	crSlack := b == '\r' && len(f.buf) == f.cfg.MaxLen && (f.cfg.Suffix == TermCRLF || f.cfg.Suffix == TermLF)
	if n < 0 && len(f.buf) >= f.cfg.MaxLen && !crSlack {
		emit(Scan{}, &FrameError{Device: f.device, Raw: bytes.Clone(f.buf),
			Err: fmt.Errorf("%w: more than %d bytes; dropped up to the next terminator", ErrTooLong, f.cfg.MaxLen)})
		f.buf = f.buf[:0]
		f.dropping = true
		return
	}
	if len(f.buf) == 0 {
		f.first = at
	}
	f.last = at
	f.buf = append(f.buf, b) // capacity MaxLen+2: never grows
	if n >= 0 {
		f.finish(n, emit)
	}
}

// finish ends the buffered code whose first n bytes are the code and the
// rest its terminator.
func (f *Framer) finish(n int, emit Emit) {
	raw := f.buf
	f.buf = f.buf[:0]
	if n == 0 {
		return // a bare terminator (the LF of a CRLF, a blank line)
	}
	s, err := f.decode(raw, raw[:n], Unknown, "", false)
	if err != nil {
		emit(Scan{}, err)
		return
	}
	s.FirstByte, s.LastByte = f.first, f.last
	emit(s, nil)
}

func (f *Framer) framed(c Chunk, emit Emit) {
	if len(c.Data) > f.cfg.MaxLen {
		emit(Scan{}, &FrameError{Device: f.device, Raw: bytes.Clone(c.Data),
			Err: fmt.Errorf("%w: %d bytes, more than %d", ErrTooLong, len(c.Data), f.cfg.MaxLen)})
		return
	}
	body := c.Data
	switch f.cfg.Suffix {
	case TermAuto, TermCRLF:
		body = bytes.TrimSuffix(body, []byte{'\n'})
		body = bytes.TrimSuffix(body, []byte{'\r'})
	case TermCR:
		body = bytes.TrimSuffix(body, []byte{'\r'})
	case TermLF:
		body = bytes.TrimSuffix(body, []byte{'\n'})
	case TermTab:
		body = bytes.TrimSuffix(body, []byte{'\t'})
	}
	if len(body) == 0 {
		if len(c.Data) > 0 {
			emit(Scan{}, &FrameError{Device: f.device, Raw: bytes.Clone(c.Data), Err: fmt.Errorf("%w: no data", ErrBadData)})
		}
		return
	}
	s, err := f.decode(c.Data, body, c.Symbology, c.AIM, true)
	if err != nil {
		emit(Scan{}, err)
		return
	}
	s.FirstByte, s.LastByte = c.At, c.At
	emit(s, nil)
}

// decode strips the framing from body (raw without its terminator) and
// checks what is left.
func (f *Framer) decode(raw, body []byte, sym Symbology, aim string, framed bool) (Scan, error) {
	bad := func(format string, args ...any) (Scan, error) {
		return Scan{}, &FrameError{Device: f.device, Raw: bytes.Clone(raw),
			Err: fmt.Errorf("%w: "+format, append([]any{ErrBadData}, args...)...)}
	}
	if len(body) > 0 && body[0] == stx {
		body = body[1:]
		body = bytes.TrimSuffix(body, []byte{etx})
	}
	if len(f.prefix) > 0 {
		body = bytes.TrimPrefix(body, f.prefix)
	}
	if len(f.trailer) > 0 {
		body = bytes.TrimSuffix(body, f.trailer)
	}
	if !f.cfg.NoAIM && aim == "" {
		if len(body) > 0 && body[0] == ']' {
			if len(body) < 3 || !isAIMCode(body[1]) || !isAIMModifier(body[2]) {
				n := min(len(body), 3)
				return bad("partial AIM identifier %q (if codes may start with ']', set aim=off)", body[:n])
			}
			aim, sym = lookupAIM(body[1], body[2])
			body = body[3:]
			if !framed {
				f.aimEnd = f.last
			}
		} else if !framed && !f.aimEnd.IsZero() && f.first.Sub(f.aimEnd) < fragmentWindow {
			return bad("no AIM identifier right after a code that had one: the rest of a code cut at a CR or LF inside it? (try suffix=crlf, tab or none)")
		}
	} else if aim != "" && (sym == "" || sym == Unknown) && len(aim) == 3 && aim[0] == ']' {
		_, sym = lookupAIM(aim[1], aim[2])
	}
	if sym == "" {
		sym = Unknown
	}
	if len(body) == 0 {
		return bad("no data after the framing")
	}
	if !utf8.Valid(body) {
		return bad("not valid UTF-8 text")
	}
	for _, b := range body {
		if (b < 0x20 && !allowedControl(b)) || b == 0x7f {
			return bad("control character 0x%02x inside the code", b)
		}
	}
	return Scan{Raw: bytes.Clone(raw), Label: string(body), Symbology: sym, AIM: aim, Device: f.device}, nil
}

// allowedControl says which control characters may appear inside a code:
// GS, RS, FS and EOT of GS1 and ISO/IEC 15434 data, and the tab and line
// breaks that 2D codes carry.
func allowedControl(b byte) bool {
	switch b {
	case 0x1d, 0x1e, 0x1c, 0x04, '\t', '\r', '\n':
		return true
	}
	return false
}
