package till

import (
	"time"
)

// Event kinds, as the headless mode prints them in the "event" field.
const (
	EventReady   = "ready"
	EventScanner = "scanner"
	EventScan    = "scan"
	EventPayment = "payment"
	EventSync    = "sync"
	EventError   = "error"
	EventStatus  = "status"
	EventRefund  = "refund"
	EventArmed   = "armed"
)

// Payment statuses carried by payment events.
const (
	StatusPaid         = "paid"
	StatusDeclined     = "declined"
	StatusQueued       = "queued"
	StatusWaitingPayer = "waiting_payer"
	StatusCancelled    = "cancelled"
	StatusRefunded     = "refunded"
	StatusPartRefunded = "partially_refunded"
	StatusSettled      = "settled"       // a queued payment, later paid
	StatusDeclinedLate = "declined_late" // a queued payment, later refused
	StatusUnknown      = "unknown"       // sent, no answer yet: being checked
	StatusSubmitting   = "submitting"
)

// Scanner states carried by scanner events.
const (
	ScannerConnected    = "connected"
	ScannerDisconnected = "disconnected"
	ScannerError        = "error"
)

// Event is what the till core tells its faces (the GUI, the headless mode).
// Every event has a kind and a time; the other fields depend on the kind.
// It marshals to the JSON objects of the headless protocol (docs/headless.md).
type Event struct {
	Event string    `json:"event"`
	Time  time.Time `json:"time"`

	// ready
	Backend  string `json:"backend,omitempty"`
	Journal  string `json:"journal,omitempty"`
	Terminal string `json:"terminal,omitempty"`
	Mode     string `json:"mode,omitempty"`

	// scanner, scan
	Device    string `json:"device,omitempty"`
	State     string `json:"state,omitempty"`
	Detail    string `json:"detail,omitempty"`
	Symbology string `json:"symbology,omitempty"`
	Code      string `json:"code,omitempty"` // masked but for the last 4 digits
	LatencyUS *int64 `json:"latency_us,omitempty"`

	// payment, refund, armed
	Order    string `json:"order,omitempty"`
	Amount   string `json:"amount,omitempty"` // decimal text, e.g. "12.50"
	Currency string `json:"currency,omitempty"`
	Status   string `json:"status,omitempty"`
	Reason   string `json:"reason,omitempty"` // a sentence a cashier understands
	// ReasonCode is the machine-readable reason (backend/api Reason* codes
	// and the till's own, such as "foreign_code" or "offline_limit").
	ReasonCode string `json:"reason_code,omitempty"`
	Offline    bool   `json:"offline,omitempty"`
	RefundNo   string `json:"refund_no,omitempty"`
	Refunded   string `json:"refunded,omitempty"`
	// Expires is when a waiting_payer payment will be cancelled.
	Expires *time.Time `json:"expires,omitempty"`

	// sync
	Online       *bool  `json:"online,omitempty"`
	Queued       *int   `json:"queued,omitempty"`
	QueuedAmount string `json:"queued_amount,omitempty"`
	LateDeclines *int   `json:"late_declines,omitempty"`
}

func ptr[T any](v T) *T { return &v }
