// Package validate checks CMS/CAdES signatures and the PAdES signatures of
// PDF documents, and reports on each the way ETSI EN 319 102-1 does: an
// indication (TOTAL-PASSED, TOTAL-FAILED, INDETERMINATE), a sub-indication,
// and the baseline level the signature reaches. It is a set of pure
// functions over bytes, trust anchors and revocation data; the only I/O is
// the optional Online source of CRLs.
package validate

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/formats/revocation"
	"github.com/signet-project/signet/formats/tsp"
)

// Indications (ETSI EN 319 102-1, 5.1.3).
const (
	TotalPassed   = "TOTAL-PASSED"
	TotalFailed   = "TOTAL-FAILED"
	Indeterminate = "INDETERMINATE"
)

// Sub-indications (ETSI EN 319 102-1, 5.1.3) this package reports.
const (
	FormatFailure             = "FORMAT_FAILURE"
	HashFailure               = "HASH_FAILURE"
	SigCryptoFailure          = "SIG_CRYPTO_FAILURE"
	Revoked                   = "REVOKED"
	RevokedNoPOE              = "REVOKED_NO_POE"
	Expired                   = "EXPIRED"
	OutOfBoundsNoPOE          = "OUT_OF_BOUNDS_NO_POE"
	NoCertificateChainFound   = "NO_CERTIFICATE_CHAIN_FOUND"
	NoSigningCertificateFound = "NO_SIGNING_CERTIFICATE_FOUND"
	ChainConstraintsFailure   = "CHAIN_CONSTRAINTS_FAILURE"
	TryLater                  = "TRY_LATER"
	SignedDataNotFound        = "SIGNED_DATA_NOT_FOUND"
)

// CRLSource fetches CRLs for a certificate (revocation.Fetcher does, over
// HTTP).
type CRLSource interface {
	CRLs(ctx context.Context, cert, issuer *x509.Certificate) ([][]byte, error)
}

// Options are the validation policy's inputs.
type Options struct {
	// Roots are the trust anchors. Required.
	Roots []*x509.Certificate
	// Time is the validation time; default now.
	Time time.Time
	// Online, when set, is asked for CRLs a signature does not carry.
	Online CRLSource
}

func (o Options) now() time.Time {
	if o.Time.IsZero() {
		return time.Now()
	}
	return o.Time
}

// Certificate describes one certificate of a chain.
type Certificate struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serialNumber"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
}

func describe(c *x509.Certificate) Certificate {
	return Certificate{Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: c.SerialNumber.Text(16), NotBefore: c.NotBefore, NotAfter: c.NotAfter}
}

// Revocation is the revocation status found for a chain.
type Revocation struct {
	// Status is "good", "revoked", "unknown" (no data found) or
	// "not-checked" (the chain names no revocation service).
	Status    string     `json:"status"`
	Source    string     `json:"source,omitempty"` // "DSS", "online"
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
	Subject   string     `json:"subject,omitempty"` // the revoked or unknown certificate
}

// TimeStamp describes a signature time-stamp.
type TimeStamp struct {
	Time  time.Time `json:"time"`
	TSA   string    `json:"tsa"`
	Valid bool      `json:"valid"`
	// Problem says why the time-stamp does not count, when it does not.
	Problem string `json:"problem,omitempty"`
}

// SignatureReport is the validation report of one signature.
type SignatureReport struct {
	ID            string `json:"id"`     // PDF field name or "signer-1"
	Format        string `json:"format"` // PAdES, CAdES or CMS
	SubFilter     string `json:"subFilter,omitempty"`
	Indication    string `json:"indication"`
	SubIndication string `json:"subIndication,omitempty"`
	// Level is the baseline level reached, such as PAdES-BASELINE-LT;
	// empty when the signature is not an AdES baseline signature.
	Level               string        `json:"level,omitempty"`
	Signer              string        `json:"signer,omitempty"`
	SigningTime         *time.Time    `json:"signingTime,omitempty"` // claimed: /M or signing-time
	TimeStamp           *TimeStamp    `json:"timeStamp,omitempty"`
	ContentIntact       bool          `json:"contentIntact"`
	SignatureIntact     bool          `json:"signatureIntact"`
	CoversWholeDocument *bool         `json:"coversWholeDocument,omitempty"`
	Chain               []Certificate `json:"chain,omitempty"`
	TrustAnchor         string        `json:"trustAnchor,omitempty"`
	Revocation          *Revocation   `json:"revocation,omitempty"`
	Reason              string        `json:"reason,omitempty"`
	Location            string        `json:"location,omitempty"`
	CertificationLevel  int           `json:"certificationLevel,omitempty"`
	// Messages explain the indication and anything notable.
	Messages []string `json:"messages,omitempty"`
}

// Report is the validation report of a document: one entry per signature.
type Report struct {
	// Indication is the worst of the signatures' indications
	// (TOTAL-FAILED before INDETERMINATE before TOTAL-PASSED);
	// INDETERMINATE when there is no signature.
	Indication     string            `json:"indication"`
	ValidationTime time.Time         `json:"validationTime"`
	Signatures     []SignatureReport `json:"signatures"`
}

func (r *Report) summarise() {
	r.Indication = Indeterminate
	if len(r.Signatures) == 0 {
		return
	}
	r.Indication = TotalPassed
	for _, s := range r.Signatures {
		switch {
		case s.Indication == TotalFailed:
			r.Indication = TotalFailed
		case s.Indication == Indeterminate && r.Indication == TotalPassed:
			r.Indication = Indeterminate
		}
	}
}

// evidence is what a signature brings besides its SignedData.
type evidence struct {
	certs []*x509.Certificate // extra certificates (DSS)
	crls  [][]byte            // DER CRLs (DSS)
	lt    bool                // the DSS is present (PAdES)
}

// signerCheck validates signer 0 of sd over a content digest computed by
// the caller and fills r. format is "PAdES" or "CAdES"/"CMS".
func signerCheck(ctx context.Context, r *SignatureReport, sd *cms.SignedData, digest func(crypto.Hash) ([]byte, error), ev evidence, opts Options) {
	fail := func(ind, sub, msg string) {
		r.Indication, r.SubIndication = ind, sub
		r.Messages = append(r.Messages, msg)
	}
	if len(sd.Signers) == 0 {
		fail(Indeterminate, FormatFailure, "The SignedData has no signer.")
		return
	}
	if len(sd.Signers) > 1 {
		r.Messages = append(r.Messages, fmt.Sprintf("The SignedData has %d signers; the first is validated.", len(sd.Signers)))
	}
	si := sd.Signers[0]
	cert, err := sd.SignerCertificate(0, ev.certs...)
	if err != nil {
		fail(Indeterminate, NoSigningCertificateFound, "The signer's certificate is neither in the signature nor in the document.")
		return
	}
	r.Signer = cert.Subject.String()
	if !si.SigningTime.IsZero() && r.SigningTime == nil {
		t := si.SigningTime
		r.SigningTime = &t
	}
	d, err := digest(si.Algorithm.Hash)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		fail(Indeterminate, TryLater, "The validation ran out of time before this signature's content was hashed: validate the document again, or one with fewer signatures.")
		return
	}
	if err != nil {
		fail(Indeterminate, SignedDataNotFound, err.Error())
		return
	}
	if si.RawSignedAttrs != nil && !bytes.Equal(si.MessageDigest, d) {
		fail(TotalFailed, HashFailure, "The signed content was changed: its digest differs from the signature's message-digest.")
		return
	}
	// Without signed attributes the signature value is over the content
	// digest itself: the content is known intact only once it verifies.
	r.ContentIntact = si.RawSignedAttrs != nil
	if si.HasSigningCertificateV2 && si.SigningCertificateAlg == 0 {
		fail(Indeterminate, NoSigningCertificateFound, "The signing-certificate-v2 attribute names the signer's certificate by a hash algorithm Signet does not know: the certificate cannot be identified.")
		return
	}
	if err := sd.VerifyDigest(0, cert, d); err != nil {
		msg := "The signature value does not verify with the signer's certificate: "
		if si.RawSignedAttrs == nil {
			msg = "The signature value does not verify with the signer's certificate over this content (it has no signed attributes, so a changed content and a bad signature look alike): "
		}
		fail(TotalFailed, SigCryptoFailure, msg+err.Error())
		return
	}
	r.ContentIntact, r.SignatureIntact = true, true

	// Level: CAdES/PAdES baseline needs signing-certificate-v2.
	level := ""
	if si.HasSigningCertificateV2 {
		level = "B-B"
	}

	// The signature time-stamp gives a proof of existence (POE).
	var poe time.Time
	var tsaChain []*x509.Certificate
	for _, a := range si.UnsignedAttributes {
		if !a.Type.Equal(cms.OIDSignatureTimeStampToken) || len(a.Values) == 0 {
			continue
		}
		ts, chain := checkTimeStamp(a.Values[0].FullBytes, si.Signature, ev, opts)
		tsaChain = chain
		r.TimeStamp = ts
		if ts.Valid {
			poe = ts.Time
			if level != "" {
				level = "B-T"
			}
		} else {
			r.Messages = append(r.Messages, "The signature time-stamp does not count: "+ts.Problem)
		}
		break
	}

	r.Level = level // reached so far; B-LT is decided once revocation is
	// The chain to a trust anchor, at the validation time, or failing that
	// at the time the time-stamp proves.
	now := opts.now()
	chain, err := buildChain(cert, sd.Certificates, ev.certs, opts.Roots, now, x509.ExtKeyUsageAny)
	if err != nil {
		var inv x509.CertificateInvalidError
		switch {
		case errors.As(err, &inv) && inv.Reason == x509.Expired:
			if !poe.IsZero() {
				if c2, err2 := buildChain(cert, sd.Certificates, ev.certs, opts.Roots, poe, x509.ExtKeyUsageAny); err2 == nil {
					chain, err = c2, nil
					r.Messages = append(r.Messages, "The signer's certificate has expired since; the time-stamp proves the signature existed while it was valid.")
					break
				}
				if poe.After(cert.NotAfter) {
					fail(TotalFailed, Expired, "The signature was made after the signer's certificate expired, as its time-stamp proves.")
					return
				}
			}
			if err != nil {
				fail(Indeterminate, OutOfBoundsNoPOE, "The signer's certificate (or one of its issuers) is expired or not yet valid, and no time-stamp proves the signature was made while it was valid.")
				return
			}
		case errors.As(err, new(x509.UnknownAuthorityError)):
			fail(Indeterminate, NoCertificateChainFound, "No chain from the signer's certificate to a trusted root was found; configure the issuing CA as a trust anchor if it is one.")
			return
		default:
			fail(Indeterminate, ChainConstraintsFailure, "The signer's certificate chain is not acceptable: "+err.Error())
			return
		}
	}
	for _, c := range chain {
		r.Chain = append(r.Chain, describe(c))
	}
	r.TrustAnchor = chain[len(chain)-1].Subject.String()

	// Revocation of every certificate but the anchor.
	at := now
	if !poe.IsZero() {
		at = poe
	}
	rev, complete := checkRevocation(ctx, chain, ev, opts, at)
	r.Revocation = rev
	switch rev.Status {
	case "revoked":
		switch {
		case !poe.IsZero() && poe.Before(*rev.RevokedAt):
			r.Messages = append(r.Messages, "A certificate of the chain was revoked after the time-stamp proves the signature existed.")
		case !poe.IsZero():
			fail(TotalFailed, Revoked, fmt.Sprintf("The certificate %s was revoked at %s, before the signature's time-stamp.", rev.Subject, rev.RevokedAt.Format(time.RFC3339)))
			return
		default:
			fail(Indeterminate, RevokedNoPOE, fmt.Sprintf("The certificate %s was revoked at %s, and no time-stamp proves the signature was made before.", rev.Subject, rev.RevokedAt.Format(time.RFC3339)))
			return
		}
	case "unknown":
		fail(Indeterminate, TryLater, fmt.Sprintf("No revocation data was found for %s; validate again online or with a B-LT signature.", rev.Subject))
		return
	}
	if level == "B-T" && ev.lt && complete {
		// B-LT also needs the TSA chain's revocation data in the DSS.
		tsaRev, tsaComplete := checkRevocation(ctx, tsaChain, evidence{crls: ev.crls}, Options{}, poe)
		switch {
		case tsaRev.Status == "revoked":
			r.Messages = append(r.Messages, fmt.Sprintf("The TSA certificate %s is revoked according to the DSS.", tsaRev.Subject))
		case tsaComplete:
			r.Level = "B-LT"
		default:
			r.Messages = append(r.Messages, "The DSS lacks revocation data for the time-stamp authority's chain, so the level stays B-T.")
		}
	}
	r.Indication = TotalPassed
}

// buildChain verifies cert to one of roots at t, for usage (ExtKeyUsageAny:
// whatever the certificate's extended key usage).
func buildChain(cert *x509.Certificate, embedded, extra, roots []*x509.Certificate, t time.Time, usage x509.ExtKeyUsage) ([]*x509.Certificate, error) {
	rp, ip := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range roots {
		rp.AddCert(c)
	}
	for _, c := range slices.Concat(embedded, extra) {
		ip.AddCert(c)
	}
	chains, err := cert.Verify(x509.VerifyOptions{Roots: rp, Intermediates: ip, CurrentTime: t, KeyUsages: []x509.ExtKeyUsage{usage}})
	if err != nil {
		return nil, err
	}
	return chains[0], nil
}

// checkRevocation looks each certificate of chain but the anchor up: in the
// DSS CRLs first, then online. complete reports whether the DSS alone held
// what was needed (B-LT). chain has been verified to a trust anchor, so the
// distribution points fetched are those trusted CAs wrote, never URLs an
// anonymous signature chose.
func checkRevocation(ctx context.Context, chain []*x509.Certificate, ev evidence, opts Options, at time.Time) (*Revocation, bool) {
	rev := &Revocation{Status: "not-checked"}
	complete := true
	for i := 0; i+1 < len(chain); i++ {
		c, issuer := chain[i], chain[i+1]
		if len(c.CRLDistributionPoints) == 0 && len(c.OCSPServer) == 0 {
			continue
		}
		st := revocation.Check(c, issuer, ev.crls, at)
		src := "DSS"
		if !st.Known {
			complete = false
			if opts.Online != nil {
				if crls, err := opts.Online.CRLs(ctx, c, issuer); err == nil {
					st = revocation.Check(c, issuer, crls, at)
					src = "online"
				}
			}
		}
		switch {
		case st.Revoked:
			t := st.RevokedAt
			return &Revocation{Status: "revoked", Source: src, RevokedAt: &t, Subject: c.Subject.String()}, false
		case !st.Known:
			return &Revocation{Status: "unknown", Subject: c.Subject.String()}, false
		}
		if rev.Status != "good" || src == "online" {
			rev = &Revocation{Status: "good", Source: src}
		}
	}
	return rev, complete
}

// checkTimeStamp validates a signature time-stamp token over signature and
// returns it with the TSA's chain to a trust anchor (nil when not valid).
func checkTimeStamp(token, signature []byte, ev evidence, opts Options) (*TimeStamp, []*x509.Certificate) {
	ts := &TimeStamp{}
	sd, err := cms.Parse(token)
	if err != nil {
		ts.Problem = "it is not a CMS SignedData"
		return ts, nil
	}
	if err := sd.Verify(nil, ev.certs...); err != nil {
		ts.Problem = "its signature does not verify: " + err.Error()
		return ts, nil
	}
	tok, err := timestamp.Parse(token)
	if err != nil {
		ts.Problem = "its TSTInfo cannot be read: " + err.Error()
		return ts, nil
	}
	ts.Time = tok.Time
	cert, err := sd.SignerCertificate(0, ev.certs...)
	if err != nil {
		ts.Problem = "the TSA certificate is missing"
		return ts, nil
	}
	ts.TSA = cert.Subject.String()
	h := tok.HashAlgorithm.New()
	h.Write(signature)
	if !bytes.Equal(h.Sum(nil), tok.HashedMessage) {
		ts.Problem = "its message imprint is not the digest of the signature value"
		return ts, nil
	}
	// Only a time-stamping certificate vouches for a time (RFC 3161
	// section 2.3): a token signed with any other certified key, such as
	// the signer's own, would let a signer backdate its signature past the
	// revocation of its certificate.
	if err := tsp.CheckTimeStampingEKU(cert); err != nil {
		ts.Problem = err.Error()
		return ts, nil
	}
	chain, err := buildChain(cert, sd.Certificates, ev.certs, opts.Roots, tok.Time, x509.ExtKeyUsageTimeStamping)
	if err != nil {
		ts.Problem = "the TSA certificate does not chain to a trust anchor as a time-stamping certificate: " + err.Error()
		return ts, nil
	}
	ts.Valid = true
	return ts, chain
}

// digestReader returns a digest function over content read once; it
// buffers nothing but hashes with every algorithm asked for in turn, so the
// content must be re-readable: content is a function returning a fresh
// reader. It stops when ctx ends: a document can make one content many
// signatures' (one signature dictionary under many fields), each hashed
// whole, and the validation's deadline must hold all the same.
func digestReader(ctx context.Context, content func() io.Reader) func(crypto.Hash) ([]byte, error) {
	return func(h crypto.Hash) ([]byte, error) {
		if !h.Available() {
			return nil, fmt.Errorf("the digest algorithm %v is not supported", h)
		}
		r := content()
		if r == nil {
			return nil, errors.New("the signed content could not be located")
		}
		hh := h.New()
		if _, err := io.Copy(hh, ctxReader{ctx, r}); err != nil {
			return nil, err
		}
		return hh.Sum(nil), nil
	}
}

// ctxReader is a reader that fails once ctx has ended, checked at every
// read (io.Copy's 32 KiB).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
