package till

import (
	"sync"
)

// emitter fans events out to subscribers. Each subscriber has an unbounded
// queue drained by its own goroutine, so a slow face never blocks the core
// and no payment event is dropped.
type emitter struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

type subscriber struct {
	mu     sync.Mutex
	cond   *sync.Cond
	queue  []Event
	closed bool
	out    chan Event
}

func (e *emitter) subscribe() (<-chan Event, func()) {
	s := &subscriber{out: make(chan Event)}
	s.cond = sync.NewCond(&s.mu)
	e.mu.Lock()
	if e.subs == nil {
		e.subs = map[*subscriber]struct{}{}
	}
	e.subs[s] = struct{}{}
	e.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(s.out)
		for {
			s.mu.Lock()
			for len(s.queue) == 0 && !s.closed {
				s.cond.Wait()
			}
			if s.closed && len(s.queue) == 0 {
				s.mu.Unlock()
				return
			}
			ev := s.queue[0]
			s.queue = s.queue[1:]
			s.mu.Unlock()
			select {
			case s.out <- ev:
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	cancel := func() {
		once.Do(func() {
			e.mu.Lock()
			delete(e.subs, s)
			e.mu.Unlock()
			s.mu.Lock()
			s.closed = true
			s.queue = nil
			s.mu.Unlock()
			s.cond.Broadcast()
			close(done)
		})
	}
	return s.out, cancel
}

func (e *emitter) emit(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for s := range e.subs {
		s.mu.Lock()
		if !s.closed {
			s.queue = append(s.queue, ev)
		}
		s.mu.Unlock()
		s.cond.Signal()
	}
}

// finish ends the subscription whose channel is out once the events queued
// for it so far are delivered: later events are not queued, and out is
// closed after the last. An unknown or ended subscription is left alone.
func (e *emitter) finish(out <-chan Event) {
	e.mu.Lock()
	var sub *subscriber
	for s := range e.subs {
		if (<-chan Event)(s.out) == out {
			sub = s
			delete(e.subs, s)
			break
		}
	}
	e.mu.Unlock()
	if sub == nil {
		return
	}
	sub.mu.Lock()
	sub.closed = true
	sub.mu.Unlock()
	sub.cond.Broadcast()
}

// close ends every subscription after its queued events are delivered.
func (e *emitter) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for s := range e.subs {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cond.Broadcast()
		delete(e.subs, s)
	}
}
