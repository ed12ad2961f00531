package cms

import (
	"bytes"
	"encoding/base64"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// b64Block is a block of DER that many encodings share, a certificate set,
// with its base64 computed once: b64[k] is the base64 of raw[k:], cut to
// whole 3-byte groups, for the encoding that reaches the block k bytes
// short of a group boundary.
type b64Block struct {
	raw []byte
	b64 [3][]byte
}

func newB64Block(raw []byte) *b64Block {
	c := &b64Block{raw: raw}
	for k := range c.b64 {
		if k < len(raw) {
			whole := (len(raw) - k) / 3 * 3
			c.b64[k] = base64.StdEncoding.AppendEncode(nil, raw[k:k+whole])
		}
	}
	return c
}

// b64Writer appends the standard base64 of a byte stream written in
// pieces to out, copying the cached base64 of the blocks in it: the bytes
// not yet encoded wait in pending (the caller's scratch buffer).
type b64Writer struct {
	out, pending []byte
}

func (w *b64Writer) write(p []byte) { w.pending = append(w.pending, p...) }

// block writes c: the pending bytes and c's first bytes up to a group
// boundary are encoded, then c's cached groups copied, and the rest of c
// waits with what follows.
func (w *b64Writer) block(c *b64Block) {
	k := (3 - len(w.pending)%3) % 3
	if k >= len(c.raw) { // no whole group to copy
		w.write(c.raw)
		return
	}
	w.write(c.raw[:k])
	w.out = base64.StdEncoding.AppendEncode(w.out, w.pending)
	w.out = append(w.out, c.b64[k]...)
	w.pending = append(w.pending[:0], c.raw[k+(len(c.raw)-k)/3*3:]...)
}

// done encodes what is pending and returns the output and the scratch
// buffer.
func (w *b64Writer) done() (out, scratch []byte) {
	return base64.StdEncoding.AppendEncode(w.out, w.pending), w.pending
}

// certificatesOf returns where the certificates element ([0] IMPLICIT
// CertificateSet) of a DER ContentInfo holding a SignedData starts in der
// and how long it is, or ok false when der is not such a ContentInfo or
// has no certificates. It reads no more than the elements before them.
func certificatesOf(der []byte) (start, n int, ok bool) {
	var ci, sd cryptobyte.String
	in := cryptobyte.String(der)
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.SkipASN1(cbasn1.OBJECT_IDENTIFIER) ||
		!ci.ReadASN1(&sd, tagCtx0Cons) || !sd.ReadASN1(&sd, cbasn1.SEQUENCE) ||
		!sd.SkipASN1(cbasn1.INTEGER) || !sd.SkipASN1(cbasn1.SET) || !sd.SkipASN1(cbasn1.SEQUENCE) {
		return 0, 0, false
	}
	rest := len(sd)
	var certs cryptobyte.String
	if !sd.ReadASN1Element(&certs, tagCtx0Cons) {
		return 0, 0, false
	}
	return len(der) - rest, len(certs), true
}

// tokenBlock returns the b64Block of the certificates in value, a DER
// ContentInfo such as a time-stamp token, and where they start; nil when
// value has none. The Signer keeps the last such block: every token of one
// time-stamp authority carries the same certificates, so a batch encodes
// their base64 once.
func (s *Signer) tokenBlock(value []byte) (*b64Block, int) {
	start, n, ok := certificatesOf(value)
	if !ok {
		return nil, 0
	}
	raw := value[start : start+n]
	if c := s.tokenCerts.Load(); c != nil && bytes.Equal(c.raw, raw) {
		return c, start
	}
	c := newB64Block(bytes.Clone(raw))
	s.tokenCerts.Store(c)
	return c, start
}
