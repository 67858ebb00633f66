// Package config holds the till's settings: read from a TOML file, then
// overridden by command-line flags. docs/operations.md lists every key.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"tillpay/money"
)

// Offline modes, after Stripe Terminal.
const (
	// PreferOnline sends payments online and queues them when the backend
	// cannot be reached (the default).
	PreferOnline = "prefer-online"
	// RequireOnline never queues: with no backend, payments are refused.
	RequireOnline = "require-online"
	// ForceOffline queues every payment, to be forwarded later (a bus
	// reader that uploads at the depot).
	ForceOffline = "force-offline"
)

// Config is the till's configuration.
type Config struct {
	// DataDir holds the journal, the bundled backend's database and the
	// demo credentials. Default: tillpay under the user's config dir.
	DataDir string `toml:"data_dir"`
	// Backend is the payment backend's URL; empty starts the bundled one.
	Backend string `toml:"backend"`
	// TerminalID and TerminalKeyFile are this till's credentials at the
	// backend (the key file holds the key in hex). With the bundled backend
	// both come from the demo set-up when empty.
	TerminalID      string `toml:"terminal_id"`
	TerminalKeyFile string `toml:"terminal_key_file"`
	Currency        string `toml:"currency"`
	// Scanners are scanner addresses (docs/scanners.md).
	Scanners []string `toml:"scanners"`
	Language string   `toml:"language"`
	Sound    bool     `toml:"sound"`

	Offline Offline `toml:"offline"`
	Payment Payment `toml:"payment"`
}

// Offline holds the offline policy and its limits.
type Offline struct {
	Mode string `toml:"mode"`
	// MaxPayment is the largest single payment taken offline ("" = none).
	MaxPayment string `toml:"max_payment"`
	// MaxTotal caps the amount stored offline, not yet forwarded.
	MaxTotal string `toml:"max_total"`
	// MaxCount caps the number of payments stored offline.
	MaxCount int `toml:"max_count"`
	// MaxAge: queued payments older than this are flagged before the
	// backend's offline window (72 h) lets them expire.
	MaxAge Duration `toml:"max_age"`
}

// Payment holds the timing of online payments.
type Payment struct {
	// WaitTimeout: a payment waiting for the payer's confirmation is
	// cancelled after this long.
	WaitTimeout Duration `toml:"wait_timeout"`
	// PollInterval between queries of a waiting or unknown payment.
	PollInterval Duration `toml:"poll_interval"`
	// RequestTimeout bounds one request to the backend.
	RequestTimeout Duration `toml:"request_timeout"`
	// FixedAmount charges every scan this amount (unattended readers).
	FixedAmount string `toml:"fixed_amount"`
}

// Duration is a time.Duration written as text ("90s", "24h") in TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses a duration such as "90s".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText formats the duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Default returns the built-in configuration.
func Default() Config {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = "."
	}
	return Config{
		DataDir:  filepath.Join(dir, "tillpay"),
		Currency: money.DefaultCurrency,
		Language: "",
		Sound:    true,
		Offline: Offline{
			Mode:       PreferOnline,
			MaxPayment: "200.00",
			MaxTotal:   "5000.00",
			MaxCount:   500,
			MaxAge:     Duration{48 * time.Hour},
		},
		Payment: Payment{
			WaitTimeout:    Duration{60 * time.Second},
			PollInterval:   Duration{3 * time.Second},
			RequestTimeout: Duration{8 * time.Second},
		},
	}
}

// DefaultPath is where the till looks for its configuration file.
func DefaultPath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "tillpay.toml"
	}
	return filepath.Join(dir, "tillpay", "tillpay.toml")
}

// Load reads the TOML file at path over the defaults. A missing file is not
// an error when missingOK is set. Unknown keys are an error, so that a typo
// does not silently keep a default.
func Load(path string, missingOK bool) (Config, error) {
	c := Default()
	md, err := toml.DecodeFile(path, &c)
	if err != nil {
		if missingOK && errors.Is(err, os.ErrNotExist) {
			return c, nil
		}
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if undec := md.Undecoded(); len(undec) > 0 {
		keys := make([]string, len(undec))
		for i, k := range undec {
			keys[i] = k.String()
		}
		return c, fmt.Errorf("config %s: unknown keys: %s", path, strings.Join(keys, ", "))
	}
	return c, c.Validate()
}

// Validate checks values that the TOML types cannot.
func (c Config) Validate() error {
	var errs []error
	if _, err := money.LookupCurrency(c.Currency); err != nil {
		errs = append(errs, fmt.Errorf("currency: %w", err))
	}
	switch c.Offline.Mode {
	case PreferOnline, RequireOnline, ForceOffline:
	default:
		errs = append(errs, fmt.Errorf("offline.mode %q: want %s, %s or %s", c.Offline.Mode, PreferOnline, RequireOnline, ForceOffline))
	}
	for name, v := range map[string]string{"offline.max_payment": c.Offline.MaxPayment, "offline.max_total": c.Offline.MaxTotal, "payment.fixed_amount": c.Payment.FixedAmount} {
		if v == "" {
			continue
		}
		if _, err := money.Parse(v, c.Currency); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if c.Offline.MaxCount < 0 {
		errs = append(errs, errors.New("offline.max_count must not be negative"))
	}
	for name, d := range map[string]Duration{"offline.max_age": c.Offline.MaxAge, "payment.wait_timeout": c.Payment.WaitTimeout, "payment.poll_interval": c.Payment.PollInterval, "payment.request_timeout": c.Payment.RequestTimeout} {
		if d.Duration < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", name))
		}
	}
	if c.Backend != "" && !strings.HasPrefix(c.Backend, "http://") && !strings.HasPrefix(c.Backend, "https://") {
		errs = append(errs, fmt.Errorf("backend %q: want an http:// or https:// URL", c.Backend))
	}
	return errors.Join(errs...)
}

// Amount parses an optional amount setting ("" gives ok=false).
func (c Config) Amount(text string) (a money.Amount, ok bool) {
	if text == "" {
		return money.Amount{}, false
	}
	a, err := money.Parse(text, c.Currency)
	return a, err == nil
}

// Save writes c to path as TOML, atomically (a temporary file renamed over
// the old one), creating the directory if needed.
func Save(path string, c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tillpay-*.toml")
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := toml.NewEncoder(tmp).Encode(c); err != nil {
		tmp.Close()
		return fmt.Errorf("config: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
