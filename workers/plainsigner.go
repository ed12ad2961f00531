package workers

import (
	"context"
	"crypto"
	"crypto/rsa"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/cms"
)

// PlainSigner makes a raw signature over a document or a client-side
// digest, in the encoding of its SIGNATUREALGORITHM: PKCS#1 v1.5 or PSS
// bytes for RSA, a DER ECDSA-Sig-Value for ECDSA, 64 bytes for Ed25519.
//
// NONEwith… algorithms sign the request data as it is: for NONEwithRSA a
// DER DigestInfo, for NONEwithECDSA a digest. With client-side hashing the
// data is a digest named by CLIENTSIDE_HASHDIGESTALGORITHM and any
// algorithm of the key's type may be configured.
//
// Like CMSSigner it resolves what depends on the key (the default algorithm
// of the key, whether the configured one fits it) when it signs, so that a
// key generated later through the admin API is used without a rebuild.
type PlainSigner struct {
	base
	pol    policy
	sigAlg *cms.Algorithm // SIGNATUREALGORITHM, Hash 0 for NONEwith… and Ed25519; nil: the key's default
}

// newPlainSigner makes a PlainSigner from validated properties.
func newPlainSigner(b base, p config.Properties) *PlainSigner {
	w := &PlainSigner{base: b, pol: newPolicy(p)}
	w.pol.detached = true // a plain signature never holds the document
	if name := p.String(config.PropSignatureAlgorithm); name != "" {
		if alg, err := cms.ParseRawSignatureAlgorithm(name); err == nil {
			w.sigAlg = &alg
		}
	}
	return w
}

// algorithm returns the algorithm the worker signs with under key pub:
// SIGNATUREALGORITHM, or the key's default.
func (w *PlainSigner) algorithm(pub crypto.PublicKey) (cms.Algorithm, error) {
	if w.sigAlg == nil {
		alg, err := cms.DefaultAlgorithm(pub)
		if err != nil {
			return alg, w.misconfigured(err.Error())
		}
		if alg.Scheme == cms.Ed25519 {
			alg.Hash = 0 // pure Ed25519 signs the message itself
		}
		return alg, nil
	}
	check := *w.sigAlg
	if check.Hash == 0 {
		check.Hash = crypto.SHA512 // Check wants one; the scheme is what matters
	}
	if err := check.Check(pub); err != nil {
		return *w.sigAlg, w.misfit(err)
	}
	return *w.sigAlg, nil
}

// Status adds to the common status whether the signature algorithm fits
// the key.
func (w *PlainSigner) Status(ctx context.Context) Status {
	return w.status(ctx, w.checkKey)
}

// KeyProblem is base's with the check that the signature algorithm fits
// the key.
func (w *PlainSigner) KeyProblem(ctx context.Context) string {
	return w.activeKeyProblem(ctx, w.checkKey)
}

// checkKey reports whether the signature algorithm fits pub.
func (w *PlainSigner) checkKey(pub crypto.PublicKey) error {
	_, err := w.algorithm(pub)
	return err
}

// opts returns the signer options for a digest made with h (0: raw input).
func opts(scheme cms.Scheme, h crypto.Hash) crypto.SignerOpts {
	if scheme == cms.PSS {
		return &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
	}
	return h
}

// Process signs the request data.
func (w *PlainSigner) Process(ctx context.Context, req *Request) (*Response, error) {
	return w.archived(ctx, req, w.process)
}

// process is Process without the archive.
func (w *PlainSigner) process(ctx context.Context, req *Request) (*Response, error) {
	if err := w.ready(); err != nil {
		return nil, err
	}
	d, err := w.pol.decide(req.Metadata, false)
	if err != nil {
		return nil, err
	}
	signer, err := w.tok.Signer(ctx, w.alias)
	if err != nil {
		return nil, w.tokenError(err)
	}
	alg, err := w.algorithm(signer.Public())
	if err != nil {
		return nil, err
	}
	var input []byte
	h := alg.Hash
	switch {
	case d.clientHash:
		if alg.Scheme == cms.Ed25519 {
			return nil, Illegal("Ed25519 signs the whole message and cannot sign a client-side digest: send the document.")
		}
		if d.clientHashAlg == 0 {
			return nil, Illegal("Client-side hashing needs request metadata %s naming the digest algorithm (one of %s).", config.MetaClientSideHashAlgorithm, hashNames(w.pol.accepted))
		}
		h = d.clientHashAlg
		if input, err = readDigest(req.Data, h); err != nil {
			return nil, err
		}
	case h != 0:
		hh := h.New()
		if _, err := copyTo(hh, req.Data); err != nil {
			return nil, err
		}
		input = hh.Sum(nil)
	default:
		if input, err = readAll(req); err != nil {
			return nil, err
		}
		if len(input) == 0 {
			return nil, Illegal("The request data is empty: send the data to sign.")
		}
	}
	sigs, err := w.sign(ctx, [][]byte{input}, opts(alg.Scheme, h))
	if err != nil {
		return nil, err
	}
	resp := &Response{Data: sigs[0], ContentType: ContentTypeOctets, Items: 1}
	if ch, err := w.tok.Chain(ctx, w.alias); err == nil && len(ch) > 0 {
		resp.SignerCertificate = ch[0]
	}
	return resp, nil
}
