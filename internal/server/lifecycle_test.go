package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeDSM answers what a dsm token asks of a Fortanix DSM for one P-256
// key, and reports the session's life: a login on authed, a batch sign on
// entered (held until release is closed, when hold is set), the end of
// the session on terminated.
type fakeDSM struct {
	*httptest.Server
	key         *ecdsa.PrivateKey
	hold        bool
	authed      chan struct{}
	entered     chan struct{}
	release     chan struct{}
	terminated  chan struct{}
	once        sync.Once
	releaseOnce sync.Once
}

func newFakeDSM(t *testing.T, key *ecdsa.PrivateKey, hold bool) *fakeDSM {
	t.Helper()
	f := &fakeDSM{key: key, hold: hold, authed: make(chan struct{}, 100), entered: make(chan struct{}, 100),
		release: make(chan struct{}), terminated: make(chan struct{})}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /sys/v1/session/auth", func(w http.ResponseWriter, r *http.Request) {
		f.authed <- struct{}{}
		io.WriteString(w, `{"token_type":"Bearer","expires_in":600,"access_token":"session"}`)
	})
	mux.HandleFunc("GET /sys/v1/health", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /crypto/v1/keys", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `[{"kid":"kid-k","name":"k","obj_type":"EC","elliptic_curve":"NistP256","key_size":256,"pub_key":"%s"}]`, base64.StdEncoding.EncodeToString(der))
	})
	mux.HandleFunc("POST /crypto/v1/keys/batch/sign", func(w http.ResponseWriter, r *http.Request) {
		var items []struct {
			Hash string `json:"hash"`
		}
		json.NewDecoder(r.Body).Decode(&items)
		f.entered <- struct{}{}
		if f.hold {
			<-f.release
		}
		var out []map[string]any
		for _, it := range items {
			h, _ := base64.StdEncoding.DecodeString(it.Hash)
			sig, err := ecdsa.SignASN1(rand.Reader, f.key, h)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			out = append(out, map[string]any{"status": 200, "body": map[string]string{"kid": "kid-k", "signature": base64.StdEncoding.EncodeToString(sig)}})
		}
		json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("POST /sys/v1/session/terminate", func(w http.ResponseWriter, r *http.Request) {
		f.once.Do(func() { close(f.terminated) })
		w.WriteHeader(http.StatusNoContent)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	t.Cleanup(f.let) // a failed test must not leave a request held (shutdown waits on it)
	return f
}

// let lets held sign calls go on.
func (f *fakeDSM) let() { f.releaseOnce.Do(func() { close(f.release) }) }

// waitFor fails the test when ch does not deliver within a bound that
// only a broken server reaches.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not happen", what)
	}
}

// closedYet reports whether ch is closed now.
func closedYet(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// dsmConfig is a configuration with a dsm token at url and a PlainSigner
// on its key k.
const dsmConfig = `tokens:
  - name: hsm
    type: dsm
    properties:
      URL: %s
      USER: app
      CHAINDIR: chains
      TIMEOUT: 10s
    pin: {file: secret}
workers:
  - name: P
    kind: PlainSigner
    token: hsm
    key: k
    properties:
      AUTHTYPE: NOAUTH
      SIGNATUREALGORITHM: SHA256withECDSA
`

// TestTokenLifeCycle: through the server's wiring (Run), a reload that
// replaces a token closes the old one (its DSM session ends) only after
// the request that holds it has finished, and shutdown closes every token
// left (issue 14: a replaced token was never closed, nor any at
// shutdown).
func TestTokenLifeCycle(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "k"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "chains"), 0o700)
	if err := os.WriteFile(filepath.Join(dir, "chains", "k.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("app-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	first, second := newFakeDSM(t, key, true), newFakeDSM(t, key, false)
	cfg := filepath.Join(dir, "signet.yaml")
	writeCfg := func(url string) {
		if err := os.WriteFile(cfg, fmt.Appendf(nil, dsmConfig, url), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg(first.URL)
	reload := make(chan struct{})
	addr, stop := runServer(t, cfg, dir, reload)
	waitFor(t, first.authed, "the first token's login")

	sign := func() (int, string) {
		d := sha256.Sum256([]byte("document"))
		resp, err := http.Post("http://"+addr+"/signserver/worker/P", "application/octet-stream", strings.NewReader(string(d[:])))
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	held := make(chan string, 1)
	go func() {
		code, body := sign()
		held <- fmt.Sprintf("%d %.200s", code, body)
	}()
	waitFor(t, first.entered, "the held request's sign call")

	writeCfg(second.URL) // the token's URL changes: a new token replaces it
	reload <- struct{}{}
	// The trigger is read once a reload is over: this second one (of the
	// same files, which keeps the token) is taken when the first is done.
	reload <- struct{}{}
	waitFor(t, second.authed, "the new token's login after the reload")
	if code, body := sign(); code != 200 {
		t.Fatalf("a request after the reload: %d %.200s", code, body)
	}
	if closedYet(first.terminated) {
		t.Fatal("the replaced token was closed while a request still held it")
	}
	first.let()
	if got := <-held; !strings.HasPrefix(got, "200 ") {
		t.Errorf("the request that held the replaced token: %s", got)
	}
	waitFor(t, first.terminated, "the replaced token's close once its request finished")

	if closedYet(second.terminated) {
		t.Fatal("the token in force was closed before shutdown")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !closedYet(second.terminated) {
		t.Error("shutdown returned with the token in force still open (its DSM session not ended)")
	}
}
