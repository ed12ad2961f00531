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
		dig = digestReader(content)
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
		dig = digestReader(func() io.Reader { return bytes.NewReader(sd.Content) })
	default:
		dig = func(crypto.Hash) ([]byte, error) {
			return nil, fmt.Errorf("the signature is detached; send its content or the content's digest too")
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
			signerCheck(ctx, &r, sd, digestReader(s.SignedContent), ev, opts)
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
	return rep, nil
}
