package dsm_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/signet-project/signet/internal/apitest"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/web/dsm"
	"github.com/signet-project/signet/web/dsm/dsmtest"
)

const (
	appUser, appSecret     = "app1", "secret-one"
	otherUser, otherSecret = "other-app", "secret-two"
)

// batchCounter is a token with a batch API around another token: it
// records the size of every SignBatch call.
type batchCounter struct {
	tokens.Token
	mu    sync.Mutex
	calls []int
}

// apiKeys accepts the API keys ("user:secret") listed and refuses every
// other one, as Options.Authenticate.
func apiKeys(keys ...string) func(user, secret string) error {
	return func(user, secret string) error {
		if slices.Contains(keys, user+":"+secret) {
			return nil
		}
		return errors.New("The API key was refused.")
	}
}

func (b *batchCounter) SignBatch(ctx context.Context, alias string, inputs [][]byte, opts crypto.SignerOpts) ([]tokens.Result, error) {
	b.mu.Lock()
	b.calls = append(b.calls, len(inputs))
	b.mu.Unlock()
	return tokens.SignAll(ctx, b.Token, alias, inputs, opts)
}

// Name differs from the inner token's, so that its keys get their own kids.
func (b *batchCounter) Name() string { return "batch" }

func (b *batchCounter) sizes() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := slices.Clone(b.calls)
	slices.Sort(s)
	return s
}

// fixture is a DSM API server over soft tokens, and a client whose every
// exchange is checked against the API description.
type fixture struct {
	t      *testing.T
	h      *dsm.Handler
	srv    *httptest.Server
	tr     *apitest.Transport
	client *http.Client
	keys   map[string]crypto.Signer
	batch  *batchCounter
	now    time.Time
	mu     sync.Mutex
	extra  []dsm.Key
}

const ttl = 10 * time.Minute

func newFixture(t *testing.T) *fixture {
	t.Helper()
	spec := dsmtest.LoadSpec(t)
	f := &fixture{t: t, keys: dsmtest.TestKeys(t), now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	tok := dsmtest.SoftToken(t, "soft", f.keys)
	f.batch = &batchCounter{Token: tok}
	off := dsmtest.SoftToken(t, "offline", map[string]crypto.Signer{"p256": f.keys["p256"]})
	if err := off.Deactivate(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.h = dsm.New(dsm.Options{
		Keys: dsm.KeySourceFunc(func(context.Context) []dsm.Key {
			ks := []dsm.Key{
				{Token: tok, Alias: "rsa2048", Name: "RSA Signer"},
				{Token: tok, Alias: "p256"},
				{Token: tok, Alias: "ed25519"},
				{Token: tok, Alias: "p384", Name: "restricted", AllowedUsers: []string{otherUser}},
				{Token: f.batch, Alias: "rsa2048", Name: "batch-rsa"},
				{Token: f.batch, Alias: "p256", Name: "batch-p256"},
				{Token: off, Alias: "p256", Name: "offline-p256"},
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			return append(ks, f.extra...)
		}),
		Authenticate: apiKeys(appUser+":"+appSecret, otherUser+":"+otherSecret),
		// The other app may not use batch-rsa (a per-user key list).
		MayUse:   func(user string, k dsm.Key) bool { return user != otherUser || k.Name != "batch-rsa" },
		TokenTTL: ttl,
		Now: func() time.Time {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.now
		},
	})
	f.srv, f.tr, f.client = apitest.Serve(t, spec, f.h.Register)
	return f
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// auth is how a call authenticates: "" none, "basic", "bearer <token>".
func (f *fixture) do(method, path, auth string, body any) (int, []byte) {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case auth == "basic":
		req.SetBasicAuth(appUser, appSecret)
	case strings.HasPrefix(auth, "bearer "):
		req.Header.Set("Authorization", "Bearer "+strings.TrimPrefix(auth, "bearer "))
	case auth != "":
		u, p, _ := strings.Cut(auth, ":")
		req.SetBasicAuth(u, p)
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
	return resp.StatusCode, out
}

type item struct {
	Status int `json:"status"`
	Body   *struct {
		Kid       string `json:"kid"`
		Signature string `json:"signature"`
	} `json:"body"`
	Error string `json:"error"`
}

func (f *fixture) batchSign(auth string, reqs []map[string]any) []item {
	f.t.Helper()
	status, body := f.do("POST", "/crypto/v1/keys/batch/sign", auth, reqs)
	if status != http.StatusOK {
		f.t.Fatalf("batch sign: %d %s", status, body)
	}
	var items []item
	if err := json.Unmarshal(body, &items); err != nil {
		f.t.Fatalf("batch sign answer: %v: %s", err, body)
	}
	if len(items) != len(reqs) {
		f.t.Fatalf("batch sign: %d items for %d requests", len(items), len(reqs))
	}
	return items
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func sum256(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func pss(h string) map[string]any {
	return map[string]any{"PSS": map[string]any{"mgf": map[string]any{"mgf1": map[string]any{"hash": h}}}}
}

var pkcs1 = map[string]any{"PKCS1_V15": map[string]any{}}

// itemErrors finds the batch items a kin-openapi request error is about.
var itemErrors = regexp.MustCompile(`Error at "/(\d+)"`)

// verifier checks a signature with the standard library.
type verifier func(t *testing.T, sig []byte)

// mixedCase is one sign request item and what the API must make of it.
type mixedCase struct {
	name   string
	req    map[string]any
	status int
	kid    string
	verify verifier
}

// mixedCases are sign requests of every kind the API takes, and refuses,
// over f's keys.
func mixedCases(f *fixture) []mixedCase {
	rsaPub := f.keys["rsa2048"].Public().(*rsa.PublicKey)
	p256Pub := f.keys["p256"].Public().(*ecdsa.PublicKey)
	edPub := f.keys["ed25519"].Public().(ed25519.PublicKey)
	rsaKid := dsm.KeyID("soft", "rsa2048")
	p256Kid := dsm.KeyID("soft", "p256")
	d384 := sha512.Sum384([]byte("document two"))
	d512 := sha512.Sum512([]byte("document four"))

	return []mixedCase{
		{"RSA PKCS#1 v1.5 by name", map[string]any{"key": map[string]any{"name": "RSA Signer"}, "hash_alg": "SHA256", "hash": b64(sum256("one")), "mode": pkcs1}, 200, rsaKid,
			func(t *testing.T, sig []byte) {
				if err := rsa.VerifyPKCS1v15(rsaPub, crypto.SHA256, sum256("one"), sig); err != nil {
					t.Error(err)
				}
			}},
		{"RSA PSS by kid, data", map[string]any{"key": map[string]any{"kid": strings.ToUpper(rsaKid)}, "hash_alg": "SHA384", "data": b64([]byte("document two")), "mode": pss("SHA384")}, 200, rsaKid,
			func(t *testing.T, sig []byte) {
				if err := rsa.VerifyPSS(rsaPub, crypto.SHA384, d384[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
					t.Error(err)
				}
			}},
		{"ECDSA hash, DER signature", map[string]any{"key": map[string]any{"name": "p256"}, "hash_alg": "SHA256", "hash": b64(sum256("three"))}, 200, p256Kid,
			func(t *testing.T, sig []byte) {
				if !ecdsa.VerifyASN1(p256Pub, sum256("three"), sig) {
					t.Error("ECDSA signature (ASN.1 DER) does not verify")
				}
			}},
		{"unknown key", map[string]any{"key": map[string]any{"name": "no such key"}, "hash_alg": "SHA256", "hash": b64(sum256("x"))}, 404, "", nil},
		{"both hash and data", map[string]any{"key": map[string]any{"name": "p256"}, "hash_alg": "SHA256", "hash": b64(sum256("x")), "data": b64([]byte("x"))}, 400, "", nil},
		{"bad base64", map[string]any{"key": map[string]any{"name": "p256"}, "hash_alg": "SHA256", "hash": "%%% not base64 %%%"}, 400, "", nil},
		{"wrong hash length", map[string]any{"key": map[string]any{"name": "RSA Signer"}, "hash_alg": "SHA256", "hash": b64(make([]byte, 20)), "mode": pkcs1}, 400, "", nil},
		{"ECDSA data SHA512", map[string]any{"key": map[string]any{"kid": p256Kid}, "hash_alg": "SHA512", "data": b64([]byte("document four"))}, 200, p256Kid,
			func(t *testing.T, sig []byte) {
				if !ecdsa.VerifyASN1(p256Pub, d512[:], sig) {
					t.Error("ECDSA signature over SHA-512 does not verify")
				}
			}},
		{"neither hash nor data", map[string]any{"key": map[string]any{"name": "p256"}, "hash_alg": "SHA256"}, 400, "", nil},
		{"unsupported hash algorithm", map[string]any{"key": map[string]any{"name": "p256"}, "hash_alg": "BLAKE2B256", "hash": b64(sum256("x"))}, 400, "", nil},
		{"context on an RSA key", map[string]any{"key": map[string]any{"name": "RSA Signer"}, "hash_alg": "SHA256", "hash": b64(sum256("x")), "context": b64([]byte("ctx"))}, 400, "", nil},
		{"key of another user", map[string]any{"key": map[string]any{"name": "restricted"}, "hash_alg": "SHA256", "hash": b64(sum256("x"))}, 403, "", nil},
		{"Ed25519 data", map[string]any{"key": map[string]any{"name": "ed25519"}, "hash_alg": "SHA512", "data": b64([]byte("five"))}, 200, dsm.KeyID("soft", "ed25519"),
			func(t *testing.T, sig []byte) {
				if !ed25519.Verify(edPub, []byte("five"), sig) {
					t.Error("Ed25519 signature does not verify")
				}
			}},
		{"Ed25519 hash", map[string]any{"key": map[string]any{"name": "ed25519"}, "hash_alg": "SHA512", "hash": b64(d512[:])}, 400, "", nil},
		{"PSS MGF1 hash differs", map[string]any{"key": map[string]any{"name": "RSA Signer"}, "hash_alg": "SHA256", "hash": b64(sum256("x")), "mode": pss("SHA512")}, 400, "", nil},
		{"mode on an EC key", map[string]any{"key": map[string]any{"name": "p256"}, "hash_alg": "SHA256", "hash": b64(sum256("x")), "mode": pkcs1}, 400, "", nil},
		{"deterministic ECDSA", map[string]any{"key": map[string]any{"name": "p256"}, "hash_alg": "SHA256", "hash": b64(sum256("x")), "deterministic_signature": true}, 400, "", nil},
		{"RSA default mode, deterministic", map[string]any{"key": map[string]any{"name": "RSA Signer"}, "hash_alg": "SHA256", "hash": b64(sum256("six")), "deterministic_signature": true}, 200, rsaKid,
			func(t *testing.T, sig []byte) {
				if err := rsa.VerifyPKCS1v15(rsaPub, crypto.SHA256, sum256("six"), sig); err != nil {
					t.Error(err)
				}
			}},
		{"offline token", map[string]any{"key": map[string]any{"name": "offline-p256"}, "hash_alg": "SHA256", "hash": b64(sum256("x"))}, 503, "", nil},
		{"no key", map[string]any{"hash_alg": "SHA256", "hash": b64(sum256("x"))}, 400, "", nil},
		{"no hash_alg", map[string]any{"key": map[string]any{"name": "p256"}, "hash": b64(sum256("x"))}, 400, "", nil},
	}
}

func TestMixedBatch(t *testing.T) {
	f := newFixture(t)
	cases := mixedCases(f)
	reqs := make([]map[string]any, len(cases))
	for i, c := range cases {
		reqs[i] = c.req
	}
	items := f.batchSign("basic", reqs)

	// The request is valid except for the deliberately bad base64 item,
	// which the description's "byte" format rejects too.
	badB64 := slices.IndexFunc(cases, func(c mixedCase) bool { return c.name == "bad base64" })
	for _, ex := range f.tr.Exchanges() {
		if ex.ResponseErr != nil {
			t.Errorf("response does not conform to the DSM API: %v", ex.ResponseErr)
		}
		if !ex.Validated {
			t.Errorf("response %d was not validated", ex.Status)
		}
		msg := ""
		if ex.RequestErr != nil {
			msg = ex.RequestErr.Error()
		}
		items := itemErrors.FindAllStringSubmatch(msg, -1)
		if len(items) != 1 || items[0][1] != strconv.Itoa(badB64) || !strings.Contains(msg, `"/hash"`) {
			t.Errorf("request check = %q, want one error, at /%d/hash", msg, badB64)
		}
	}

	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			it := items[i]
			if it.Status != c.status {
				t.Fatalf("status %d (%s), want %d", it.Status, it.Error, c.status)
			}
			if c.status != 200 {
				if it.Body != nil || it.Error == "" {
					t.Errorf("error item = %+v, want an error and no body", it)
				}
				return
			}
			if it.Body == nil {
				t.Fatal("no body")
			}
			if it.Body.Kid != c.kid {
				t.Errorf("kid %s, want %s", it.Body.Kid, c.kid)
			}
			sig, err := base64.StdEncoding.DecodeString(it.Body.Signature)
			if err != nil {
				t.Fatal(err)
			}
			c.verify(t, sig)
		})
	}
	if n := f.h.BatchCalls(); n != 1 {
		t.Errorf("BatchCalls = %d, want 1", n)
	}
}

// TestGrouping checks that valid items are signed through one SignBatch
// call per key and signature options, whatever their order.
func TestGrouping(t *testing.T) {
	f := newFixture(t)
	rsaPub := f.keys["rsa2048"].Public().(*rsa.PublicKey)
	p256Pub := f.keys["p256"].Public().(*ecdsa.PublicKey)
	var reqs []map[string]any
	type want struct {
		digest []byte
		pss    bool
		ec     bool
	}
	var wants []want
	for i := range 10 {
		d := sum256("doc " + strconv.Itoa(i))
		switch i % 3 {
		case 0:
			reqs = append(reqs, map[string]any{"key": map[string]any{"name": "batch-rsa"}, "hash_alg": "SHA256", "hash": b64(d), "mode": pkcs1})
			wants = append(wants, want{digest: d})
		case 1:
			reqs = append(reqs, map[string]any{"key": map[string]any{"name": "batch-p256"}, "hash_alg": "SHA256", "hash": b64(d)})
			wants = append(wants, want{digest: d, ec: true})
		case 2:
			reqs = append(reqs, map[string]any{"key": map[string]any{"name": "batch-rsa"}, "hash_alg": "SHA256", "hash": b64(d), "mode": pss("SHA256")})
			wants = append(wants, want{digest: d, pss: true})
		}
	}
	items := f.batchSign("basic", reqs)
	if n := f.tr.RequireValid(t); n != 1 {
		t.Errorf("%d responses validated, want 1", n)
	}
	for i, it := range items {
		if it.Status != 200 || it.Body == nil {
			t.Fatalf("item %d: %d %s", i, it.Status, it.Error)
		}
		sig, _ := base64.StdEncoding.DecodeString(it.Body.Signature)
		w := wants[i]
		switch {
		case w.ec:
			if !ecdsa.VerifyASN1(p256Pub, w.digest, sig) {
				t.Errorf("item %d: ECDSA signature does not verify", i)
			}
		case w.pss:
			if err := rsa.VerifyPSS(rsaPub, crypto.SHA256, w.digest, sig, nil); err != nil {
				t.Errorf("item %d: %v", i, err)
			}
		default:
			if err := rsa.VerifyPKCS1v15(rsaPub, crypto.SHA256, w.digest, sig); err != nil {
				t.Errorf("item %d: %v", i, err)
			}
		}
	}
	// 4 RSA PKCS#1 items, 3 ECDSA, 3 RSA-PSS: three batch calls.
	if got := f.batch.sizes(); !slices.Equal(got, []int{3, 3, 4}) {
		t.Errorf("SignBatch calls of sizes %v, want [3 3 4]", got)
	}
}

type authAnswer struct {
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	AccessToken string `json:"access_token"`
	EntityID    string `json:"entity_id"`
}

func (f *fixture) session(auth string) authAnswer {
	f.t.Helper()
	status, body := f.do("POST", "/sys/v1/session/auth", auth, nil)
	if status != http.StatusOK {
		f.t.Fatalf("session auth: %d %s", status, body)
	}
	var a authAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		f.t.Fatal(err)
	}
	return a
}

func TestAuth(t *testing.T) {
	f := newFixture(t)
	one := []map[string]any{{"key": map[string]any{"name": "p256"}, "hash_alg": "SHA256", "hash": b64(sum256("x"))}}

	a := f.session("basic")
	if a.TokenType != "Bearer" || a.ExpiresIn != int64(ttl/time.Second) || a.AccessToken == "" {
		t.Errorf("session = %+v", a)
	}
	if _, err := uuid.Parse(a.EntityID); err != nil {
		t.Errorf("entity_id %q: %v", a.EntityID, err)
	}
	if b := f.session("basic"); b.AccessToken == a.AccessToken || b.EntityID != a.EntityID {
		t.Errorf("second session %+v: want a new token for the same entity", b)
	}
	if status, body := f.do("POST", "/sys/v1/session/auth", appUser+":wrong", nil); status != 401 {
		t.Errorf("auth with a wrong secret: %d %s", status, body)
	}

	tests := []struct {
		name   string
		auth   string
		before func()
		status int
	}{
		{"API key", "basic", nil, 200},
		{"bearer", "bearer " + a.AccessToken, nil, 200},
		{"no credentials", "", nil, 401},
		{"wrong secret", appUser + ":nope", nil, 401},
		{"unknown bearer", "bearer not-a-session", nil, 401},
		{"bearer just before expiry", "bearer " + a.AccessToken, func() { f.advance(ttl - time.Second) }, 200},
		{"expired bearer", "bearer " + a.AccessToken, func() { f.advance(time.Second) }, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			status, body := f.do("POST", "/crypto/v1/keys/batch/sign", tc.auth, one)
			if status != tc.status {
				t.Fatalf("status %d %s, want %d", status, body, tc.status)
			}
			if status == 401 && !strings.Contains(string(body), `"error"`) {
				t.Errorf("401 body %s, want {\"error\": ...}", body)
			}
			for _, ex := range f.tr.Exchanges() {
				// Only a request without credentials breaks the
				// description's security requirement.
				if (ex.RequestErr != nil) != (tc.auth == "") {
					t.Errorf("request check: %v", ex.RequestErr)
				}
				if ex.ResponseErr != nil {
					t.Errorf("%d response does not conform: %v", ex.Status, ex.ResponseErr)
				}
			}
		})
	}

	// A terminated session stops working.
	c := f.session("basic")
	if status, _ := f.do("POST", "/crypto/v1/keys/batch/sign", "bearer "+c.AccessToken, one); status != 200 {
		t.Fatalf("fresh bearer: %d", status)
	}
	if status, body := f.do("POST", "/sys/v1/session/terminate", "bearer "+c.AccessToken, nil); status != 204 {
		t.Fatalf("terminate: %d %s", status, body)
	}
	if status, _ := f.do("POST", "/crypto/v1/keys/batch/sign", "bearer "+c.AccessToken, one); status != 401 {
		t.Errorf("terminated bearer: %d, want 401", status)
	}
	f.tr.RequireValid(t)
	// Only authenticated batch requests count.
	if n := f.h.BatchCalls(); n != 4 {
		t.Errorf("BatchCalls = %d, want 4", n)
	}
}

func TestWholeRequestErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		body   string
		status int
		want   string
		// specOK: the validator accepts the request. kin-openapi decodes
		// the first JSON value of a body and ignores what follows.
		specOK bool
	}{
		{"object, not array", `{"key":{"name":"p256"}}`, 400, `"error"`, false},
		{"null", `null`, 400, `"error"`, false},
		{"not JSON", `[{`, 400, `"error"`, false},
		{"trailing data", `[] []`, 400, `"error"`, true},
		{"empty batch", `[]`, 200, `[]`, true},
		{"item of the wrong shape", `[42, {"key":{"name":"p256"},"hash_alg":"SHA256","hash":"` + b64(sum256("x")) + `"}]`, 200, `"status":400`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.do("POST", "/crypto/v1/keys/batch/sign", "basic", tc.body)
			if status != tc.status || !strings.Contains(string(body), tc.want) {
				t.Errorf("%d %s, want %d with %s", status, body, tc.status, tc.want)
			}
			// Most of these requests break the description on purpose;
			// check that the validator says so too, and that the
			// responses conform.
			for _, ex := range f.tr.Exchanges() {
				if ex.ResponseErr != nil {
					t.Errorf("%d response does not conform: %v", ex.Status, ex.ResponseErr)
				}
				if (ex.RequestErr == nil) != tc.specOK {
					t.Errorf("request check: %v", ex.RequestErr)
				}
			}
		})
	}
}

type sobject struct {
	Kid           string `json:"kid"`
	Name          string `json:"name"`
	ObjType       string `json:"obj_type"`
	KeySize       int    `json:"key_size"`
	EllipticCurve string `json:"elliptic_curve"`
	PubKey        string `json:"pub_key"`
	Enabled       bool   `json:"enabled"`
}

func TestListKeys(t *testing.T) {
	f := newFixture(t)
	status, body := f.do("GET", "/crypto/v1/keys", "basic", nil)
	if status != 200 {
		t.Fatalf("list: %d %s", status, body)
	}
	var list []sobject
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	byName := map[string]sobject{}
	for _, o := range list {
		byName[o.Name] = o
	}
	if _, ok := byName["restricted"]; ok {
		t.Error("the list shows a key the user may not use")
	}
	tests := []struct {
		name, alias, objType, curve string
		size                        int
	}{
		{"RSA Signer", "rsa2048", "RSA", "", 2048},
		{"p256", "p256", "EC", "NistP256", 256},
		{"ed25519", "ed25519", "EC", "Ed25519", 256},
	}
	for _, tc := range tests {
		o, ok := byName[tc.name]
		if !ok {
			t.Errorf("key %s not listed", tc.name)
			continue
		}
		if o.Kid != dsm.KeyID("soft", tc.alias) || o.ObjType != tc.objType || o.EllipticCurve != tc.curve || o.KeySize != tc.size || !o.Enabled {
			t.Errorf("key %s = %+v", tc.name, o)
		}
		der, _ := base64.StdEncoding.DecodeString(o.PubKey)
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			t.Errorf("key %s pub_key: %v", tc.name, err)
			continue
		}
		if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(f.keys[tc.alias].Public()) {
			t.Errorf("key %s: pub_key is not the key's public key", tc.name)
		}
	}
	if o := byName["offline-p256"]; o.Enabled || o.PubKey != "" {
		t.Errorf("key of an offline token = %+v, want it disabled without a public key", o)
	}

	status, body = f.do("GET", "/crypto/v1/keys?name=p256", "basic", nil)
	if err := json.Unmarshal(body, &list); status != 200 || err != nil || len(list) != 1 || list[0].Name != "p256" {
		t.Errorf("?name=p256: %d %s", status, body)
	}
	kid := dsm.KeyID("soft", "rsa2048")
	status, body = f.do("GET", "/crypto/v1/keys/"+kid, "basic", nil)
	var one sobject
	if err := json.Unmarshal(body, &one); status != 200 || err != nil || one.Name != "RSA Signer" {
		t.Errorf("get %s: %d %s", kid, status, body)
	}
	if status, _ := f.do("GET", "/crypto/v1/keys/"+dsm.KeyID("soft", "restricted"), "basic", nil); status != 404 {
		t.Errorf("get unknown kid: %d, want 404", status)
	}
	// A key's name where its kid goes is told how to find the kid: the
	// sentence was "The kid is not a UUID.", naming no fix.
	if status, body := f.do("GET", "/crypto/v1/keys/p256", "basic", nil); status != 400 || !strings.Contains(string(body), `The kid \"p256\" is not a UUID: give the kid of a key as GET /crypto/v1/keys lists it, or find a key by name with GET /crypto/v1/keys?name=NAME.`) {
		t.Errorf("get by name: %d %s, want 400 naming the fix", status, body)
	}
	if status, _ := f.do("GET", "/crypto/v1/keys/"+dsm.KeyID("soft", "p384"), "basic", nil); status != 403 {
		t.Errorf("get a key of another user: %d, want 403", status)
	}
	if status, _ := f.do("GET", "/crypto/v1/keys", "", nil); status != 401 {
		t.Errorf("list without credentials: %d, want 401", status)
	}

	// The other user sees the restricted key; a reload shows at once.
	f.mu.Lock()
	f.extra = append(f.extra, dsm.Key{Token: f.batch, Alias: "p384", Name: "added"})
	f.mu.Unlock()
	_, body = f.do("GET", "/crypto/v1/keys", otherUser+":"+otherSecret, nil)
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range list {
		names = append(names, o.Name)
	}
	if !slices.Contains(names, "restricted") || !slices.Contains(names, "added") {
		t.Errorf("keys of %s: %v, want restricted and added", otherUser, names)
	}
	f.tr.RequireValid(t)
}

func TestKeyID(t *testing.T) {
	a := dsm.KeyID("tok", "alias")
	id, err := uuid.Parse(a)
	if err != nil || id.Version() != 5 {
		t.Fatalf("KeyID = %q (%v), want a version 5 UUID", a, err)
	}
	tests := []struct{ tok, alias string }{{"tok", "alias2"}, {"tok2", "alias"}, {"toka", "lias"}, {"tok\x00a", "lias"}, {"tok", "a\x00lias"}}
	for _, tc := range tests {
		if dsm.KeyID(tc.tok, tc.alias) == a {
			t.Errorf("KeyID(%q, %q) = KeyID(tok, alias)", tc.tok, tc.alias)
		}
	}
	if dsm.KeyID("tok", "alias") != a {
		t.Error("KeyID is not stable")
	}
}

// TestMayUse checks Options.MayUse: a key the user may not use is left out
// of the user's key list and signs with item status 403, while other users
// use it.
func TestMayUse(t *testing.T) {
	f := newFixture(t)
	other := otherUser + ":" + otherSecret
	req := []map[string]any{
		{"key": map[string]any{"name": "batch-rsa"}, "hash_alg": "SHA256", "hash": b64(sum256("x")), "mode": pkcs1},
		{"key": map[string]any{"name": "p256"}, "hash_alg": "SHA256", "hash": b64(sum256("x"))},
	}
	tests := []struct {
		auth   string
		status []int
		listed bool
	}{
		{"basic", []int{200, 200}, true},
		{other, []int{403, 200}, false},
	}
	for _, tt := range tests {
		items := f.batchSign(tt.auth, req)
		for i, it := range items {
			if it.Status != tt.status[i] {
				t.Errorf("%s item %d: status %d (%s), want %d", tt.auth, i, it.Status, it.Error, tt.status[i])
			}
		}
		status, body := f.do("GET", "/crypto/v1/keys?name=batch-rsa", tt.auth, nil)
		if status != 200 || strings.Contains(string(body), "batch-rsa") != tt.listed {
			t.Errorf("%s: key list %d %s, want batch-rsa listed %v", tt.auth, status, body, tt.listed)
		}
	}
	f.tr.RequireValid(t)
}

// TestBodyType: a body the DSM API takes as application/json, sent as
// another type or none, is refused with 415 and signs nothing: an HTML form
// on any site can post text/plain with a user's cached basic credentials.
func TestBodyType(t *testing.T) {
	f := newFixture(t)
	one := `{"key":{"name":"p256"},"hash_alg":"SHA256","hash":"` + b64(sum256("x")) + `"}`
	tests := []struct{ path, body, ctype string }{
		{"/crypto/v1/keys/batch/sign", "[" + one + "]", "text/plain"},
		{"/crypto/v1/keys/batch/sign", "[" + one + "]", ""},
		{"/crypto/v1/sign", one, "text/plain;charset=UTF-8"},
		{"/crypto/v1/sign", one, "application/x-www-form-urlencoded"},
		{"/crypto/v1/sign", one, ";;"},
		{"/crypto/v1/verify", `{"key":{"name":"p256"},"hash_alg":"SHA256","hash":"` + b64(sum256("x")) + `","signature":"AA=="}`, "text/plain"},
	}
	for _, tc := range tests {
		t.Run(tc.path+" "+tc.ctype, func(t *testing.T) {
			batches, signs := f.h.BatchCalls(), f.h.SignCalls()
			req, err := http.NewRequest("POST", f.srv.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			req.SetBasicAuth(appUser, appSecret)
			resp, err := f.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(string(body), `{"error":"The DSM API takes request bodies as application/json`) {
				t.Errorf("%d %s, want 415 naming application/json", resp.StatusCode, body)
			}
			if f.h.BatchCalls() != batches || f.h.SignCalls() != signs {
				t.Error("the request was signed")
			}
		})
	}
	// With the type it signs.
	if status, body := f.do("POST", "/crypto/v1/sign", "basic", one); status != http.StatusOK {
		t.Errorf("application/json: %d %s", status, body)
	}
}
