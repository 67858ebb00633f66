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
	wg.Add(1)
	go func() {
		defer wg.Done()
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

// execute runs one command line; it reports whether the session should end.
func execute(ctx context.Context, opt Options, w *writer, line string) (quit bool) {
	fields := strings.Fields(line)
	if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
		return false
	}
	fail := func(format string, args ...any) {
		w.write(till.Event{Event: till.EventError, Time: opt.Now(), Reason: fmt.Sprintf(format, args...)})
	}
	t := opt.Till
	cmd, args := strings.ToLower(fields[0]), fields[1:]
	want := func(min, max int) bool {
		if len(args) < min || len(args) > max {
			fail("%q: wrong number of arguments. %s", cmd, Help)
			return false
		}
		return true
	}
	switch cmd {
	case "charge":
		if !want(1, 1) {
			return false
		}
		a, err := money.Parse(args[0], opt.Currency)
		if err != nil {
			fail("charge: %q is not an amount: %v. Write it like 12.50.", args[0], err)
			return false
		}
		if err := t.Charge(ctx, a); err != nil {
			fail("charge: %v", err)
		}
	case "cancel":
		if !want(0, 0) {
			return false
		}
		if err := t.Cancel(ctx); err != nil {
			fail("cancel: %v", err)
		}
	case "refund":
		if !want(1, 2) {
			return false
		}
		var amount *money.Amount
		if len(args) == 2 {
			a, err := money.Parse(args[1], opt.Currency)
			if err != nil {
				fail("refund: %q is not an amount: %v", args[1], err)
				return false
			}
			amount = &a
		}
		if err := t.Refund(ctx, args[0], amount); err != nil {
			fail("%v", err)
		}
	case "query":
		if !want(1, 1) {
			return false
		}
		if err := t.Query(ctx, args[0]); err != nil {
			fail("%v", err)
		}
	case "ack":
		if !want(1, 1) {
			return false
		}
		if err := t.Acknowledge(ctx, args[0]); err != nil {
			fail("%v", err)
		}
	case "status":
		t.Status(ctx)
	case "sync":
		t.Sync(ctx)
	case "help":
		w.write(till.Event{Event: till.EventStatus, Time: opt.Now(), Detail: Help})
	case "quit", "exit":
		return true
	default:
		fail("unknown command %q. %s", fields[0], Help)
	}
	return false
}
