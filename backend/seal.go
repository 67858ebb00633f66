package backend

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
)

// MasterKeyEnv is the environment variable that may hold the master key
// (64 hex digits).
const MasterKeyEnv = "TILLPAY_MASTER_KEY"

// MasterKeySize is the size of the master key: AES-256.
const MasterKeySize = 32

// ErrWrongMasterKey is returned by Open when the master key does not open the
// database's sealed values.
var ErrWrongMasterKey = errors.New("the master key does not match this database")

// ErrMasterKeyMissing is returned by LoadMasterKey when a database exists
// but no master key is given and its key file is missing: a new key could
// not read what the database holds.
var ErrMasterKeyMissing = errors.New("the master key of an existing database is missing")

// LoadMasterKey finds the master key that seals seeds and terminal keys at
// rest: from keyFile if given, else from the environment variable
// TILLPAY_MASTER_KEY, else from the file dbPath+".masterkey", which is created
// (mode 0600, 32 random bytes as hex) on first use, while dbPath does not
// exist or is empty. The key is 64 hex digits.
func LoadMasterKey(keyFile, dbPath string, log *slog.Logger) ([]byte, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if keyFile != "" {
		return readKeyFile(keyFile)
	}
	if v := os.Getenv(MasterKeyEnv); v != "" {
		k, err := decodeKey(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", MasterKeyEnv, err)
		}
		return k, nil
	}
	path := dbPath + ".masterkey"
	k, err := readKeyFile(path)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if fi, err := os.Stat(dbPath); err == nil && fi.Size() > 0 {
		return nil, fmt.Errorf("%w: %s has no key file %s; give the key with --master-key-file or $%s",
			ErrMasterKeyMissing, dbPath, path, MasterKeyEnv)
	}
	k = make([]byte, MasterKeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generating master key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) { // another process made it first
			return readKeyFile(path)
		}
		return nil, fmt.Errorf("creating master key file: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing master key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing master key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("writing master key file: %w", err)
	}
	log.Warn("generated a new master key; keep it safe, without it the database's seeds cannot be read",
		"path", path)
	return k, nil
}

func readKeyFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading master key: %w", err)
	}
	k, err := decodeKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return k, nil
}

func decodeKey(s string) ([]byte, error) {
	k, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(k) != MasterKeySize {
		return nil, fmt.Errorf("want %d hex digits", 2*MasterKeySize)
	}
	return k, nil
}

// sealer encrypts small secrets with AES-256-GCM. Every sealed value is bound
// to what it belongs to (additional data) so that values cannot be swapped
// between rows.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != MasterKeySize {
		return nil, fmt.Errorf("master key of %d bytes, want %d", len(key), MasterKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return &sealer{aead: aead}, nil
}

// seal returns nonce || ciphertext.
func (s *sealer) seal(plain []byte, ad string) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error()) // crypto/rand does not fail on Linux
	}
	return s.aead.Seal(nonce, nonce, plain, []byte(ad))
}

func (s *sealer) open(box []byte, ad string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(box) < n+s.aead.Overhead() {
		return nil, ErrWrongMasterKey
	}
	plain, err := s.aead.Open(nil, box[:n], box[n:], []byte(ad))
	if err != nil {
		return nil, ErrWrongMasterKey
	}
	return plain, nil
}
