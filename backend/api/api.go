// Package api holds the wire types of the tillpay payment backend's HTTP/JSON
// protocol (version 1), shared by the server (tillpay/backend) and its Go
// clients (tillpay/backend/client). docs/api.md describes the protocol.
//
// Amounts are integer minor units with a currency (money.Amount). Times are
// RFC 3339 with nanoseconds, on the backend's clock.
package api

import (
	"time"

	"tillpay/money"
)

// Paths of the protocol.
const (
	PathHealth  = "/healthz"
	PathMetrics = "/metrics"
	PathTime    = "/v1/time"

	// Payer endpoints (HTTP Basic: payer id and password).
	PathEnrol   = "/v1/payer/enrol"
	PathBalance = "/v1/payer/balance"
	PathInbox   = "/v1/payer/inbox"   // ?after=<notification id>
	PathPending = "/v1/payer/pending" // payments waiting for the payer
	PathConfirm = "/v1/payer/confirm"

	// Terminal endpoints (signed; see AuthScheme).
	PathPay      = "/v1/pay"
	PathPayBatch = "/v1/pay/batch"
	PathOrders   = "/v1/orders/" // + {merchant_order}, + /cancel, + /refund
)

// AuthScheme is the Authorization scheme of terminal requests:
//
//	Authorization: TILLPAY-HMAC-SHA256 terminal=<id>,ts=<unix seconds>,sig=<hex>
//
// where sig is HMAC-SHA256 with the terminal key over
// METHOD "\n" PATH-WITH-QUERY "\n" ts "\n" hex(SHA-256(body)).
// The backend refuses timestamps more than MaxClockSkew from its clock.
const AuthScheme = "TILLPAY-HMAC-SHA256"

// MaxClockSkew is how far a signed request's timestamp may be from the
// backend's clock.
const MaxClockSkew = 5 * time.Minute

// Error is the body of every non-2xx answer.
type Error struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody says what was wrong, for programs (Code) and people (Message).
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error codes of non-2xx answers.
const (
	ErrBadRequest   = "bad_request"   // 400: malformed JSON, unknown field, bad value
	ErrUnauthorized = "unauthorized"  // 401: missing, wrong or stale credentials
	ErrNotFound     = "not_found"     // 404
	ErrConflict     = "conflict"      // 409: order number reused with other content
	ErrUnavailable  = "unavailable"   // 503: shutting down, storage failing
	ErrInternal     = "internal"      // 500
	ErrTooLarge     = "too_large"     // 413
	ErrRefundTooBig = "refund_excess" // 409: refunds would exceed the paid amount
)

// TimeResponse answers GET /v1/time (no authentication).
type TimeResponse struct {
	Time time.Time `json:"time"`
}

// EnrolResponse answers POST /v1/payer/enrol. Enrolling again revokes the
// payer's previous seed.
type EnrolResponse struct {
	PayerID     string    `json:"payer_id"`
	KeyID       uint32    `json:"key_id"`
	Seed        []byte    `json:"seed"` // base64 in JSON
	ServerTime  time.Time `json:"server_time"`
	StepSeconds int       `json:"step_seconds"`
}

// BalanceResponse answers GET /v1/payer/balance.
type BalanceResponse struct {
	PayerID           string       `json:"payer_id"`
	Balance           money.Amount `json:"balance"`
	OfflineCredit     money.Amount `json:"offline_credit"`
	PasswordFreeLimit money.Amount `json:"password_free_limit"`
	ServerTime        time.Time    `json:"server_time"`
}

// Notification tells a payer of a deduction or a refund.
type Notification struct {
	ID int64 `json:"id"`
	// Kind is "debit" or "refund" when money moved. A payment that used up
	// one of the payer's codes and took no money says so too: "declined"
	// (with Reason), "waiting" (for the payer's confirmation; a debit
	// follows if they confirm) or "cancelled" (the merchant had cancelled
	// the order before the code arrived).
	Kind     string       `json:"kind"`
	Reason   string       `json:"reason,omitempty"` // a Reason* code, for "declined"
	Order    string       `json:"order"`
	Merchant string       `json:"merchant"`
	Amount   money.Amount `json:"amount"`
	Balance  money.Amount `json:"balance"` // after the change
	Time     time.Time    `json:"time"`
	// KeyID and Counter identify the code the payment presented, so a
	// wallet can move on to a fresh code after each use.
	KeyID   uint32 `json:"key_id,omitempty"`
	Counter uint64 `json:"counter,omitempty"`
}

// InboxResponse answers GET /v1/payer/inbox.
type InboxResponse struct {
	Notifications []Notification `json:"notifications"`
}

// PendingPayment is a payment waiting for the payer's confirmation.
type PendingPayment struct {
	Order    string       `json:"order"`
	Merchant string       `json:"merchant"`
	Amount   money.Amount `json:"amount"`
	Expires  time.Time    `json:"expires"`
}

// PendingResponse answers GET /v1/payer/pending.
type PendingResponse struct {
	Payments []PendingPayment `json:"payments"`
}

// ConfirmRequest is the body of POST /v1/payer/confirm.
type ConfirmRequest struct {
	Order   string `json:"order"` // as in PendingPayment: merchant id + "/" + merchant order
	Approve bool   `json:"approve"`
}

// PayRequest is the body of POST /v1/pay and an element of a batch.
type PayRequest struct {
	// MerchantOrder is the terminal's order number: unique per merchant,
	// and the idempotency key of the payment.
	MerchantOrder string       `json:"merchant_order"`
	Code          string       `json:"code"`
	Amount        money.Amount `json:"amount"`
	// ScanTime is when the code was scanned, on the backend's clock as the
	// terminal best knows it.
	ScanTime time.Time `json:"scan_time"`
	// Offline marks a payment that the terminal queued while it could not
	// reach the backend; its code is verified against ScanTime.
	Offline bool `json:"offline,omitempty"`
	// RecordSig is the terminal's signature of the journal record, made when
	// the code was scanned (see RecordSignature); required when Offline.
	RecordSig string `json:"record_sig,omitempty"`
}

// Statuses of an order.
const (
	StatusPaid         = "paid"
	StatusDeclined     = "declined"
	StatusWaitingPayer = "waiting_payer"
	StatusCancelled    = "cancelled"
	StatusRefunded     = "refunded"           // fully refunded
	StatusPartRefunded = "partially_refunded" // some refunded
)

// Reasons for a declined or cancelled order.
const (
	ReasonInsufficientBalance = "insufficient_balance"
	ReasonCodeExpired         = "code_expired"
	ReasonCodeUsed            = "code_used"
	ReasonCodeInvalid         = "code_invalid"
	ReasonCodeMalformed       = "code_malformed"
	ReasonForeignCode         = "foreign_code"
	ReasonUnknownPayer        = "unknown_payer"
	ReasonThrottled           = "throttled"
	ReasonPayerDeclined       = "payer_declined"
	ReasonPayerTimeout        = "payer_timeout"
	ReasonOfflineWindow       = "offline_window_exceeded"
	ReasonScanTimeFuture      = "scan_time_in_future"
	ReasonRecordSignature     = "record_signature_invalid"
	ReasonConfirmationNeeded  = "confirmation_needed" // an offline payment above the password-free limit
	ReasonCancelled           = "cancelled_by_merchant"
	// ReasonOrderConflict is only a notification's: a payment whose merchant
	// order number was taken by another payment was refused (409), and the
	// code it presented is used up.
	ReasonOrderConflict = "order_conflict"
)

// Order is the backend's record of a payment, as every payment endpoint
// returns it.
type Order struct {
	MerchantOrder string       `json:"merchant_order"`
	Status        string       `json:"status"`
	Reason        string       `json:"reason,omitempty"`  // a Reason* code
	Message       string       `json:"message,omitempty"` // the reason in a sentence for a cashier
	Amount        money.Amount `json:"amount"`
	Refunded      money.Amount `json:"refunded"`
	PayerID       string       `json:"payer_id,omitempty"` // set when the code's token was right
	Offline       bool         `json:"offline,omitempty"`
	ScanTime      time.Time    `json:"scan_time"`
	Created       time.Time    `json:"created"`
	Updated       time.Time    `json:"updated"`
	// Expires is when a waiting_payer order closes if not confirmed.
	Expires *time.Time `json:"expires,omitempty"`
}

// BatchRequest is the body of POST /v1/pay/batch: up to MaxBatch payments,
// each handled as if sent alone, in order.
type BatchRequest struct {
	Payments []PayRequest `json:"payments"`
}

// MaxBatch is the largest batch the backend takes.
const MaxBatch = 500

// BatchResult is one element's answer: an order, or an error for a payment
// that was malformed or conflicting (then Order is nil and nothing changed).
type BatchResult struct {
	Order *Order     `json:"order,omitempty"`
	Error *ErrorBody `json:"error,omitempty"`
}

// BatchResponse answers POST /v1/pay/batch, one result per payment, in order.
type BatchResponse struct {
	Results []BatchResult `json:"results"`
}

// RefundRequest is the body of POST /v1/orders/{merchant_order}/refund.
type RefundRequest struct {
	// RefundNo is the terminal's refund request number, the idempotency key
	// of the refund.
	RefundNo string       `json:"refund_no"`
	Amount   money.Amount `json:"amount"`
}

// RefundResponse answers a refund.
type RefundResponse struct {
	RefundNo string       `json:"refund_no"`
	Amount   money.Amount `json:"amount"`
	Order    Order        `json:"order"`
}
