package wallet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"tillpay/paycode"
)

// StateVersion is the version of the state file format this package writes.
const StateVersion = 1

// Errors of the state file; match them with errors.Is.
var (
	// ErrNotEnrolled: there is no state file yet.
	ErrNotEnrolled = errors.New("this wallet is not enrolled yet")
	// ErrCorrupt: the state file exists but cannot be used.
	ErrCorrupt = errors.New("wallet state file is corrupted")
	// ErrBadBackendURL: a backend address that is not http(s)://host[:port].
	ErrBadBackendURL = errors.New("not a payment backend address")
)

// Position names one code: its time step and sequence number.
type Position struct {
	Step int64 `json:"step"`
	Seq  int   `json:"seq"`
}

// Counter returns the HOTP counter of the position, which orders codes.
func (p Position) Counter() uint64 { return paycode.Counter(p.Step, p.Seq) }

// positionOf is the inverse of Counter.
func positionOf(counter uint64) Position {
	return Position{Step: int64(counter / paycode.SeqPerStep), Seq: int(counter % paycode.SeqPerStep)}
}

// State is everything a wallet keeps between runs. It holds the token seed
// and the password, so its file is readable by its owner only.
type State struct {
	Version    int       `json:"version"`
	BackendURL string    `json:"backend_url"`
	PayerID    string    `json:"payer_id"`
	Password   string    `json:"password"`
	KeyID      uint32    `json:"key_id"`
	Seed       []byte    `json:"seed"` // base64
	Enrolled   time.Time `json:"enrolled"`

	// ClockOffset is added to the local clock to get the backend's clock,
	// as last learned from the backend at OffsetLearned.
	ClockOffset   time.Duration `json:"clock_offset_ns"`
	OffsetLearned time.Time     `json:"offset_learned,omitzero"`

	// Last is the last code made (shown); nil before the first.
	Last *Position `json:"last,omitempty"`
	// Used is the newest code known to be used (reported by the backend or
	// moved past by hand); no code at or before it is ever made again.
	Used *Position `json:"used,omitempty"`
	// InboxAfter is the id of the newest notification the wallet has read
	// to learn of used codes (Sync reads the inbox before making a code).
	InboxAfter int64 `json:"inbox_after"`
	// InboxShown is the id of the newest notification shown to the payer
	// (Inbox); the ones after it are new to the payer even when Sync has
	// read them. A state file without it (written before it existed)
	// counts InboxAfter as shown.
	InboxShown int64 `json:"inbox_shown"`
}

// Validate checks that the state can make codes and reach a backend.
func (s *State) Validate() error {
	switch {
	case s.Version != StateVersion:
		return fmt.Errorf("version %d, want %d", s.Version, StateVersion)
	case s.PayerID == "":
		return errors.New("no payer id")
	case len(s.Seed) < 20 || len(s.Seed) > 1024:
		return fmt.Errorf("seed of %d bytes", len(s.Seed))
	case paycode.KeyID(s.KeyID) > paycode.MaxKeyID:
		return fmt.Errorf("key id %d has more than seven digits", s.KeyID)
	case s.InboxAfter < 0:
		return fmt.Errorf("inbox position %d is negative", s.InboxAfter)
	case s.InboxShown < 0:
		return fmt.Errorf("inbox position %d is negative", s.InboxShown)
	}
	if err := CheckBackendURL(s.BackendURL); err != nil {
		return err
	}
	for _, p := range []*Position{s.Last, s.Used} {
		if p != nil && (p.Step < 0 || p.Step > maxStep || p.Seq < 0 || p.Seq >= paycode.SeqPerStep) {
			return fmt.Errorf("code position %+v out of range", *p)
		}
	}
	if d := s.ClockOffset; d > maxOffset || d < -maxOffset {
		return fmt.Errorf("clock offset %v out of range", d)
	}
	return nil
}

// maxStep keeps step×10+seq within uint64 and times within time.Time.
const maxStep = 1 << 40

// maxOffset bounds a believable clock offset: a phone clock a century off is
// broken, not skewed.
const maxOffset = 100 * 365 * 24 * time.Hour

// CheckBackendURL checks that s is a payment backend's base address,
// http://host:port (or https). Its error wraps ErrBadBackendURL.
func CheckBackendURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("backend URL %q: %w: want http://host:port", s, ErrBadBackendURL)
	}
	return nil
}

// ParseState decodes and validates a state file's contents. Errors wrap
// ErrCorrupt.
func ParseState(data []byte) (State, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s State
	if err := dec.Decode(&s); err != nil {
		return State{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if dec.More() {
		return State{}, fmt.Errorf("%w: trailing data", ErrCorrupt)
	}
	var shown struct {
		InboxShown *int64 `json:"inbox_shown"`
	}
	if err := json.Unmarshal(data, &shown); err == nil && shown.InboxShown == nil {
		s.InboxShown = s.InboxAfter // a file from before the two positions
	}
	if err := s.Validate(); err != nil {
		return State{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return s, nil
}

// MarshalState encodes s for its file.
func MarshalState(s State) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("wallet: refusing to save an invalid state: %w", err)
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("wallet: encoding state: %w", err)
	}
	return append(data, '\n'), nil
}

// LoadState reads the state file at path.
func LoadState(path string) (State, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, fmt.Errorf("%w (no %s)", ErrNotEnrolled, path)
	}
	if err != nil {
		return State{}, fmt.Errorf("wallet: reading state: %w", err)
	}
	s, err := ParseState(data)
	if err != nil {
		return State{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// SaveState writes s to path atomically: a temporary file in the same
// directory, written and synced, renamed over path, then the directory
// synced. A crash leaves either the old file or the new one. The file is
// mode 0600 and its directory, if created, 0700.
func SaveState(path string, s State) error {
	data, err := MarshalState(s)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("wallet: creating state directory: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("wallet: saving state: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("wallet: saving state: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("wallet: saving state: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("wallet: saving state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("wallet: saving state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("wallet: saving state: %w", err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		// Make the rename itself durable; not every platform can sync a directory.
		_ = d.Sync()
		d.Close()
	}
	return nil
}
