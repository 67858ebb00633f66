package till

import (
	"testing"
	"time"
)

// finish delivers what was emitted before it, in order, then closes the
// channel; what is emitted after is not queued, and other subscribers go on.
func TestEmitterFinishDeliversQueuedEvents(t *testing.T) {
	var e emitter
	ch, cancel := e.subscribe()
	defer cancel()
	other, cancelOther := e.subscribe()
	defer cancelOther()
	for _, kind := range []string{"a", "b", "c"} {
		e.emit(Event{Event: kind})
	}
	e.finish(ch)
	e.emit(Event{Event: "late"})
	var got []string
	timeout := time.After(5 * time.Second)
	for done := false; !done; {
		select {
		case ev, ok := <-ch:
			if !ok {
				done = true
				break
			}
			got = append(got, ev.Event)
		case <-timeout:
			t.Fatalf("channel not closed after %v", got)
		}
	}
	if len(got) != 3 || got[0] != "a" || got[1] != "b" || got[2] != "c" {
		t.Fatalf("delivered %v, want a b c", got)
	}
	for _, want := range []string{"a", "b", "c", "late"} {
		select {
		case ev := <-other:
			if ev.Event != want {
				t.Fatalf("other subscriber got %q, want %q", ev.Event, want)
			}
		case <-timeout:
			t.Fatalf("other subscriber missed %q", want)
		}
	}
	e.finish(ch) // ended already: nothing happens
}
