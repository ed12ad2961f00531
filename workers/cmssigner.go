package workers

import (
	"bytes"
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
//
// What depends on the key (the default signature algorithm, whether the
// configured one fits, the certificates) is resolved from the signer
// certificate the token holds when a request comes, once per certificate:
// a key generated, or a chain stored, through the admin API is used by the
// next request without rebuilding the worker.
type CMSSigner struct {
	base
	cades  bool
	pades  bool // PDFSigner: no signing-time attribute (PAdES keeps the time in /M)
	pol    policy
	sigAlg *cms.Algorithm // SIGNATUREALGORITHM; nil: the key's default
	digest crypto.Hash    // DIGESTALGORITHM; 0: the signature algorithm's
	levels int            // INCLUDE_CERTIFICATE_LEVELS, allCertificates for the whole chain
	now    func() time.Time
	tsa    *timeStamper // CAdES-BASELINE-T; nil for B-B

	mu    sync.Mutex
	cache *cmsCache // replaced when the signer certificate changes
}

// allCertificates is INCLUDE_CERTIFICATE_LEVELS when the property is not
// set: the signer's whole chain goes into each signature.
const allCertificates = -1

// cmsCache holds what a CMSSigner resolved for one signer certificate.
type cmsCache struct {
	cert    *x509.Certificate
	chain   []*x509.Certificate
	alg     cms.Algorithm // the scheme, and the content digest of a document
	signers sync.Map      // cmsKey → *cms.Signer
}

type cmsKey struct {
	h   crypto.Hash
	oid string
}

// newCMSSigner makes a CMSSigner or CAdESSigner from validated properties;
// lookup reaches its TSA_WORKER at request time.
func newCMSSigner(b base, p config.Properties, now func() time.Time, lookup Lookup) *CMSSigner {
	w := &CMSSigner{base: b, cades: b.kind == config.KindCAdESSigner || b.kind == config.KindPDFSigner,
		pades: b.kind == config.KindPDFSigner, now: now, levels: allCertificates}
	w.pol = newPolicy(p)
	if p.IsSet(config.PropIncludeCertificateLevels) {
		w.levels = p.Int(config.PropIncludeCertificateLevels)
	}
	if name := p.String(config.PropSignatureAlgorithm); name != "" {
		if alg, err := cms.ParseSignatureAlgorithm(name); err == nil {
			w.sigAlg = &alg
		}
	}
	if name := p.String(config.PropDigestAlgorithm); name != "" {
		w.digest, _ = cms.ParseHash(name)
	}
	if w.cades {
		w.tsa = newTimeStamper(p, lookup)
	}
	return w
}

// algorithm returns the scheme the worker signs with under key pub, with
// the digest of a document: SIGNATUREALGORITHM or the key's default, whose
// digest DIGESTALGORITHM replaces.
func (w *CMSSigner) algorithm(pub crypto.PublicKey) (cms.Algorithm, error) {
	var alg cms.Algorithm
	if w.sigAlg != nil {
		alg = *w.sigAlg
		if err := alg.Check(pub); err != nil {
			return alg, w.misfit(err)
		}
	} else {
		var err error
		if alg, err = cms.DefaultAlgorithm(pub); err != nil {
			return alg, w.misconfigured(err.Error())
		}
	}
	if w.digest != 0 {
		alg.Hash = w.digest
	}
	return alg, nil
}

// KeyProblem is base's with the check that the signature algorithm fits
// the key.
func (w *CMSSigner) KeyProblem(ctx context.Context) string {
	return w.activeKeyProblem(ctx, w.checkKey)
}

// checkKey is the key check of Status.
func (w *CMSSigner) checkKey(pub crypto.PublicKey) error {
	_, err := w.algorithm(pub)
	return err
}

// current returns what the worker resolved for the signer certificate the
// token holds now. Certificates are compared by their bytes: a token may
// return a new *x509.Certificate on each call (see tokens.Token.Chain).
func (w *CMSSigner) current(ctx context.Context) (*cmsCache, error) {
	chain, err := w.chain(ctx)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	c := w.cache
	w.mu.Unlock()
	if c != nil && sameCertificate(c.cert, chain[0]) {
		return c, nil
	}
	alg, err := w.algorithm(chain[0].PublicKey)
	if err != nil {
		return nil, err
	}
	c = &cmsCache{cert: chain[0], chain: chain, alg: alg}
	w.mu.Lock()
	w.cache = c
	w.mu.Unlock()
	return c, nil
}

// sameCertificate reports whether a and b are the same certificate.
func sameCertificate(a, b *x509.Certificate) bool {
	return a == b || bytes.Equal(a.Raw, b.Raw)
}

// signerFor returns the cms.Signer for a digest algorithm and content type,
// built once per signer certificate.
func (w *CMSSigner) signerFor(c *cmsCache, h crypto.Hash, oid asn1.ObjectIdentifier) (*cms.Signer, error) {
	key := cmsKey{h, oid.String()}
	if s, ok := c.signers.Load(key); ok {
		return s.(*cms.Signer), nil
	}
	alg := cms.Algorithm{Hash: h, Scheme: c.alg.Scheme}
	if err := alg.Check(c.cert.PublicKey); err != nil {
		return nil, Illegal("Digest algorithm %s cannot be used with this worker's key: %v", cms.HashName(h), err)
	}
	s, err := cms.NewSigner(cms.Options{
		Chain:               c.chain,
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
	return w.archived(ctx, req, w.process)
}

// process is Process without the archive.
func (w *CMSSigner) process(ctx context.Context, req *Request) (*Response, error) {
	if err := w.ready(); err != nil {
		return nil, err
	}
	d, err := w.pol.decide(req.Metadata, true)
	if err != nil {
		return nil, err
	}
	c, err := w.current(ctx)
	if err != nil {
		return nil, err
	}
	if d.batch {
		return w.processBatch(ctx, req, d, c)
	}
	h := c.alg.Hash
	var digest, content []byte
	switch {
	case d.clientHash:
		if d.clientHashAlg == 0 {
			return nil, Illegal("Client-side hashing needs request metadata %s naming the digest algorithm (one of %s).", config.MetaClientSideHashAlgorithm, hashNames(w.pol.accepted))
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
		if content, err = readAll(req); err != nil {
			return nil, err
		}
		hh := h.New()
		hh.Write(content)
		digest = hh.Sum(nil)
	}
	s, err := w.signerFor(c, h, d.contentOID)
	if err != nil {
		return nil, err
	}
	p, err := s.Prepare(digest, w.now())
	if err != nil {
		return nil, Illegal("%v", err)
	}
	if w.tsa != nil {
		if err := w.tsa.ready(ctx, 1); err != nil {
			return nil, err
		}
	}
	sigs, err := w.signDocuments(ctx, [][]byte{p.Input()}, [][]byte{digest}, h, s.SignerOpts())
	if err != nil {
		return nil, err
	}
	if w.tsa != nil {
		if err := w.tsa.timeStampAll(ctx, []*cms.Pending{p}, sigs); err != nil {
			return nil, err
		}
	}
	out, err := p.Encode(sigs[0], content)
	if err != nil {
		return nil, Unavailable(err, "Encoding the signature failed: %v", err)
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
