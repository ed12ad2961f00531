package admin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// FuzzReadChain: an uploaded certificate chain (PEM, or JSON {"chain":
// PEM}) gives certificates or an error with a 4xx, never a panic.
func FuzzReadChain(f *testing.F) {
	f.Add(false, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	f.Add(true, `{"chain":"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----"}`)
	f.Add(true, `{"chain":1}`)
	f.Add(true, `{"pin":"x"}{}`)
	e := echo.New()
	f.Fuzz(func(t *testing.T, asJSON bool, body string) {
		req := httptest.NewRequest(http.MethodPut, "/admin/api/tokens/t/keys/k/chain", strings.NewReader(body))
		if asJSON {
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.Header.Set("Content-Type", "application/x-pem-file")
		}
		certs, err := readChain(e.NewContext(req, httptest.NewRecorder()))
		if err == nil && len(certs) == 0 {
			t.Fatal("no certificates and no error")
		}
		if se, ok := err.(*statusError); err != nil && ok && se.code >= 500 {
			t.Fatalf("%q: %v", body, err)
		}
	})
}
