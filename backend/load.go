package backend

import (
	"runtime"
	"time"
)

// loadEvery is the shortest period over which loadMeter measures.
const loadEvery = 5 * time.Millisecond

// loadMeter estimates how busy the process keeps the processors it may
// use: its processor time (user and system) over the last period of at
// least loadEvery, divided by the period and by GOMAXPROCS. Only the
// writer's goroutine uses it.
type loadMeter struct {
	now   func() time.Duration         // a monotonic clock
	cpu   func() (time.Duration, bool) // the process's processor time so far
	procs func() int

	at, used time.Duration // the start of the current period
	last     float64       // the load of the previous period
}

// busy returns the load of the last full period, from 0 to about 1; 1 where
// the system does not tell a process's processor time.
func (m *loadMeter) busy() float64 {
	if m.now == nil {
		start := time.Now()
		m.now = func() time.Duration { return time.Since(start) + loadEvery }
		m.cpu = processTime
		m.procs = func() int { return runtime.GOMAXPROCS(0) }
	}
	now := m.now()
	if now-m.at < loadEvery {
		return m.last
	}
	used, ok := m.cpu()
	if !ok {
		return 1
	}
	if m.at != 0 && used >= m.used {
		m.last = float64(used-m.used) / float64(now-m.at) / float64(max(1, m.procs()))
	}
	m.at, m.used = now, used
	return m.last
}
