package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tillpay/backend/api"
	"tillpay/money"
)

// Error is a refusal with an HTTP status and an api.Err* code. Nothing was
// changed by a request refused this way.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func badRequest(format string, args ...any) *Error {
	return &Error{http.StatusBadRequest, api.ErrBadRequest, fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) *Error {
	return &Error{http.StatusConflict, api.ErrConflict, fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *Error {
	return &Error{http.StatusNotFound, api.ErrNotFound, fmt.Sprintf(format, args...)}
}

// Defaults of the options.
const (
	DefaultPasswordFreeLimit = 100_000 // ¥1,000.00 in fen
	DefaultOfflineCredit     = 0
	DefaultConfirmTimeout    = 60 * time.Second
	DefaultOfflineWindow     = 72 * time.Hour
	DefaultFutureTolerance   = 2 * time.Minute
	DefaultMaxFailures       = 5
	DefaultLockStep          = time.Minute
	DefaultSweepInterval     = 5 * time.Second
	DefaultPasswordIter      = 600_000 // OWASP's 2023 figure for PBKDF2-HMAC-SHA-256
	maxLock                  = 24 * time.Hour
)

type config struct {
	currency        string
	currencySet     bool // by WithCurrency: the database must keep this one
	confirmTimeout  time.Duration
	offlineWindow   time.Duration
	futureTolerance time.Duration
	maxFailures     int
	lockStep        time.Duration
	sweepInterval   time.Duration
	pwIter          int
	hookClient      *http.Client
	hookBackoff     time.Duration
	hookMaxBackoff  time.Duration
	hookMaxAttempts int
	notifyInterval  time.Duration
	registry        *prometheus.Registry
}

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock that decides every time-dependent outcome: code
// steps, request timestamps, confirmation timeouts, offline windows, lock-outs.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithCurrency sets the currency the backend keeps accounts in. A new
// database records it (default CNY); an existing one keeps the currency it
// recorded, and Open fails with ErrCurrencyMismatch if it is another one.
// Without this option the service takes the database's currency.
func WithCurrency(code string) Option {
	return func(s *Service) { s.cfg.currency, s.cfg.currencySet = code, true }
}

// ErrCurrencyMismatch is returned by Open when WithCurrency names another
// currency than the one the database keeps its accounts in.
var ErrCurrencyMismatch = errors.New("currency mismatch")

// WithConfirmTimeout sets how long a payment waits for the payer's
// confirmation before it closes (default 60 s).
func WithConfirmTimeout(d time.Duration) Option {
	return func(s *Service) { s.cfg.confirmTimeout = d }
}

// WithOfflineWindow sets how old an offline payment's scan time may be when
// it is uploaded (default 72 h).
func WithOfflineWindow(d time.Duration) Option { return func(s *Service) { s.cfg.offlineWindow = d } }

// WithFutureTolerance sets how far an offline scan time may lie ahead of the
// backend's clock (default 2 min).
func WithFutureTolerance(d time.Duration) Option {
	return func(s *Service) { s.cfg.futureTolerance = d }
}

// WithThrottle sets the throttling of wrong codes (RFC 4226 §7.3): after
// maxFailures consecutive wrong tokens for one enrolment, counted across all
// merchants, the enrolment is locked for step, and for one step more with
// every further failure (defaults 5 and 1 min).
func WithThrottle(maxFailures int, step time.Duration) Option {
	return func(s *Service) { s.cfg.maxFailures, s.cfg.lockStep = maxFailures, step }
}

// WithSweepInterval sets how often unconfirmed payments past their timeout
// are closed by the background sweeper (default 5 s).
func WithSweepInterval(d time.Duration) Option { return func(s *Service) { s.cfg.sweepInterval = d } }

// WithPasswordIterations sets the PBKDF2 iteration count of new password
// hashes (default 600,000). Existing hashes keep their own count.
func WithPasswordIterations(n int) Option { return func(s *Service) { s.cfg.pwIter = n } }

// WithWebhooks sets the HTTP client used for payers' webhooks and the retry
// backoff: first delay, largest delay, attempts before giving up
// (defaults: 5 s timeout, 1 s, 5 min, 20).
func WithWebhooks(c *http.Client, backoff, maxBackoff time.Duration, attempts int) Option {
	return func(s *Service) {
		s.cfg.hookClient, s.cfg.hookBackoff, s.cfg.hookMaxBackoff, s.cfg.hookMaxAttempts =
			c, backoff, maxBackoff, attempts
	}
}

// WithNotifyInterval sets how often the notifier looks for undelivered
// notifications when nothing wakes it (default 1 s).
func WithNotifyInterval(d time.Duration) Option {
	return func(s *Service) { s.cfg.notifyInterval = d }
}

// WithRegistry sets the Prometheus registry the metrics are registered in
// (default: a new registry of the service's own).
func WithRegistry(r *prometheus.Registry) Option { return func(s *Service) { s.cfg.registry = r } }

// Service is the payment backend over one SQLite database.
type Service struct {
	st   *store
	rmu  sync.Mutex
	w    *writer
	seal *sealer
	cfg  config
	log  *slog.Logger
	now  func() time.Time
	m    *metrics

	terms     sync.Map // terminal id → *Terminal
	merchants sync.Map // merchant id → merchantInfo
	pwCache   sync.Map // payer id → pwCacheEntry
	enrols    *enrolCache

	pauth    payerAuth // payer login check slots and lock-outs (payerauth.go)
	refusals logBudget // how many refused credentials are logged (http.go)

	wake      chan struct{} // nudges the notifier
	bgCancel  context.CancelFunc
	bgWG      sync.WaitGroup
	closeOnce sync.Once
}

// Open opens (creating if needed) the backend database at path, with
// masterKey sealing seeds and terminal keys, and starts the writer.
// Background work (notifier, sweeper) starts with Start.
func Open(ctx context.Context, path string, masterKey []byte, opts ...Option) (*Service, error) {
	s := &Service{
		cfg: config{
			currency:        money.DefaultCurrency,
			confirmTimeout:  DefaultConfirmTimeout,
			offlineWindow:   DefaultOfflineWindow,
			futureTolerance: DefaultFutureTolerance,
			maxFailures:     DefaultMaxFailures,
			lockStep:        DefaultLockStep,
			sweepInterval:   DefaultSweepInterval,
			pwIter:          DefaultPasswordIter,
			hookClient:      &http.Client{Timeout: 5 * time.Second},
			hookBackoff:     time.Second,
			hookMaxBackoff:  5 * time.Minute,
			hookMaxAttempts: 20,
			notifyInterval:  time.Second,
		},
		log:    slog.New(slog.DiscardHandler),
		now:    time.Now,
		wake:   make(chan struct{}, 1),
		enrols: newEnrolCache(enrolCacheSize),
	}
	for _, o := range opts {
		o(s)
	}
	cur, err := money.LookupCurrency(s.cfg.currency)
	if err != nil {
		return nil, fmt.Errorf("backend currency: %w", err)
	}
	s.cfg.currency = cur.Code
	if s.cfg.maxFailures < 1 || s.cfg.lockStep <= 0 {
		return nil, errors.New("throttle: want at least one failure and a positive lock step")
	}
	if s.seal, err = newSealer(masterKey); err != nil {
		return nil, err
	}
	if s.cfg.registry == nil {
		s.cfg.registry = prometheus.NewRegistry()
	}
	if s.m, err = newMetrics(s.cfg.registry); err != nil {
		return nil, err
	}
	if s.st, err = openStore(ctx, path); err != nil {
		return nil, err
	}
	s.w = newWriter(s.st, s.m.observeCommit, s.log)
	if err := s.checkMeta(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// checkMeta checks, in one transaction at start, what the database records
// about itself, and records it on first use:
//   - the master key: a known value sealed under it must open, so that a
//     wrong key is found now, not at the first payment;
//   - the currency: a database without one (a new one: an earlier
//     version's database with accounts was given theirs by its migration)
//     records the service's; otherwise the service takes the database's,
//     which WithCurrency, if given, must name.
func (s *Service) checkMeta(ctx context.Context) error {
	const probe = "tillpay master key check"
	res, err := s.w.do1(ctx, func(t *txn) (any, error) {
		var box []byte
		switch err := t.row("SELECT value FROM meta WHERE key = 'key_check'", nil, &box); {
		case err == nil:
			if plain, err := s.seal.open(box, "meta:key_check"); err != nil || string(plain) != probe {
				return nil, ErrWrongMasterKey
			}
		case isNoRows(err):
			if _, err := t.exec("INSERT INTO meta(key, value) VALUES ('key_check', ?)",
				s.seal.seal([]byte(probe), "meta:key_check")); err != nil {
				return nil, err
			}
		default:
			return nil, err
		}
		var stored string
		err := t.row("SELECT value FROM meta WHERE key = 'currency'", nil, &stored)
		if isNoRows(err) {
			stored = s.cfg.currency
			_, err = t.exec("INSERT INTO meta(key, value) VALUES ('currency', ?)", stored)
		}
		return stored, err
	})
	if errors.Is(err, ErrWrongMasterKey) {
		return err
	}
	if err != nil {
		return fmt.Errorf("reading the database's master key check and currency: %w", err)
	}
	stored := res.(string)
	cur, err := money.LookupCurrency(stored)
	if err != nil || cur.Code != stored {
		return fmt.Errorf("the database records currency %q, which this backend does not know", stored)
	}
	if stored != s.cfg.currency {
		if s.cfg.currencySet {
			return fmt.Errorf("%w: the database keeps its accounts in %s, not %s", ErrCurrencyMismatch, stored, s.cfg.currency)
		}
		s.cfg.currency = stored
	}
	return nil
}

// Currency is the ISO 4217 code of the currency the database keeps every
// account in.
func (s *Service) Currency() string { return s.cfg.currency }

// Registry is the Prometheus registry holding the service's metrics.
func (s *Service) Registry() *prometheus.Registry { return s.cfg.registry }

// Start runs the notifier and the sweeper until Close.
func (s *Service) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.bgCancel = cancel
	s.bgWG.Add(2)
	go func() { defer s.bgWG.Done(); s.runNotifier(ctx) }()
	go func() { defer s.bgWG.Done(); s.runSweeper(ctx) }()
}

// Close stops background work, finishes queued writes and closes the
// database.
func (s *Service) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if s.bgCancel != nil {
			s.bgCancel()
			s.bgWG.Wait()
		}
		s.w.stop()
		// Requests may still be running (an HTTP server's Close does not
		// wait for its handlers): their reads prepare statements under
		// rmu, so the statements are closed under it too.
		s.rmu.Lock()
		err = s.st.close()
		s.rmu.Unlock()
	})
	return err
}

func (s *Service) nudgeNotifier() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
