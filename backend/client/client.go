// Package client is the Go client of the tillpay payment backend's HTTP API
// (docs/api.md): Terminal for a till's signed requests and Payer for a
// wallet's.
//
// Errors fall in two kinds a caller must tell apart. An *APIError means the
// backend answered and refused the request: nothing changed, and sending the
// same request again gives the same answer. Any other error (matching
// ErrUnreachable) means the outcome is unknown: the request may or may not
// have reached the backend, so a payment must be retried with the same
// merchant order number or queried, never sent under a new one.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"tillpay/backend/api"
)

// ErrUnreachable is wrapped by errors where no answer came from the backend
// (connection refused, timeout, reset, a proxy's error page).
var ErrUnreachable = errors.New("payment backend unreachable")

// APIError is the backend's refusal of a request.
type APIError struct {
	Status  int    // HTTP status
	Code    string // api.Err* code
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("payment backend refused the request (%d %s): %s", e.Status, e.Code, e.Message)
}

// IsCode reports whether err is an *APIError with the given api.Err* code.
func IsCode(err error, code string) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == code
}

// base holds what both kinds of client share.
type base struct {
	url  *url.URL
	http *http.Client
	now  func() time.Time
	// auth sets the request's credentials; body is the exact bytes sent.
	auth func(req *http.Request, body []byte)
	// offset is the backend's clock minus ours, in nanoseconds, as the
	// last Time call measured it; signed requests are stamped on the
	// backend's clock, so a client with a wrong clock is not refused.
	offset atomic.Int64
}

// backendNow is the client's estimate of the backend's clock.
func (b *base) backendNow() time.Time { return b.now().Add(time.Duration(b.offset.Load())) }

// Option configures a client.
type Option func(*base)

// WithHTTPClient sets the HTTP client (default: one with a 10 s timeout).
func WithHTTPClient(c *http.Client) Option { return func(b *base) { b.http = c } }

// WithClock sets the clock used to time-stamp signed requests.
func WithClock(now func() time.Time) Option { return func(b *base) { b.now = now } }

func newBase(baseURL string, opts []Option) (*base, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("client: backend URL %q: want http://host:port", baseURL)
	}
	b := &base{url: u, http: &http.Client{Timeout: 10 * time.Second}, now: time.Now}
	for _, o := range opts {
		o(b)
	}
	return b, nil
}

// do sends method path with in as JSON body (nil for none) and decodes a
// 2xx answer into out (nil to discard).
func (b *base) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("client: encoding request: %w", err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, b.url.String()+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if b.auth != nil {
		b.auth(req, body)
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("%w: reading answer: %w", ErrUnreachable, err)
	}
	if resp.StatusCode/100 != 2 {
		var e api.Error
		if json.Unmarshal(data, &e) != nil || e.Error.Code == "" {
			// Not the backend's own error body: a proxy, or a server dying.
			return fmt.Errorf("%w: HTTP %d from %s", ErrUnreachable, resp.StatusCode, b.url.Host)
		}
		if e.Error.Code == api.ErrUnavailable || e.Error.Code == api.ErrInternal {
			// The backend could not finish: the outcome is unknown.
			return fmt.Errorf("%w: %w", ErrUnreachable, &APIError{resp.StatusCode, e.Error.Code, e.Error.Message})
		}
		return &APIError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w: malformed answer: %w", ErrUnreachable, err)
	}
	return nil
}

// Time asks the backend for its clock (no authentication). It returns the
// backend's time and the offset to add to the local clock to get it,
// estimated from the round trip; the client stamps its signed requests
// with that offset from then on.
func (b *base) Time(ctx context.Context) (server time.Time, offset time.Duration, err error) {
	sent := b.now()
	var r api.TimeResponse
	if err := b.do(ctx, http.MethodGet, api.PathTime, nil, &r); err != nil {
		return time.Time{}, 0, err
	}
	received := b.now()
	mid := sent.Add(received.Sub(sent) / 2)
	offset = r.Time.Sub(mid)
	b.offset.Store(int64(offset))
	return r.Time, offset, nil
}

// Health reports whether the backend answers its health check.
func (b *base) Health(ctx context.Context) error {
	return b.do(ctx, http.MethodGet, api.PathHealth, nil, nil)
}
