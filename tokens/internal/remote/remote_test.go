package remote

import (
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/signet-project/signet/internal/demo"
)

func testCerts(t *testing.T) (a, b *x509.Certificate) {
	t.Helper()
	ca, err := demo.NewCA("remote test CA")
	if err != nil {
		t.Fatal(err)
	}
	key, err := demo.NewKey("EC-P256")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue("remote test signer", key.Public(), demo.DocumentSigning, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca.Cert, leaf
}

// reparse returns a new value of the same certificate.
func reparse(t *testing.T, c *x509.Certificate) *x509.Certificate {
	t.Helper()
	out, err := x509.ParseCertificate(c.Raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestChainCache(t *testing.T) {
	ca, leaf := testCerts(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var c ChainCache
	if _, ok := c.Get("k", t0); ok {
		t.Fatal("an empty cache has a chain")
	}
	first := c.Put("k", []*x509.Certificate{leaf, ca}, t0)
	tests := []struct {
		name string
		at   time.Duration
		ok   bool
	}{
		{"fresh", time.Second, true},
		{"just before the TTL", DefaultChainTTL - time.Nanosecond, true},
		{"at the TTL", DefaultChainTTL, false},
		{"clock went back", -time.Second, false},
	}
	for _, tt := range tests {
		got, ok := c.Get("k", t0.Add(tt.at))
		if ok != tt.ok || ok && &got[0] != &first[0] {
			t.Errorf("%s: Get = %v, %v; want %v and the stored chain", tt.name, got, ok, tt.ok)
		}
	}
	// The same certificates read again keep their values; others replace
	// them.
	again := c.Put("k", []*x509.Certificate{reparse(t, leaf), reparse(t, ca)}, t0.Add(time.Minute))
	if again[0] != first[0] || again[1] != first[1] {
		t.Error("Put of the same certificates returned new values")
	}
	other := c.Put("k", []*x509.Certificate{reparse(t, ca)}, t0.Add(2*time.Minute))
	if len(other) != 1 || other[0] == first[1] {
		t.Error("Put of another chain did not store it")
	}
	c.Forget()
	if _, ok := c.Get("k", t0.Add(2*time.Minute)); ok {
		t.Error("Forget kept a chain")
	}
	short := ChainCache{TTL: time.Second}
	short.Put("k", []*x509.Certificate{leaf}, t0)
	if _, ok := short.Get("k", t0.Add(2*time.Second)); ok {
		t.Error("a 1 s TTL served a chain 2 s old")
	}
}

func TestNewTransport(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.EnableHTTP2 = true // offered, and declined: HTTP/1.1 costs less CPU per request
	srv.StartTLS()
	defer srv.Close()
	dir := t.TempDir()
	caPEM := string(demo.PEM(srv.Certificate()))
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, []byte(caPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	other, _ := testCerts(t)
	otherFile := filepath.Join(dir, "other.pem")
	if err := os.WriteFile(otherFile, demo.PEM(other), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(emptyFile, []byte("no certificates here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		bundle    string
		newErr    bool
		reachable bool
	}{
		{"CA file", caFile, false, true},
		{"CA PEM text", caPEM, false, true},
		{"system roots", "", false, false},
		{"another CA", otherFile, false, false},
		{"missing file", filepath.Join(dir, "missing.pem"), true, false},
		{"no certificate", emptyFile, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := NewTransport(tt.bundle, 2)
			if (err != nil) != tt.newErr {
				t.Fatalf("NewTransport: %v, want error %v", err, tt.newErr)
			}
			if err != nil {
				return
			}
			defer tr.CloseIdleConnections()
			c := NoRedirects(&http.Client{Transport: tr, Timeout: 5 * time.Second})
			resp, err := c.Get(srv.URL + "/")
			if (err == nil) != tt.reachable {
				t.Fatalf("GET: %v, want reachable %v", err, tt.reachable)
			}
			if err != nil {
				return
			}
			resp.Body.Close()
			if resp.ProtoMajor != 1 {
				t.Errorf("GET went over %s, want HTTP/1.1", resp.Proto)
			}
			resp, err = c.Get(srv.URL + "/redirect")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusFound {
				t.Errorf("redirect: %d, want 302 returned, not followed", resp.StatusCode)
			}
		})
	}
}
