package sound

import (
	"encoding/binary"
	"math"
	"testing"
	"time"
)

// dominant returns the strongest of freqs in the samples (Goertzel).
func power(samples []int16, freq float64) float64 {
	k := 2 * math.Cos(2*math.Pi*freq/SampleRate)
	var s1, s2 float64
	for _, x := range samples {
		s0 := float64(x) + k*s1 - s2
		s2, s1 = s1, s0
	}
	return s1*s1 + s2*s2 - k*s1*s2
}

func samples(b []byte) []int16 {
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return out
}

func TestTonesDiffer(t *testing.T) {
	ok := samples(PCM(Success))
	bad := samples(PCM(Failure))
	if len(ok) == 0 || len(bad) == 0 {
		t.Fatal("empty tone")
	}
	if power(ok, 880) < 10*power(ok, 220) {
		t.Error("the success tone should be high (880 Hz)")
	}
	if power(bad, 220) < 10*power(bad, 880) {
		t.Error("the failure tone should be low (220 Hz)")
	}
	for _, tone := range []Tone{Success, Failure, Notice} {
		d := Duration(tone)
		if d < 50*time.Millisecond || d > time.Second {
			t.Errorf("%v lasts %v: want a short tone", tone, d)
		}
		peak := 0
		for _, s := range samples(PCM(tone)) {
			peak = max(peak, int(math.Abs(float64(s))))
		}
		if peak < 5000 || peak >= math.MaxInt16 {
			t.Errorf("%v peaks at %d: want audible and unclipped", tone, peak)
		}
	}
}

func TestPlayerDisabledAndNoDevice(t *testing.T) {
	p := New(false, nil)
	p.Play(Success)
	if p.Played() != 0 {
		t.Fatal("a disabled player counted a tone")
	}
	p.SetEnabled(true)
	p.Play(Failure) // no device in CI: must not panic or block
	p.Play(Tone(99))
	if p.Played() != 1 {
		t.Fatalf("played %d, want 1", p.Played())
	}
}
