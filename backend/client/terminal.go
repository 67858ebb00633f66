package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"tillpay/backend/api"
	"tillpay/money"
)

// Terminal is a till's client: every request is signed with the terminal
// key (api.AuthScheme).
type Terminal struct {
	*base
	id  string
	key []byte
}

// NewTerminal returns the client of terminal terminalID with its key, for
// the backend at baseURL (such as http://127.0.0.1:43211).
func NewTerminal(baseURL, terminalID string, key []byte, opts ...Option) (*Terminal, error) {
	if terminalID == "" {
		return nil, errors.New("client: no terminal id")
	}
	if len(key) == 0 {
		return nil, errors.New("client: no terminal key")
	}
	b, err := newBase(baseURL, opts)
	if err != nil {
		return nil, err
	}
	k := append([]byte(nil), key...)
	b.auth = func(req *http.Request, body []byte) {
		req.Header.Set("Authorization",
			api.AuthorizationHeader(terminalID, k, req.Method, req.URL.RequestURI(), b.backendNow(), body))
	}
	return &Terminal{base: b, id: terminalID, key: k}, nil
}

// ID returns the terminal id.
func (t *Terminal) ID() string { return t.id }

// Pay sends one payment. The answer is an order paid, declined (with a
// reason and a sentence for the cashier) or waiting_payer (poll Query).
// On an error matching ErrUnreachable the outcome is unknown: send the same
// request again (same merchant order number) or Query it.
func (t *Terminal) Pay(ctx context.Context, req api.PayRequest) (api.Order, error) {
	var o api.Order
	err := t.do(ctx, http.MethodPost, api.PathPay, req, &o)
	return o, err
}

// PayBatch uploads payments queued offline (Offline true, RecordSig set),
// at most api.MaxBatch; the results come in the same order.
func (t *Terminal) PayBatch(ctx context.Context, reqs []api.PayRequest) ([]api.BatchResult, error) {
	if len(reqs) > api.MaxBatch {
		return nil, fmt.Errorf("client: a batch holds at most %d payments, not %d", api.MaxBatch, len(reqs))
	}
	var r api.BatchResponse
	if err := t.do(ctx, http.MethodPost, api.PathPayBatch, api.BatchRequest{Payments: reqs}, &r); err != nil {
		return nil, err
	}
	if len(r.Results) != len(reqs) {
		return nil, fmt.Errorf("%w: %d results for %d payments", ErrUnreachable, len(r.Results), len(reqs))
	}
	return r.Results, nil
}

// Query returns an order by its merchant order number. An order that waited
// for its payer past the timeout comes back cancelled (payer_timeout).
func (t *Terminal) Query(ctx context.Context, order string) (api.Order, error) {
	var o api.Order
	err := t.do(ctx, http.MethodGet, api.PathOrders+url.PathEscape(order), nil, &o)
	return o, err
}

// Cancel reverses an order: refunds a paid one in full, closes a waiting
// one, and closes an order number the backend never saw, so that a payment
// still in flight under it cannot charge later.
func (t *Terminal) Cancel(ctx context.Context, order string) (api.Order, error) {
	var o api.Order
	err := t.do(ctx, http.MethodPost, api.PathOrders+url.PathEscape(order)+"/cancel", nil, &o)
	return o, err
}

// Refund returns amount of a paid order to the payer. refundNo identifies
// the refund: retrying with the same number never refunds twice.
func (t *Terminal) Refund(ctx context.Context, order, refundNo string, amount money.Amount) (api.RefundResponse, error) {
	var r api.RefundResponse
	err := t.do(ctx, http.MethodPost, api.PathOrders+url.PathEscape(order)+"/refund",
		api.RefundRequest{RefundNo: refundNo, Amount: amount}, &r)
	return r, err
}

// SignRecord returns req with RecordSig set to the terminal's signature of
// the record (api.RecordSignature), as a till does when it queues a payment
// offline: the backend refuses an uploaded record whose signature does not
// match.
func (t *Terminal) SignRecord(req api.PayRequest) api.PayRequest {
	req.RecordSig = api.RecordSignature(t.key, req)
	return req
}
