// Package revocation fetches certificate revocation lists from the HTTP
// distribution points certificates name, with a timeout and a cache, and
// checks a certificate against CRLs. PAdES-BASELINE-LT signing embeds what
// it fetches; validators use it when a signature carries no revocation data.
package revocation

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ErrNoData is wrapped when no revocation data could be had for a
// certificate.
var ErrNoData = errors.New("revocation: no revocation data")

// maxCRLSize bounds one download: a CRL larger than this is refused.
const maxCRLSize = 16 << 20

// Fetcher downloads CRLs over HTTP and keeps each until its nextUpdate (at
// most MaxAge). It is safe for concurrent use.
type Fetcher struct {
	Client  *http.Client  // default: a client with Timeout
	Timeout time.Duration // per download; default 10s
	MaxAge  time.Duration // longest a CRL is cached; default 1h
	Now     func() time.Time

	mu    sync.Mutex
	cache map[string]entry
}

type entry struct {
	der     []byte
	crl     *x509.RevocationList
	expires time.Time
}

// CRLs returns the CRLs (DER and parsed) of every HTTP distribution point of
// cert, checked against issuer. It fails with ErrNoData when cert names
// distribution points and none could be fetched.
func (f *Fetcher) CRLs(ctx context.Context, cert, issuer *x509.Certificate) ([][]byte, error) {
	var out [][]byte
	var errs []error
	for _, url := range cert.CRLDistributionPoints {
		if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
			continue
		}
		e, err := f.fetch(ctx, url)
		if err == nil {
			err = e.crl.CheckSignatureFrom(issuer)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", url, err))
			continue
		}
		out = append(out, e.der)
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, fmt.Errorf("%w for %s: %w", ErrNoData, cert.Subject, errors.Join(errs...))
	}
	return out, nil
}

func (f *Fetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Fetcher) fetch(ctx context.Context, url string) (entry, error) {
	now := f.now()
	f.mu.Lock()
	e, ok := f.cache[url]
	f.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e, nil
	}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return entry{}, err
	}
	client := f.Client
	if client == nil {
		client = &http.Client{Timeout: timeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		return entry{}, fmt.Errorf("the CRL could not be fetched: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return entry{}, fmt.Errorf("the CRL server answered %s", resp.Status)
	}
	der, err := io.ReadAll(io.LimitReader(resp.Body, maxCRLSize+1))
	if err != nil {
		return entry{}, fmt.Errorf("the CRL could not be read: %w", err)
	}
	if len(der) > maxCRLSize {
		return entry{}, fmt.Errorf("the CRL is larger than %d bytes", maxCRLSize)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return entry{}, fmt.Errorf("the answer is not a DER CRL: %w", err)
	}
	maxAge := f.MaxAge
	if maxAge <= 0 {
		maxAge = time.Hour
	}
	e = entry{der: der, crl: crl, expires: now.Add(maxAge)}
	if !crl.NextUpdate.IsZero() && crl.NextUpdate.Before(e.expires) {
		e.expires = crl.NextUpdate
	}
	f.mu.Lock()
	if f.cache == nil {
		f.cache = map[string]entry{}
	}
	f.cache[url] = e
	f.mu.Unlock()
	return e, nil
}

// Status is a certificate's revocation status according to some CRLs.
type Status struct {
	Known      bool // a CRL of the issuer, current at the time asked, was found
	Revoked    bool
	RevokedAt  time.Time // when Revoked
	ThisUpdate time.Time
}

// Check looks cert up in the CRLs (DER) of its issuer, signed by issuer. A CRL counts when
// its issuer signed it and it was issued at or after at (it then tells
// whether cert was revoked at at) or is current at at (thisUpdate ≤ at <
// nextUpdate), or when it lists cert as revoked.
func Check(cert, issuer *x509.Certificate, crls [][]byte, at time.Time) Status {
	var st Status
	if cert.CheckSignatureFrom(issuer) != nil {
		return st // issuer did not issue cert: its CRLs say nothing of it
	}
	for _, der := range crls {
		crl, err := x509.ParseRevocationList(der)
		// The CRL must be the certificate's issuer's (serial numbers are
		// unique per issuer only) and signed by it.
		if err != nil || !bytes.Equal(crl.RawIssuer, cert.RawIssuer) || crl.CheckSignatureFrom(issuer) != nil {
			continue
		}
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
				return Status{Known: true, Revoked: true, RevokedAt: e.RevocationTime, ThisUpdate: crl.ThisUpdate}
			}
		}
		// Issued at or after at (a day's grace), or current at at: CAs
		// publish CRLs days apart and roots their ARLs months apart, and a
		// CRL within its validity period is the CA's word on at.
		issuedAfter := !crl.ThisUpdate.Before(at.Add(-24 * time.Hour))
		current := !crl.NextUpdate.IsZero() && !at.Before(crl.ThisUpdate) && at.Before(crl.NextUpdate)
		if (issuedAfter || current) && (st.ThisUpdate.IsZero() || crl.ThisUpdate.After(st.ThisUpdate)) {
			st = Status{Known: true, ThisUpdate: crl.ThisUpdate}
		}
	}
	return st
}
