package nethsm_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	_ "crypto/md5" // PSS_MD5
	"crypto/rsa"
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-project/signet/internal/apitest"
	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/web/nethsm"
	"github.com/signet-project/signet/web/nethsm/nethsmtest"
)

const mappedAlias = "Signer Key #1"

// fixture is a NetHSM API server over an in-memory token, and a client whose
// every exchange is checked against the API description.
type fixture struct {
	t       *testing.T
	srv     *httptest.Server
	h       *nethsm.Handler
	tr      *apitest.Transport
	client  *http.Client
	keys    map[string]crypto.Signer
	chain   []*x509.Certificate
	tok     *nethsmtest.Token
	mu      sync.Mutex
	state   nethsm.State
	extra   []nethsm.Key // keys added at run time, as a reload would
	aliases []string
}

// testKeys returns the shared test keys and a P-256 key of its own under
// mappedAlias.
func testKeys(t *testing.T) map[string]crypto.Signer {
	keys := maps.Clone(nethsmtest.TestKeys(t))
	k, err := demo.NewKey("EC-P256")
	if err != nil {
		t.Fatal(err)
	}
	keys[mappedAlias] = k
	return keys
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	spec := nethsmtest.LoadSpec(t)
	f := &fixture{t: t, keys: testKeys(t), state: nethsm.Operational}
	ca, err := demo.NewCA("NetHSM Test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue("NetHSM RSA signer", f.keys["rsa2048"].Public(), demo.DocumentSigning, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f.chain = []*x509.Certificate{leaf, ca.Cert}
	f.tok = nethsmtest.NewToken("test", f.keys, map[string][]*x509.Certificate{"rsa2048": f.chain})
	f.aliases = []string{"rsa2048", "p256", "p384", "ed25519", mappedAlias}
	f.h = nethsm.New(nethsm.Options{
		Keys: nethsm.KeySourceFunc(func(context.Context) []nethsm.Key {
			var ks []nethsm.Key
			for _, a := range f.aliases {
				ks = append(ks, nethsm.Key{Token: f.tok, Alias: a})
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			return append(ks, f.extra...)
		}),
		Authenticate: func(user, pass string) (nethsm.User, bool) {
			switch {
			case user == "operator" && pass == "operator-passphrase":
				return nethsm.User{Name: user, Role: nethsm.RoleOperator}, true
			case user == "admin" && pass == "admin-passphrase":
				return nethsm.User{Name: user, Role: nethsm.RoleAdministrator}, true
			case user == "metrics" && pass == "metrics-passphrase":
				return nethsm.User{Name: user, Role: "Metrics"}, true
			case user == "limited" && pass == "limited-passphrase":
				return nethsm.User{Name: user, Role: nethsm.RoleOperator}, true
			}
			return nethsm.User{}, false
		},
		// limited is an operator that may sign with rsa2048 only.
		MayUse:  func(u nethsm.User, k nethsm.Key) bool { return u.Name != "limited" || k.Alias == "rsa2048" },
		Vendor:  "Signet Test",
		Product: "NetHSM API",
		State: func(context.Context) nethsm.State {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.state
		},
	})
	f.srv, f.tr, f.client = apitest.Serve(t, spec, f.h.Register)
	return f
}

func (f *fixture) setState(s nethsm.State) {
	f.mu.Lock()
	f.state = s
	f.mu.Unlock()
}

type call struct {
	method, path string
	user, pass   string // no credentials when user is empty
	accept       string
	body         string
	ctype        string // of the body: "" is application/json, "-" none
}

// do makes one call and returns the status, the body and the recorded
// contract check.
func (f *fixture) do(c call) (int, []byte, apitest.Exchange) {
	f.t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, f.srv.URL+nethsm.BasePath+c.path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	switch {
	case c.body == "" || c.ctype == "-":
	case c.ctype != "":
		req.Header.Set("Content-Type", c.ctype)
	default:
		req.Header.Set("Content-Type", "application/json")
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	if c.accept != "" {
		req.Header.Set("Accept", c.accept)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	ex := f.tr.Exchanges()
	if len(ex) != 1 {
		f.t.Fatalf("%d exchanges recorded for one call", len(ex))
	}
	return resp.StatusCode, out, ex[0]
}

// ok makes a call that must conform to the API description, and must answer
// the wanted status with a conforming response.
func (f *fixture) ok(c call, want int) []byte {
	f.t.Helper()
	status, body, ex := f.do(c)
	if ex.RequestErr != nil {
		f.t.Errorf("%s %s: request does not conform: %v", c.method, c.path, ex.RequestErr)
	}
	if ex.ResponseErr != nil {
		f.t.Errorf("%s %s: %d response does not conform: %v", c.method, c.path, status, ex.ResponseErr)
	}
	if status != want {
		f.t.Fatalf("%s %s: status %d, want %d: %s", c.method, c.path, status, want, body)
	}
	return body
}

func signBody(mode string, msg []byte) string {
	b, _ := json.Marshal(map[string]string{"mode": mode, "message": base64.StdEncoding.EncodeToString(msg)})
	return string(b)
}

func signCall(id, body string) call {
	return call{method: http.MethodPost, path: "/keys/" + id + "/sign", user: "operator", pass: "operator-passphrase", accept: "application/json", body: body}
}

func digest(h crypto.Hash, data []byte) []byte {
	w := h.New()
	w.Write(data)
	return w.Sum(nil)
}

// digestInfo is written out by hand from RFC 8017, section 9.2, note 1, so
// that the test does not share the handler's encoder.
var digestInfo = map[crypto.Hash]string{
	crypto.SHA1:   "3021300906052b0e03021a05000414",
	crypto.SHA256: "3031300d060960864801650304020105000420",
	crypto.SHA384: "3041300d060960864801650304020205000430",
	crypto.SHA512: "3051300d060960864801650304020305000440",
}

func unhex(s string) []byte {
	b := make([]byte, len(s)/2)
	for i := range b {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			default:
				v |= byte(c-'a') + 10
			}
		}
		b[i] = v
	}
	return b
}

func TestSignModes(t *testing.T) {
	f := newFixture(t)
	data := []byte("Signet NetHSM contract test")
	rsaPub := f.keys["rsa2048"].Public().(*rsa.PublicKey)
	pkcs1 := func(h crypto.Hash) ([]byte, func([]byte) error) {
		d := digest(h, data)
		return append(unhex(digestInfo[h]), d...), func(sig []byte) error { return rsa.VerifyPKCS1v15(rsaPub, h, d, sig) }
	}
	pss := func(h crypto.Hash) ([]byte, func([]byte) error) {
		d := digest(h, data)
		return d, func(sig []byte) error {
			return rsa.VerifyPSS(rsaPub, h, d, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
	}
	ec := func(alias string, h crypto.Hash) ([]byte, func([]byte) error) {
		d := digest(h, data)
		pub := f.keys[alias].Public().(*ecdsa.PublicKey)
		return d, func(sig []byte) error {
			if !ecdsa.VerifyASN1(pub, d, sig) {
				return errVerify
			}
			return nil
		}
	}
	tests := []struct {
		name, id, mode string
		input          func() ([]byte, func([]byte) error)
	}{
		{"PKCS1 SHA-256", "rsa2048", "PKCS1", func() ([]byte, func([]byte) error) { return pkcs1(crypto.SHA256) }},
		{"PKCS1 SHA-1", "rsa2048", "PKCS1", func() ([]byte, func([]byte) error) { return pkcs1(crypto.SHA1) }},
		{"PKCS1 SHA-384", "rsa2048", "PKCS1", func() ([]byte, func([]byte) error) { return pkcs1(crypto.SHA384) }},
		{"PKCS1 SHA-512", "rsa2048", "PKCS1", func() ([]byte, func([]byte) error) { return pkcs1(crypto.SHA512) }},
		{"PKCS1 raw", "rsa2048", "PKCS1", func() ([]byte, func([]byte) error) {
			return data, func(sig []byte) error { return rsa.VerifyPKCS1v15(rsaPub, 0, data, sig) }
		}},
		{"PSS_MD5", "rsa2048", "PSS_MD5", func() ([]byte, func([]byte) error) { return pss(crypto.MD5) }},
		{"PSS_SHA1", "rsa2048", "PSS_SHA1", func() ([]byte, func([]byte) error) { return pss(crypto.SHA1) }},
		{"PSS_SHA224", "rsa2048", "PSS_SHA224", func() ([]byte, func([]byte) error) { return pss(crypto.SHA224) }},
		{"PSS_SHA256", "rsa2048", "PSS_SHA256", func() ([]byte, func([]byte) error) { return pss(crypto.SHA256) }},
		{"PSS_SHA384", "rsa2048", "PSS_SHA384", func() ([]byte, func([]byte) error) { return pss(crypto.SHA384) }},
		{"PSS_SHA512", "rsa2048", "PSS_SHA512", func() ([]byte, func([]byte) error) { return pss(crypto.SHA512) }},
		{"ECDSA P-256", "p256", "ECDSA", func() ([]byte, func([]byte) error) { return ec("p256", crypto.SHA256) }},
		{"ECDSA P-384", "p384", "ECDSA", func() ([]byte, func([]byte) error) { return ec("p384", crypto.SHA384) }},
		{"ECDSA P-384 SHA-256", "p384", "ECDSA", func() ([]byte, func([]byte) error) { return ec("p384", crypto.SHA256) }},
		{"ECDSA mapped alias", nethsm.KeyID(mappedAlias), "ECDSA", func() ([]byte, func([]byte) error) { return ec(mappedAlias, crypto.SHA256) }},
		{"EdDSA", "ed25519", "EdDSA", func() ([]byte, func([]byte) error) {
			pub := f.keys["ed25519"].Public().(ed25519.PublicKey)
			return data, func(sig []byte) error {
				if !ed25519.Verify(pub, data, sig) {
					return errVerify
				}
				return nil
			}
		}},
	}
	before := f.h.SignCalls()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			msg, verify := tc.input()
			body := f.ok(signCall(tc.id, signBody(tc.mode, msg)), http.StatusOK)
			var out struct{ Signature string }
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatal(err)
			}
			sig, err := base64.StdEncoding.DecodeString(out.Signature)
			if err != nil {
				t.Fatal(err)
			}
			if err := verify(sig); err != nil {
				t.Fatalf("signature does not verify: %v", err)
			}
			// A corrupted signature must not verify: the check can fail.
			sig[len(sig)/2] ^= 0x40
			if verify(sig) == nil {
				t.Fatal("corrupted signature verifies")
			}
		})
	}
	if got := f.h.SignCalls() - before; got != int64(len(tests)) {
		t.Errorf("SignCalls counted %d, want %d", got, len(tests))
	}
}

type verifyError struct{}

func (verifyError) Error() string { return "verification failed" }

var errVerify error = verifyError{}

func TestSignErrors(t *testing.T) {
	f := newFixture(t)
	d256 := digest(crypto.SHA256, []byte("x"))
	good := signBody("PSS_SHA256", d256)
	op := func(c call) call { c.user, c.pass = "operator", "operator-passphrase"; return c }
	tests := []struct {
		name       string
		c          call
		state      nethsm.State
		want       int
		invalidReq bool // the request itself breaks the API description
	}{
		{"unknown mode", signCall("rsa2048", signBody("RSA_RAW", d256)), "", 400, true},
		{"BIP340 not supported", signCall("p256", signBody("BIP340", d256)), "", 400, false},
		{"mode does not match key", signCall("p256", signBody("PSS_SHA256", d256)), "", 400, false},
		{"EdDSA on RSA key", signCall("rsa2048", signBody("EdDSA", d256)), "", 400, false},
		{"PSS wrong hash length", signCall("rsa2048", signBody("PSS_SHA384", d256)), "", 400, false},
		{"PKCS1 input longer than key", signCall("rsa2048", signBody("PKCS1", make([]byte, 250))), "", 400, false},
		{"ECDSA input exceeds group", signCall("p256", signBody("ECDSA", make([]byte, 48))), "", 400, false},
		{"ECDSA MD5-length digest", signCall("p256", signBody("ECDSA", make([]byte, 16))), "", 400, false},
		{"ECDSA input of no digest's length", signCall("p384", signBody("ECDSA", make([]byte, 2))), "", 400, false},
		{"bad base64", signCall("rsa2048", `{"mode":"PSS_SHA256","message":"!!not base64!!"}`), "", 400, true},
		{"base64 that only looks right", signCall("rsa2048", `{"mode":"PSS_SHA256","message":"abcde"}`), "", 400, false},
		{"extra property", signCall("rsa2048", `{"mode":"PSS_SHA256","message":"`+base64.StdEncoding.EncodeToString(d256)+`","hash":"SHA256"}`), "", 400, false},
		{"missing message", signCall("rsa2048", `{"mode":"PSS_SHA256"}`), "", 400, true},
		{"not JSON", signCall("rsa2048", `mode=PSS_SHA256`), "", 400, true},
		{"mode a number", signCall("rsa2048", `{"mode":`+strings.Repeat("9", 5000)+`,"message":"AA=="}`), "", 400, true},
		{"long unknown property", signCall("rsa2048", `{"mode":"PSS_SHA256","message":"AA==","`+strings.Repeat("x", 5000)+`":1}`), "", 400, false},
		{"body an array", signCall("rsa2048", `[]`), "", 400, true},
		{"invalid KeyID", signCall("bad!id", good), "", 400, true},
		{"no credentials", call{method: "POST", path: "/keys/rsa2048/sign", accept: "application/json", body: good}, "", 401, true},
		{"wrong passphrase", call{method: "POST", path: "/keys/rsa2048/sign", user: "operator", pass: "nope-nope-nope", accept: "application/json", body: good}, "", 401, false},
		{"administrator may not sign", call{method: "POST", path: "/keys/rsa2048/sign", user: "admin", pass: "admin-passphrase", accept: "application/json", body: good}, "", 403, false},
		{"metrics user may not sign", call{method: "POST", path: "/keys/rsa2048/sign", user: "metrics", pass: "metrics-passphrase", body: good}, "", 403, false},
		{"unknown key", signCall("nokey", good), "", 404, false},
		{"key not allowed for the operator", call{method: "POST", path: "/keys/p256/sign", user: "limited", pass: "limited-passphrase", accept: "application/json", body: signBody("ECDSA", d256)}, "", 403, false},
		{"Accept not JSON", op(call{method: "POST", path: "/keys/rsa2048/sign", accept: "text/plain", body: good}), "", 406, false},
		{"Accept JSON with q=0", op(call{method: "POST", path: "/keys/rsa2048/sign", accept: "application/json;q=0, text/html", body: good}), "", 406, false},
		{"locked", signCall("rsa2048", good), nethsm.Locked, 412, false},
		{"unprovisioned", signCall("rsa2048", good), nethsm.Unprovisioned, 412, false},
	}
	// The sentences that name what to send instead.
	says := map[string]string{
		"ECDSA input exceeds group":         "send a digest of at most 32 bytes",
		"ECDSA MD5-length digest":           "not 16 bytes",
		"ECDSA input of no digest's length": "SHA-256, SHA-384, SHA-512 or SHA-224 digest",
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			if tc.state != "" {
				f.setState(tc.state)
				defer f.setState(nethsm.Operational)
			}
			before := f.h.SignCalls()
			status, body, ex := f.do(tc.c)
			if status != tc.want {
				t.Fatalf("status %d, want %d: %s", status, tc.want, body)
			}
			if (ex.RequestErr != nil) != tc.invalidReq {
				t.Errorf("request conformance error = %v, want invalid=%v", ex.RequestErr, tc.invalidReq)
			}
			if ex.ResponseErr != nil {
				t.Errorf("%d response does not conform: %v", status, ex.ResponseErr)
			}
			var e struct{ Message string }
			if err := json.Unmarshal(body, &e); err != nil || e.Message == "" {
				t.Errorf("error body %q is not {\"message\": ...}", body)
			}
			if strings.Contains(string(body), "operator-passphrase") {
				t.Errorf("error body leaks the passphrase: %s", body)
			}
			// encoding/json's words name Go types and repeat the client's
			// text whole: clienttext quotes at most 128 bytes of it.
			if len(e.Message) > 400 || strings.Contains(e.Message, "Go ") {
				t.Errorf("error %.500q names Go types or repeats the request whole", e.Message)
			}
			if f.h.SignCalls() != before {
				t.Error("a rejected request reached the token")
			}
			if fix, ok := says[tc.name]; ok && !strings.Contains(e.Message, fix) {
				t.Errorf("error %q does not name the fix %q", e.Message, fix)
			}
		})
	}
}

// TestSignBodyType: a sign request body of another type than the
// application/json the API description names, or of none, is refused with
// 415 and signs nothing: an HTML form on any site can post text/plain with
// an operator's cached basic credentials.
func TestSignBodyType(t *testing.T) {
	f := newFixture(t)
	good := signBody("ECDSA", digest(crypto.SHA256, []byte("x")))
	for _, ctype := range []string{"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "-", ";;"} {
		t.Run(ctype, func(t *testing.T) {
			f.t = t
			before := f.h.SignCalls()
			c := signCall("p256", good)
			c.ctype = ctype
			status, body, _ := f.do(c)
			if status != http.StatusUnsupportedMediaType || !strings.Contains(string(body), "application/json") {
				t.Errorf("%d %s, want 415 naming application/json", status, body)
			}
			if f.h.SignCalls() != before {
				t.Error("the request reached the token")
			}
		})
	}
	f.t = t
	f.ok(signCall("p256", good), http.StatusOK)
}

func TestTokenOfflineIs412(t *testing.T) {
	f := newFixture(t)
	f.tok.SetOffline("module unavailable")
	defer f.tok.SetOffline("")
	status, body, ex := f.do(signCall("rsa2048", signBody("PSS_SHA256", make([]byte, 32))))
	if status != http.StatusPreconditionFailed || ex.ResponseErr != nil || ex.RequestErr != nil {
		t.Fatalf("status %d (%v, %v): %s", status, ex.RequestErr, ex.ResponseErr, body)
	}
}

func TestKeys(t *testing.T) {
	f := newFixture(t)
	op := func(path, accept string) call {
		return call{method: "GET", path: path, user: "operator", pass: "operator-passphrase", accept: accept}
	}
	var list []struct{ ID string }
	if err := json.Unmarshal(f.ok(op("/keys", "application/json"), 200), &list); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range list {
		ids = append(ids, k.ID)
	}
	wantIDs := []string{"rsa2048", "p256", "p384", "ed25519", nethsm.KeyID(mappedAlias)}
	if strings.Join(ids, ",") != strings.Join(wantIDs, ",") {
		t.Fatalf("GET /keys = %v, want %v", ids, wantIDs)
	}
	// Administrators read keys too; the label filter selects by alias.
	admin := call{method: "GET", path: "/keys?" + url.Values{"label": {mappedAlias}}.Encode(), user: "admin", pass: "admin-passphrase"}
	list = nil
	if err := json.Unmarshal(f.ok(admin, 200), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != nethsm.KeyID(mappedAlias) {
		t.Errorf("GET /keys?label= = %v", list)
	}
	// An operator is offered only the keys it may sign with, with or
	// without filter, and reading another key is 403 like signing with it;
	// an administrator sees every key.
	for _, tt := range []struct {
		user, path string
		want       int
	}{
		{"limited", "/keys?filter=1", 1},
		{"limited", "/keys", 1},
		{"admin", "/keys", len(wantIDs)},
		{"admin", "/keys?filter=1", len(wantIDs)},
	} {
		list = nil
		c := call{method: "GET", path: tt.path, user: tt.user, pass: tt.user + "-passphrase", accept: "application/json"}
		if err := json.Unmarshal(f.ok(c, 200), &list); err != nil {
			t.Fatal(err)
		}
		if len(list) != tt.want || (tt.want == 1 && list[0].ID != "rsa2048") {
			t.Errorf("%s: GET %s = %v, want %d keys", tt.user, tt.path, list, tt.want)
		}
	}
	for _, path := range []string{"/keys/p256", "/keys/p256/public.pem", "/keys/p256/cert"} {
		c := call{method: "GET", path: path, user: "limited", pass: "limited-passphrase"}
		if status, body, _ := f.do(c); status != http.StatusForbidden || !strings.Contains(string(body), `"message"`) {
			t.Errorf("limited: GET %s = %d %s, want 403 with a message", path, status, body)
		}
	}

	b64 := base64.StdEncoding.EncodeToString
	rsaPub := f.keys["rsa2048"].Public().(*rsa.PublicKey)
	p256, _ := f.keys["p256"].Public().(*ecdsa.PublicKey).Bytes()
	p384, _ := f.keys["p384"].Public().(*ecdsa.PublicKey).Bytes()
	tests := []struct {
		id, typ, mechanism string
		public             map[string]string
	}{
		{"rsa2048", "RSA", "RSA_Signature_PSS_SHA256", map[string]string{"modulus": b64(rsaPub.N.Bytes()), "publicExponent": b64(big.NewInt(int64(rsaPub.E)).Bytes())}},
		{"p256", "EC_P256", "ECDSA_Signature", map[string]string{"data": b64(p256)}},
		{"p384", "EC_P384", "ECDSA_Signature", map[string]string{"data": b64(p384)}},
		{"ed25519", "Curve25519", "EdDSA_Signature", map[string]string{"data": b64(f.keys["ed25519"].Public().(ed25519.PublicKey))}},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			f.t = t
			var k struct {
				Type       string
				Mechanisms []string
				Public     map[string]string
				Label      string
			}
			if err := json.Unmarshal(f.ok(op("/keys/"+tc.id, ""), 200), &k); err != nil {
				t.Fatal(err)
			}
			if k.Type != tc.typ || !contains(k.Mechanisms, tc.mechanism) || k.Label != tc.id {
				t.Errorf("key = %+v, want type %s with %s", k, tc.typ, tc.mechanism)
			}
			for name, want := range tc.public {
				if k.Public[name] != want {
					t.Errorf("public.%s = %q, want %q", name, k.Public[name], want)
				}
			}
			p, _ := pem.Decode(f.ok(op("/keys/"+tc.id+"/public.pem", "application/x-pem-file"), 200))
			if p == nil || p.Type != "PUBLIC KEY" {
				t.Fatal("public.pem is not a PEM public key")
			}
			pub, err := x509.ParsePKIXPublicKey(p.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(f.keys[tc.id].Public()) {
				t.Error("public.pem is not the key's public key")
			}
		})
	}
	f.t = t

	certs := f.ok(op("/keys/rsa2048/cert", "application/octet-stream"), 200)
	var got []*x509.Certificate
	for rest := certs; ; {
		var p *pem.Block
		p, rest = pem.Decode(rest)
		if p == nil {
			break
		}
		c, err := x509.ParseCertificate(p.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c)
	}
	if len(got) != 2 || !got[0].Equal(f.chain[0]) || !got[1].Equal(f.chain[1]) {
		t.Errorf("cert returned %d certificates, want the 2-certificate chain", len(got))
	}

	for _, c := range []struct {
		call call
		want int
	}{
		{op("/keys/p256/cert", ""), 404},
		{op("/keys/nokey", ""), 404},
		{op("/keys/nokey/public.pem", ""), 404},
		{op("/keys/bad!id", ""), 400},
		{op("/keys/p256/public.pem", "application/json"), 406},
		{call{method: "GET", path: "/keys"}, 401},
		{call{method: "GET", path: "/keys", user: "metrics", pass: "metrics-passphrase"}, 403},
	} {
		status, body, ex := f.do(c.call)
		if status != c.want {
			t.Errorf("GET %s: status %d, want %d: %s", c.call.path, status, c.want, body)
		}
		if ex.ResponseErr != nil {
			t.Errorf("GET %s: %d response does not conform: %v", c.call.path, status, ex.ResponseErr)
		}
	}

	// Keys are listed per request: a key added by a reload shows at once.
	f.mu.Lock()
	f.extra = []nethsm.Key{{ID: "reloaded", Token: f.tok, Alias: "p256"}}
	f.mu.Unlock()
	f.ok(op("/keys/reloaded", "application/json"), 200)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestHealthAndInfo(t *testing.T) {
	f := newFixture(t)
	var info struct{ Vendor, Product string }
	if err := json.Unmarshal(f.ok(call{method: "GET", path: "/info"}, 200), &info); err != nil {
		t.Fatal(err)
	}
	if info.Vendor != "Signet Test" || info.Product != "NetHSM API" {
		t.Errorf("info = %+v", info)
	}
	tests := []struct {
		state        nethsm.State
		alive, ready int
	}{
		{nethsm.Operational, 412, 200},
		{nethsm.Locked, 200, 412},
		{nethsm.Unprovisioned, 200, 412},
		{nethsm.Failed, 412, 412},
	}
	for _, tc := range tests {
		t.Run(string(tc.state), func(t *testing.T) {
			f.t = t
			f.setState(tc.state)
			f.ok(call{method: "GET", path: "/health/alive"}, tc.alive)
			f.ok(call{method: "GET", path: "/health/ready"}, tc.ready)
			var st struct{ State string }
			if err := json.Unmarshal(f.ok(call{method: "GET", path: "/health/state", accept: "application/json"}, 200), &st); err != nil {
				t.Fatal(err)
			}
			if st.State != string(tc.state) {
				t.Errorf("state = %q, want %q", st.State, tc.state)
			}
			// Key operations need an Operational NetHSM.
			if tc.state != nethsm.Operational {
				f.ok(call{method: "GET", path: "/keys", user: "operator", pass: "operator-passphrase"}, 412)
			}
		})
	}
	f.t = t
	f.setState(nethsm.Operational)
	f.ok(call{method: "GET", path: "/info", accept: "text/html"}, 406)
}

func TestKeyID(t *testing.T) {
	tests := []struct{ alias, prefix string }{
		{"signer1", "signer1"},
		{"My.Key_2-b", "My.Key_2-b"},
		{"Signer Key #1", "Signer_Key__1-"},
		{"_hidden", "k_hidden-"},
		{"ключ", "k____-"},
		{"", "k-"},
		{strings.Repeat("a", 129), strings.Repeat("a", 119) + "-"},
	}
	seen := map[string]string{}
	for _, tc := range tests {
		id := nethsm.KeyID(tc.alias)
		if !nethsm.ValidID(id) {
			t.Errorf("KeyID(%q) = %q is not a valid NetHSM ID", tc.alias, id)
		}
		if nethsm.ValidID(tc.alias) && id != tc.alias {
			t.Errorf("KeyID(%q) = %q, want the alias itself", tc.alias, id)
		}
		if !strings.HasPrefix(id, tc.prefix) {
			t.Errorf("KeyID(%q) = %q, want prefix %q", tc.alias, id, tc.prefix)
		}
		if other, dup := seen[id]; dup {
			t.Errorf("aliases %q and %q share ID %q", other, tc.alias, id)
		}
		seen[id] = tc.alias
		if nethsm.KeyID(tc.alias) != id {
			t.Errorf("KeyID(%q) is not stable", tc.alias)
		}
	}
	if nethsm.KeyID("a b") == nethsm.KeyID("a_b") || nethsm.KeyID("a b") == nethsm.KeyID("a:b") {
		t.Error("aliases differing in rewritten characters share an ID")
	}
}
