package backend

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"tillpay/backend/api"
)

// FuzzPayRequest feeds arbitrary bodies through the request parser and
// validation: they must give a clear refusal or a valid request, never a
// panic.
func FuzzPayRequest(f *testing.F) {
	f.Add([]byte(`{"merchant_order":"a","code":"711234567012345678","amount":{"minor":100,"currency":"CNY"}}`))
	f.Add([]byte(`{"merchant_order":"a","code":"711234567012345678","amount":{"minor":1.5,"currency":"CNY"},"offline":true,"scan_time":"2025-01-01T00:00:00Z","record_sig":"00"}`))
	f.Add([]byte(`{"payments":[{}]}`))
	if fh, err := os.Open("../../shared/fixtures/codes.tsv"); err == nil {
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			if parts := strings.Split(sc.Text(), "\t"); len(parts) > 1 {
				f.Add([]byte(`{"merchant_order":"a","code":"` + parts[1] + `","amount":{"minor":1,"currency":"CNY"}}`))
			}
		}
		fh.Close()
	}
	s := &Service{cfg: config{currency: "CNY"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req api.PayRequest
		if err := decodeStrict(body, &req); err != nil {
			if !isCode(err, api.ErrBadRequest) {
				t.Fatalf("decode error %v is not a bad request", err)
			}
			return
		}
		code, err := s.validatePay(req)
		if err != nil {
			if !isCode(err, api.ErrBadRequest) || err.Error() == "" {
				t.Fatalf("validation error %v is not a clear bad request", err)
			}
			return
		}
		if code.String() != req.Code || req.Amount.Minor <= 0 || len(req.MerchantOrder) == 0 || len(req.MerchantOrder) > 64 {
			t.Fatalf("accepted %+v", req)
		}
	})
}
