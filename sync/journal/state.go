package journal

import "fmt"

// State is the till's state of a payment (see the package doc for the
// machine).
type State string

// States of a payment.
const (
	StateSending      State = "sending"       // written, about to be sent online
	StateUnknown      State = "unknown"       // sent, no answer: query or re-send with the same order
	StatePaid         State = "paid"          // online, paid
	StateDeclined     State = "declined"      // online, refused
	StateWaitingPayer State = "waiting_payer" // the payer must confirm in the wallet
	StateQueued       State = "queued"        // offline, waiting to be uploaded
	StateForwarding   State = "forwarding"    // offline, upload in flight
	StateSettled      State = "settled"       // offline, later paid
	StateDeclinedLate State = "declined_late" // offline, later refused
	StateCancelled    State = "cancelled"
	StateRefunded     State = "refunded" // fully refunded
	StatePartRefunded State = "partially_refunded"
)

// States lists every state, in the order reports show them.
var States = []State{
	StatePaid, StateSettled, StatePartRefunded, StateRefunded,
	StateDeclined, StateDeclinedLate, StateCancelled,
	StateQueued, StateForwarding, StateSending, StateUnknown, StateWaitingPayer,
}

var transitions = map[State][]State{
	StateSending:      {StateUnknown, StatePaid, StateDeclined, StateWaitingPayer, StateCancelled, StateQueued},
	StateUnknown:      {StateUnknown, StatePaid, StateDeclined, StateWaitingPayer, StateCancelled, StateQueued},
	StateWaitingPayer: {StateWaitingPayer, StatePaid, StateDeclined, StateSettled, StateDeclinedLate, StateCancelled},
	StateQueued:       {StateForwarding, StateCancelled},
	StateForwarding:   {StateQueued, StateSettled, StateDeclinedLate, StateWaitingPayer, StateCancelled},
	StatePaid:         {StatePartRefunded, StateRefunded},
	StateSettled:      {StatePartRefunded, StateRefunded},
	StatePartRefunded: {StatePartRefunded, StateRefunded},
}

// Valid reports whether s is one of the states.
func (s State) Valid() bool {
	for _, x := range States {
		if x == s {
			return true
		}
	}
	return false
}

// Final reports whether the payment has an outcome that no answer of the
// backend can still change, except by refunds: its full code is no longer
// needed and is erased.
func (s State) Final() bool {
	switch s {
	case StatePaid, StateDeclined, StateSettled, StateDeclinedLate,
		StateCancelled, StateRefunded, StatePartRefunded:
		return true
	}
	return false
}

// Open reports whether the payment still waits for the backend: these are
// the records to reconcile after a restart.
func (s State) Open() bool {
	switch s {
	case StateSending, StateUnknown, StateForwarding, StateWaitingPayer:
		return true
	}
	return false
}

// CanMove reports whether the machine allows from → to, ignoring the mode.
func CanMove(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// checkMove checks from → to for a payment of mode m: paid and declined
// belong to online payments, settled and declined_late to offline ones.
func checkMove(from, to State, m Mode) error {
	if !CanMove(from, to) {
		return fmt.Errorf("%w: %s → %s", ErrIllegalTransition, from, to)
	}
	switch to {
	case StatePaid, StateDeclined:
		if m != ModeOnline {
			return fmt.Errorf("%w: %s → %s for an offline payment (use %s/%s)", ErrIllegalTransition, from, to, StateSettled, StateDeclinedLate)
		}
	case StateSettled, StateDeclinedLate:
		if m != ModeOffline {
			return fmt.Errorf("%w: %s → %s for an online payment (use %s/%s)", ErrIllegalTransition, from, to, StatePaid, StateDeclined)
		}
	}
	return nil
}

// Mode says how a payment was taken.
type Mode string

// Modes of a payment.
const (
	ModeOnline  Mode = "online"  // sent to the backend while the customer waits
	ModeOffline Mode = "offline" // queued in the journal, uploaded later
)
