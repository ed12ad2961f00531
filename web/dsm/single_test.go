package dsm_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/web/dsm"
)

// signResponse is the SignResponse schema.
type signResponse struct {
	Kid       string `json:"kid"`
	Signature string `json:"signature"`
}

// checkExchange checks the one exchange of a call: its response conforms
// (a 200 one against its schema), and its request does unless badRequest.
func checkExchange(t *testing.T, f *fixture, status int, badRequest bool) {
	t.Helper()
	ex := f.tr.Exchanges()
	if len(ex) != 1 {
		t.Fatalf("%d exchanges recorded, want 1", len(ex))
	}
	if ex[0].ResponseErr != nil {
		t.Errorf("%d response does not conform to the DSM API: %v", ex[0].Status, ex[0].ResponseErr)
	}
	if status == http.StatusOK && !ex[0].Validated {
		t.Error("the 200 response was not checked against a schema")
	}
	if (ex[0].RequestErr != nil) != badRequest {
		t.Errorf("request check: %v, want an error: %v", ex[0].RequestErr, badRequest)
	}
}

// TestSingleSign sends every request of TestMixedBatch alone to
// POST /crypto/v1/sign: each answers as its item of a batch does (the
// item's status, {"error"} for a refusal) and a signature verifies.
func TestSingleSign(t *testing.T) {
	f := newFixture(t)
	cases := mixedCases(f)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := f.do("POST", "/crypto/v1/sign", "basic", c.req)
			checkExchange(t, f, status, c.name == "bad base64")
			if status != c.status {
				t.Fatalf("status %d (%s), want %d", status, body, c.status)
			}
			if c.status != http.StatusOK {
				var e struct{ Error string }
				if json.Unmarshal(body, &e) != nil || e.Error == "" {
					t.Errorf("error body %s, want {\"error\": ...}", body)
				}
				return
			}
			var r signResponse
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if r.Kid != c.kid {
				t.Errorf("kid %s, want %s", r.Kid, c.kid)
			}
			sig, err := base64.StdEncoding.DecodeString(r.Signature)
			if err != nil {
				t.Fatal(err)
			}
			c.verify(t, sig)
		})
	}
	if n := f.h.SignCalls(); n != int64(len(cases)) {
		t.Errorf("SignCalls = %d, want %d", n, len(cases))
	}
	if n := f.h.BatchCalls(); n != 0 {
		t.Errorf("BatchCalls = %d, want 0", n)
	}
}

// TestSingleRequestErrors checks the answers to bodies that are not one
// SignRequest or VerifyRequest, and to calls without credentials.
func TestSingleRequestErrors(t *testing.T) {
	f := newFixture(t)
	one := `{"key":{"name":"p256"},"hash_alg":"SHA256","hash":"` + b64(sum256("x")) + `"}`
	tests := []struct {
		name, path, auth, body string
		status                 int
	}{
		{"sign: no credentials", "/crypto/v1/sign", "", one, 401},
		{"sign: wrong secret", "/crypto/v1/sign", appUser + ":wrong", one, 401},
		{"sign: an array", "/crypto/v1/sign", "basic", "[" + one + "]", 400},
		{"sign: null", "/crypto/v1/sign", "basic", "null", 400},
		{"sign: not JSON", "/crypto/v1/sign", "basic", "{", 400},
		{"sign: trailing data", "/crypto/v1/sign", "basic", one + " {}", 400},
		{"sign: item of the wrong shape", "/crypto/v1/sign", "basic", `{"key":42}`, 400},
		{"verify: no credentials", "/crypto/v1/verify", "", one, 401},
		{"verify: an array", "/crypto/v1/verify", "basic", "[]", 400},
		{"verify: no signature", "/crypto/v1/verify", "basic", one, 400},
		{"verify: signature not base64", "/crypto/v1/verify", "basic", strings.TrimSuffix(one, "}") + `,"signature":"%%%"}`, 400},
		{"verify: item of the wrong shape", "/crypto/v1/verify", "basic", `{"key":{"name":"p256"},"signature":42}`, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.do("POST", tc.path, tc.auth, tc.body)
			if status != tc.status || !strings.Contains(string(body), `"error"`) {
				t.Errorf("%d %s, want %d with {\"error\": ...}", status, body, tc.status)
			}
			for _, ex := range f.tr.Exchanges() {
				if ex.ResponseErr != nil {
					t.Errorf("%d response does not conform: %v", ex.Status, ex.ResponseErr)
				}
			}
		})
	}
	if n := f.h.SignCalls(); n != 1 { // only the item of the wrong shape got through
		t.Errorf("SignCalls = %d, want 1", n)
	}
}

// usageLimited is a token whose keys have reached their usage limit, as
// the key policy reports it.
type usageLimited struct{ tokens.Token }

func (usageLimited) Name() string { return "limited" }

func (usageLimited) SignBatch(_ context.Context, alias string, _ [][]byte, _ crypto.SignerOpts) ([]tokens.Result, error) {
	return nil, fmt.Errorf("key %s: %w", alias, tokens.ErrUsageLimit)
}

// TestSingleSignPolicy checks that a single sign reaches the key's token
// as a batch item does: through its batch call, and refused alike when the
// key's policy refuses.
func TestSingleSignPolicy(t *testing.T) {
	f := newFixture(t)
	f.extra = append(f.extra, dsm.Key{Token: usageLimited{f.batch.Token}, Alias: "p256", Name: "limited"})
	req := func(name string) map[string]any {
		return map[string]any{"key": map[string]any{"name": name}, "hash_alg": "SHA256", "hash": b64(sum256("policy"))}
	}
	status, body := f.do("POST", "/crypto/v1/sign", "basic", req("batch-p256"))
	if status != http.StatusOK {
		t.Fatalf("sign with batch-p256: %d %s", status, body)
	}
	if got := f.batch.sizes(); !slices.Equal(got, []int{1}) {
		t.Errorf("SignBatch calls of sizes %v, want [1]: the single item goes through the token's batch call", got)
	}
	status, single := f.do("POST", "/crypto/v1/sign", "basic", req("limited"))
	items := f.batchSign("basic", []map[string]any{req("limited")})
	var e struct{ Error string }
	if err := json.Unmarshal(single, &e); err != nil || status != items[0].Status || e.Error != items[0].Error {
		t.Errorf("single sign of an exhausted key: %d %s; batch item: %d %q; want the same", status, single, items[0].Status, items[0].Error)
	}
	if status != http.StatusServiceUnavailable || !strings.Contains(e.Error, "usage limit") {
		t.Errorf("single sign of an exhausted key: %d %s, want 503 naming the usage limit", status, single)
	}
	f.tr.RequireValid(t)
}

// TestVerify checks POST /crypto/v1/verify over signatures that
// /crypto/v1/sign made, altered ones, and requests it must refuse.
func TestVerify(t *testing.T) {
	f := newFixture(t)
	sign := func(req map[string]any) string {
		t.Helper()
		status, body := f.do("POST", "/crypto/v1/sign", "basic", req)
		var r signResponse
		if status != http.StatusOK || json.Unmarshal(body, &r) != nil {
			t.Fatalf("sign: %d %s", status, body)
		}
		return r.Signature
	}
	with := func(req map[string]any, sig string) map[string]any {
		out := map[string]any{"signature": sig}
		for k, v := range req {
			out[k] = v
		}
		return out
	}
	tamper := func(sig string) string {
		raw, _ := base64.StdEncoding.DecodeString(sig)
		raw[len(raw)/2] ^= 1
		return b64(raw)
	}
	ecReq := map[string]any{"key": map[string]any{"name": "p256"}, "hash_alg": "SHA256", "hash": b64(sum256("verify me"))}
	pssReq := map[string]any{"key": map[string]any{"name": "RSA Signer"}, "hash_alg": "SHA384", "data": b64([]byte("verify me")), "mode": pss("SHA384")}
	pkcsReq := map[string]any{"key": map[string]any{"kid": dsm.KeyID("soft", "rsa2048")}, "hash_alg": "SHA256", "hash": b64(sum256("verify me")), "mode": pkcs1}
	edReq := map[string]any{"key": map[string]any{"name": "ed25519"}, "hash_alg": "SHA512", "data": b64([]byte("verify me"))}
	ecSig, pssSig, pkcsSig, edSig := sign(ecReq), sign(pssReq), sign(pkcsReq), sign(edReq)
	f.tr.RequireValid(t)
	before := f.h.SignCalls()
	batchesBefore := f.batch.sizes()

	f.extra = append(f.extra, dsm.Key{Token: f.batch, Alias: "p384", Name: "open-p384"})
	otherKey := with(ecReq, ecSig)
	otherKey["key"] = map[string]any{"name": "open-p384"}
	wrongData := with(edReq, edSig)
	wrongData["data"] = b64([]byte("not me"))
	tests := []struct {
		name   string
		req    map[string]any
		status int
		result bool
	}{
		{"ECDSA", with(ecReq, ecSig), 200, true},
		{"RSA-PSS over data", with(pssReq, pssSig), 200, true},
		{"RSA PKCS#1 v1.5 by kid", with(pkcsReq, pkcsSig), 200, true},
		{"Ed25519", with(edReq, edSig), 200, true},
		{"ECDSA altered", with(ecReq, tamper(ecSig)), 200, false},
		{"RSA-PSS altered", with(pssReq, tamper(pssSig)), 200, false},
		{"PKCS#1 signature checked as PSS", with(pssReq, pkcsSig), 200, false},
		{"Ed25519 other data", wrongData, 200, false},
		{"another key", otherKey, 200, false},
		{"unknown key", with(map[string]any{"key": map[string]any{"name": "nope"}, "hash_alg": "SHA256", "hash": b64(sum256("x"))}, ecSig), 404, false},
		{"key of another user", with(map[string]any{"key": map[string]any{"name": "restricted"}, "hash_alg": "SHA256", "hash": b64(sum256("x"))}, ecSig), 403, false},
		{"Ed25519 with a hash", with(map[string]any{"key": map[string]any{"name": "ed25519"}, "hash_alg": "SHA512", "hash": b64(make([]byte, 64))}, edSig), 400, false},
		{"wrong hash length", with(map[string]any{"key": map[string]any{"name": "p256"}, "hash_alg": "SHA256", "hash": b64(make([]byte, 20))}, ecSig), 400, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.do("POST", "/crypto/v1/verify", "basic", tc.req)
			checkExchange(t, f, status, false)
			if status != tc.status {
				t.Fatalf("status %d %s, want %d", status, body, tc.status)
			}
			if status != http.StatusOK {
				return
			}
			var r struct {
				Kid    string `json:"kid"`
				Result *bool  `json:"result"`
			}
			if err := json.Unmarshal(body, &r); err != nil || r.Result == nil {
				t.Fatalf("answer %s (%v)", body, err)
			}
			if *r.Result != tc.result {
				t.Errorf("result %v, want %v", *r.Result, tc.result)
			}
			if r.Kid == "" {
				t.Error("no kid")
			}
		})
	}
	if f.h.SignCalls() != before || !slices.Equal(f.batch.sizes(), batchesBefore) {
		t.Error("verifying signed something")
	}
}
