package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"tillpay/backend/api"
)

// Body size limits.
const (
	maxBody      = 16 << 10
	maxBatchBody = 1 << 20
)

// Handler returns the HTTP handler of the protocol (docs/api.md).
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern, endpoint string, h http.HandlerFunc) {
		obs := s.m.latency.WithLabelValues(endpoint)
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			h(w, r)
			obs.Observe(time.Since(start).Seconds())
		})
	}
	route("GET "+api.PathHealth, "health", s.handleHealth)
	mux.Handle("GET "+api.PathMetrics, promhttp.HandlerFor(s.cfg.registry, promhttp.HandlerOpts{}))
	route("GET "+api.PathTime, "time", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, api.TimeResponse{Time: s.now().UTC()})
	})

	route("POST "+api.PathEnrol, "enrol", s.payerHandler(func(w http.ResponseWriter, r *http.Request, payer string) {
		res, err := s.Enrol(r.Context(), payer)
		s.answer(w, res, err)
	}))
	route("GET "+api.PathBalance, "balance", s.payerHandler(func(w http.ResponseWriter, r *http.Request, payer string) {
		res, err := s.Balance(r.Context(), payer)
		s.answer(w, res, err)
	}))
	route("GET "+api.PathInbox, "inbox", s.payerHandler(func(w http.ResponseWriter, r *http.Request, payer string) {
		var after int64
		if v := r.URL.Query().Get("after"); v != "" {
			var err error
			if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
				s.answer(w, nil, badRequest("after: want a notification id"))
				return
			}
		}
		res, err := s.Inbox(r.Context(), payer, after, 0)
		s.answer(w, res, err)
	}))
	route("GET "+api.PathPending, "pending", s.payerHandler(func(w http.ResponseWriter, r *http.Request, payer string) {
		res, err := s.Pending(r.Context(), payer)
		s.answer(w, res, err)
	}))
	route("POST "+api.PathConfirm, "confirm", s.payerHandler(func(w http.ResponseWriter, r *http.Request, payer string) {
		body, err := readBody(w, r, maxBody)
		if err != nil {
			s.answer(w, nil, err)
			return
		}
		var req api.ConfirmRequest
		if err := decodeStrict(body, &req); err != nil {
			s.answer(w, nil, err)
			return
		}
		res, err := s.Confirm(r.Context(), payer, req)
		s.answer(w, res, err)
	}))

	route("POST "+api.PathPay, "pay", s.TerminalHandler(maxBody, func(w http.ResponseWriter, r *http.Request, t *Terminal, body []byte) {
		var req api.PayRequest
		if err := decodeStrict(body, &req); err != nil {
			s.answer(w, nil, err)
			return
		}
		res, err := s.Pay(r.Context(), t, req)
		s.answer(w, res, err)
	}))
	route("POST "+api.PathPayBatch, "pay_batch", s.TerminalHandler(maxBatchBody, func(w http.ResponseWriter, r *http.Request, t *Terminal, body []byte) {
		var req api.BatchRequest
		if err := decodeStrict(body, &req); err != nil {
			s.answer(w, nil, err)
			return
		}
		if len(req.Payments) == 0 {
			s.answer(w, nil, badRequest("payments: the batch is empty"))
			return
		}
		res, err := s.PayBatch(r.Context(), t, req.Payments)
		s.answer(w, api.BatchResponse{Results: res}, err)
	}))
	route("GET "+api.PathOrders+"{order}", "query", s.TerminalHandler(maxBody, func(w http.ResponseWriter, r *http.Request, t *Terminal, _ []byte) {
		res, err := s.Query(r.Context(), t, r.PathValue("order"))
		s.answer(w, res, err)
	}))
	route("POST "+api.PathOrders+"{order}/cancel", "cancel", s.TerminalHandler(maxBody, func(w http.ResponseWriter, r *http.Request, t *Terminal, body []byte) {
		if err := checkEmptyBody(body); err != nil {
			s.answer(w, nil, err)
			return
		}
		res, err := s.Cancel(r.Context(), t, r.PathValue("order"))
		s.answer(w, res, err)
	}))
	route("POST "+api.PathOrders+"{order}/refund", "refund", s.TerminalHandler(maxBody, func(w http.ResponseWriter, r *http.Request, t *Terminal, body []byte) {
		var req api.RefundRequest
		if err := decodeStrict(body, &req); err != nil {
			s.answer(w, nil, err)
			return
		}
		res, err := s.Refund(r.Context(), t, r.PathValue("order"), req)
		s.answer(w, res, err)
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.answer(w, nil, notFound("no endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func (s *Service) handleHealth(w http.ResponseWriter, r *http.Request) {
	if err := s.st.read.PingContext(r.Context()); err != nil {
		s.answer(w, nil, &Error{http.StatusServiceUnavailable, api.ErrUnavailable, "storage: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// TerminalHandler wraps h with terminal authentication: it checks the
// Authorization header (form, time, a terminal that exists and is not
// revoked) before it reads the body, then reads the body (at most limit
// bytes), checks the request's signature over it and hands h the terminal
// and the body. Unauthenticated requests get 401 and reach nothing.
func (s *Service) TerminalHandler(limit int64, h func(http.ResponseWriter, *http.Request, *Terminal, []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		refuse := func(err error) {
			id, _, _, _ := api.ParseAuthorization(r.Header.Get("Authorization"))
			s.refused(r, "terminal", id, err)
			s.answer(w, nil, err)
		}
		t, ts, sig, err := s.preauthTerminal(r.Context(), r)
		if err != nil {
			w.Header().Set("Connection", "close") // an unread body is not drained
			refuse(err)
			return
		}
		body, err := readBody(w, r, limit)
		if err != nil {
			s.answer(w, nil, err)
			return
		}
		if err := s.checkSignature(t, r, ts, sig, body); err != nil {
			refuse(err)
			return
		}
		h(w, r, t, body)
	}
}

// payerHandler wraps h with HTTP Basic authentication of a payer.
func (s *Service) payerHandler(h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, pw, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="tillpay payer"`)
			s.answer(w, nil, &Error{http.StatusUnauthorized, api.ErrUnauthorized, "this request needs the payer id and password (HTTP Basic)"})
			return
		}
		if err := s.authenticatePayer(r.Context(), id, pw); err != nil {
			s.refused(r, "payer", id, err)
			s.answer(w, nil, err)
			return
		}
		h(w, r, id)
	}
}

// refused logs a request refused for its credentials (401), so that an
// operator sees a terminal with a wrong key or someone guessing passwords,
// at most refusalLogsPerSecond lines a second (a flood is counted, not
// written). who is the claimed terminal or payer id, as sent; never a
// secret.
func (s *Service) refused(r *http.Request, kind, who string, err error) {
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusUnauthorized {
		return
	}
	ok, suppressed := s.refusals.take(s.now())
	if !ok {
		return
	}
	if len(who) > 64 {
		who = who[:64] + "…"
	}
	attrs := []any{"kind", kind, "id", who, "path", r.URL.Path, "remote", r.RemoteAddr, "reason", authReason(err)}
	if suppressed > 0 {
		attrs = append(attrs, "not_logged_before", suppressed)
	}
	s.log.Warn("request refused: not authenticated", attrs...)
}

// refusalLogsPerSecond bounds the log lines of refused credentials.
const refusalLogsPerSecond = 10

// logBudget lets through at most refusalLogsPerSecond log lines in each
// second of the service's clock, and counts the lines it holds back.
type logBudget struct {
	mu         sync.Mutex
	second     int64
	used       int
	suppressed int
}

// take reports whether a line may be written now and, if so, how many were
// held back since the last one written.
func (b *logBudget) take(now time.Time) (ok bool, suppressed int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if sec := now.Unix(); sec != b.second {
		b.second, b.used = sec, 0
	}
	if b.used >= refusalLogsPerSecond {
		b.suppressed++
		return false, 0
	}
	b.used++
	suppressed, b.suppressed = b.suppressed, 0
	return true, suppressed
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, &Error{http.StatusRequestEntityTooLarge, api.ErrTooLarge,
				fmt.Sprintf("the request body exceeds %d bytes", limit)}
		}
		return nil, badRequest("reading the request body: %v", err)
	}
	return body, nil
}

// checkEmptyBody refuses a body on a request that takes none: an empty
// body, or an empty JSON object, is all it may have.
func checkEmptyBody(body []byte) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil
	}
	// null and arrays would decode into an empty struct too.
	if trimmed[0] != '{' || decodeStrict(trimmed, &struct{}{}) != nil {
		return badRequest("this request takes no body (or {}), not %.40q", trimmed)
	}
	return nil
}

// decodeStrict decodes one JSON value, refusing unknown fields and
// anything after the value.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("malformed JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("malformed JSON: data after the request object")
	}
	return nil
}

// answer writes v as JSON, or err as the protocol's error body.
func (s *Service) answer(w http.ResponseWriter, v any, err error) {
	if err == nil {
		writeJSON(w, http.StatusOK, v)
		return
	}
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e = &Error{http.StatusServiceUnavailable, api.ErrUnavailable, "the request was abandoned: " + err.Error()}
	case errors.Is(err, ErrWrongMasterKey):
		s.log.Error("a sealed value does not open", "err", err)
		e = &Error{http.StatusInternalServerError, api.ErrInternal, "the backend cannot read its keys"}
	default:
		// The cause stays in the log: its text may name files and
		// internals that are no client's business.
		s.log.Error("request failed", "err", err)
		e = &Error{http.StatusServiceUnavailable, api.ErrUnavailable, "the backend could not finish the request; try again (the cause is in its log)"}
	}
	writeJSON(w, e.Status, api.Error{Error: api.ErrorBody{Code: e.Code, Message: e.Message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"internal","message":"encoding the answer failed"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	w.Write(append(body, '\n')) //nolint:errcheck // the client went away
}

// Serve answers the protocol on ln until ctx ends, then shuts down
// gracefully: requests in flight finish (up to 10 s), new ones are refused.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          nil,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}
