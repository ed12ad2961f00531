package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/web/admin"
	"github.com/signet-project/signet/web/auth"
)

// certServer is a demo server that asks for client certificates (server
// tls clientCAs) and has users who authenticate with them.
type certServer struct {
	*server
	password string                      // of the demo's basic users, and of auditor
	certs    map[string]*tls.Certificate // client certificates by name
	clients  map[string]*http.Client
}

// certUsers are the users of certServer that authenticate with a client
// certificate, by the rule that names it, and the roles they hold.
var certUsers = []struct{ name, roles, match string }{
	{"certadmin", "admin", "CERTIFICATE_SERIALNO"},
	{"certoperator", "operator", "CERTIFICATE_SERIALNO"},
	{"certauditor", "auditor", "SUBJECT_RDN_CN"},
	{"certdsm", "dsm", "CERTIFICATE_SERIALNO"},
}

// startCertServer bootstraps the demo, adds a client CA bundle, the users
// of certUsers (and a basic user auditor), and serves it. The client
// certificates: one per user, and "foreign" (another CA, with the CN of
// certauditor's rule), "expired" (certadmin's CA and CN, expired) and
// "unknown" (the client CA, a serial no rule names).
func startCertServer(t *testing.T) *certServer {
	t.Helper()
	clientCA, err := demo.NewCA("Signet Test Client CA")
	if err != nil {
		t.Fatal(err)
	}
	otherCA, err := demo.NewCA("Signet Test Client CA") // the same name, another key
	if err != nil {
		t.Fatal(err)
	}
	issue := func(ca *demo.CA, cn string, validity time.Duration) *tls.Certificate {
		k, err := demo.NewKey("EC-P256")
		if err != nil {
			t.Fatal(err)
		}
		c, err := ca.Issue(cn, k.Public(), demo.TLSClient, validity)
		if err != nil {
			t.Fatal(err)
		}
		return &tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: k, Leaf: c}
	}
	s := &certServer{certs: map[string]*tls.Certificate{}, clients: map[string]*http.Client{}}
	users := ""
	for _, u := range certUsers {
		cert := issue(clientCA, u.name+"-robot", time.Hour)
		s.certs[u.name] = cert
		value := fmt.Sprintf("%X", cert.Leaf.SerialNumber)
		if u.match == "SUBJECT_RDN_CN" {
			value = u.name + "-robot"
		}
		users += fmt.Sprintf("  - name: %s\n    roles: [%s]\n    authorizedClients:\n      - matchSubjectWithType: %s\n        matchSubjectWithValue: %s\n        matchIssuerWithValue: %q\n",
			u.name, u.roles, u.match, value, clientCA.Cert.Subject.String())
	}
	s.certs["foreign"] = issue(otherCA, "certauditor-robot", time.Hour)
	s.certs["expired"] = issue(clientCA, "certadmin-robot", -30*time.Minute)
	s.certs["unknown"] = issue(clientCA, "nobody", time.Hour)
	withCAs := func(y string) string {
		return strings.Replace(y, "    key: tls.key\n", "    key: tls.key\n    clientCAs: clients.pem\n", 1)
	}
	files := bootstrapDemo(t, withCAs, users+"  - name: auditor\n    roles: [auditor]\n    passwordHash: {file: demo-password.bcrypt}\n")
	if err := os.WriteFile(filepath.Join(files.Dir, "clients.pem"), demo.PEM(clientCA.Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	s.password = files.Password
	s.server = launch(t, files.Dir, "127.0.0.1:0", "--config", files.Config)
	for name, c := range s.certs {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig.Certificates = []tls.Certificate{*c}
		s.clients[name] = &http.Client{Transport: tr}
		t.Cleanup(tr.CloseIdleConnections)
	}
	return s
}

// do sends a request with the credential cred: "cert:NAME" (a client
// certificate of s.certs), "basic:USER:PASSWORD", or "" (none). A body is
// sent as JSON.
func (s *certServer) do(t *testing.T, cred, method, path string, body any) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := http.DefaultClient
	if name, ok := strings.CutPrefix(cred, "cert:"); ok {
		client = s.clients[name]
	} else if up, ok := strings.CutPrefix(cred, "basic:"); ok {
		user, pass, _ := strings.Cut(up, ":")
		req.SetBasicAuth(user, pass)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// adminGet reads the answer of GET /admin/api+path on the server at base,
// as the demo user admin with password, into out.
func adminGet(t *testing.T, base, password, path string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/admin/api"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

// waitAudit waits until the audit log of the server at base (read as the
// demo admin with password) holds a record of action that match accepts:
// the APIs write theirs as the answer goes out.
func waitAudit(t *testing.T, base, password, action string, match func(admin.AuditEntry) bool) {
	t.Helper()
	waitUntil(t, 10*time.Second, "a "+action+" audit record as wanted", func() bool {
		var page admin.AuditPage
		adminGet(t, base, password, "/audit?limit=1000&action="+url.QueryEscape(action), &page)
		return slices.ContainsFunc(page.Entries, match)
	})
}

// waitSignLog waits until the signing log of the server at base holds a
// record of user that match accepts.
func waitSignLog(t *testing.T, base, password, user string, match func(admin.SignRecord) bool) {
	t.Helper()
	waitUntil(t, 10*time.Second, "a signature of "+user+" in the signing log", func() bool {
		var log admin.SignLogPage
		adminGet(t, base, password, "/signlog?user="+url.QueryEscape(user), &log)
		return slices.ContainsFunc(log.Records, match)
	})
}

// refusalBound keeps the refusals of unproven clients that a test makes
// (wrong passwords, untrusted certificates) within what each limiter of
// the server writes to the audit log — auth.MaxRefusalRows a second of the
// server's clock, the rest counted in the next row — so that every refusal
// the test looks for is written. Refusals are counted in the second their
// request ended in and, as the server may count them in the next one, one
// row is left spare.
type refusalBound struct {
	clock *testClock // the server's
	ended map[string][]time.Time
}

// before moves the server's clock on to the next second when limiter's
// current second is full, instead of waiting for it.
func (b refusalBound) before(limiter string) {
	if limiter == "" {
		return
	}
	now := b.clock.Now()
	sec := now.Truncate(time.Second)
	n := 0
	for _, end := range b.ended[limiter] {
		if !end.Before(sec) {
			n++
		}
	}
	if n >= auth.MaxRefusalRows-1 {
		b.clock.Advance(sec.Add(time.Second).Sub(now)) // the limiter's window ends
	}
}

// after counts a refusal of limiter that has ended.
func (b refusalBound) after(limiter string) {
	if limiter != "" {
		b.ended[limiter] = append(b.ended[limiter], b.clock.Now())
	}
}

// TestClientCertificateUsers checks, over real TLS connections, that the
// admin API and both vendor APIs take a user's client certificate as they
// take its password: a matching certificate acts as the user with the
// user's roles (what it signs verifies with the key's public key, over the
// digest sent); another CA's, an expired one and an unknown one get 403;
// no credentials 401 with a challenge; basic auth works as before; and
// every refusal of a certificate or a role is audited with the user (or
// the certificate), the client address and the reason.
func TestClientCertificateUsers(t *testing.T) {
	t.Parallel()
	s := startCertServer(t)
	basic := func(user string) string { return "basic:" + user + ":" + s.password }
	digest := sha256.Sum256([]byte("signed with a client certificate"))
	b64 := base64.StdEncoding.EncodeToString(digest[:])
	dsmSign := map[string]any{"key": map[string]any{"name": "signer-p256"}, "hash_alg": "SHA256", "hash": b64}
	nethsmSign := map[string]any{"mode": "ECDSA", "message": b64}
	const (
		adminAPI  = "/admin/api"
		dsmPath   = "/crypto/v1/sign"
		nethsmURL = "/api/v1/keys/signer-p256/sign"
	)
	type audited struct {
		action, target, actor, reason string
	}
	certActor := func(name string) string { return auth.CertName(s.certs[name].Leaf) }
	signerP256 := demoPublicKeys(t, vendorClient{t: t, base: s.url, rt: http.DefaultTransport}, s.password)["signer-p256"].(*ecdsa.PublicKey)
	tests := []struct {
		name               string
		cred, method, path string
		body               any
		want               int
		says               string
		audit              *audited // the refusal's audit record
		bounded            string   // the limiter of a refusal of an unproven client (refusalBound)
	}{
		// The admin API.
		{"admin: certificate of an admin", "cert:certadmin", "GET", adminAPI + "/workers", nil, 200, "CMSSigner", nil, ""},
		{"admin: certificate of an auditor reads", "cert:certauditor", "GET", adminAPI + "/audit/verify", nil, 200, `"intact":true`, nil, ""},
		{"admin: auditor may not activate", "cert:certauditor", "POST", adminAPI + "/tokens/demo/activate", map[string]any{}, 403,
			"User certauditor (roles auditor) may not POST /tokens/demo/activate: that needs the operator role.",
			&audited{"admin.refused", "POST /admin/api/tokens/demo/activate", "certauditor", "role"}, ""},
		{"admin: auditor may not deactivate", "cert:certauditor", "POST", adminAPI + "/tokens/demo/deactivate", map[string]any{}, 403,
			"that needs the operator role", &audited{"admin.refused", "POST /admin/api/tokens/demo/deactivate", "certauditor", "role"}, ""},
		{"admin: operator may not reload the configuration", "cert:certoperator", "POST", adminAPI + "/reload", map[string]any{}, 403,
			"that needs the admin role", &audited{"admin.refused", "POST /admin/api/reload", "certoperator", "role"}, ""},
		{"admin: operator may not generate keys", "cert:certoperator", "POST", adminAPI + "/tokens/demo/keys", map[string]any{"alias": "k", "keySpec": "EC-P256"}, 403,
			"that needs the admin role", &audited{"admin.refused", "POST /admin/api/tokens/demo/keys", "certoperator", "role"}, ""},
		{"admin: a dsm user has no role here", "cert:certdsm", "GET", adminAPI + "/workers", nil, 403,
			"User certdsm has no role of the admin API", &audited{"admin.refused", "GET /admin/api/workers", "certdsm", "role"}, ""},
		{"admin: certificate of another CA", "cert:foreign", "GET", adminAPI + "/workers", nil, 403,
			"not issued by a CA this server trusts", &audited{"admin.refused", "GET /admin/api/workers", certActor("foreign"), auth.ReasonCertUntrusted}, "admin"},
		{"admin: expired certificate", "cert:expired", "GET", adminAPI + "/workers", nil, 403,
			"is expired or not yet valid", &audited{"admin.refused", "GET /admin/api/workers", certActor("expired"), auth.ReasonCertUntrusted}, "admin"},
		{"admin: serial not authorized", "cert:unknown", "GET", adminAPI + "/workers", nil, 403,
			"is not authorized for any user", &audited{"admin.refused", "GET /admin/api/workers", certActor("unknown"), auth.ReasonCertNoUser}, ""},
		{"admin: no credentials", "", "GET", adminAPI + "/workers", nil, 401, "Authentication required", nil, ""},
		{"admin: basic admin", basic("admin"), "GET", adminAPI + "/workers", nil, 200, "CMSSigner", nil, ""},
		{"admin: basic wrong password", "basic:admin:wrong", "GET", adminAPI + "/workers", nil, 401, "Wrong user name or password", nil, "admin"},
		{"admin: basic auditor may not activate", basic("auditor"), "POST", adminAPI + "/tokens/demo/activate", map[string]any{}, 403,
			"that needs the operator role", &audited{"admin.refused", "POST /admin/api/tokens/demo/activate", "auditor", "role"}, ""},
		{"admin: basic dsm user has no role here", basic("demo"), "GET", adminAPI + "/workers", nil, 403, "User demo has no role of the admin API", nil, "admin"},

		// The DSM API.
		{"dsm: certificate of a dsm app signs", "cert:certdsm", "POST", dsmPath, dsmSign, 200, "signature", nil, ""},
		{"dsm: certificate buys a session", "cert:certdsm", "POST", "/sys/v1/session/auth", nil, 200, "access_token", nil, ""},
		{"dsm: an admin may not sign", "cert:certadmin", "POST", dsmPath, dsmSign, 403,
			"User certadmin may not use the DSM API: that needs the dsm role.", &audited{"access.refused", "dsm", "certadmin", "role"}, ""},
		{"dsm: certificate of another CA", "cert:foreign", "POST", dsmPath, dsmSign, 403,
			"not issued by a CA this server trusts", &audited{"access.refused", "dsm", certActor("foreign"), auth.ReasonCertUntrusted}, "vendor"},
		{"dsm: expired certificate", "cert:expired", "POST", dsmPath, dsmSign, 403,
			"is expired or not yet valid", &audited{"access.refused", "dsm", certActor("expired"), auth.ReasonCertUntrusted}, "vendor"},
		{"dsm: serial not authorized", "cert:unknown", "POST", dsmPath, dsmSign, 403,
			"is not authorized for any user", &audited{"access.refused", "dsm", certActor("unknown"), auth.ReasonCertNoUser}, ""},
		{"dsm: no credentials", "", "POST", dsmPath, dsmSign, 401, "Authentication required", nil, ""},
		{"dsm: basic dsm app signs", basic("demo"), "POST", dsmPath, dsmSign, 200, "signature", nil, ""},
		{"dsm: basic admin may not sign", basic("admin"), "POST", dsmPath, dsmSign, 403,
			"User admin may not use the DSM API: that needs the dsm role.", &audited{"access.refused", "dsm", "admin", "not allowed"}, ""},
		{"dsm: basic admin buys no session", basic("admin"), "POST", "/sys/v1/session/auth", nil, 403,
			"User admin may not use the DSM API: that needs the dsm role.", &audited{"access.refused", "dsm", "admin", "not allowed"}, ""},
		{"dsm: basic wrong secret", "basic:demo:wrong", "POST", dsmPath, dsmSign, 401, "The API key was refused",
			&audited{"access.refused", "dsm", "demo", "wrong user name or secret"}, "vendor"},

		// The NetHSM API.
		{"nethsm: certificate of an operator signs", "cert:certoperator", "POST", nethsmURL, nethsmSign, 200, "signature", nil, ""},
		{"nethsm: an auditor may not sign", "cert:certauditor", "POST", nethsmURL, nethsmSign, 403,
			"User certauditor may not use the NetHSM API: that needs the operator role.", &audited{"access.refused", "nethsm", "certauditor", "role"}, ""},
		{"nethsm: certificate of another CA", "cert:foreign", "POST", nethsmURL, nethsmSign, 403,
			"not issued by a CA this server trusts", &audited{"access.refused", "nethsm", certActor("foreign"), auth.ReasonCertUntrusted}, "vendor"},
		{"nethsm: expired certificate", "cert:expired", "POST", nethsmURL, nethsmSign, 403,
			"is expired or not yet valid", &audited{"access.refused", "nethsm", certActor("expired"), auth.ReasonCertUntrusted}, "vendor"},
		{"nethsm: serial not authorized", "cert:unknown", "POST", nethsmURL, nethsmSign, 403,
			"is not authorized for any user", &audited{"access.refused", "nethsm", certActor("unknown"), auth.ReasonCertNoUser}, ""},
		{"nethsm: no credentials", "", "POST", nethsmURL, nethsmSign, 401, "Authentication required", nil, ""},
		{"nethsm: basic operator signs", basic("operator"), "POST", nethsmURL, nethsmSign, 200, "signature", nil, ""},
		{"nethsm: basic auditor may not sign", basic("auditor"), "POST", nethsmURL, nethsmSign, 403,
			"User auditor may not use the NetHSM API: that needs the operator role.", &audited{"access.refused", "nethsm", "auditor", "not allowed"}, ""},
		// The key list, which NetHSM also lets its administrators read: the
		// sentence names the role of Signet's configuration, as it does for
		// a certificate, not NetHSM's Operator or Administrator, which no
		// Signet user can be given.
		{"nethsm: basic auditor may not list keys", basic("auditor"), "GET", "/api/v1/keys", nil, 403,
			"User auditor may not use the NetHSM API: that needs the operator role.", &audited{"access.refused", "nethsm", "auditor", "not allowed"}, ""},
		{"nethsm: basic wrong passphrase", "basic:operator:wrong", "POST", nethsmURL, nethsmSign, 401, "Wrong user name or passphrase",
			&audited{"access.refused", "nethsm", "operator", "wrong user name or secret"}, "vendor"},
	}
	bound := refusalBound{clock: s.clock, ended: map[string][]time.Time{}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now().Add(-time.Second)
			bound.before(tt.bounded)
			defer bound.after(tt.bounded)
			resp := s.do(t, tt.cred, tt.method, tt.path, tt.body)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want || !strings.Contains(string(body), tt.says) {
				t.Fatalf("%d %s, want %d saying %q", resp.StatusCode, body, tt.want, tt.says)
			}
			if tt.want == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tt.want == http.StatusOK && (tt.path == dsmPath || tt.path == nethsmURL) {
				// Both APIs answer {"signature": base64}: ECDSA in ASN.1
				// over the digest sent.
				var signed struct {
					Signature []byte `json:"signature"`
				}
				if err := json.Unmarshal(body, &signed); err != nil || !ecdsa.VerifyASN1(signerP256, digest[:], signed.Signature) {
					t.Errorf("%s: the signature does not verify with signer-p256 over the digest sent (%v)", body, err)
				}
			}
			if tt.audit == nil {
				return
			}
			a := tt.audit
			waitAudit(t, s.url, s.password, a.action, func(e admin.AuditEntry) bool {
				return e.Actor == a.actor && strings.HasPrefix(e.Target, a.target) && !e.Time.Before(start) &&
					strings.HasPrefix(e.Details["reason"], a.reason) && e.Details["remote"] == "127.0.0.1"
			})
		})
	}

	// Signatures made with a certificate are in the signing log as the
	// user the certificate authenticates.
	for _, want := range []struct{ user, surface string }{{"certdsm", "dsm"}, {"certoperator", "nethsm"}} {
		waitSignLog(t, s.url, s.password, want.user, func(r admin.SignRecord) bool {
			return r.Surface == want.surface && r.Client == "127.0.0.1" && r.Result == "ok"
		})
	}
}

// TestCertUserNeedsClientCAs: a user with authorizedClients on a server
// that asks for no client certificates is refused alike by config check
// and by serve, and so is a malformed serial number.
func TestCertUserNeedsClientCAs(t *testing.T) {
	t.Parallel()
	rule := "    authorizedClients:\n      - {matchSubjectWithType: CERTIFICATE_SERIALNO, matchSubjectWithValue: %s, matchIssuerWithValue: 'CN=Client CA'}\n"
	tests := []struct{ name, serial, want string }{
		{"no client CAs", "2A", `User "robot" has authorizedClients, but the server accepts no client certificates: set server tls cert, key and clientCAs, or remove authorizedClients.`},
		{"malformed serial", "0xZZ", `matchSubjectWithValue "0xZZ" is not a serial number in hex.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			file := filepath.Join(dir, "signet.yaml")
			y := "users:\n  - name: robot\n    roles: [admin]\n" + fmt.Sprintf(rule, tt.serial)
			if err := os.WriteFile(file, []byte(y), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			if err := run(t.Context(), []string{"config", "check", file}, &out, &errb); err == nil || !strings.Contains(errb.String(), file+":5: "+tt.want) {
				t.Errorf("config check: %v\n%s, want %s:5: %s", err, errb.String(), file, tt.want)
			}
			errb.Reset()
			err := run(t.Context(), []string{"serve", "--data", filepath.Join(dir, "data"), "--config", file, "--listen", "127.0.0.1:0"}, &out, &errb)
			if err == nil || !strings.Contains(errb.String(), file+":5: "+tt.want) {
				t.Errorf("serve: %v\n%s, want it refused saying %s", err, errb.String(), tt.want)
			}
		})
	}
}

// TestAdminCLIWithClientCertificate: signet admin with --cert and no
// password acts as the certificate's user, with its roles.
func TestAdminCLIWithClientCertificate(t *testing.T) {
	t.Parallel()
	s := startCertServer(t)
	dir := t.TempDir()
	files := func(name string) []string {
		c := s.certs[name]
		key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		cert, keyFile := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
		if err := os.WriteFile(cert, demo.PEM(c.Leaf), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
			t.Fatal(err)
		}
		return []string{"--url", s.url, "--cacert", filepath.Join(s.data, "demo-ca.pem"), "--cert", cert, "--cert-key", keyFile}
	}
	tests := []struct {
		cert, command string
		ok            bool
		says          string
	}{
		{"certauditor", "status", true, "CMSSigner"},
		{"certoperator", "reload", false, "User certoperator (roles operator) may not POST /reload: that needs the admin role."},
		{"certdsm", "status", false, "User certdsm has no role of the admin API"},
		{"unknown", "status", false, "is not authorized for any user"},
	}
	for _, tt := range tests {
		t.Run(tt.cert+" "+tt.command, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(t.Context(), append([]string{"admin", tt.command}, files(tt.cert)...), &out, &errb)
			if (err == nil) != tt.ok || !strings.Contains(out.String()+errb.String(), tt.says) {
				t.Errorf("signet admin %s as %s: %v\n%s%s\nwant ok=%v saying %q", tt.command, tt.cert, err, out.String(), errb.String(), tt.ok, tt.says)
			}
		})
	}
}
