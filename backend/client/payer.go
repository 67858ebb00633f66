package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"tillpay/backend/api"
)

// Payer is a wallet's client of the payment backend. It authenticates every
// request with HTTP Basic (payer id and password). Time and Health need no
// credentials.
type Payer struct {
	*base
	id string
}

// NewPayer returns a client for payer payerID at baseURL ("http://host:port").
func NewPayer(baseURL, payerID, password string, opts ...Option) (*Payer, error) {
	if payerID == "" {
		return nil, errors.New("client: payer id is empty")
	}
	b, err := newBase(baseURL, opts)
	if err != nil {
		return nil, err
	}
	b.auth = func(req *http.Request, _ []byte) { req.SetBasicAuth(payerID, password) }
	return &Payer{base: b, id: payerID}, nil
}

// ID returns the payer id the client authenticates as.
func (p *Payer) ID() string { return p.id }

// Enrol asks the backend for a new token seed. Enrolling again revokes the
// payer's previous seed, so every code made from it stops working.
func (p *Payer) Enrol(ctx context.Context) (api.EnrolResponse, error) {
	var r api.EnrolResponse
	if err := p.do(ctx, http.MethodPost, api.PathEnrol, struct{}{}, &r); err != nil {
		return api.EnrolResponse{}, fmt.Errorf("enrol: %w", err)
	}
	if len(r.Seed) == 0 {
		return api.EnrolResponse{}, fmt.Errorf("enrol: %w: answer has no seed", ErrUnreachable)
	}
	return r, nil
}

// Balance returns the payer's balance and limits.
func (p *Payer) Balance(ctx context.Context) (api.BalanceResponse, error) {
	var r api.BalanceResponse
	if err := p.do(ctx, http.MethodGet, api.PathBalance, nil, &r); err != nil {
		return api.BalanceResponse{}, fmt.Errorf("balance: %w", err)
	}
	return r, nil
}

// Inbox returns the payer's notifications with an id greater than after,
// oldest first.
func (p *Payer) Inbox(ctx context.Context, after int64) ([]api.Notification, error) {
	q := url.Values{"after": {strconv.FormatInt(after, 10)}}
	var r api.InboxResponse
	if err := p.do(ctx, http.MethodGet, api.PathInbox+"?"+q.Encode(), nil, &r); err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	return r.Notifications, nil
}

// Pending returns the payments waiting for the payer's confirmation.
func (p *Payer) Pending(ctx context.Context) ([]api.PendingPayment, error) {
	var r api.PendingResponse
	if err := p.do(ctx, http.MethodGet, api.PathPending, nil, &r); err != nil {
		return nil, fmt.Errorf("pending payments: %w", err)
	}
	return r.Payments, nil
}

// Confirm approves (or, with approve false, declines) the waiting payment
// order, named as in api.PendingPayment, and returns the order as it stands
// after the answer. A nil error does not mean the money was taken: check
// the order's Status. An approval ends api.StatusPaid, or
// api.StatusDeclined when the balance is too low; a payment the merchant
// cancelled, or that timed out, is api.StatusCancelled with its Reason.
func (p *Payer) Confirm(ctx context.Context, order string, approve bool) (api.Order, error) {
	if order == "" {
		return api.Order{}, errors.New("confirm: order is empty")
	}
	req := api.ConfirmRequest{Order: order, Approve: approve}
	var o api.Order
	if err := p.do(ctx, http.MethodPost, api.PathConfirm, req, &o); err != nil {
		return api.Order{}, fmt.Errorf("confirm %s: %w", order, err)
	}
	if o.Status == "" {
		return api.Order{}, fmt.Errorf("confirm %s: %w: answer has no order status", order, ErrUnreachable)
	}
	return o, nil
}
