package wallet

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleState() State {
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(7 * i)
	}
	return State{
		Version:       StateVersion,
		BackendURL:    "http://127.0.0.1:8080",
		PayerID:       "alice",
		Password:      "pw",
		KeyID:         1234567,
		Seed:          seed,
		Enrolled:      time.Date(2031, 1, 2, 3, 4, 5, 6, time.UTC),
		ClockOffset:   -3*time.Hour + 17*time.Millisecond,
		OffsetLearned: time.Date(2031, 1, 2, 3, 4, 6, 0, time.UTC),
		Last:          &Position{Step: 33_000_000, Seq: 4},
		Used:          &Position{Step: 33_000_000, Seq: 3},
		InboxAfter:    12,
	}
}

func TestStateRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "deep", "w.json")
	want := sampleState()
	if err := SaveState(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
	di, _ := os.Stat(filepath.Dir(path))
	if di.Mode().Perm() != 0o700 {
		t.Errorf("state directory mode %v, want 0700", di.Mode().Perm())
	}
}

func TestSaveStateAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.json")
	st := sampleState()
	if err := SaveState(path, st); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path)

	// An invalid state is refused and leaves the file as it was.
	bad := st
	bad.Seed = nil
	if err := SaveState(path, bad); err == nil {
		t.Fatal("saved a state with no seed")
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, old) {
		t.Error("a refused save changed the file")
	}

	// A save that cannot rename (the target is a directory) leaves no
	// temporary file behind.
	blocked := filepath.Join(dir, "blocked")
	if err := os.Mkdir(blocked, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(blocked, "x"), nil, 0o600)
	if err := SaveState(blocked, st); err == nil {
		t.Fatal("saved over a directory")
	}
	st.InboxAfter = 99
	if err := SaveState(path, st); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 2 {
		t.Errorf("directory holds %q, want only w.json and blocked", names)
	}
	got, err := LoadState(path)
	if err != nil || got.InboxAfter != 99 {
		t.Errorf("after a second save: %+v, %v", got.InboxAfter, err)
	}
}

func TestParseStateRejects(t *testing.T) {
	good, err := MarshalState(sampleState())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseState(good); err != nil {
		t.Fatalf("good state refused: %v", err)
	}
	cases := map[string]string{
		"empty":         ``,
		"truncated":     string(good[:len(good)/2]),
		"not json":      "seed=abc",
		"trailing":      string(good) + "{}",
		"unknown field": strings.Replace(string(good), `"version"`, `"colour": 1, "version"`, 1),
		"version":       strings.Replace(string(good), `"version": 1`, `"version": 2`, 1),
		"seed base64":   strings.Replace(string(good), `"seed": "`, `"seed": "!!`, 1),
		"short seed":    strings.Replace(string(good), `"seed": "`, `"seed": "AAAA", "x": "`, 1),
		"key id":        strings.Replace(string(good), `"key_id": 1234567`, `"key_id": 12345678`, 1),
		"url":           strings.Replace(string(good), `http://127.0.0.1:8080`, `127.0.0.1:8080`, 1),
		"no payer":      strings.Replace(string(good), `"payer_id": "alice"`, `"payer_id": ""`, 1),
		"seq":           strings.Replace(string(good), `"seq": 4`, `"seq": 10`, 1),
		"step":          strings.Replace(string(good), `"step": 33000000,`, `"step": -1,`, 1),
		"inbox":         strings.Replace(string(good), `"inbox_after": 12`, `"inbox_after": -1`, 1),
		"offset":        strings.Replace(string(good), `"clock_offset_ns": -10799983000000`, `"clock_offset_ns": 9000000000000000000`, 1),
	}
	for name, text := range cases {
		if text == string(good) {
			t.Fatalf("%s: the case did not change the text", name)
		}
		_, err := ParseState([]byte(text))
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

func FuzzParseState(f *testing.F) {
	good, err := MarshalState(sampleState())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseState(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		// A state that parses must save and read back the same.
		again, err := MarshalState(st)
		if err != nil {
			t.Fatalf("parsed state does not marshal: %v", err)
		}
		st2, err := ParseState(again)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(normal(st), normal(st2)) {
			t.Fatalf("round trip changed the state:\n%+v\n%+v", st, st2)
		}
		// And it must be able to make a code.
		if _, err := next(&st, time.Unix(1_900_000_000, 0)); err != nil && !errors.Is(err, ErrExhausted) {
			t.Fatalf("valid state cannot make a code: %v", err)
		}
	})
}

// normal strips what JSON does not keep exactly (monotonic clock, zone
// pointers) so that DeepEqual compares values.
func normal(s State) State {
	s.Enrolled = s.Enrolled.UTC().Round(0)
	s.OffsetLearned = s.OffsetLearned.UTC().Round(0)
	return s
}

func TestOldStateWithOneInboxCursor(t *testing.T) {
	// A state file written before the wallet kept what it has shown apart
	// from what it has read: the one cursor counts as both.
	st := sampleState()
	st.InboxAfter, st.InboxShown = 12, 12
	data, err := MarshalState(st)
	if err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(string(data), `  "inbox_shown": 12,`+"\n", "", 1)
	old = strings.Replace(old, `,`+"\n"+`  "inbox_shown": 12`, "", 1)
	if strings.Contains(old, "inbox_shown") {
		t.Fatalf("could not remove inbox_shown from\n%s", data)
	}
	got, err := ParseState([]byte(old))
	if err != nil {
		t.Fatalf("old state refused: %v", err)
	}
	if got.InboxAfter != 12 || got.InboxShown != 12 {
		t.Errorf("old state: inbox read %d, shown %d; want 12 and 12", got.InboxAfter, got.InboxShown)
	}
	// Both positions survive a save, and each keeps its own value.
	st.InboxAfter, st.InboxShown = 30, 7
	data, _ = MarshalState(st)
	if got, err := ParseState(data); err != nil || got.InboxAfter != 30 || got.InboxShown != 7 {
		t.Errorf("two positions: %d, %d, %v", got.InboxAfter, got.InboxShown, err)
	}
	bad := strings.Replace(string(data), `"inbox_shown": 7`, `"inbox_shown": -2`, 1)
	if _, err := ParseState([]byte(bad)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("negative shown position: %v", err)
	}
}

func TestCheckBackendURL(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8080", "https://pay.example:443", "http://[::1]:9"} {
		if err := CheckBackendURL(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"", "nonsense", "127.0.0.1:8080", "ftp://127.0.0.1", "http://", "http://%zz"} {
		if err := CheckBackendURL(u); !errors.Is(err, ErrBadBackendURL) {
			t.Errorf("%q: %v, want ErrBadBackendURL", u, err)
		}
	}
}
