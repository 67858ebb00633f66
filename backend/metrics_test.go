package backend

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"tillpay/backend/api"
)

// /metrics serves Prometheus' text format without authentication, and its
// counters follow what the backend did: payments by status and reason,
// answers by endpoint, commit groups, notifications delivered.
func TestMetrics(t *testing.T) {
	e := newEnv(t)
	w := e.payer("mo", 1_000)
	wantStatus(t, e.pay("m-1", e.code(w), 600), api.StatusPaid, "")
	wantStatus(t, e.pay("m-2", e.code(w), 600), api.StatusDeclined, api.ReasonInsufficientBalance)
	if err := e.svc.Deliver(e.ctx); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(e.srv.URL + api.PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %s, %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(string(body), "\n") {
		lines[l] = true
	}
	for _, want := range []string{
		`tillpay_payments_total{reason="",status="paid"} 1`,
		`tillpay_payments_total{reason="insufficient_balance",status="declined"} 1`,
		`tillpay_request_duration_seconds_count{endpoint="pay"} 2`,
		// The debit, and the decline that used the second code up.
		`tillpay_notifications_total{result="ok",sink="inbox"} 2`,
	} {
		if !lines[want] {
			t.Errorf("/metrics has no line %q", want)
		}
	}
	for _, name := range []string{"tillpay_commit_group_size_count ", "tillpay_commit_duration_seconds_count ", "go_goroutines ", "process_cpu_seconds_total "} {
		if !strings.Contains(string(body), "\n"+name) {
			t.Errorf("/metrics has no %s", strings.TrimSpace(name))
		}
	}
	if strings.Contains(string(body), "m-1") {
		t.Error("/metrics names an order")
	}
}
