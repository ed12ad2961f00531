package nethsmtest_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/signet-project/signet/internal/apitest"
	"github.com/signet-project/signet/web/nethsm/nethsmtest"
)

// TestTransportCatchesViolations checks that the validating transport is not
// vacuous: responses that break the API description are reported.
func TestTransportCatchesViolations(t *testing.T) {
	spec := nethsmtest.LoadSpec(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/keys/k1/sign":
			w.Write([]byte(`{"signature": ""}`)) // Base64 needs at least one character
		case "/api/v1/keys/k1":
			w.Write([]byte(`{"type": "RSA"}`)) // mechanisms, restrictions, operations missing
		case "/api/v1/health/state":
			w.WriteHeader(http.StatusTeapot) // not a documented status
		default:
			w.Write([]byte(`{"state": "Operational"}`))
		}
	}))
	defer srv.Close()
	tr := apitest.NewTransport(spec, nil)
	c := &http.Client{Transport: tr}
	do := func(method, path, body string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.SetBasicAuth("operator", "passphrase")
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	do("POST", "/api/v1/keys/k1/sign", `{"mode":"PKCS1","message":"AAAA"}`)
	do("GET", "/api/v1/keys/k1", "")
	do("GET", "/api/v1/health/state", "")
	do("GET", "/keys/k1", "") // no /api/v1 base: no route
	do("GET", "/api/v1/health/state/extra", "")
	ex := tr.Exchanges()
	if len(ex) != 5 {
		t.Fatalf("%d exchanges", len(ex))
	}
	for i, e := range ex[:3] {
		if e.RequestErr != nil {
			t.Errorf("exchange %d: request reported invalid: %v", i, e.RequestErr)
		}
		if e.ResponseErr == nil {
			t.Errorf("exchange %d (%s %s): bad response not reported", i, e.Method, e.Path)
		}
	}
	for _, e := range ex[3:] {
		if e.RequestErr == nil {
			t.Errorf("%s %s: unknown path not reported", e.Method, e.Path)
		}
	}
	// GET /keys/k1 must route to /keys/{KeyID}, not to /keys/{KeyPrefix}*.
	req := httptest.NewRequest("GET", "/api/v1/keys/k1", nil)
	route, params, err := spec.Router.FindRoute(req)
	if err != nil || route.Path != "/keys/{KeyID}" || params["KeyID"] != "k1" {
		t.Errorf("GET /api/v1/keys/k1 routes to %v %v (%v)", route, params, err)
	}
}
