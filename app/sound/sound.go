// Package sound makes and plays the till's short result tones: a rising
// two-note chime for a payment that went through and a low double buzz for
// one that did not. The tones are generated as 16-bit PCM (no audio files
// to ship) and played through github.com/ebitengine/oto/v3. Where there is
// no audio device (a till without speakers, Xvfb in CI) playing does
// nothing and the cause is logged once; the window's visual flash carries
// the result alone.
package sound

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/ebitengine/oto/v3"
)

// Tone is one of the till's sounds.
type Tone int

// The tones.
const (
	Success Tone = iota + 1 // paid, settled
	Failure                 // declined, error
	Notice                  // queued offline, waiting for the payer
)

// String names the tone.
func (t Tone) String() string {
	switch t {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Notice:
		return "notice"
	}
	return "none"
}

// SampleRate of the generated PCM, in samples a second (mono).
const SampleRate = 44100

// note is a sine note of freq Hz lasting dur, followed by gap of silence.
type note struct {
	freq     float64
	dur, gap time.Duration
}

var scores = map[Tone][]note{
	Success: {{880, 90 * time.Millisecond, 10 * time.Millisecond}, {1318.5, 160 * time.Millisecond, 0}},
	Failure: {{220, 160 * time.Millisecond, 60 * time.Millisecond}, {220, 220 * time.Millisecond, 0}},
	Notice:  {{660, 120 * time.Millisecond, 0}},
}

// PCM returns the tone as signed 16-bit little-endian mono samples at
// SampleRate. Each note fades in and out over 5 ms so it does not click.
func PCM(t Tone) []byte {
	var buf bytes.Buffer
	for _, n := range scores[t] {
		total := int(n.dur.Seconds() * SampleRate)
		fade := SampleRate / 200
		for i := 0; i < total; i++ {
			env := 1.0
			if i < fade {
				env = float64(i) / float64(fade)
			} else if total-i < fade {
				env = float64(total-i) / float64(fade)
			}
			v := 0.35 * env * math.Sin(2*math.Pi*n.freq*float64(i)/SampleRate)
			_ = binary.Write(&buf, binary.LittleEndian, int16(v*math.MaxInt16))
		}
		buf.Write(make([]byte, 2*int(n.gap.Seconds()*SampleRate)))
	}
	return buf.Bytes()
}

// Duration returns how long the tone lasts.
func Duration(t Tone) time.Duration {
	return time.Duration(len(PCM(t))/2) * time.Second / SampleRate
}

// Player plays tones. The audio device is opened on the first Play and
// suspended when a tone has finished, so an idle till keeps no audio
// stream running. Its methods are safe for concurrent use; Play never
// blocks the caller.
type Player struct {
	log *slog.Logger

	mu      sync.Mutex
	failed  bool
	enabled bool
	played  int
	last    Tone
	idle    *time.Timer
}

// New returns a Player; enabled says whether it makes any sound.
func New(enabled bool, log *slog.Logger) *Player {
	if log == nil {
		log = slog.Default()
	}
	return &Player{enabled: enabled, log: log}
}

// SetEnabled turns sound on or off.
func (p *Player) SetEnabled(on bool) {
	p.mu.Lock()
	p.enabled = on
	p.mu.Unlock()
}

// Enabled reports whether sound is on.
func (p *Player) Enabled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.enabled
}

// Played returns how many tones Play was asked for while enabled (whether
// or not a device made them heard).
func (p *Player) Played() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.played
}

// Last returns the last tone Play was asked for while enabled.
func (p *Player) Last() Tone {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// device opens the audio device once; it logs and remembers a failure.
var (
	deviceOnce sync.Once
	deviceCtx  *oto.Context
	deviceErr  error
)

// ErrNoDevice: the machine has no sound card and no sound server.
var ErrNoDevice = errors.New("no sound card (/dev/snd) and no PulseAudio or PipeWire socket")

// hasDevice reports whether there is anything to play to, without asking
// ALSA (which prints its own errors on stderr when there is nothing).
func hasDevice() bool {
	if m, _ := filepath.Glob("/dev/snd/pcmC*p"); len(m) > 0 {
		return true
	}
	dir := os.Getenv("XDG_RUNTIME_DIR")
	for _, sock := range []string{"pulse/native", "pipewire-0"} {
		if _, err := os.Stat(filepath.Join(dir, sock)); dir != "" && err == nil {
			return true
		}
	}
	return os.Getenv("PULSE_SERVER") != ""
}

func openDevice() (*oto.Context, error) {
	deviceOnce.Do(func() {
		if runtime.GOOS == "linux" && !hasDevice() {
			deviceErr = ErrNoDevice
			return
		}
		c, ready, err := oto.NewContext(&oto.NewContextOptions{SampleRate: SampleRate, ChannelCount: 1, Format: oto.FormatSignedInt16LE, BufferSize: 40 * time.Millisecond})
		if err != nil {
			deviceErr = err
			return
		}
		<-ready
		deviceCtx = c
	})
	return deviceCtx, deviceErr
}

// Play starts playing t, unless sound is off or there is no device.
func (p *Player) Play(t Tone) {
	p.mu.Lock()
	if !p.enabled || scores[t] == nil {
		p.mu.Unlock()
		return
	}
	p.played++
	p.last = t
	failed := p.failed
	p.mu.Unlock()
	if failed {
		return
	}
	go p.play(t)
}

func (p *Player) play(t Tone) {
	c, err := openDevice()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if !p.failed {
			p.failed = true
			p.log.Info("no audio device: result tones are off, the screen flash remains", "err", err)
		}
		return
	}
	if err := c.Resume(); err != nil {
		p.log.Debug("resuming audio", "err", err)
	}
	pl := c.NewPlayer(bytes.NewReader(PCM(t)))
	pl.Play()
	// Suspend the device once nothing has played for a while, so an idle
	// till runs no audio thread.
	if p.idle != nil {
		p.idle.Stop()
	}
	p.idle = time.AfterFunc(Duration(t)+300*time.Millisecond, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		_ = pl.Close()
		if err := c.Suspend(); err != nil {
			p.log.Debug("suspending audio", "err", err)
		}
	})
}
