package dsm_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/web/dsm"
	"github.com/signet-project/signet/web/dsm/dsmtest"
)

// BenchmarkBatchSign serves 1000-item batch sign requests (P-256, SHA-256
// digests, HTTP basic credentials) through the handler without a network,
// so that a CPU profile shows the API's own cost beside the signatures.
func BenchmarkBatchSign(b *testing.B) {
	tok := dsmtest.SoftToken(b, "soft", dsmtest.TestKeys(b))
	h := dsm.New(dsm.Options{
		Keys: dsm.KeySourceFunc(func(context.Context) []dsm.Key {
			return []dsm.Key{{Token: tok, Alias: "p256"}}
		}),
		Authenticate: apiKeys(appUser + ":" + appSecret),
	})
	e := echo.New()
	h.Register(e)
	const n = 1000
	var body bytes.Buffer
	body.WriteByte('[')
	for i := range n {
		if i > 0 {
			body.WriteByte(',')
		}
		d := sha256.Sum256(fmt.Append(nil, i))
		fmt.Fprintf(&body, `{"key":{"name":"p256"},"hash_alg":"SHA256","hash":"%s"}`, base64.StdEncoding.EncodeToString(d[:]))
	}
	body.WriteByte(']')
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/crypto/v1/keys/batch/sign", bytes.NewReader(body.Bytes()))
		req.SetBasicAuth(appUser, appSecret)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || bytes.Count(rec.Body.Bytes(), []byte(`"status":200`)) != n {
			b.Fatalf("%d %.300s", rec.Code, rec.Body.Bytes())
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "items/s")
}
