package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tillpay.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadOverridesDefaults(t *testing.T) {
	c, err := Load(write(t, `
backend = "http://127.0.0.1:9000"
scanners = ["serial:/dev/ttyACM0?baud=9600", "sim:stdin"]
[offline]
mode = "force-offline"
max_payment = "5.00"
max_age = "12h"
[payment]
fixed_amount = "2"
`), false)
	if err != nil {
		t.Fatal(err)
	}
	if c.Backend != "http://127.0.0.1:9000" || len(c.Scanners) != 2 || c.Offline.Mode != ForceOffline {
		t.Fatalf("%+v", c)
	}
	if c.Offline.MaxAge.Duration != 12*time.Hour || c.Offline.MaxCount != 500 {
		t.Fatalf("offline = %+v", c.Offline)
	}
	if a, ok := c.Amount(c.Payment.FixedAmount); !ok || a.Minor != 200 {
		t.Fatalf("fixed amount %v %v", a, ok)
	}
	if c.Payment.WaitTimeout.Duration != 60*time.Second {
		t.Fatalf("default wait timeout lost: %v", c.Payment.WaitTimeout)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := map[string]string{
		"unknown key":   "bakend = \"x\"",
		"bad mode":      "[offline]\nmode = \"sometimes\"",
		"bad amount":    "[offline]\nmax_payment = \"1.234\"",
		"bad duration":  "[payment]\nwait_timeout = \"soon\"",
		"bad currency":  "currency = \"XYZ\"",
		"bad url":       "backend = \"127.0.0.1:80\"",
		"not toml":      "= = =",
		"negative wait": "[payment]\nwait_timeout = \"-1s\"",
	}
	for name, body := range tests {
		if _, err := Load(write(t, body), false); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestLoadMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.toml")
	if _, err := Load(missing, true); err != nil {
		t.Fatalf("missing file with missingOK: %v", err)
	}
	if _, err := Load(missing, false); err == nil || !strings.Contains(err.Error(), "none.toml") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "tillpay.toml")
	c := Default()
	c.Backend = "http://127.0.0.1:8080"
	c.Scanners = []string{"hid:0c2e:0b61?mode=pos"}
	c.Offline.Mode = RequireOnline
	c.Offline.MaxAge = Duration{90 * time.Minute}
	c.Language = "zh"
	if err := Save(path, c); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Backend != c.Backend || got.Scanners[0] != c.Scanners[0] || got.Offline != c.Offline || got.Language != "zh" || got.Payment != c.Payment {
		t.Fatalf("round trip:\n%+v\n%+v", c, got)
	}
	bad := c
	bad.Offline.Mode = "never"
	if err := Save(path, bad); err == nil {
		t.Fatal("an invalid configuration was saved")
	}
	if again, _ := Load(path, false); again.Offline.Mode != RequireOnline {
		t.Fatal("a refused save changed the file")
	}
}
