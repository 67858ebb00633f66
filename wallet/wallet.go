// Package wallet is the logic and state of tillpay's payer-wallet emulator:
// it enrols with the payment backend, keeps the token seed in a state file,
// and makes one-time payment codes with no network, on its best estimate of
// the backend's clock.
//
// Every code is shown until it is known to be used, then the wallet moves on
// to the next sequence number of the time step (tillpay/paycode allows ten a
// step); a new step starts again at sequence 0. A use is learned from the
// backend's inbox (each notification names the key and counter of the code
// that paid) whenever the wallet is online, or by hand with Next. No code at
// or before a used one is ever made again.
package wallet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"tillpay/backend/api"
	"tillpay/paycode"
)

// Backend is what the wallet needs of the payment backend when online;
// *client.Payer implements it.
type Backend interface {
	// Time returns the backend's clock and the offset from the local one.
	Time(ctx context.Context) (time.Time, time.Duration, error)
	// Inbox returns notifications with an id greater than after.
	Inbox(ctx context.Context, after int64) ([]api.Notification, error)
}

// Enroller is what enrolment needs; *client.Payer implements it.
type Enroller interface {
	Time(ctx context.Context) (time.Time, time.Duration, error)
	Enrol(ctx context.Context) (api.EnrolResponse, error)
}

// ErrExhausted: every code of the current time step is used; see
// *ExhaustedError for when the next one can be made.
var ErrExhausted = errors.New("all codes of this minute are used")

// ExhaustedError says when the wallet can make its next code.
type ExhaustedError struct {
	Step  int64         // the backend's current step
	Ready time.Time     // backend time when the next code can be made
	Wait  time.Duration // how long from now that is
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("%s; the next code is ready in %s", ErrExhausted, e.Wait.Round(time.Second))
}

// Unwrap makes errors.Is(err, ErrExhausted) true.
func (e *ExhaustedError) Unwrap() error { return ErrExhausted }

// Code is a payment code the wallet made.
type Code struct {
	Digits  string `json:"code"`
	KeyID   uint32 `json:"key_id"`
	Step    int64  `json:"step"`
	Seq     int    `json:"seq"`
	Counter uint64 `json:"counter"`
	// BackendTime is the wallet's estimate of the backend's clock when the
	// code was made; Expires is the end of its time step on that clock,
	// when the wallet moves on to a new code.
	BackendTime time.Time `json:"backend_time"`
	Expires     time.Time `json:"expires"`
	// Left is how many more codes the wallet can make in this step.
	Left int `json:"left"`
}

// Position returns the code's step and sequence number.
func (c Code) Position() Position { return Position{Step: c.Step, Seq: c.Seq} }

// Wallet is an enrolled wallet bound to its state file. Its methods are safe
// for concurrent use, and every change is saved before the method returns;
// other processes using the same file see it (changes are made under a file
// lock on the freshly read state).
type Wallet struct {
	path string
	now  func() time.Time

	mu sync.Mutex
	st State
}

// Option configures a Wallet.
type Option func(*Wallet)

// WithClock sets the local clock (default time.Now). The backend's clock is
// this plus the learned offset.
func WithClock(now func() time.Time) Option { return func(w *Wallet) { w.now = now } }

func newWallet(path string, opts []Option) *Wallet {
	w := &Wallet{path: path, now: time.Now}
	for _, o := range opts {
		o(w)
	}
	return w
}

// Open loads the wallet whose state is at path. A missing file gives
// ErrNotEnrolled, a damaged one ErrCorrupt.
func Open(path string, opts ...Option) (*Wallet, error) {
	w := newWallet(path, opts)
	st, err := LoadState(path)
	if err != nil {
		return nil, err
	}
	w.st = st
	return w, nil
}

// Credentials say which payer to enrol and where.
type Credentials struct {
	BackendURL string
	PayerID    string
	Password   string
}

// Enrol asks the backend (through b, a client for creds) for a new seed and
// saves a fresh state at path, replacing any earlier enrolment there (whose
// codes the backend has now revoked). It learns the clock offset too.
func Enrol(ctx context.Context, path string, creds Credentials, b Enroller, opts ...Option) (*Wallet, error) {
	w := newWallet(path, opts)
	sent := w.now()
	r, err := b.Enrol(ctx)
	if err != nil {
		return nil, err
	}
	offset := r.ServerTime.Sub(sent.Add(w.now().Sub(sent) / 2))
	if _, off, err := b.Time(ctx); err == nil {
		offset = off
	}
	if r.StepSeconds != 0 && r.StepSeconds != paycode.StepSeconds {
		return nil, fmt.Errorf("wallet: backend uses %d-second steps, this wallet %d", r.StepSeconds, paycode.StepSeconds)
	}
	st := State{
		Version:       StateVersion,
		BackendURL:    creds.BackendURL,
		PayerID:       creds.PayerID,
		Password:      creds.Password,
		KeyID:         r.KeyID,
		Seed:          r.Seed,
		Enrolled:      r.ServerTime,
		ClockOffset:   offset,
		OffsetLearned: w.now().Add(offset),
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("wallet: the backend's enrolment is unusable: %w", err)
	}
	err = w.update(func(old *State, exists bool) error {
		if exists && old.BackendURL == st.BackendURL && old.PayerID == st.PayerID {
			// Older notifications are of the revoked key.
			st.InboxAfter, st.InboxShown = old.InboxAfter, old.InboxShown
		}
		*old = st
		return nil
	}, true)
	if err != nil {
		return nil, err
	}
	return w, nil
}

// update applies fn to the state as it is on disk, under the file lock, and
// saves the result. With create, a missing or corrupted file is no error
// (fn gets exists false).
func (w *Wallet) update(fn func(st *State, exists bool) error, create bool) error {
	if err := os.MkdirAll(filepath.Dir(w.path), 0o700); err != nil {
		return fmt.Errorf("wallet: creating state directory: %w", err)
	}
	unlock, err := lockFile(w.path)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := LoadState(w.path)
	exists := err == nil
	if err != nil && !create {
		return err
	}
	if !exists {
		st = State{}
	}
	if err := fn(&st, exists); err != nil {
		return err
	}
	if err := SaveState(w.path, st); err != nil {
		return err
	}
	w.mu.Lock()
	w.st = st
	w.mu.Unlock()
	return nil
}

// State returns a copy of the wallet's state.
func (w *Wallet) State() State {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.st
	st.Seed = append([]byte(nil), w.st.Seed...)
	return st
}

// Path returns the state file's path.
func (w *Wallet) Path() string { return w.path }

// BackendNow returns the wallet's estimate of the backend's clock: the local
// clock plus the learned offset.
func (w *Wallet) BackendNow() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now().Add(w.st.ClockOffset)
}

// next returns the code to show at backend time t: the first of step(t),
// or the one after the newest used code if that is later.
func next(st *State, t time.Time) (Code, error) {
	step := paycode.StepAt(t)
	cand := paycode.Counter(step, 0)
	if st.Used != nil && st.Used.Counter() >= cand {
		cand = st.Used.Counter() + 1
	}
	p := positionOf(cand)
	if p.Step > step {
		ready := time.Unix(p.Step*paycode.StepSeconds, 0).UTC()
		return Code{}, &ExhaustedError{Step: step, Ready: ready, Wait: ready.Sub(t)}
	}
	digits, err := paycode.Generate(st.Seed, paycode.KeyID(st.KeyID), p.Step, p.Seq)
	if err != nil {
		return Code{}, fmt.Errorf("wallet: %w", err)
	}
	return Code{
		Digits:      digits,
		KeyID:       st.KeyID,
		Step:        p.Step,
		Seq:         p.Seq,
		Counter:     cand,
		BackendTime: t,
		Expires:     time.Unix((p.Step+1)*paycode.StepSeconds, 0).UTC(),
		Left:        paycode.SeqPerStep - 1 - p.Seq,
	}, nil
}

// Peek returns the code to show now without recording it.
func (w *Wallet) Peek() (Code, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return next(&w.st, w.now().Add(w.st.ClockOffset))
}

// Current returns the code to show now and records it as the last code
// made. It needs no network. When every code of the step is used it returns
// an *ExhaustedError.
func (w *Wallet) Current() (Code, error) {
	var c Code
	err := w.update(func(st *State, _ bool) error {
		var err error
		if c, err = next(st, w.now().Add(st.ClockOffset)); err != nil {
			return err
		}
		p := c.Position()
		st.Last = &p
		return nil
	}, false)
	return c, err
}

// Next marks the last code made as used (as after paying with it while
// offline) and returns the next one, as Current does.
func (w *Wallet) Next() (Code, error) {
	err := w.update(func(st *State, _ bool) error {
		if st.Last != nil {
			markUsed(st, *st.Last)
		}
		return nil
	}, false)
	if err != nil {
		return Code{}, err
	}
	return w.Current()
}

// MarkUsed records that the code at p was used. It reports whether that
// moved the wallet on (p was newer than every code known used).
func (w *Wallet) MarkUsed(p Position) (bool, error) {
	var moved bool
	err := w.update(func(st *State, _ bool) error {
		moved = markUsed(st, p)
		return nil
	}, false)
	return moved, err
}

func markUsed(st *State, p Position) bool {
	if st.Used != nil && st.Used.Counter() >= p.Counter() {
		return false
	}
	st.Used = &p
	return true
}

// SyncResult is what the wallet learned from the backend.
type SyncResult struct {
	Offset time.Duration
	// Notifications are the new ones, oldest first.
	Notifications []api.Notification
	// Used is true when a notification moved the wallet on to a new code.
	Used bool
}

// Sync learns the clock offset and reads new notifications from the
// backend, moving on past every code they report used. On error nothing
// that was not learned is changed; an offset learned before the inbox
// failed is kept. It does not count the notifications as shown to the
// payer: Inbox still returns them.
func (w *Wallet) Sync(ctx context.Context, b Backend) (SyncResult, error) {
	var res SyncResult
	_, off, err := b.Time(ctx)
	if err != nil {
		return res, err
	}
	res.Offset = off
	if err := w.SetOffset(off); err != nil {
		return res, err
	}
	after := w.State().InboxAfter
	ns, err := b.Inbox(ctx, after)
	if err != nil {
		return res, err
	}
	err = w.update(func(st *State, _ bool) error {
		res.Used = false
		res.Notifications = res.Notifications[:0]
		for _, n := range ns {
			if n.ID <= st.InboxAfter {
				continue // read meanwhile by another process, or repeated
			}
			st.InboxAfter = n.ID
			res.Notifications = append(res.Notifications, n)
			if learnUse(st, n) {
				res.Used = true
			}
		}
		return nil
	}, false)
	return res, err
}

// learnUse moves past the code that notification n reports used, if it is
// one of this wallet's; it reports whether that moved the wallet on.
func learnUse(st *State, n api.Notification) bool {
	if n.KeyID != st.KeyID || n.Counter == 0 || n.Counter/paycode.SeqPerStep > maxStep {
		return false
	}
	return markUsed(st, positionOf(n.Counter))
}

// Inbox returns the notifications the payer has not been shown yet (with
// all, every notification), oldest first, and records them as shown. Those
// that Sync had not read yet also move the wallet past the codes they
// report used. On error nothing changes.
func (w *Wallet) Inbox(ctx context.Context, b Backend, all bool) ([]api.Notification, error) {
	st := w.State()
	after := min(st.InboxAfter, st.InboxShown)
	if all {
		after = 0
	}
	ns, err := b.Inbox(ctx, after)
	if err != nil {
		return nil, err
	}
	var out []api.Notification
	err = w.update(func(st *State, _ bool) error {
		out = out[:0]
		for _, n := range ns {
			if n.ID > st.InboxAfter {
				st.InboxAfter = n.ID
				learnUse(st, n)
			}
			if all || n.ID > st.InboxShown {
				out = append(out, n)
			}
			st.InboxShown = max(st.InboxShown, n.ID)
		}
		return nil
	}, false)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SetBackendURL makes the wallet reach its backend at u from now on (as
// after the backend moved to another address; the enrolment stays) and
// saves it. It reports whether the address changed. An address that is not
// http://host:port gives an error wrapping ErrBadBackendURL and changes
// nothing.
func (w *Wallet) SetBackendURL(u string) (bool, error) {
	u = strings.TrimRight(u, "/")
	if err := CheckBackendURL(u); err != nil {
		return false, fmt.Errorf("wallet: %w", err)
	}
	var changed bool
	err := w.update(func(st *State, _ bool) error {
		changed = st.BackendURL != u
		st.BackendURL = u
		return nil
	}, false)
	if err != nil {
		return false, err
	}
	return changed, nil
}

// SetOffset records a clock offset learned from the backend.
func (w *Wallet) SetOffset(off time.Duration) error {
	if off > maxOffset || off < -maxOffset {
		return fmt.Errorf("wallet: the backend's clock is %v from this one; refusing it", off)
	}
	return w.update(func(st *State, _ bool) error {
		st.ClockOffset = off
		st.OffsetLearned = w.now().Add(off)
		return nil
	}, false)
}
