package workers

import (
	"context"
	"crypto"
	"crypto/rsa"
	"strings"

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
type PlainSigner struct {
	base
	pol    policy
	scheme cms.Scheme
	hash   crypto.Hash // 0 for NONEwith… and Ed25519
}

func newPlainSigner(ctx context.Context, b base, p config.Properties) *PlainSigner {
	w := &PlainSigner{base: b}
	var problems []string
	w.pol, problems = newPolicy(p)
	w.pol.detached = true // a plain signature never holds the document
	w.problems = append(w.problems, problems...)
	name := p.String(propSignatureAlgorithm)
	var pub crypto.PublicKey
	if w.tok != nil {
		if s, err := w.tok.Signer(ctx, w.alias); err == nil {
			pub = s.Public()
		}
	}
	var alg cms.Algorithm
	var err error
	switch {
	case name == "" && pub == nil:
		w.problems = append(w.problems, "SIGNATUREALGORITHM is not set and the key cannot be read now to choose a default.")
		return w
	case name == "":
		alg, err = cms.DefaultAlgorithm(pub)
	case strings.HasPrefix(strings.ToUpper(name), "NONEWITH"):
		alg, err = cms.ParseSignatureAlgorithm("SHA256" + name[len("NONE"):])
		alg.Hash = 0
	default:
		alg, err = cms.ParseSignatureAlgorithm(name)
	}
	if err != nil {
		w.problems = append(w.problems, propSignatureAlgorithm+": "+err.Error())
		return w
	}
	if alg.Scheme == cms.Ed25519 {
		alg.Hash = 0 // pure Ed25519 signs the message itself
	}
	if alg.Scheme == cms.PSS && alg.Hash == 0 {
		w.problems = append(w.problems, "SIGNATUREALGORITHM: PSS needs a digest algorithm: use e.g. SHA256withRSAandMGF1.")
	}
	if pub != nil {
		check := alg
		if check.Hash == 0 {
			check.Hash = crypto.SHA512 // Check wants one; the scheme is what matters
		}
		if err := check.Check(pub); err != nil {
			w.problems = append(w.problems, propSignatureAlgorithm+": "+err.Error())
		}
	}
	w.scheme, w.hash = alg.Scheme, alg.Hash
	return w
}

// opts returns the signer options for a digest made with h (0: raw input).
func (w *PlainSigner) opts(h crypto.Hash) crypto.SignerOpts {
	if w.scheme == cms.PSS {
		return &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
	}
	return h
}

// Process signs the request data.
func (w *PlainSigner) Process(ctx context.Context, req *Request) (*Response, error) {
	if err := w.ready(); err != nil {
		return nil, err
	}
	d, err := w.pol.decide(req.Metadata, false)
	if err != nil {
		return nil, err
	}
	var input []byte
	h := w.hash
	switch {
	case d.clientHash:
		if w.scheme == cms.Ed25519 {
			return nil, Illegal("Ed25519 signs the whole message and cannot sign a client-side digest: send the document.")
		}
		if d.clientHashAlg == 0 {
			return nil, Illegal("Client-side hashing needs request metadata %s naming the digest algorithm (one of %s).", MetaClientSideHashAlgorithm, hashNames(w.pol.accepted))
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
	sigs, err := w.sign(ctx, [][]byte{input}, w.opts(h))
	if err != nil {
		return nil, err
	}
	resp := &Response{Data: sigs[0], ContentType: ContentTypeOctets, Items: 1}
	if ch, err := w.tok.Chain(ctx, w.alias); err == nil && len(ch) > 0 {
		resp.SignerCertificate = ch[0]
	}
	return resp, nil
}
