package backend

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"tillpay/backend/api"
	"tillpay/money"
)

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// checkID validates an identifier chosen by an administrator.
func checkID(what, id string) error {
	if id == "" || len(id) > 64 {
		return badRequest("%s id must have 1 to 64 characters", what)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return badRequest("%s id %q: use letters, digits, '-', '_' and '.' only", what, id)
		}
	}
	return nil
}

func randomText(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail on Linux
	return strings.ToLower(base32NoPad.EncodeToString(b))
}

// AddMerchant creates a merchant and its account.
func (s *Service) AddMerchant(ctx context.Context, id, name string) error {
	if err := checkID("merchant", id); err != nil {
		return err
	}
	if name == "" {
		name = id
	}
	_, err := s.w.do1(ctx, func(t *txn) (any, error) {
		var x string
		if err := t.row("SELECT id FROM merchants WHERE id = ?", []any{id}, &x); err == nil {
			return nil, conflict("merchant %s exists", id)
		} else if !isNoRows(err) {
			return nil, err
		}
		acc, err := t.insert("INSERT INTO accounts(kind, owner, currency) VALUES ('merchant', ?, ?)", id, s.cfg.currency)
		if err != nil {
			return nil, err
		}
		_, err = t.exec("INSERT INTO merchants(id, name, account, created) VALUES (?, ?, ?, ?)",
			id, name, acc, s.now().UnixNano())
		return nil, err
	})
	return err
}

// TerminalCredentials is a terminal's id and key, shown once when it is
// created.
type TerminalCredentials struct {
	ID       string `json:"id"`
	Merchant string `json:"merchant"`
	Key      []byte `json:"-"`
	KeyHex   string `json:"key"`
}

// AddTerminal creates a terminal of a merchant with a fresh random key.
func (s *Service) AddTerminal(ctx context.Context, merchant string) (TerminalCredentials, error) {
	key := make([]byte, 32)
	rand.Read(key) //nolint:errcheck // crypto/rand does not fail on Linux
	id := "t-" + randomText(10)
	_, err := s.w.do1(ctx, func(t *txn) (any, error) {
		var x string
		if err := t.row("SELECT id FROM merchants WHERE id = ?", []any{merchant}, &x); isNoRows(err) {
			return nil, notFound("no merchant %s", merchant)
		} else if err != nil {
			return nil, err
		}
		_, err := t.exec("INSERT INTO terminals(id, merchant, key_sealed, created) VALUES (?, ?, ?, ?)",
			id, merchant, s.seal.seal(key, "terminal:"+id), s.now().UnixNano())
		return nil, err
	})
	if err != nil {
		return TerminalCredentials{}, err
	}
	return TerminalCredentials{ID: id, Merchant: merchant, Key: key, KeyHex: hex.EncodeToString(key)}, nil
}

// NewPayer describes a payer to create.
type NewPayer struct {
	ID       string
	Name     string
	Password string
	// PasswordFreeLimit: payments above it wait for the payer's confirmation.
	PasswordFreeLimit int64
	// OfflineCredit: how far below zero offline payments may take the balance.
	OfflineCredit int64
	// Webhook, if set, receives each notification as a JSON POST.
	Webhook string
	// Currency of the limits: the backend's (Service.Currency) if empty;
	// another one is refused.
	Currency string
}

// AddPayer creates a payer with an empty account.
func (s *Service) AddPayer(ctx context.Context, p NewPayer) error {
	if err := checkID("payer", p.ID); err != nil {
		return err
	}
	if len(p.Password) < 8 {
		return badRequest("the password needs at least 8 characters")
	}
	if p.PasswordFreeLimit < 0 || p.PasswordFreeLimit > money.MaxMinor ||
		p.OfflineCredit < 0 || p.OfflineCredit > money.MaxMinor {
		return badRequest("limits must lie between 0 and %d", money.MaxMinor)
	}
	if err := s.checkAmountCurrency(p.Currency); err != nil {
		return err
	}
	if p.Webhook != "" {
		if u, err := url.Parse(p.Webhook); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return badRequest("webhook %q: want an http or https URL", p.Webhook)
		}
	}
	if p.Name == "" {
		p.Name = p.ID
	}
	hash, err := hashPassword(p.Password, s.cfg.pwIter)
	if err != nil {
		return err
	}
	_, err = s.w.do1(ctx, func(t *txn) (any, error) {
		var x string
		if err := t.row("SELECT id FROM payers WHERE id = ?", []any{p.ID}, &x); err == nil {
			return nil, conflict("payer %s exists", p.ID)
		} else if !isNoRows(err) {
			return nil, err
		}
		acc, err := t.insert("INSERT INTO accounts(kind, owner, currency) VALUES ('payer', ?, ?)", p.ID, s.cfg.currency)
		if err != nil {
			return nil, err
		}
		_, err = t.exec(`INSERT INTO payers(id, name, pw_hash, account, free_limit, offline_credit, webhook, created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, p.Name, hash, acc, p.PasswordFreeLimit, p.OfflineCredit, p.Webhook, s.now().UnixNano())
		return nil, err
	})
	return err
}

// PayerLimits changes a payer's limits; a nil field stays as it is.
type PayerLimits struct {
	// PasswordFreeLimit: payments above it wait for the payer's confirmation.
	PasswordFreeLimit *int64
	// OfflineCredit: how far below zero offline payments may take the balance.
	OfflineCredit *int64
	// Currency of the limits: the backend's (Service.Currency) if empty;
	// another one is refused.
	Currency string
}

// checkAmountCurrency refuses amounts given in another currency than the
// backend's; an empty code means the backend's.
func (s *Service) checkAmountCurrency(code string) error {
	if code == "" {
		return nil
	}
	c, err := money.LookupCurrency(code)
	if err != nil {
		return badRequest("currency: %v", err)
	}
	if c.Code != s.cfg.currency {
		return badRequest("this backend keeps accounts in %s, not %s", s.cfg.currency, c.Code)
	}
	return nil
}

// SetPayerLimits changes a payer's password-free limit or offline credit (or
// both). Payments decided from then on use the new limits; a payment already
// waiting for the payer keeps the decision it was made with.
func (s *Service) SetPayerLimits(ctx context.Context, payer string, l PayerLimits) error {
	if l.PasswordFreeLimit == nil && l.OfflineCredit == nil {
		return badRequest("no limit to change")
	}
	for _, v := range []*int64{l.PasswordFreeLimit, l.OfflineCredit} {
		if v != nil && (*v < 0 || *v > money.MaxMinor) {
			return badRequest("limits must lie between 0 and %d", money.MaxMinor)
		}
	}
	if err := s.checkAmountCurrency(l.Currency); err != nil {
		return err
	}
	_, err := s.w.do1(ctx, func(t *txn) (any, error) {
		res, err := t.exec(`UPDATE payers SET free_limit = coalesce(?, free_limit),
			offline_credit = coalesce(?, offline_credit) WHERE id = ?`,
			nullable(l.PasswordFreeLimit), nullable(l.OfflineCredit), payer)
		if err != nil {
			return nil, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, err
		} else if n == 0 {
			return nil, notFound("no payer %s", payer)
		}
		return nil, nil
	})
	return err
}

// nullable is v's value, or nil (SQL NULL) for a nil v.
func nullable(v *int64) any {
	if v == nil {
		return nil
	}
	return *v
}

// SetPassword replaces a payer's password.
func (s *Service) SetPassword(ctx context.Context, payer, password string) error {
	if len(password) < 8 {
		return badRequest("the password needs at least 8 characters")
	}
	hash, err := hashPassword(password, s.cfg.pwIter)
	if err != nil {
		return err
	}
	_, err = s.w.do1(ctx, func(t *txn) (any, error) {
		res, err := t.exec("UPDATE payers SET pw_hash = ? WHERE id = ?", hash, payer)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, notFound("no payer %s", payer)
		}
		t.onCommit(func() { s.pwCache.Delete(payer) })
		return nil, nil
	})
	return err
}

// fundingAccount is the account top-ups come from: money entering the
// system. Its balance is minus the sum of all top-ups.
func (s *Service) fundingAccount(t *txn) (int64, error) {
	var id int64
	err := t.row("SELECT id FROM accounts WHERE kind = 'funding' AND owner = 'topup'", nil, &id)
	if isNoRows(err) {
		return t.insert("INSERT INTO accounts(kind, owner, currency) VALUES ('funding', 'topup', ?)", s.cfg.currency)
	}
	return id, err
}

// transfer books amount from debit to credit: one row, two legs.
func transfer(t *txn, debit, credit, amount int64, kind string, order any, at int64) error {
	if _, err := t.exec("INSERT INTO transfers(debit, credit, amount, kind, order_id, created) VALUES (?, ?, ?, ?, ?, ?)",
		debit, credit, amount, kind, order, at); err != nil {
		return err
	}
	if _, err := t.exec("UPDATE accounts SET balance = balance - ? WHERE id = ?", amount, debit); err != nil {
		return err
	}
	_, err := t.exec("UPDATE accounts SET balance = balance + ? WHERE id = ?", amount, credit)
	return err
}

// TopUp adds money to a payer's account and returns the new balance.
func (s *Service) TopUp(ctx context.Context, payer string, amount money.Amount) (money.Amount, error) {
	if err := amount.CheckPayable(); err != nil {
		return money.Amount{}, badRequest("amount: %v", err)
	}
	if amount.Currency != s.cfg.currency {
		return money.Amount{}, badRequest("this backend keeps accounts in %s, not %s", s.cfg.currency, amount.Currency)
	}
	res, err := s.w.do1(ctx, func(t *txn) (any, error) {
		var acc, bal int64
		if err := t.row("SELECT a.id, a.balance FROM payers p JOIN accounts a ON a.id = p.account WHERE p.id = ?",
			[]any{payer}, &acc, &bal); isNoRows(err) {
			return nil, notFound("no payer %s", payer)
		} else if err != nil {
			return nil, err
		}
		if bal+amount.Minor > money.MaxMinor {
			return nil, badRequest("the balance would exceed %d", money.MaxMinor)
		}
		fund, err := s.fundingAccount(t)
		if err != nil {
			return nil, err
		}
		if err := transfer(t, fund, acc, amount.Minor, "topup", nil, s.now().UnixNano()); err != nil {
			return nil, err
		}
		return bal + amount.Minor, nil
	})
	if err != nil {
		return money.Amount{}, err
	}
	return money.Amount{Minor: res.(int64), Currency: s.cfg.currency}, nil
}

// PayerInfo is what an administrator sees of a payer.
type PayerInfo struct {
	ID                string       `json:"id"`
	Name              string       `json:"name"`
	Balance           money.Amount `json:"balance"`
	PasswordFreeLimit money.Amount `json:"password_free_limit"`
	OfflineCredit     money.Amount `json:"offline_credit"`
	Webhook           string       `json:"webhook,omitempty"`
	KeyID             uint32       `json:"key_id,omitempty"` // current enrolment, 0 if none
	Failures          int          `json:"failures"`
	LockedUntil       *time.Time   `json:"locked_until,omitempty"`
}

// ShowPayer returns a payer's account and enrolment state.
func (s *Service) ShowPayer(ctx context.Context, id string) (PayerInfo, error) {
	var p PayerInfo
	var bal, limit, credit int64
	err := s.readRow(ctx, `SELECT p.id, p.name, a.balance, p.free_limit, p.offline_credit, p.webhook
		FROM payers p JOIN accounts a ON a.id = p.account WHERE p.id = ?`, []any{id},
		&p.ID, &p.Name, &bal, &limit, &credit, &p.Webhook)
	if isNoRows(err) {
		return p, notFound("no payer %s", id)
	} else if err != nil {
		return p, fmt.Errorf("storage: %w", err)
	}
	c := s.cfg.currency
	p.Balance, p.PasswordFreeLimit, p.OfflineCredit = money.Amount{Minor: bal, Currency: c},
		money.Amount{Minor: limit, Currency: c}, money.Amount{Minor: credit, Currency: c}
	var key, locked int64
	err = s.readRow(ctx, "SELECT key_id, failures, locked_until FROM enrolments WHERE payer = ? AND revoked IS NULL",
		[]any{id}, &key, &p.Failures, &locked)
	if err != nil && !isNoRows(err) {
		return p, fmt.Errorf("storage: %w", err)
	}
	p.KeyID = uint32(key)
	if locked > s.now().UnixNano() {
		t := time.Unix(0, locked)
		p.LockedUntil = &t
	}
	return p, nil
}

// Passwords are stored as pbkdf2-sha256$ITER$SALT$HASH (base64).
func hashPassword(pw string, iter int) (string, error) {
	salt := make([]byte, 16)
	rand.Read(salt) //nolint:errcheck // crypto/rand does not fail on Linux
	dk, err := pbkdf2.Key(sha256.New, pw, salt, iter, 32)
	if err != nil {
		return "", fmt.Errorf("hashing password: %w", err)
	}
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", iter,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(dk)), nil
}

func checkPassword(stored, pw string) bool {
	parts := strings.Split(stored, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[2])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return false
	}
	dk, err := pbkdf2.Key(sha256.New, pw, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(dk, want) == 1
}

// pwCacheEntry remembers a recent successful login so that a wallet polling
// its inbox does not pay for PBKDF2 on every request. It holds a salted
// SHA-256 of the password, in memory only, for a few minutes.
type pwCacheEntry struct {
	hash   string // the stored hash it was checked against
	digest [32]byte
	until  time.Time
}

const pwCacheTTL = 5 * time.Minute

// Demo identities made by DemoSetup.
const (
	DemoMerchantID = "demo-shop"
	DemoPayerID    = "demo-payer"
	demoFunding    = 1_000_000 // ¥10,000.00
)

// DemoSetup makes sure a demo merchant, terminal and funded payer exist and
// returns their credentials. It is idempotent: the merchant, terminal and
// payer are created once; the payer's password is kept if prev holds one
// that still works, else a new one is set.
func (s *Service) DemoSetup(ctx context.Context, prev *api.DemoFile) (api.DemoFile, error) {
	out := api.DemoFile{Currency: s.cfg.currency}
	out.Merchant = api.DemoMerchant{ID: DemoMerchantID, Name: "Demo shop"}
	if err := s.AddMerchant(ctx, DemoMerchantID, "Demo shop"); err != nil && !isCode(err, api.ErrConflict) {
		return out, err
	}
	// Reuse the demo merchant's first terminal not revoked, else make one.
	var tid string
	var box []byte
	err := s.readRow(ctx, "SELECT id, key_sealed FROM terminals WHERE merchant = ? AND revoked IS NULL ORDER BY created, id LIMIT 1",
		[]any{DemoMerchantID}, &tid, &box)
	switch {
	case err == nil:
		key, err := s.seal.open(box, "terminal:"+tid)
		if err != nil {
			return out, err
		}
		out.Terminal = api.DemoTerminal{ID: tid, Merchant: DemoMerchantID, Key: hex.EncodeToString(key)}
	case isNoRows(err):
		tc, err := s.AddTerminal(ctx, DemoMerchantID)
		if err != nil {
			return out, err
		}
		out.Terminal = api.DemoTerminal{ID: tc.ID, Merchant: DemoMerchantID, Key: tc.KeyHex}
	default:
		return out, fmt.Errorf("storage: %w", err)
	}
	pw := ""
	if prev != nil && prev.Payer.ID == DemoPayerID && prev.Payer.Password != "" {
		pw = prev.Payer.Password
	}
	out.Payer = api.DemoPayer{ID: DemoPayerID, Name: "Demo payer"}
	err = s.AddPayer(ctx, NewPayer{ID: DemoPayerID, Name: "Demo payer", Password: orNew(&pw),
		PasswordFreeLimit: DefaultPasswordFreeLimit, OfflineCredit: DefaultOfflineCredit})
	switch {
	case err == nil:
		if _, err := s.TopUp(ctx, DemoPayerID, money.Amount{Minor: demoFunding, Currency: s.cfg.currency}); err != nil {
			return out, err
		}
	case isCode(err, api.ErrConflict):
		if s.authenticatePayer(ctx, DemoPayerID, pw) != nil {
			pw = ""
			if err := s.SetPassword(ctx, DemoPayerID, orNew(&pw)); err != nil {
				return out, err
			}
		}
	default:
		return out, err
	}
	out.Payer.Password = pw
	info, err := s.ShowPayer(ctx, DemoPayerID)
	if err != nil {
		return out, err
	}
	out.Payer.Balance = info.Balance
	return out, nil
}

// orNew fills *pw with a fresh random password if it is empty.
func orNew(pw *string) string {
	if *pw == "" {
		*pw = randomText(15)
	}
	return *pw
}

func isCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
