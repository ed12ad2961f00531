package cms

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Options configure a Signer.
type Options struct {
	// Chain is the signer certificate followed by its issuers. Required.
	Chain []*x509.Certificate
	// IncludeCertificates is how many certificates of Chain, signer first,
	// to embed in the SignedData (INCLUDE_CERTIFICATE_LEVELS): 0 embeds
	// none, a negative number or one larger than the chain embeds all.
	IncludeCertificates int
	// Algorithm names the digest of the content and of the signed
	// attributes, and the signature scheme.
	Algorithm Algorithm
	// ContentType is the eContentType; nil means id-data.
	ContentType asn1.ObjectIdentifier
	// CAdES adds the signing-certificate-v2 attribute (CAdES-BASELINE-B).
	// Without it the signed attributes are content-type, signing-time and
	// message-digest.
	CAdES bool
	// OmitSigningTime leaves out the signing-time attribute: PAdES (ETSI EN
	// 319 142-1, 5.2.3) forbids it and keeps the claimed time in the
	// signature dictionary's /M instead. Prepare then ignores its time.
	OmitSigningTime bool
}

// Signer builds SignedData for one key, certificate chain and algorithm.
// Everything that does not depend on the document is encoded once by
// NewSigner. A Signer is safe for concurrent use.
type Signer struct {
	alg    Algorithm
	opts   crypto.SignerOpts
	cert   *x509.Certificate
	hashes sync.Pool // of hash.Hash for alg.Hash

	ciOID  []byte // DER OBJECT IDENTIFIER id-signedData
	sdHead []byte // DER version and digestAlgorithms of SignedData
	eCT    []byte // DER OBJECT IDENTIFIER eContentType
	certs  []byte // DER [0] certificates, or nil
	// certs64 holds the base64 of certs: AppendBase64 copies it instead
	// of encoding the certificates, the bulk of a signature, again for
	// every one.
	certs64 *b64Block
	// tokenCerts is the same for the certificates of the last time-stamp
	// token added as an unsigned attribute (see tokenBlock).
	tokenCerts atomic.Pointer[b64Block]
	siHead     []byte // DER version, sid and digestAlgorithm of SignerInfo
	sigAlg     []byte // DER signatureAlgorithm

	// attrs are the signed attributes with a zero digest and time, sorted as
	// DER requires, for a UTCTime ([0]) and a GeneralizedTime ([1]) signing
	// time: Prepare copies one and fills in the blanks.
	attrs [2]attrTemplate
}

type attrTemplate struct {
	der     []byte // DER SET OF Attribute
	mdOff   int    // offset of the message digest octets
	timeOff int    // offset of the signing time characters
}

// NewSigner checks the options and precomputes the per-signer encodings.
func NewSigner(opts Options) (*Signer, error) {
	if len(opts.Chain) == 0 || opts.Chain[0] == nil {
		return nil, errors.New("cms: a signer certificate is required; configure the key's certificate chain")
	}
	cert := opts.Chain[0]
	if err := opts.Algorithm.Check(cert.PublicKey); err != nil {
		return nil, err
	}
	hi, _ := lookupHash(opts.Algorithm.Hash)
	ct := opts.ContentType
	if ct == nil {
		ct = OIDData
	}
	s := &Signer{alg: opts.Algorithm, opts: opts.Algorithm.SignerOpts(), cert: cert}
	s.hashes.New = func() any { return s.alg.Hash.New() }

	// RFC 5652 5.1: version 1, or 3 when eContentType is not id-data.
	version := int64(1)
	if !ct.Equal(OIDData) {
		version = 3
	}
	digestAlg := algID(hi.oid, false) // RFC 5754: parameters absent
	s.ciOID = build(func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(OIDSignedData) })
	s.sdHead = build(func(b *cryptobyte.Builder) {
		b.AddASN1Int64(version)
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(digestAlg) })
	})
	s.eCT = build(func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(ct) })
	n := opts.IncludeCertificates
	if n < 0 || n > len(opts.Chain) {
		n = len(opts.Chain)
	}
	if n > 0 {
		s.certs = build(func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				for _, c := range opts.Chain[:n] {
					b.AddBytes(c.Raw)
				}
			})
		})
	}
	s.certs64 = newB64Block(s.certs)
	s.siHead = build(func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1) // sid is IssuerAndSerialNumber
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddBytes(cert.RawIssuer)
			b.AddASN1BigInt(cert.SerialNumber)
		})
		b.AddBytes(digestAlg)
	})
	s.sigAlg = sigAlgID(opts.Algorithm, hi)

	var fixed [][]byte
	fixed = append(fixed, attribute(OIDAttrContentType, s.eCT))
	if opts.CAdES {
		fixed = append(fixed, signingCertificateV2(cert))
	}
	for i, gen := range []bool{false, true} {
		s.attrs[i] = attrTemplateFor(fixed, opts.Algorithm.Hash.Size(), gen, !opts.OmitSigningTime)
	}
	return s, nil
}

// signingCertificateV2 encodes the signing-certificate-v2 attribute (RFC
// 5035) for cert: one ESSCertIDv2 with the DEFAULT hash algorithm SHA-256
// (so omitted) and the issuerSerial.
func signingCertificateV2(cert *x509.Certificate) []byte {
	certHash := sha256.Sum256(cert.Raw)
	value := build(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2
					b.AddASN1OctetString(certHash[:])
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
							// directoryName [4] Name, explicit because Name is a CHOICE.
							b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
								b.AddBytes(cert.RawIssuer)
							})
						})
						b.AddASN1BigInt(cert.SerialNumber)
					})
				})
			})
		})
	})
	return attribute(OIDAttrSigningCertV2, value)
}

// attrTemplateFor sorts the fixed attributes with a zero message digest and
// signing time. The blanks never decide the order: attributes differ in
// their length or type before their values start.
func attrTemplateFor(fixed [][]byte, digestLen int, gen, withTime bool) attrTemplate {
	timeTag, timeLen := byte(tagUTCTime), 13
	if gen {
		timeTag, timeLen = tagGenTime, 15
	}
	md := attribute(OIDAttrMessageDigest, appendHeader(nil, tagOctetString, int64(digestLen)), make([]byte, digestLen))
	st := attribute(OIDAttrSigningTime, appendHeader(nil, timeTag, int64(timeLen)), make([]byte, timeLen))
	list := append(slices.Clone(fixed), md)
	if withTime {
		list = append(list, st)
	}
	slices.SortFunc(list, bytes.Compare) // DER SET OF order
	var t attrTemplate
	var body []byte
	for _, a := range list {
		body = append(body, a...)
		switch {
		case &a[0] == &md[0]:
			t.mdOff = len(body) - digestLen
		case &a[0] == &st[0]:
			t.timeOff = len(body) - timeLen
		}
	}
	t.der = appendHeader(nil, tagSet, int64(len(body)))
	t.mdOff += len(t.der)
	t.timeOff += len(t.der)
	if !withTime {
		t.timeOff = -1
	}
	t.der = append(t.der, body...)
	return t
}

// build runs an encoder that cannot fail on valid inputs.
func build(f func(*cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	f(&b)
	return b.BytesOrPanic()
}

func algID(oid asn1.ObjectIdentifier, null bool) []byte {
	return build(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			if null {
				b.AddASN1NULL()
			}
		})
	})
}

// sigAlgID encodes the SignerInfo signatureAlgorithm: rsaEncryption for
// PKCS#1 v1.5 (RFC 3370), id-RSASSA-PSS with explicit parameters (RFC
// 4056), ecdsa-with-SHA* or id-ecdsa-with-sha3-* (RFC 5753, NIST), and
// id-Ed25519 (RFC 8419).
func sigAlgID(a Algorithm, hi hashInfo) []byte {
	switch a.Scheme {
	case PKCS1v15:
		return algID(oidRSA, true)
	case ECDSA:
		return algID(hi.ecdsaOID, false)
	case Ed25519:
		return algID(oidEd25519, false)
	}
	hashAlg := algID(hi.oid, true) // RSASSA-PSS-params use NULL parameters
	return build(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidPSS)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(hashAlg) })
				b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(oidMGF1)
						b.AddBytes(hashAlg)
					})
				})
				b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(a.Hash.Size())) })
			})
		})
	})
}

// attribute encodes Attribute ::= SEQUENCE { attrType, attrValues SET OF }
// with one value, given as DER in parts.
func attribute(oid asn1.ObjectIdentifier, value ...[]byte) []byte {
	return build(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
				for _, v := range value {
					b.AddBytes(v)
				}
			})
		})
	})
}

// SignerOpts returns the options the token must sign Input with: the hash,
// *rsa.PSSOptions with a salt as long as the hash, or crypto.Hash(0) for
// Ed25519. The value is shared; do not modify it.
func (s *Signer) SignerOpts() crypto.SignerOpts { return s.opts }

// Hash returns the digest algorithm of the content and signed attributes.
func (s *Signer) Hash() crypto.Hash { return s.alg.Hash }

// Algorithm returns the signer's algorithm.
func (s *Signer) Algorithm() Algorithm { return s.alg }

// Certificate returns the signer certificate.
func (s *Signer) Certificate() *x509.Certificate { return s.cert }

// Digest hashes content read from r with s.Hash, as a stream, and returns
// the digest to give Prepare and the number of bytes read.
func (s *Signer) Digest(r io.Reader) ([]byte, int64, error) {
	h := s.alg.Hash.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return nil, n, fmt.Errorf("cms: reading the content: %w", err)
	}
	return h.Sum(nil), n, nil
}

// Pending is a SignerInfo waiting for its signature. It is not safe for
// concurrent use.
type Pending struct {
	s     *Signer
	attrs []byte // DER SET OF Attribute, as signed
	input []byte
	// unsigned are the Attributes of unsignedAttrs, in DER SET OF order,
	// and unsignedLen the length of their encodings.
	unsigned    []unsignedAttr
	unsignedLen int64
}

// unsignedAttr is an Attribute with one value: its DER is head followed by
// value, which is the caller's, not copied.
type unsignedAttr struct {
	head  []byte // SEQUENCE header, attrType, SET header
	value []byte
}

// compare orders attributes as DER orders a SET OF: by their encodings.
func (a unsignedAttr) compare(b unsignedAttr) int {
	x, y := a.head, b.head
	xs, ys := a.value, b.value
	for {
		if len(x) == 0 {
			x, xs = xs, nil
		}
		if len(y) == 0 {
			y, ys = ys, nil
		}
		if len(x) == 0 || len(y) == 0 {
			return len(x) - len(y)
		}
		n := min(len(x), len(y))
		if c := bytes.Compare(x[:n], y[:n]); c != 0 {
			return c
		}
		x, y = x[n:], y[n:]
	}
}

// Prepare builds the signed attributes for a content digest made with
// s.Hash() and a signing time. It fails if the digest has the wrong length
// or the time cannot be encoded (before year 0 or after 9999).
func (s *Signer) Prepare(digest []byte, signingTime time.Time) (*Pending, error) {
	if len(digest) != s.alg.Hash.Size() {
		return nil, fmt.Errorf("cms: the digest is %d bytes but a %s digest is %d bytes; send the %s digest of the document", len(digest), HashName(s.alg.Hash), s.alg.Hash.Size(), HashName(s.alg.Hash))
	}
	t := signingTime.UTC()
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	if year < 0 || year > 9999 {
		return nil, fmt.Errorf("cms: signing time %v cannot be encoded; check the clock", signingTime)
	}
	gen := year < 1950 || year >= 2050 // RFC 5652 11.3
	tp := &s.attrs[0]
	if gen {
		tp = &s.attrs[1]
	}
	n := len(tp.der)
	inputLen := len(digest)
	if s.alg.Scheme == Ed25519 {
		inputLen = 0
	}
	buf := make([]byte, n, n+inputLen)
	copy(buf, tp.der)
	copy(buf[tp.mdOff:], digest)
	if tp.timeOff >= 0 {
		appendTime(buf[tp.timeOff:tp.timeOff], year, int(month), day, hour, min, sec, gen)
	}
	p := &Pending{s: s, attrs: buf[:n:n]}
	if s.alg.Scheme == Ed25519 {
		p.input = p.attrs // RFC 8419: pure Ed25519 over the DER attributes
		return p, nil
	}
	h := s.hashes.Get().(hash.Hash)
	h.Reset()
	h.Write(p.attrs)
	p.input = h.Sum(buf[n:n])
	s.hashes.Put(h)
	return p, nil
}

// AddUnsignedAttribute adds an unsigned attribute of type typ with one
// value, given as one DER element, to the SignerInfo: for CAdES-BASELINE-T
// the signature-time-stamp (OIDSignatureTimeStampToken) over the signature
// value, once it is known. Size, Encode, AppendEncode, AppendBase64 and
// WriteTo include it, so that a time-stamped signature is encoded once
// rather than encoded, parsed and encoded again (SignedData.
// AddUnsignedAttribute does that for a signature made elsewhere). value is
// kept, not copied: it must not change until the encoding is written.
// When value is a ContentInfo with certificates (a time-stamp token),
// AppendBase64 copies their base64 from the Signer's cache of the last
// token's certificates instead of encoding them again.
func (p *Pending) AddUnsignedAttribute(typ asn1.ObjectIdentifier, value []byte) error {
	v := cryptobyte.String(value)
	var elem cryptobyte.String
	var tag cbasn1.Tag
	if !v.ReadAnyASN1Element(&elem, &tag) || !v.Empty() {
		return errors.New("cms: the attribute value must be one DER element")
	}
	oid, ok := appendOID(nil, typ)
	if !ok {
		return errors.New("cms: the attribute type is not a valid object identifier")
	}
	// Attribute ::= SEQUENCE { attrType, attrValues SET OF }
	n := int64(len(oid)) + elemLen(int64(len(value)))
	head := make([]byte, 0, int(headerLen(n))+len(oid)+int(headerLen(int64(len(value)))))
	head = appendHeader(head, tagSequence, n)
	head = append(head, oid...)
	head = appendHeader(head, tagSet, int64(len(value)))
	a := unsignedAttr{head: head, value: value}
	i, _ := slices.BinarySearchFunc(p.unsigned, a, unsignedAttr.compare) // DER SET OF order
	p.unsigned = slices.Insert(p.unsigned, i, a)
	p.unsignedLen += elemLen(n)
	return nil
}

// Input is what the token must sign with SignerOpts: the digest of the DER
// signed attributes, or for Ed25519 the DER itself.
func (p *Pending) Input() []byte { return p.input }

// SignedAttributes returns the DER SET OF signed attributes.
func (p *Pending) SignedAttributes() []byte { return p.attrs }

// layout holds the content lengths of the nested elements of one
// ContentInfo. A negative content length means detached.
type layout struct {
	content, encap, si, sis, sd, ciInner, ci, total int64
}

func (p *Pending) layout(sigLen int, contentLen int64) layout {
	s := p.s
	var z layout
	z.content = contentLen
	z.encap = int64(len(s.eCT))
	if contentLen >= 0 {
		z.encap += elemLen(elemLen(contentLen))
	}
	z.si = int64(len(s.siHead)+len(p.attrs)+len(s.sigAlg)) + elemLen(int64(sigLen))
	if len(p.unsigned) > 0 {
		z.si += elemLen(p.unsignedLen)
	}
	z.sis = elemLen(z.si)
	z.sd = int64(len(s.sdHead)) + elemLen(z.encap) + int64(len(s.certs)) + elemLen(z.sis)
	z.ciInner = elemLen(z.sd)
	z.ci = int64(len(s.ciOID)) + elemLen(z.ciInner)
	z.total = elemLen(z.ci)
	return z
}

// appendHead appends the encoding up to the content octets.
func (p *Pending) appendHead(b []byte, z layout) []byte {
	s := p.s
	b = appendHeader(b, tagSequence, z.ci) // ContentInfo
	b = append(b, s.ciOID...)
	b = appendHeader(b, tagContext0, z.ciInner)
	b = appendHeader(b, tagSequence, z.sd) // SignedData
	b = append(b, s.sdHead...)
	b = appendHeader(b, tagSequence, z.encap) // EncapsulatedContentInfo
	b = append(b, s.eCT...)
	if z.content >= 0 {
		b = appendHeader(b, tagContext0, elemLen(z.content))
		b = appendHeader(b, tagOctetString, z.content)
	}
	return b
}

// appendTail appends the encoding after the content octets.
func (p *Pending) appendTail(b []byte, z layout, signature []byte) []byte {
	return p.appendSignerInfos(append(b, p.s.certs...), z, signature)
}

// appendSignerInfos appends the encoding after the certificates.
func (p *Pending) appendSignerInfos(b []byte, z layout, signature []byte) []byte {
	b = p.appendSignerInfoHead(b, z, signature)
	for _, a := range p.unsigned {
		b = append(b, a.head...)
		b = append(b, a.value...)
	}
	return b
}

// appendSignerInfoHead appends the encoding after the certificates up to
// the unsigned attributes.
func (p *Pending) appendSignerInfoHead(b []byte, z layout, signature []byte) []byte {
	s := p.s
	b = appendHeader(b, tagSet, z.sis)     // SignerInfos
	b = appendHeader(b, tagSequence, z.si) // SignerInfo
	b = append(b, s.siHead...)
	b = append(b, tagContext0) // signedAttrs [0] IMPLICIT SET OF
	b = append(b, p.attrs[1:]...)
	b = append(b, s.sigAlg...)
	b = appendHeader(b, tagOctetString, int64(len(signature)))
	b = append(b, signature...)
	if len(p.unsigned) > 0 {
		b = appendHeader(b, tagContext1, p.unsignedLen) // unsignedAttrs [1] IMPLICIT SET OF
	}
	return b
}

// Size returns the length of the encoding for a signature of sigLen bytes
// and contentLen bytes of encapsulated content (negative: detached), for
// example to set Content-Length before WriteTo.
func (p *Pending) Size(sigLen int, contentLen int64) int64 {
	return p.layout(sigLen, contentLen).total
}

var errNoSignature = errors.New("cms: the signature is empty; the token returned no signature")

// Encode returns the DER ContentInfo holding the SignedData: detached when
// content is nil, otherwise with content encapsulated.
func (p *Pending) Encode(signature []byte, content []byte) ([]byte, error) {
	if len(signature) == 0 {
		return nil, errNoSignature
	}
	cl := int64(-1)
	if content != nil {
		cl = int64(len(content))
	}
	return p.AppendEncode(make([]byte, 0, p.Size(len(signature), cl)), signature, content)
}

// AppendEncode appends the encoding Encode returns to b, so that a caller
// encoding many signatures (a batch) can reuse one buffer.
func (p *Pending) AppendEncode(b []byte, signature []byte, content []byte) ([]byte, error) {
	if len(signature) == 0 {
		return b, errNoSignature
	}
	cl := int64(-1)
	if content != nil {
		cl = int64(len(content))
	}
	z := p.layout(len(signature), cl)
	b = slices.Grow(b, int(z.total))
	b = p.appendHead(b, z)
	b = append(b, content...)
	return p.appendTail(b, z, signature), nil
}

// AppendBase64 appends the standard base64 (with padding) of the encoding
// Encode returns to b, using scratch (returned, possibly grown) for the
// parts around the certificates, whose base64 NewSigner computed once (and
// those of a time-stamp token in the unsigned attributes, see
// AddUnsignedAttribute).
func (p *Pending) AppendBase64(b, scratch, signature, content []byte) ([]byte, []byte, error) {
	if len(signature) == 0 {
		return b, scratch, errNoSignature
	}
	cl := int64(-1)
	if content != nil {
		cl = int64(len(content))
	}
	z := p.layout(len(signature), cl)
	w := b64Writer{out: b, pending: p.appendHead(scratch[:0], z)}
	w.write(content)
	w.block(p.s.certs64)
	w.pending = p.appendSignerInfoHead(w.pending, z, signature)
	for _, a := range p.unsigned {
		w.write(a.head)
		c, start := p.s.tokenBlock(a.value)
		if c == nil {
			w.write(a.value)
			continue
		}
		w.write(a.value[:start])
		w.block(c)
		w.write(a.value[start+len(c.raw):])
	}
	b, scratch = w.done()
	return b, scratch, nil
}

// WriteTo writes the same DER ContentInfo as Encode, with contentLen bytes
// copied from content between the two halves of the encoding, so that a
// large document is never held in memory (hash it first with Signer.Digest).
// A nil content writes a detached signature. It returns the bytes written
// and fails if content ends early.
func (p *Pending) WriteTo(w io.Writer, signature []byte, content io.Reader, contentLen int64) (int64, error) {
	if len(signature) == 0 {
		return 0, errNoSignature
	}
	if content == nil {
		contentLen = -1
	} else if contentLen < 0 {
		return 0, fmt.Errorf("cms: content length %d is negative; give the document's length", contentLen)
	}
	z := p.layout(len(signature), contentLen)
	b := p.appendHead(make([]byte, 0, z.total-max(contentLen, 0)), z)
	head := len(b)
	b = p.appendTail(b, z, signature)
	n, err := w.Write(b[:head])
	written := int64(n)
	if err != nil {
		return written, err
	}
	if contentLen > 0 {
		m, err := io.CopyN(w, content, contentLen)
		written += m
		if errors.Is(err, io.EOF) {
			return written, fmt.Errorf("cms: the content ended after %d of %d bytes: %w", m, contentLen, io.ErrUnexpectedEOF)
		}
		if err != nil {
			return written, err
		}
	}
	n, err = w.Write(b[head:])
	return written + int64(n), err
}
