package backend

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"tillpay/backend/api"
)

// Payer logins (HTTP Basic) are guarded three ways:
//
//   - An unknown payer id is checked against a dummy hash with the service's
//     iteration count, so it costs what a wrong password costs and timing
//     does not tell which ids exist.
//   - At most payerAuthSlots password checks (PBKDF2) run at once; the rest
//     wait, as long as their client does, so that a flood of logins cannot
//     take every processor from payments. A login found in the recent-login
//     cache (pwCache) needs no check and does not wait.
//   - After payerLoginMaxFailures consecutive wrong passwords for one payer,
//     that payer's logins are refused at once, right password or not, for
//     payerLoginLockStep, doubling with each further failure up to
//     payerLoginMaxLock. A right password after the lock resets the count.
//     Payments with the payer's codes are not affected.
const (
	payerLoginMaxFailures = 5
	payerLoginLockStep    = time.Minute
	payerLoginMaxLock     = 15 * time.Minute
	// payerLoginForget is how long after its last failure (and the end of
	// any lock) a payer's failure count is kept; then it is dropped.
	payerLoginForget = time.Hour
	// payerLoginSweep is how often failure records are swept at most.
	payerLoginSweep = time.Minute
)

// payerAuth is the state of payer login checks. Its zero value is ready.
type payerAuth struct {
	mu        sync.Mutex
	sem       chan struct{}            // password check slots; made on first use
	fails     map[string]*loginFailure // existing payer id → failures
	lastSweep time.Time

	dummyOnce sync.Once
	dummy     string // hash unknown ids are checked against

	waiting atomic.Int64 // requests waiting for a slot

	// check, if set, replaces checkPassword (tests count and hold checks).
	check atomic.Pointer[func(stored, pw string) bool]
}

// loginFailure counts one payer's consecutive wrong passwords.
type loginFailure struct {
	n     int       // consecutive failures
	last  time.Time // the last failure
	until time.Time // end of the lock; zero if never locked
}

// payerAuthSlots is the default number of concurrent password checks: half
// the processors, at least one.
func payerAuthSlots() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// slots returns the semaphore of password checks.
func (p *payerAuth) slots() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sem == nil {
		p.sem = make(chan struct{}, payerAuthSlots())
	}
	return p.sem
}

// acquire takes a password check slot, waiting for one as long as ctx
// allows, and returns its release.
func (p *payerAuth) acquire(ctx context.Context) (release func(), err error) {
	sem := p.slots()
	p.waiting.Add(1)
	defer p.waiting.Add(-1)
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting to check the password: %w", ctx.Err())
	}
}

// checkPassword checks pw against the stored hash (PBKDF2); call it holding
// a slot.
func (p *payerAuth) checkPassword(stored, pw string) bool {
	if f := p.check.Load(); f != nil {
		return (*f)(stored, pw)
	}
	return checkPassword(stored, pw)
}

// lockedUntil is the end of id's lock if it is locked at now.
func (p *payerAuth) lockedUntil(id string, now time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.fails[id]
	if f == nil || !now.Before(f.until) {
		return time.Time{}, false
	}
	return f.until, true
}

// fail counts a wrong password for the existing payer id at now. It returns
// the end of a lock it starts, or the zero time.
func (p *payerAuth) fail(id string, now time.Time) (n int, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Sub(p.lastSweep) >= payerLoginSweep {
		p.lastSweep = now
		for k, f := range p.fails {
			if now.After(maxTime(f.last, f.until).Add(payerLoginForget)) {
				delete(p.fails, k)
			}
		}
	}
	if p.fails == nil {
		p.fails = make(map[string]*loginFailure)
	}
	f := p.fails[id]
	if f == nil {
		f = &loginFailure{}
		p.fails[id] = f
	}
	f.n++
	f.last = now
	if f.n < payerLoginMaxFailures || now.Before(f.until) {
		return f.n, time.Time{}
	}
	f.until = now.Add(payerLoginLock(f.n))
	return f.n, f.until
}

// payerLoginLock is the lock after n consecutive failures (n ≥ the maximum).
func payerLoginLock(n int) time.Duration {
	shift := n - payerLoginMaxFailures
	if shift < 0 {
		return 0
	}
	if shift >= 16 {
		return payerLoginMaxLock
	}
	return min(payerLoginLockStep<<shift, payerLoginMaxLock)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// succeed forgets id's failures.
func (p *payerAuth) succeed(id string) {
	p.mu.Lock()
	delete(p.fails, id)
	p.mu.Unlock()
}

// dummyHash is a hash of a random password with the service's iteration
// count, made once.
func (s *Service) dummyHash() string {
	s.pauth.dummyOnce.Do(func() {
		h, err := hashPassword(randomText(15), s.cfg.pwIter)
		if err != nil {
			s.log.Error("making the dummy password hash", "err", err)
			// A hash with the count and a fixed salt still costs the same.
			h = fmt.Sprintf("pbkdf2-sha256$%d$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", max(1, s.cfg.pwIter))
		}
		s.pauth.dummy = h
	})
	return s.pauth.dummy
}

// lockedError refuses a login while the payer is locked.
func lockedError(until, now time.Time) *Error {
	return &Error{http.StatusUnauthorized, api.ErrUnauthorized,
		fmt.Sprintf("too many wrong passwords for this payer; try again in %s (after %s)",
			minutesText(until.Sub(now)), until.UTC().Format(time.RFC3339))}
}

// authenticatePayer checks a payer's password.
func (s *Service) authenticatePayer(ctx context.Context, id, pw string) error {
	p := &s.pauth
	if until, ok := p.lockedUntil(id, s.now()); ok {
		return lockedError(until, s.now())
	}
	var stored string
	err := s.readRow(ctx, "SELECT pw_hash FROM payers WHERE id = ?", []any{id}, &stored)
	if err != nil && !isNoRows(err) {
		return fmt.Errorf("storage: %w", err)
	}
	unauthorized := &Error{http.StatusUnauthorized, api.ErrUnauthorized, "wrong payer id or password"}
	if isNoRows(err) {
		release, err := p.acquire(ctx)
		if err != nil {
			return err
		}
		defer release()
		p.checkPassword(s.dummyHash(), pw)
		return unauthorized
	}
	digest := sha256.Sum256([]byte(stored + "\x00" + pw))
	if v, ok := s.pwCache.Load(id); ok {
		e := v.(pwCacheEntry)
		if e.hash == stored && s.now().Before(e.until) && subtle.ConstantTimeCompare(e.digest[:], digest[:]) == 1 {
			return nil
		}
	}
	release, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	// The lock may have started while this request waited for its slot.
	if until, ok := p.lockedUntil(id, s.now()); ok {
		release()
		return lockedError(until, s.now())
	}
	good := p.checkPassword(stored, pw)
	release()
	now := s.now()
	if !good {
		if n, until := p.fail(id, now); !until.IsZero() {
			s.log.Warn("payer login locked after wrong passwords", "payer", id, "failures", n,
				"until", until.UTC().Format(time.RFC3339))
		}
		return unauthorized
	}
	if until, ok := p.lockedUntil(id, now); ok {
		return lockedError(until, now)
	}
	p.succeed(id)
	s.pwCache.Store(id, pwCacheEntry{hash: stored, digest: digest, until: now.Add(pwCacheTTL)})
	return nil
}
