package revocation_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-project/signet/formats/revocation"
)

// ca is a root that issues a certificate naming url as its CRL
// distribution point, and its CRL revoking revoked (when set).
func ca(t *testing.T, url string, revoked bool) (leaf, root *x509.Certificate, crl []byte) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "root"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	root, _ = x509.ParseCertificate(der)
	lk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	lt := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "leaf"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), CRLDistributionPoints: []string{url}}
	der, err = x509.CreateCertificate(rand.Reader, lt, root, lk.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ = x509.ParseCertificate(der)
	var entries []x509.RevocationListEntry
	if revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: big.NewInt(7), RevocationTime: time.Now().Add(-time.Minute)})
	}
	crl, err = x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Minute),
		NextUpdate: time.Now().Add(time.Hour), RevokedCertificateEntries: entries}, root, k)
	if err != nil {
		t.Fatal(err)
	}
	return leaf, root, crl
}

func TestFetcherCachesUntilNextUpdate(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	var crl []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(crl)
	}))
	defer srv.Close()
	leaf, root, der := ca(t, srv.URL+"/ca.crl", true)
	crl = der
	now := time.Now()
	f := &revocation.Fetcher{Now: func() time.Time { return now }}
	for range 3 {
		got, err := f.CRLs(context.Background(), leaf, root)
		if err != nil || len(got) != 1 {
			t.Fatalf("CRLs: %d, %v", len(got), err)
		}
		if st := revocation.Check(leaf, root, got, now); !st.Known || !st.Revoked {
			t.Fatalf("status %+v, want revoked", st)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("%d downloads, want 1 (cached)", n)
	}
	now = now.Add(2 * time.Hour) // past nextUpdate
	if _, err := f.CRLs(context.Background(), leaf, root); err != nil || hits.Load() != 2 {
		t.Errorf("after nextUpdate: %v, %d downloads", err, hits.Load())
	}
}

func TestFetcherFailures(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("not a CRL")) }))
	defer garbage.Close()
	missing := httptest.NewServer(http.NotFoundHandler())
	defer missing.Close()
	for name, url := range map[string]string{"hanging": hang.URL, "garbage": garbage.URL, "404": missing.URL} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			leaf, root, _ := ca(t, url+"/ca.crl", false)
			f := &revocation.Fetcher{Timeout: 300 * time.Millisecond}
			start := time.Now()
			_, err := f.CRLs(context.Background(), leaf, root)
			if !errors.Is(err, revocation.ErrNoData) {
				t.Fatalf("err %v, want ErrNoData", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v with a 300ms timeout", d)
			}
		})
	}
	// A CRL signed by another CA does not count.
	leaf, _, _ := ca(t, "http://127.0.0.1:1/x.crl", false)
	_, otherRoot, otherCRL := ca(t, "http://127.0.0.1:1/y.crl", true)
	if st := revocation.Check(leaf, otherRoot, [][]byte{otherCRL}, time.Now()); st.Known {
		t.Errorf("a CRL of another issuer counted: %+v", st)
	}
}

// TestCheckCRLCurrentAtTime: a CRL counts when it is current at the time
// asked (thisUpdate ≤ at < nextUpdate) or was issued after it. Real CAs
// publish CRLs days apart and roots their ARLs months apart: a CRL inside
// its validity period is the CA's word on the time asked, and Signet's
// own B-LT signatures embed such CRLs from the fetcher's cache.
func TestCheckCRLCurrentAtTime(t *testing.T) {
	t.Parallel()
	now := time.Now()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rt := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "root"}, NotBefore: now.Add(-365 * 24 * time.Hour),
		NotAfter: now.Add(365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, rt, rt, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(der)
	lk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err = x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}, root, lk.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	day := 24 * time.Hour
	for _, c := range []struct {
		name       string
		this, next time.Time
		at         time.Time
		known      bool
	}{
		{"issued a minute ago", now.Add(-time.Minute), now.Add(time.Hour), now, true},
		{"a weekly CRL issued three days ago", now.Add(-3 * day), now.Add(4 * day), now, true},
		{"a yearly ARL issued five months ago", now.Add(-150 * day), now.Add(215 * day), now, true},
		{"issued after the time asked", now.Add(-time.Minute), now.Add(time.Hour), now.Add(-30 * day), true},
		{"expired before the time asked", now.Add(-10 * day), now.Add(-3 * day), now, false},
		{"issued after the time asked, expired since", now.Add(-10 * day), now.Add(-3 * day), now.Add(-20 * day), true},
	} {
		crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: c.this, NextUpdate: c.next}, root, k)
		if err != nil {
			t.Fatal(err)
		}
		if st := revocation.Check(leaf, root, [][]byte{crl}, c.at); st.Known != c.known || st.Revoked {
			t.Errorf("%s: %+v, want known %v, not revoked", c.name, st, c.known)
		}
	}
}
