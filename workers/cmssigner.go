package workers

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/cms"
)

// Worker kinds.
const (
	KindCMSSigner       = "CMSSigner"
	KindCAdESSigner     = "CAdESSigner"
	KindPlainSigner     = "PlainSigner"
	KindTimeStampSigner = "TimeStampSigner"
	KindPDFSigner       = "PDFSigner"
	KindCMSValidator    = "CMSValidator"
	KindPDFValidator    = "PDFValidator"
)

// Content types of responses.
const (
	ContentTypeSignature = "application/pkcs7-signature"
	ContentTypeMime      = "application/pkcs7-mime"
	ContentTypeJSON      = "application/json"
	ContentTypeOctets    = "application/octet-stream"
	ContentTypePDF       = "application/pdf"
)

// CMSSigner makes CMS SignedData (kind CMSSigner) or CAdES-BASELINE-B
// signatures (kind CAdESSigner), one document per request or a batch, from
// documents or client-side digests.
type CMSSigner struct {
	base
	cades  bool
	pades  bool // PDFSigner: no signing-time attribute (the time is in /M)
	pol    policy
	scheme cms.Scheme  // from SIGNATUREALGORITHM or the key
	digest crypto.Hash // server-side content digest
	levels int         // INCLUDE_CERTIFICATE_LEVELS, <0 all
	now    func() time.Time
	tsa    *timeStamper // CAdES-BASELINE-T; nil for B-B

	mu    sync.Mutex
	cache *cmsCache // rebuilt when the signer certificate changes
}

// cmsCache holds the precomputed cms.Signers for one signer certificate.
type cmsCache struct {
	cert    *x509.Certificate
	signers sync.Map // cmsKey → *cms.Signer
}

type cmsKey struct {
	h   crypto.Hash
	oid string
}

func newCMSSigner(ctx context.Context, b base, p config.Properties, now func() time.Time) *CMSSigner {
	w := &CMSSigner{base: b, cades: b.kind == KindCAdESSigner || b.kind == KindPDFSigner, pades: b.kind == KindPDFSigner, now: now}
	var problems []string
	w.pol, problems = newPolicy(p)
	w.problems = append(w.problems, problems...)
	w.levels = -1
	if p.IsSet(propIncludeCertificateLevels) {
		w.levels = p.Int(propIncludeCertificateLevels)
	}
	w.problems = append(w.problems, w.resolveAlgorithms(ctx, p)...)
	return w
}

// setTimeStamper reads SIGNATURE_LEVEL and the TSA_* properties of a CAdES
// signer: at BASELINE-T every signature gets a signature time-stamp.
func (w *CMSSigner) setTimeStamper(p config.Properties, lookup Lookup) {
	if !w.cades {
		return
	}
	var problems []string
	w.tsa, problems = newTimeStamper(p, lookup)
	w.problems = append(w.problems, problems...)
}

// resolveAlgorithms reads SIGNATUREALGORITHM and DIGESTALGORITHM against
// the key. Without a usable key now (token offline) the defaults are taken
// from the configured names, and checked again on the first request.
func (w *CMSSigner) resolveAlgorithms(ctx context.Context, p config.Properties) []string {
	var problems []string
	var pub crypto.PublicKey
	if w.tok != nil {
		if s, err := w.tok.Signer(ctx, w.alias); err == nil {
			pub = s.Public()
		}
	}
	var alg cms.Algorithm
	var err error
	if name := p.String(propSignatureAlgorithm); name != "" {
		if alg, err = cms.ParseSignatureAlgorithm(name); err != nil {
			return append(problems, propSignatureAlgorithm+": "+err.Error())
		}
	} else if pub != nil {
		if alg, err = cms.DefaultAlgorithm(pub); err != nil {
			return append(problems, err.Error())
		}
	} else {
		alg = cms.Algorithm{Hash: crypto.SHA256, Scheme: -1}
	}
	if pub != nil {
		if err := alg.Check(pub); err != nil {
			problems = append(problems, propSignatureAlgorithm+": "+err.Error())
		}
	}
	w.scheme = alg.Scheme
	w.digest = alg.Hash
	if name := p.String(propDigestAlgorithm); name != "" {
		h, err := cms.ParseHash(name)
		if err != nil {
			return append(problems, propDigestAlgorithm+": "+err.Error())
		}
		w.digest = h
	}
	return problems
}

// signerFor returns the cms.Signer for a digest algorithm and content type,
// built once per signer certificate.
func (w *CMSSigner) signerFor(ctx context.Context, h crypto.Hash, oid asn1.ObjectIdentifier) (*cms.Signer, error) {
	chain, err := w.chain(ctx)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	c := w.cache
	if c == nil || c.cert != chain[0] {
		c = &cmsCache{cert: chain[0]}
		w.cache = c
	}
	w.mu.Unlock()
	key := cmsKey{h, oid.String()}
	if s, ok := c.signers.Load(key); ok {
		return s.(*cms.Signer), nil
	}
	scheme := w.scheme
	if scheme < 0 {
		def, err := cms.DefaultAlgorithm(chain[0].PublicKey)
		if err != nil {
			return nil, &Error{Kind: ErrMisconfigured, Msg: err.Error()}
		}
		scheme = def.Scheme
	}
	alg := cms.Algorithm{Hash: h, Scheme: scheme}
	if err := alg.Check(chain[0].PublicKey); err != nil {
		return nil, Illegal("Digest algorithm %s cannot be used with this worker's key: %v", cms.HashName(h), err)
	}
	s, err := cms.NewSigner(cms.Options{
		Chain:               chain,
		IncludeCertificates: w.levels,
		Algorithm:           alg,
		ContentType:         oid,
		CAdES:               w.cades,
		OmitSigningTime:     w.pades,
	})
	if err != nil {
		return nil, &Error{Kind: ErrMisconfigured, Msg: fmt.Sprintf("Worker %s cannot sign: %v", w.name, err), Err: err}
	}
	actual, _ := c.signers.LoadOrStore(key, s)
	return actual.(*cms.Signer), nil
}

// Process signs one document, one client-side digest or a batch.
func (w *CMSSigner) Process(ctx context.Context, req *Request) (*Response, error) {
	if err := w.ready(); err != nil {
		return nil, err
	}
	d, err := w.pol.decide(req.Metadata, true)
	if err != nil {
		return nil, err
	}
	if d.batch {
		return w.processBatch(ctx, req, d)
	}
	h := w.digest
	var digest, content []byte
	switch {
	case d.clientHash:
		if d.clientHashAlg == 0 {
			return nil, Illegal("Client-side hashing needs request metadata %s naming the digest algorithm (one of %s).", MetaClientSideHashAlgorithm, hashNames(w.pol.accepted))
		}
		h = d.clientHashAlg
		if digest, err = readDigest(req.Data, h); err != nil {
			return nil, err
		}
	case d.detached:
		// Streamed: a large document is hashed as it arrives and never held.
		hh := h.New()
		if _, err := copyTo(hh, req.Data); err != nil {
			return nil, err
		}
		digest = hh.Sum(nil)
	default:
		if content, err = readAll(req.Data); err != nil {
			return nil, err
		}
		hh := h.New()
		hh.Write(content)
		digest = hh.Sum(nil)
	}
	s, err := w.signerFor(ctx, h, d.contentOID)
	if err != nil {
		return nil, err
	}
	p, err := s.Prepare(digest, w.now())
	if err != nil {
		return nil, Illegal("%v", err)
	}
	sigs, err := w.sign(ctx, [][]byte{p.Input()}, s.SignerOpts())
	if err != nil {
		return nil, err
	}
	out, err := p.Encode(sigs[0], content)
	if err != nil {
		return nil, Unavailable(err, "Encoding the signature failed: %v", err)
	}
	if w.tsa != nil {
		if out, err = w.tsa.timeStampOne(ctx, out, sigs[0]); err != nil {
			return nil, err
		}
	}
	ct := ContentTypeMime
	if content == nil {
		ct = ContentTypeSignature
	}
	return &Response{Data: out, ContentType: ct, SignerCertificate: s.Certificate(), Items: 1}, nil
}

// readDigest reads a client-side digest and checks its length.
func readDigest(r io.Reader, h crypto.Hash) ([]byte, error) {
	buf := make([]byte, h.Size()+1)
	n, err := io.ReadFull(r, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, readError(err)
	}
	if n != h.Size() {
		if n > h.Size() {
			return nil, Illegal("The request data is longer than a %s digest (%d bytes): send the digest, not the document, when client-side hashing is on.", cms.HashName(h), h.Size())
		}
		return nil, Illegal("The request data is %d bytes but a %s digest is %d bytes: send the binary digest.", n, cms.HashName(h), h.Size())
	}
	return buf[:n], nil
}
