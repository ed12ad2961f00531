package dsm_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/web/dsm"
	"github.com/signet-project/signet/web/dsm/dsmtest"
)

// FuzzBatchSign: any body sent to the DSM batch and single sign endpoints
// by an authenticated app is answered with a status below 500, never a
// panic, over a real soft token.
func FuzzBatchSign(f *testing.F) {
	tok := dsmtest.SoftToken(f, "soft", dsmtest.TestKeys(f))
	h := dsm.New(dsm.Options{
		Keys: dsm.KeySourceFunc(func(context.Context) []dsm.Key {
			return []dsm.Key{{Token: tok, Alias: "p256"}, {Token: tok, Alias: "rsa2048", Name: "RSA Signer"}}
		}),
		Authenticate: apiKeys("app:secret"),
	})
	e := echo.New()
	h.Register(e)
	f.Add(true, `[{"key":{"name":"p256"},"hash_alg":"SHA256","hash":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}]`)
	f.Add(true, `[{"key":{"kid":"x"},"hash_alg":"SHA1","data":"AA=="},{}]`)
	f.Add(false, `{"key":{"name":"RSA Signer"},"hash_alg":"SHA256","data":"AA==","mode":{"PSS":{"mgf":{"mgf1":{"hash":"SHA256"}}}}}`)
	f.Add(true, `[1,"x",null]`)
	f.Fuzz(func(t *testing.T, batch bool, body string) {
		path := "/crypto/v1/sign"
		if batch {
			path = "/crypto/v1/keys/batch/sign"
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("app", "secret")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: %d %s", path, body, rec.Code, rec.Body)
		}
	})
}
