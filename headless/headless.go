// Package headless is the till's face for testers and unattended readers:
// commands arrive on an input stream one per line, and every till event is
// written to an output stream as one JSON object per line. docs/headless.md
// is the protocol.
package headless

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"tillpay/money"
	"tillpay/till"
)

// Options wire a headless session.
type Options struct {
	In   io.Reader
	Out  io.Writer
	Till *till.Till
	// Events are the till's events, when the caller subscribed before
	// starting the till; nil subscribes now.
	Events   <-chan till.Event
	Currency string
	// KeepOnEOF keeps the session running when the input ends (an
	// unattended reader started with no input); it then ends with ctx.
	KeepOnEOF bool
	Now       func() time.Time
}

// Run serves commands until "quit", the end of the input (unless
// KeepOnEOF) or ctx ends. Events keep flowing to Out meanwhile.
func Run(ctx context.Context, opt Options) error {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	events, unsubscribe := opt.Events, func() {}
	if events == nil {
		events, unsubscribe = opt.Till.Subscribe()
	}
	w := &writer{enc: json.NewEncoder(opt.Out)}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	pumped := make(chan struct{}) // closed when the events end
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(pumped)
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					return
				}
				w.write(ev)
			case <-stop:
				return
			}
		}
	}()
	defer func() {
		// Write what the till said before the session ended (the answer
		// to a last command, the ready event of a session with no input),
		// then stop.
		if opt.Till != nil {
			opt.Till.Finish(events)
			t := time.NewTimer(flushTimeout)
			select {
			case <-pumped:
			case <-t.C:
			}
			t.Stop()
		}
		close(stop)
		wg.Wait()
		unsubscribe()
	}()

	lines := make(chan string)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(opt.In)
		sc.Buffer(make([]byte, 4096), 64*1024)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-readErr:
			if err != nil {
				w.write(till.Event{Event: till.EventError, Time: opt.Now(), Reason: "Reading commands failed: " + err.Error()})
			}
			if opt.KeepOnEOF {
				readErr = nil
				continue
			}
			return nil
		case line := <-lines:
			if quit := execute(ctx, opt, w, line); quit {
				return nil
			}
		}
	}
}

// flushTimeout bounds how long a session that ends waits for the events
// emitted before it ended to be written.
const flushTimeout = 2 * time.Second

// writer serialises event lines.
type writer struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (w *writer) write(ev till.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.enc.Encode(ev)
}

// Help lists the commands.
const Help = "commands: charge <amount> | cancel | refund <order> [amount] | query <order> | ack <order> | status | sync | help | quit"

// Command is one parsed command line.
type Command struct {
	Name   string        // charge, cancel, refund, query, ack, status, sync, help, quit
	Amount *money.Amount // charge (always), refund (when partial)
	Order  string        // refund, query, ack
}

// ParseCommand reads one command line. A blank line or a comment (#…)
// gives a Command with no Name; a mistake gives an error whose text is a
// sentence for the person who typed it.
func ParseCommand(line, currency string) (Command, error) {
	fields := strings.Fields(line)
	if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
		return Command{}, nil
	}
	c := Command{Name: strings.ToLower(fields[0])}
	args := fields[1:]
	arity := map[string][2]int{"charge": {1, 1}, "cancel": {0, 0}, "refund": {1, 2}, "query": {1, 1}, "ack": {1, 1},
		"status": {0, 0}, "sync": {0, 0}, "help": {0, 0}, "quit": {0, 0}, "exit": {0, 0}}
	n, ok := arity[c.Name]
	if !ok {
		return Command{}, fmt.Errorf("unknown command %q. %s", fields[0], Help)
	}
	if len(args) < n[0] || len(args) > n[1] {
		return Command{}, fmt.Errorf("%q: wrong number of arguments. %s", c.Name, Help)
	}
	switch c.Name {
	case "exit":
		c.Name = "quit"
	case "charge":
		a, err := money.Parse(args[0], currency)
		if err != nil {
			return Command{}, fmt.Errorf("charge: %q is not an amount: %v. Write it like 12.50", args[0], err)
		}
		c.Amount = &a
	case "refund":
		c.Order = args[0]
		if len(args) == 2 {
			a, err := money.Parse(args[1], currency)
			if err != nil {
				return Command{}, fmt.Errorf("refund: %q is not an amount: %v", args[1], err)
			}
			c.Amount = &a
		}
	case "query", "ack":
		c.Order = args[0]
	}
	return c, nil
}

// execute runs one command line; it reports whether the session should end.
func execute(ctx context.Context, opt Options, w *writer, line string) (quit bool) {
	fail := func(err error) {
		w.write(till.Event{Event: till.EventError, Time: opt.Now(), Reason: err.Error()})
	}
	c, err := ParseCommand(line, opt.Currency)
	if err != nil {
		fail(err)
		return false
	}
	t := opt.Till
	switch c.Name {
	case "":
	case "charge":
		err = t.Charge(ctx, *c.Amount)
		if err != nil {
			err = fmt.Errorf("charge: %w", err)
		}
	case "cancel":
		if err = t.Cancel(ctx); err != nil {
			err = fmt.Errorf("cancel: %w", err)
		}
	case "refund":
		err = t.Refund(ctx, c.Order, c.Amount)
	case "query":
		err = t.Query(ctx, c.Order)
	case "ack":
		err = t.Acknowledge(ctx, c.Order)
	case "status":
		t.Status(ctx)
	case "sync":
		t.Sync(ctx)
	case "help":
		w.write(till.Event{Event: till.EventStatus, Time: opt.Now(), Detail: Help})
	case "quit":
		return true
	}
	if err != nil {
		fail(err)
	}
	return false
}
