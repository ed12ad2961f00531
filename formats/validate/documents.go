package validate

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"

	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/formats/pades"
)

// CMS validates a CMS or CAdES signature. For a detached signature give
// the content (a function returning a fresh reader over it) or its digest;
// digestAlg names the digest's algorithm (0: the signer's). Given with a
// signature that encapsulates its content, they are checked instead of it.
func CMS(ctx context.Context, sig []byte, content func() io.Reader, digest []byte, digestAlg crypto.Hash, opts Options) *Report {
	rep := &Report{ValidationTime: opts.now()}
	defer rep.summarise()
	r := SignatureReport{ID: "signer-1", Format: "CMS"}
	sd, err := cms.Parse(sig)
	if err != nil {
		r.Indication, r.SubIndication = Indeterminate, FormatFailure
		r.Messages = []string{"The signature is not a DER CMS SignedData: " + err.Error()}
		rep.Signatures = append(rep.Signatures, r)
		return rep
	}
	// Content or a digest the caller gives is what it asks about, and is
	// checked even when the signature encapsulates a content (as openssl
	// cms -verify -content does): checking the encapsulated one instead
	// would pass a content the signature does not sign.
	var dig func(crypto.Hash) ([]byte, error)
	switch {
	case content != nil:
		dig = digestReader(ctx, content)
	case digest != nil:
		dig = func(h crypto.Hash) ([]byte, error) {
			if digestAlg != 0 && digestAlg != h {
				return nil, fmt.Errorf("the digest given is %s but the signer used %s; send the %s digest of the content", cms.HashName(digestAlg), cms.HashName(h), cms.HashName(h))
			}
			if len(digest) != h.Size() {
				return nil, fmt.Errorf("the digest given is %d bytes but a %s digest is %d; send the %s digest of the content", len(digest), cms.HashName(h), h.Size(), cms.HashName(h))
			}
			return digest, nil
		}
	case sd.Content != nil:
		dig = digestReader(ctx, func() io.Reader { return bytes.NewReader(sd.Content) })
	default:
		dig = func(crypto.Hash) ([]byte, error) {
			return nil, fmt.Errorf("the signature is detached: give its content too (CMSValidator: the content, or digest and digestAlgorithm; signet verify: -content FILE)")
		}
	}
	signerCheck(ctx, &r, sd, dig, evidence{}, opts)
	if r.Level != "" {
		r.Format = "CAdES"
		r.Level = "CAdES-BASELINE-" + r.Level[2:]
	}
	rep.Signatures = append(rep.Signatures, r)
	return rep
}

// PDF validates every signature of a PDF. An error means the document could
// not be read as a PDF (wrapping pades.ErrInvalidPDF).
func PDF(ctx context.Context, doc []byte, opts Options, lim pades.Limits) (*Report, error) {
	in, err := pades.Inspect(ctx, doc, lim)
	if err != nil {
		return nil, err
	}
	rep := &Report{ValidationTime: opts.now(), Signatures: []SignatureReport{}}
	defer rep.summarise()
	var ev evidence
	if in.DSS != nil {
		ev.lt = true
		ev.crls = in.DSS.CRLs
		for _, der := range in.DSS.Certs {
			if c, err := x509.ParseCertificate(der); err == nil {
				ev.certs = append(ev.certs, c)
			}
		}
	}
	for _, s := range in.Signatures {
		whole := s.WholeFile
		r := SignatureReport{ID: s.Field, Format: "PDF", SubFilter: s.SubFilter, CoversWholeDocument: &whole,
			Reason: s.Reason, Location: s.Location, CertificationLevel: s.DocMDP}
		if !s.Time.IsZero() {
			t := s.Time
			r.SigningTime = &t
		}
		switch {
		case s.SubFilter != pades.SubFilter && s.SubFilter != "adbe.pkcs7.detached":
			r.Indication, r.SubIndication = Indeterminate, FormatFailure
			r.Messages = append(r.Messages, fmt.Sprintf("Signatures with SubFilter %s are not validated; only %s and adbe.pkcs7.detached are.", s.SubFilter, pades.SubFilter))
		case s.RangeProblem != "":
			r.Indication, r.SubIndication = Indeterminate, FormatFailure
			r.Messages = append(r.Messages, "The signature's ByteRange is not sound: "+s.RangeProblem+".")
		default:
			sd, err := cms.Parse(s.Contents)
			if err != nil {
				r.Indication, r.SubIndication = Indeterminate, FormatFailure
				r.Messages = append(r.Messages, "The signature's /Contents is not a DER CMS SignedData.")
				break
			}
			signerCheck(ctx, &r, sd, digestReader(ctx, s.SignedContent), ev, opts)
			if s.SubFilter == pades.SubFilter && r.Level != "" {
				r.Format = "PAdES"
				r.Level = "PAdES-BASELINE-" + r.Level[2:]
			} else {
				r.Level = ""
			}
			if !whole && r.Indication == TotalPassed {
				r.Messages = append(r.Messages, "The document was updated after this signature (incremental update); the signed revision is intact.")
			}
		}
		rep.Signatures = append(rep.Signatures, r)
	}
	docMDP(in.Signatures, rep.Signatures)
	return rep, nil
}

// subFilterDocTimeStamp is the /SubFilter of a document time-stamp (ETSI EN
// 319 142-1, 5.4), which any certification allows after it.
const subFilterDocTimeStamp = "ETSI.RFC3161"

// docMDP fails a certification signature that allows no change (DocMDP
// P=1) when a later revision of the document holds another signature: ISO
// 32000-1 (12.8.2.2, the DocMDP transform parameters) says any change
// invalidates it, and PDF readers show such a certification broken. Both
// reports say why. Document time-stamps are not counted: ISO 32000-2 allows
// them, and DSS updates, after any certification. Other changes in later
// revisions are not looked for here, only reported as an update after the
// signature. reps are the reports of sigs, in the same order.
func docMDP(sigs []pades.Signature, reps []SignatureReport) {
	for i, c := range sigs {
		if c.DocMDP != 1 || c.RangeProblem != "" {
			continue
		}
		for j, s := range sigs {
			if s.RangeProblem != "" || s.Revision <= c.Revision || s.SubFilter == subFilterDocTimeStamp {
				continue
			}
			r := &reps[i]
			if r.Indication != TotalFailed {
				r.Indication, r.SubIndication = TotalFailed, FormatFailure
			}
			r.Messages = append(r.Messages, fmt.Sprintf("The document was signed again after this certification (signature %s), which its DocMDP P=1 forbids: the certification no longer holds.", s.Field))
			reps[j].Messages = append(reps[j].Messages, fmt.Sprintf("This signature was added after the certification signature %s, whose DocMDP P=1 allows no change: it breaks that certification.", c.Field))
		}
	}
}
