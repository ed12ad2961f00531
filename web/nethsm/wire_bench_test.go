package nethsm

import (
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// BenchmarkReadSignRequest reads the sign request of a SHA-256 digest as
// the NetHSM token writes it, body read included.
func BenchmarkReadSignRequest(b *testing.B) {
	body := `{"mode":"ECDSA","message":"` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `"}`
	e := echo.New()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/api/v1/keys/k/sign", strings.NewReader(body))
		c := e.NewContext(req, httptest.NewRecorder())
		if mode, msg, err := readSignRequest(c); err != nil || mode != "ECDSA" || len(msg) != 32 {
			b.Fatal(mode, msg, err)
		}
	}
}
