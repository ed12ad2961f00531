package admin

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/soft"
	"github.com/signet-project/signet/web/auth"
	"github.com/signet-project/signet/workers"
)

// fakeWorker is a worker that signs with a token's key and is ACTIVE when
// the key can be found.
type fakeWorker struct {
	name, tok, alias string
	id               int
	t                tokens.Token
}

func (w *fakeWorker) Name() string      { return w.name }
func (w *fakeWorker) ID() int           { return w.id }
func (w *fakeWorker) Kind() string      { return "CMSSigner" }
func (w *fakeWorker) TokenName() string { return w.tok }
func (w *fakeWorker) KeyAlias() string  { return w.alias }
func (w *fakeWorker) Status(ctx context.Context) workers.Status {
	if _, err := w.t.Signer(ctx, w.alias); err != nil {
		return workers.Status{Errors: []string{err.Error()}}
	}
	return workers.Status{Active: true}
}
func (w *fakeWorker) Process(context.Context, *workers.Request) (*workers.Response, error) {
	return nil, errors.New("not used")
}

// bareToken is a token without the optional life-cycle capabilities.
type bareToken struct{ tokens.Token }

type source struct{ set *workers.Set }

func (s *source) Current() *workers.Set { return s.set }

// fixture is a handler over a PEM soft token "soft" (active, with key
// "signer" and worker "Signer" using it), a token "bare" without
// life-cycle capabilities, an in-memory audit log and a test CA.
type fixture struct {
	h        *Handler
	srv      *httptest.Server
	audit    *state.Memory
	signlog  *state.MemoryLog
	archive  *state.MemoryArchive
	ca       *demo.CA
	soft     *soft.Token
	reloaded int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := soft.Create(soft.Options{Path: filepath.Join(t.TempDir(), "ks"), Type: soft.TypePEM, Name: "soft"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.GenerateKey(ctx, "signer", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"}); err != nil {
		t.Fatal(err)
	}
	bt, err := soft.Create(soft.Options{Path: filepath.Join(t.TempDir(), "bare"), Type: soft.TypePEM, Name: "bare"}, "")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := demo.NewCA("Admin Test CA")
	if err != nil {
		t.Fatal(err)
	}
	toks := map[string]tokens.Token{"soft": st, "bare": bareToken{bt}}
	ws := []workers.Worker{&fakeWorker{name: "Signer", id: 1, tok: "soft", alias: "signer", t: st}}
	f := &fixture{audit: state.NewMemory(), signlog: &state.MemoryLog{}, archive: &state.MemoryArchive{}, ca: ca, soft: st}
	h := New(Options{
		Workers: &source{workers.NewSet(ws, toks)},
		Authenticate: func(user, pass string) Decision {
			switch {
			case user == "admin" && pass == "secret":
				return Allowed
			case user == "operator" && pass == "secret":
				return Forbidden
			case (user == "auditor" || user == "op") && pass == "secret":
				return Allowed
			}
			return Denied
		},
		Roles: func(user string) []string {
			return map[string][]string{"admin": {"admin"}, "auditor": {"auditor"}, "op": {"operator", "dsm"}}[user]
		},
		Throttle: auth.NewThrottle(),
		Reload: func(context.Context) ([]string, error) {
			f.reloaded++
			if f.reloaded > 1 {
				return nil, errors.New("signet.yaml:3: unknown property FOO\nsignet.yaml:9: bad")
			}
			return []string{"listen", "maxInFlight"}, nil
		},
		Audit:      f.audit,
		SigningLog: f.signlog,
		Archive:    f.archive,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	e := echo.New()
	h.Register(e)
	f.h = h
	f.srv = httptest.NewServer(e)
	t.Cleanup(f.srv.Close)
	return f
}

// call sends a request as admin (or with auth "user:pass", or "" for none).
func (f *fixture) call(t *testing.T, method, path, auth, ctype, body string) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+BasePath+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if auth != "" {
		u, p, _ := strings.Cut(auth, ":")
		req.SetBasicAuth(u, p)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, resp.Header
}

const admin = "admin:secret"

func TestAuth(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, auth string
		want       int
		challenge  bool
	}{
		{"no credentials", "", 401, true},
		{"wrong password", "admin:nope", 401, true},
		{"unknown user", "mallory:secret", 401, true},
		{"not an administrator", "operator:secret", 403, false},
		{"administrator", admin, 200, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, hdr := f.call(t, "GET", "/workers", tt.auth, "", "")
			if code != tt.want {
				t.Fatalf("status %d, want %d: %s", code, tt.want, body)
			}
			if got := hdr.Get("WWW-Authenticate"); (got == `Basic realm="Signet admin"`) != tt.challenge {
				t.Errorf("WWW-Authenticate = %q", got)
			}
			if code >= 400 {
				var e apiError
				if json.Unmarshal(body, &e) != nil || !strings.HasSuffix(e.Error, ".") {
					t.Errorf("error body %s is not {\"error\": sentence}", body)
				}
			}
		})
	}
	// Refused requests change nothing and are not actions.
	if code, _, _ := f.call(t, "POST", "/tokens/soft/deactivate", "admin:nope", "", ""); code != 401 {
		t.Fatalf("deactivate with a wrong password: %d", code)
	}
	if st := f.soft.Status(context.Background()); st.State != tokens.Active {
		t.Fatal("a refused deactivate deactivated the token")
	}
	// Refused credentials are recorded; requests without credentials are
	// not.
	es, _ := f.audit.Entries(context.Background(), 0, 0)
	var got []string
	for _, e := range es {
		got = append(got, e.Actor+" "+e.Action+" "+e.Target+" "+e.Outcome[:5])
	}
	want := "admin admin.refused GET /admin/api/workers Wrong,mallory admin.refused GET /admin/api/workers Wrong," +
		"operator admin.refused GET /admin/api/workers User ,admin admin.refused POST /admin/api/tokens/soft/deactivate Wrong"
	if strings.Join(got, ",") != want {
		t.Errorf("audit of refused requests:\n got %s\nwant %s", strings.Join(got, ","), want)
	}
}

func TestBadInput(t *testing.T) {
	f := newFixture(t)
	const js = "application/json"
	long := strings.Repeat("y", 5000)
	tests := []struct {
		name, method, path, ctype, body string
		want                            int
		says                            string
	}{
		{"unknown endpoint", "GET", "/nothing", "", "", 404, "No such admin endpoint"},
		{"wrong method", "DELETE", "/workers", "", "", 405, "does not take DELETE: use GET or POST."},
		{"wrong method on a key", "PATCH", "/tokens/soft/keys/signer", "", "", 405, "use GET or DELETE"},
		{"wrong method on activate", "GET", "/tokens/soft/activate", "", "", 405, "use POST"},
		{"too deep", "GET", "/tokens/soft/keys/signer/chain/x", "", "", 404, "No such admin endpoint"},
		{"API root", "GET", "", "", "", 404, "No such admin endpoint"},
		{"unknown worker", "GET", "/workers/Nope", "", "", 404, "No worker"},
		{"unknown token", "GET", "/tokens/nope", "", "", 404, "No crypto token named"},
		{"activate without body", "POST", "/tokens/soft/activate", js, "", 400, "empty"},
		{"activate unknown field", "POST", "/tokens/soft/activate", js, `{"pin":"1","user":"x"}`, 400, "unknown field"},
		{"activate wrong type", "POST", "/tokens/soft/activate", js, `{"pin":1234}`, 400, "wrong type"},
		{"activate bad JSON", "POST", "/tokens/soft/activate", js, `{"pin":`, 400, "not a valid JSON"},
		{"activate two objects", "POST", "/tokens/soft/activate", js, `{"pin":"1"}{}`, 400, "more than one"},
		{"activate unknown token", "POST", "/tokens/nope/activate", js, `{"pin":"1"}`, 404, "No crypto token"},
		{"generate no algorithm", "POST", "/tokens/soft/keys", js, `{"alias":"k"}`, 400, "algorithm is missing"},
		{"generate bad alias", "POST", "/tokens/soft/keys", js, `{"alias":"../x","algorithm":"RSA"}`, 400, "Invalid key alias"},
		{"generate bad RSA size", "POST", "/tokens/soft/keys", js, `{"alias":"k","algorithm":"RSA","bits":1024}`, 400, "2048, 3072 or 4096"},
		{"generate bad curve", "POST", "/tokens/soft/keys", js, `{"alias":"k","algorithm":"ECDSA","curve":"P-192"}`, 400, "P-256, P-384 or P-521"},
		{"generate bad algorithm", "POST", "/tokens/soft/keys", js, `{"alias":"k","algorithm":"DSA"}`, 400, "RSA, ECDSA or Ed25519"},
		{"generate existing alias", "POST", "/tokens/soft/keys", js, `{"alias":"signer","algorithm":"ECDSA"}`, 409, "already has a key"},
		{"generate on bare token", "POST", "/tokens/bare/keys", js, `{"alias":"k","algorithm":"ECDSA"}`, 409, "cannot generate keys"},
		{"remove on bare token", "DELETE", "/tokens/bare/keys/k", "", "", 409, "cannot remove keys"},
		{"remove unknown key", "DELETE", "/tokens/soft/keys/nokey", "", "", 404, `has no key "nokey": list its keys with signet admin keys list soft (`},
		{"remove a key workers use", "DELETE", "/tokens/soft/keys/signer", "", "", 409, "used by worker Signer"},
		{"test unknown key", "POST", "/tokens/soft/keys/nokey/test", "", "", 404, `has no key "nokey": list its keys with signet admin keys list soft (`},
		{"get key bad alias", "GET", "/tokens/soft/keys/.hidden", "", "", 400, "Invalid key alias"},
		{"csr without subject", "POST", "/tokens/soft/keys/signer/csr", js, `{}`, 400, "The subject is not a valid DN: the DN is empty"},
		{"csr bad DN", "POST", "/tokens/soft/keys/signer/csr", js, `{"subject":"CN"}`, 400, "not type=value"},
		{"csr unknown attribute", "POST", "/tokens/soft/keys/signer/csr", js, `{"subject":"XX=1"}`, 400, "nknown attribute"},
		{"csr bad country", "POST", "/tokens/soft/keys/signer/csr", js, `{"subject":"CN=a,C=Germany"}`, 400, "two-letter"},
		{"csr bad algorithm", "POST", "/tokens/soft/keys/signer/csr", js, `{"subject":"CN=a","signatureAlgorithm":"MD5withRSA"}`, 400, "not offered"},
		{"csr algorithm for another key", "POST", "/tokens/soft/keys/signer/csr", js, `{"subject":"CN=a","signatureAlgorithm":"SHA256withRSA"}`, 400, "does not fit"},
		{"chain empty", "PUT", "/tokens/soft/keys/signer/chain", "application/pem-certificate-chain", "", 400, "empty"},
		{"chain not PEM", "PUT", "/tokens/soft/keys/signer/chain", "application/pem-certificate-chain", "hello", 400, "no PEM certificate"},
		{"chain wrong block", "PUT", "/tokens/soft/keys/signer/chain", "application/pem-certificate-chain", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 400, "not a CERTIFICATE"},
		{"chain broken certificate", "PUT", "/tokens/soft/keys/signer/chain", "application/pem-certificate-chain", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 400, "not a valid X.509"},
		{"JSON sent as text/plain (CSRF)", "POST", "/tokens/soft/deactivate", "text/plain", `{}`, 415, "application/json"},
		{"form post (CSRF)", "POST", "/reload", "application/x-www-form-urlencoded", "a=b", 415, "application/json"},
		{"chain JSON unknown field", "PUT", "/tokens/soft/keys/signer/chain", js, `{"pem":"x"}`, 400, "unknown field"},
		{"audit bad after", "GET", "/audit?after=x", "", "", 400, "Query parameter after must be a record number (0 or more)."},
		{"audit bad limit", "GET", "/audit?limit=0", "", "", 400, "Query parameter limit must be a number from 1 to 1000."},
		{"signlog bad after", "GET", "/signlog?after=-1", "", "", 400, "Query parameter after must be a record number (0 or more)."},
		{"signlog bad limit", "GET", "/signlog?limit=1001", "", "", 400, "Query parameter limit must be a number from 1 to 1000."},
		{"signlog export limit", "GET", "/signlog?format=jsonl&limit=100001", "", "", 400, "Query parameter limit must be a number from 1 to 100000."},
		{"audit unknown parameter", "GET", "/audit?acton=key.remove", "", "", 400, `Query parameter "acton" is unknown: use action, actor, remote, worker, after, limit, from or to.`},
		{"audit parameter given twice", "GET", "/audit?limit=5&limit=abc", "", "", 400, "Query parameter limit is given more than once: give it once."},
		{"audit long unknown parameter", "GET", "/audit?" + long + "=1", "", "", 400, `Query parameter "` + long[:128] + `"… is unknown`},
		// encoding/json's own words name Go types and repeat the client's
		// text whole: the answer says what to send, quoting at most
		// clienttext.MaxEcho bytes.
		{"generate body an array", "POST", "/tokens/soft/keys", js, `[]`, 400, "The request body is a JSON array, not an object"},
		{"generate body a string", "POST", "/tokens/soft/keys", js, `"k"`, 400, "The request body is a JSON string, not an object"},
		{"generate bits a fraction", "POST", "/tokens/soft/keys", js, `{"alias":"k","algorithm":"RSA","bits":2048.5}`, 400, `Field "bits" of the request has the wrong type (number): send a whole number.`},
		{"generate bits of a thousand digits", "POST", "/tokens/soft/keys", js, `{"alias":"k","algorithm":"RSA","bits":` + strings.Repeat("9", 1000) + `}`, 400, "send a whole number"},
		{"generate bits a string", "POST", "/tokens/soft/keys", js, `{"alias":"k","algorithm":"RSA","bits":"2048"}`, 400, "(string): send a whole number"},
		{"long unknown field", "POST", "/tokens/soft/keys", js, `{"` + long + `":1}`, 400, `unknown field "` + long[:128] + `"…: remove it.`},
		{"truncated JSON", "POST", "/tokens/soft/keys", js, `{"alias":"k","algorithm":"RS`, 400, "not a valid JSON object (it ends early)"},
		{"JSON syntax error", "POST", "/tokens/soft/keys", js, `{"alias" "k"}`, 400, "syntax error at byte"},
		// POST /audit/verify takes no fields: what it does not understand is
		// refused as every other admin body is, and runs no check.
		{"audit verify unknown field", "POST", "/audit/verify", js, `{"from":1}`, 400, `The request has the unknown field "from": remove it.`},
		{"audit verify array", "POST", "/audit/verify", js, `[1,2]`, 400, "The request body is a JSON array, not an object"},
		{"audit verify garbage", "POST", "/audit/verify", js, `{garbage`, 400, "syntax error at byte"},
		{"audit verify two objects", "POST", "/audit/verify", js, `{}{}`, 400, "more than one JSON value"},
		{"long CSR algorithm", "POST", "/tokens/soft/keys/signer/csr", js, `{"subject":"CN=a","signatureAlgorithm":"` + long + `"}`, 400, `Signature algorithm "` + long[:128] + `"… is not offered`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, _ := f.call(t, tt.method, tt.path, admin, tt.ctype, tt.body)
			if code != tt.want {
				t.Fatalf("status %d, want %d: %s", code, tt.want, body)
			}
			var e apiError
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			if !strings.Contains(e.Error, tt.says) {
				t.Errorf("error %q does not say %q", e.Error, tt.says)
			}
			if len(e.Error) > 512 || strings.Contains(e.Error, "Go ") || strings.Contains(e.Error, "admin.") {
				t.Errorf("error %.600q repeats the request whole or names Go types", e.Error)
			}
		})
	}
}

func TestKeyLifecycle(t *testing.T) {
	f := newFixture(t)
	const js = "application/json"
	var k Key
	code, body, _ := f.call(t, "POST", "/tokens/soft/keys", admin, js, `{"alias":"new-key","algorithm":"ECDSA","curve":"P-384"}`)
	if code != 201 || json.Unmarshal(body, &k) != nil || k.Alias != "new-key" || k.Curve != "P-384" || !strings.Contains(k.PublicKey, "PUBLIC KEY") {
		t.Fatalf("generate: %d %s", code, body)
	}

	var tr TestResult
	code, body, _ = f.call(t, "POST", "/tokens/soft/keys/new-key/test", admin, "", "")
	if code != 200 || json.Unmarshal(body, &tr) != nil || !tr.Verified || tr.Algorithm != "SHA256withECDSA" {
		t.Fatalf("test: %d %s", code, body)
	}

	var cr CSRResponse
	code, body, _ = f.call(t, "POST", "/tokens/soft/keys/new-key/csr", admin, js, `{"subject":"CN=New Signer, O=Example\\, Inc., C=DE"}`)
	if code != 200 || json.Unmarshal(body, &cr) != nil {
		t.Fatalf("csr: %d %s", code, body)
	}
	blk, _ := pem.Decode([]byte(cr.CSR))
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" {
		t.Fatalf("csr is not PEM: %q", cr.CSR)
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		t.Fatalf("csr does not parse or verify: %v", err)
	}
	if got := csr.Subject.String(); got != "CN=New Signer,O=Example\\, Inc.,C=DE" {
		t.Errorf("csr subject %q", got)
	}
	pub := k.PublicKey
	if der, _ := x509.MarshalPKIXPublicKey(csr.PublicKey); publicPEM(csr.PublicKey) != pub || der == nil {
		t.Error("csr public key is not the generated key")
	}

	cert, err := f.ca.IssueCSR(csr, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other, err := f.ca.Issue("Someone Else", f.ca.Key.Public(), demo.DocumentSigning, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Refused: another key's certificate, and a chain in the wrong order.
	for _, bad := range []struct {
		body, says string
	}{
		{string(demo.PEM(other, f.ca.Cert)), "not for key"},
		{string(demo.PEM(f.ca.Cert, cert)), "not issued by"},
	} {
		code, body, _ = f.call(t, "PUT", "/tokens/soft/keys/new-key/chain", admin, "application/pem-certificate-chain", bad.body)
		if code != 400 || !strings.Contains(string(body), bad.says) {
			t.Errorf("bad chain: %d %s, want 400 saying %q", code, body, bad.says)
		}
	}
	var chr ChainResponse
	jsonBody, _ := json.Marshal(ChainRequest{Chain: string(demo.PEM(cert, f.ca.Cert))})
	code, body, _ = f.call(t, "PUT", "/tokens/soft/keys/new-key/chain", admin, js, string(jsonBody))
	if code != 200 || json.Unmarshal(body, &chr) != nil || len(chr.Certificates) != 2 {
		t.Fatalf("chain: %d %s", code, body)
	}
	ch, err := f.soft.Chain(context.Background(), "new-key")
	if err != nil || len(ch) != 2 || !ch[0].Equal(cert) {
		t.Fatalf("token chain after upload: %v, %v", ch, err)
	}
	code, body, _ = f.call(t, "GET", "/tokens/soft/keys/new-key/chain", admin, "", "")
	if code != 200 || !strings.Contains(string(body), "New Signer") {
		t.Errorf("get chain: %d %s", code, body)
	}

	var keys []Key
	code, body, _ = f.call(t, "GET", "/tokens/soft/keys", admin, "", "")
	if code != 200 || json.Unmarshal(body, &keys) != nil || len(keys) != 2 || keys[0].Alias != "new-key" || !keys[0].HasChain || keys[0].NotAfter == nil {
		t.Fatalf("keys: %d %s", code, body)
	}

	code, body, _ = f.call(t, "DELETE", "/tokens/soft/keys/new-key", admin, "", "")
	if code != 204 {
		t.Fatalf("remove: %d %s", code, body)
	}
	if _, err := f.soft.Signer(context.Background(), "new-key"); !errors.Is(err, tokens.ErrKeyNotFound) {
		t.Errorf("key still there after remove: %v", err)
	}

	es, _ := f.audit.Entries(context.Background(), 0, 0)
	var actions []string
	for _, e := range es {
		actions = append(actions, e.Action+" "+e.Outcome[:min(2, len(e.Outcome))])
		if e.Actor != "admin" || e.Target != "token/soft/key/new-key" {
			t.Errorf("audit entry %+v", e)
		}
	}
	want := "key.generate ok,key.test ok,key.csr ok,key.chain Th,key.chain Ce,key.chain ok,key.remove ok"
	if got := strings.Join(actions, ","); got != want {
		t.Errorf("audit actions\n got %s\nwant %s", got, want)
	}
	if err := f.audit.Verify(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestTokenActivation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const js = "application/json"
	var ts TokenStatus
	code, body, _ := f.call(t, "POST", "/tokens/soft/deactivate", admin, "", "")
	if code != 200 || json.Unmarshal(body, &ts) != nil || ts.Status != "OFFLINE" {
		t.Fatalf("deactivate: %d %s", code, body)
	}
	// Offline: key operations answer 503, the worker is OFFLINE.
	code, body, _ = f.call(t, "POST", "/tokens/soft/keys/signer/test", admin, "", "")
	if code != 503 || !strings.Contains(string(body), "activate it first") {
		t.Errorf("test on an offline token: %d %s", code, body)
	}
	var w WorkerStatus
	code, body, _ = f.call(t, "GET", "/workers/1", admin, "", "")
	if code != 200 || json.Unmarshal(body, &w) != nil || w.Status != "OFFLINE" || w.Token != "soft" || w.Key != "signer" {
		t.Errorf("worker of an offline token: %d %s", code, body)
	}
	code, body, _ = f.call(t, "POST", "/tokens/soft/activate", admin, js, `{"pin":"s3cret-pin"}`)
	if code != 200 || json.Unmarshal(body, &ts) != nil || ts.Status != "ACTIVE" || len(ts.Keys) != 1 || ts.Keys[0].Workers[0] != "Signer" {
		t.Fatalf("activate: %d %s", code, body)
	}
	var list []TokenStatus
	code, body, _ = f.call(t, "GET", "/tokens", admin, "", "")
	if code != 200 || json.Unmarshal(body, &list) != nil || len(list) != 2 || list[0].Name != "bare" || len(list[0].Capabilities) != 0 ||
		strings.Join(list[1].Capabilities, ",") != "generate,remove,chain" {
		t.Errorf("tokens: %d %s", code, body)
	}
	code, body, _ = f.call(t, "GET", "/workers", admin, "", "")
	var ws []WorkerStatus
	if code != 200 || json.Unmarshal(body, &ws) != nil || len(ws) != 1 || ws[0].Status != "ACTIVE" || ws[0].Certificate != nil {
		t.Errorf("workers: %d %s", code, body)
	}
	es, _ := f.audit.Entries(ctx, 0, 0)
	if len(es) != 3 || es[0].Action != "token.deactivate" || es[1].Action != "key.test" || !strings.Contains(es[1].Outcome, "offline") || es[2].Action != "token.activate" {
		t.Fatalf("audit %+v", es)
	}
	for _, e := range es {
		for k, v := range e.Details {
			if strings.Contains(k+v, "s3cret-pin") {
				t.Error("the PIN is in the audit log")
			}
		}
	}
}

func TestReloadAndAudit(t *testing.T) {
	f := newFixture(t)
	// The answer names the settings that wait for a restart, as the
	// reloader returned them.
	var res ReloadResult
	code, body, _ := f.call(t, "POST", "/reload", admin, "", "")
	if code != 200 || json.Unmarshal(body, &res) != nil || len(res.Workers) != 1 || strings.Join(res.RestartNeeded, ",") != "listen,maxInFlight" {
		t.Fatalf("reload: %d %s", code, body)
	}
	code, body, _ = f.call(t, "POST", "/reload", admin, "", "")
	if code != 400 || !strings.Contains(string(body), "unknown property FOO; signet.yaml:9") {
		t.Fatalf("refused reload: %d %s", code, body)
	}
	var page AuditPage
	code, body, _ = f.call(t, "GET", "/audit?after=1&limit=5", admin, "", "")
	if code != 200 || json.Unmarshal(body, &page) != nil || len(page.Entries) != 1 || page.Next != 2 ||
		page.Entries[0].Action != "config.reload" || page.Entries[0].Outcome == "ok" || len(page.Entries[0].Hash) != 64 {
		t.Fatalf("audit: %d %s", code, body)
	}
}

func TestNoAudit(t *testing.T) {
	h := New(Options{Authenticate: func(string, string) Decision { return Allowed }})
	e := echo.New()
	h.Register(e)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", BasePath+"/audit", nil)
	req.SetBasicAuth("a", "b")
	e.ServeHTTP(rec, req)
	if rec.Code != 503 {
		t.Errorf("audit without a log: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	req = httptest.NewRequest("POST", BasePath+"/reload", nil)
	req.SetBasicAuth("a", "b")
	e.ServeHTTP(rec, req)
	if rec.Code != 409 {
		t.Errorf("reload without a reloader: %d %s", rec.Code, rec.Body)
	}
}

func TestKeyTestAlgorithms(t *testing.T) {
	for _, spec := range []string{"RSA-2048", "EC-P256", "Ed25519"} {
		t.Run(spec, func(t *testing.T) {
			k, err := demo.NewKey(spec)
			if err != nil {
				t.Fatal(err)
			}
			res, err := test(k)
			if err != nil || !res.Verified {
				t.Fatalf("test(%s) = %+v, %v", spec, res, err)
			}
			if _, err := test(badSigner{k}); err != nil {
				t.Fatal(err)
			} else if r, _ := test(badSigner{k}); r.Verified {
				t.Fatal("a wrong signature verified")
			}
		})
	}
}

// badSigner returns signatures of random data.
type badSigner struct{ crypto.Signer }

func (b badSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	other := make([]byte, len(digest))
	copy(other, digest)
	other[0] ^= 0xff
	return b.Signer.Sign(r, other, opts)
}

func TestCSRAlgorithms(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		key, gen, alg string
		want          x509.SignatureAlgorithm
	}{
		{"ec", `"algorithm":"ECDSA","curve":"P-384"`, "", x509.ECDSAWithSHA384},
		{"ec", "", "SHA256withECDSA", x509.ECDSAWithSHA256},
		{"rsa", `"algorithm":"RSA","bits":2048`, "", x509.SHA256WithRSA},
		{"rsa", "", "SHA384withRSAandMGF1", x509.SHA384WithRSAPSS},
		{"ed", `"algorithm":"Ed25519"`, "", x509.PureEd25519},
	}
	for _, tt := range tests {
		t.Run(tt.key+"/"+tt.alg, func(t *testing.T) {
			if tt.gen != "" {
				if code, body, _ := f.call(t, "POST", "/tokens/soft/keys", admin, "application/json", `{"alias":"`+tt.key+`",`+tt.gen+`}`); code != 201 {
					t.Fatalf("generate: %d %s", code, body)
				}
			}
			req, _ := json.Marshal(CSRRequest{Subject: "/C=DE/O=Example/CN=" + tt.key, SignatureAlgorithm: tt.alg})
			code, body, _ := f.call(t, "POST", "/tokens/soft/keys/"+tt.key+"/csr", admin, "application/json", string(req))
			var cr CSRResponse
			if code != 200 || json.Unmarshal(body, &cr) != nil {
				t.Fatalf("csr: %d %s", code, body)
			}
			blk, _ := pem.Decode([]byte(cr.CSR))
			csr, err := x509.ParseCertificateRequest(blk.Bytes)
			if err != nil || csr.CheckSignature() != nil || csr.SignatureAlgorithm != tt.want || cr.Subject != "CN="+tt.key+",O=Example,C=DE" {
				t.Fatalf("csr %v (%s, %v): %s", csr.SignatureAlgorithm, cr.Subject, err, body)
			}
		})
	}
}

// A key test that the state failed under says so with a 503, not that the
// token is offline (ErrNotRecorded and ErrNotCounted wrap ErrOffline), nor
// a 500: a signature the signing log could not record, a count that could
// not be stored, and the cause when the state names it (a full disk).
func TestTokenErrorState(t *testing.T) {
	full := &state.WriteError{Msg: "the state database cannot be written: the disk of the data folder is full: free space on it", Err: errors.New("database or disk is full (13)")}
	for _, tc := range []struct {
		err  error
		says string
	}{
		{fmt.Errorf("guard: %w", tokens.ErrNotRecorded), "signing log could not record"},
		{fmt.Errorf("guard: %w", tokens.ErrNotCounted), "usage count could not be stored"},
		{fmt.Errorf("guard: %w: %w", tokens.ErrNotCounted, full), "the disk of the data folder is full: free space on it."},
	} {
		err := tokenError("soft", "k", tc.err)
		var se *statusError
		if !errors.As(err, &se) || se.code != http.StatusServiceUnavailable || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("tokenError(%v) = %v, want 503 saying %q", tc.err, err, tc.says)
		}
	}
}

// TestActivateWithoutPIN: activating a token that has a PIN with none
// ({} or an empty pin) is answered with what to send, not "Wrong PIN",
// which sent the client checking a PIN it never sent; a wrong PIN is
// still "Wrong PIN", and the right one activates.
func TestActivateWithoutPIN(t *testing.T) {
	t.Parallel()
	locked, err := soft.Create(soft.Options{Path: filepath.Join(t.TempDir(), "ks"), Type: soft.TypePKCS12, Name: "locked"}, "locked-pin")
	if err != nil {
		t.Fatal(err)
	}
	// A keystore of no key takes any PIN: it has nothing to decrypt.
	if _, err := locked.GenerateKey(t.Context(), "k", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"}); err != nil {
		t.Fatal(err)
	}
	f := serveAdmin(t, map[string]tokens.Token{"locked": locked})
	if code, body, _ := f.call(t, "POST", "/tokens/locked/deactivate", admin, "", ""); code != http.StatusOK {
		t.Fatalf("deactivate: %d %s", code, body)
	}
	for _, tc := range []struct {
		body string
		code int
		says string
	}{
		{`{}`, http.StatusBadRequest, "No PIN was given for crypto token locked, which needs one to activate: give its PIN."},
		{`{"pin":""}`, http.StatusBadRequest, "No PIN was given for crypto token locked"},
		{`{"pin":"wrong"}`, http.StatusBadRequest, "Wrong PIN for crypto token locked: check the PIN."},
		{`{"pin":"locked-pin"}`, http.StatusOK, `"status":"ACTIVE"`},
	} {
		code, body, _ := f.call(t, "POST", "/tokens/locked/activate", admin, "application/json", tc.body)
		if code != tc.code || !strings.Contains(string(body), tc.says) {
			t.Errorf("activate with %s: %d %s, want %d %q", tc.body, code, body, tc.code, tc.says)
		}
	}
}

// configuredKeyToken is a token that, given no PIN, tries a secret of its
// own, which its HSM refuses (a DSM token's configured API key).
type configuredKeyToken struct{ tokens.Token }

func (configuredKeyToken) Activate(context.Context, string) error {
	return fmt.Errorf("dsm token dsm: the DSM refused the API key of app a: %w", tokens.ErrBadPIN)
}

// TestActivateConfiguredKeyRefused: a token that activates with a secret
// of its own when given no PIN, whose secret is refused, is a wrong PIN:
// "No PIN was given" sent the client looking for a PIN the token does not
// need, while the configured key was at fault.
func TestActivateConfiguredKeyRefused(t *testing.T) {
	t.Parallel()
	inner, err := soft.Create(soft.Options{Path: filepath.Join(t.TempDir(), "ks"), Type: soft.TypePKCS12, Name: "dsm"}, "")
	if err != nil {
		t.Fatal(err)
	}
	f := serveAdmin(t, map[string]tokens.Token{"dsm": configuredKeyToken{inner}})
	for _, body := range []string{`{}`, `{"pin":""}`} {
		code, got, _ := f.call(t, "POST", "/tokens/dsm/activate", admin, "application/json", body)
		if code != http.StatusBadRequest || !strings.Contains(string(got), "Wrong PIN for crypto token dsm") {
			t.Errorf("activate with %s: %d %s, want 400 Wrong PIN", body, code, got)
		}
	}
}

// TestRequestLogNamesUser: the caller of an admin request's context, which
// the server's request log line reads once the handlers are done (web's
// observe), is the user who logged in; the log named nobody for admin
// requests, whoever made them.
func TestRequestLogNamesUser(t *testing.T) {
	t.Parallel()
	// Appended before net/http sends the small answer, which it does once
	// the handler chain returns; the mutex is for the race detector.
	var (
		mu     sync.Mutex
		logged []string
	)
	f := serveAdmin(t, nil, func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			mu.Lock()
			logged = append(logged, tokens.CallerFrom(c.Request().Context()).User)
			mu.Unlock()
			return err
		}
	})
	if code, body, _ := f.call(t, "GET", "/workers", "alice:pw", "", ""); code != http.StatusOK {
		t.Fatalf("GET /workers: %d %s", code, body)
	}
	if code, _, _ := f.call(t, "GET", "/workers", "", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("GET /workers without credentials: %d", code)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"alice", ""}; !slices.Equal(logged, want) {
		t.Errorf("the request log would name %q, want %q", logged, want)
	}
}

// serveAdmin serves the admin API over toks, with no workers, where any
// password logs in as an admin, behind the middleware mw (outermost
// first), as the server mounts it behind web's own.
func serveAdmin(t *testing.T, toks map[string]tokens.Token, mw ...echo.MiddlewareFunc) *fixture {
	t.Helper()
	h := New(Options{
		Workers:      &source{workers.NewSet(nil, toks)},
		Authenticate: func(user, pass string) Decision { return Allowed },
		Roles:        func(string) []string { return []string{"admin"} },
		Audit:        state.NewMemory(),
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	e := echo.New()
	e.Use(mw...)
	h.Register(e)
	f := &fixture{srv: httptest.NewServer(e)}
	t.Cleanup(f.srv.Close)
	return f
}
