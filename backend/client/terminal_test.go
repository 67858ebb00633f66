package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"tillpay/backend/api"
	"tillpay/backend/client"
	"tillpay/money"
)

func TestUnreachableIsNotAnAPIError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	term, err := client.NewTerminal(url, "t-1", []byte("key"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = term.Pay(context.Background(), api.PayRequest{MerchantOrder: "x", Code: "1", Amount: money.Amount{Minor: 1, Currency: "CNY"}})
	var ae *client.APIError
	if !errors.Is(err, client.ErrUnreachable) || errors.As(err, &ae) {
		t.Fatalf("closed port: %v", err)
	}
	// A proxy's error page is not the backend's answer either.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer proxy.Close()
	term, _ = client.NewTerminal(proxy.URL, "t-1", []byte("key"))
	if _, err := term.Query(context.Background(), "x"); !errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("proxy page: %v", err)
	}
}

func TestSignedRequests(t *testing.T) {
	key := []byte("terminal key")
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ts, sig, err := api.ParseAuthorization(r.Header.Get("Authorization"))
		body := make([]byte, r.ContentLength)
		r.Body.Read(body)
		if err != nil || id != "t-9" || sig != api.RequestSignature(key, r.Method, r.URL.RequestURI(), ts, body) {
			w.WriteHeader(401)
			w.Write([]byte(`{"error":{"code":"unauthorized","message":"bad signature"}}`))
			return
		}
		seen = append(seen, r.Method+" "+r.URL.RequestURI())
		w.Write([]byte(`{"merchant_order":"a/b c?","status":"cancelled"}`))
	}))
	defer srv.Close()
	term, _ := client.NewTerminal(srv.URL, "t-9", key)
	ctx := context.Background()
	if o, err := term.Cancel(ctx, "a/b c?"); err != nil || o.Status != "cancelled" {
		t.Fatalf("cancel: %+v %v", o, err)
	}
	if _, err := term.Query(ctx, "a/b c?"); err != nil {
		t.Fatal(err)
	}
	want := []string{"POST /v1/orders/a%2Fb%20c%3F/cancel", "GET /v1/orders/a%2Fb%20c%3F"}
	if len(seen) != 2 || seen[0] != want[0] || seen[1] != want[1] {
		t.Fatalf("requests %q, want %q", seen, want)
	}
	wrong, _ := client.NewTerminal(srv.URL, "t-9", []byte("other key"))
	_, err := wrong.Query(ctx, "x")
	if !client.IsCode(err, api.ErrUnauthorized) || errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := client.NewTerminal("not a url", "t", key); err == nil {
		t.Fatal("bad URL accepted")
	}
	if _, err := term.PayBatch(ctx, make([]api.PayRequest, api.MaxBatch+1)); err == nil {
		t.Fatal("oversized batch sent")
	}
}
