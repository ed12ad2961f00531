package nethsm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/signet-project/signet/internal/plainjson"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/internal/remote"
)

// signer signs with one NetHSM key.
type signer struct {
	t   *Token
	ctx context.Context
	id  string
	pub crypto.PublicKey
}

func (s *signer) Public() crypto.PublicKey { return s.pub }

var pssModes = map[crypto.Hash]string{
	crypto.MD5:    "PSS_MD5",
	crypto.SHA1:   "PSS_SHA1",
	crypto.SHA224: "PSS_SHA224",
	crypto.SHA256: "PSS_SHA256",
	crypto.SHA384: "PSS_SHA384",
	crypto.SHA512: "PSS_SHA512",
}

var hashOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
	crypto.MD5:        {1, 2, 840, 113549, 2, 5},
	crypto.SHA1:       {1, 3, 14, 3, 2, 26},
	crypto.SHA224:     {2, 16, 840, 1, 101, 3, 4, 2, 4},
	crypto.SHA256:     {2, 16, 840, 1, 101, 3, 4, 2, 1},
	crypto.SHA384:     {2, 16, 840, 1, 101, 3, 4, 2, 2},
	crypto.SHA512:     {2, 16, 840, 1, 101, 3, 4, 2, 3},
	crypto.SHA512_224: {2, 16, 840, 1, 101, 3, 4, 2, 5},
	crypto.SHA512_256: {2, 16, 840, 1, 101, 3, 4, 2, 6},
	crypto.SHA3_224:   {2, 16, 840, 1, 101, 3, 4, 2, 7},
	crypto.SHA3_256:   {2, 16, 840, 1, 101, 3, 4, 2, 8},
	crypto.SHA3_384:   {2, 16, 840, 1, 101, 3, 4, 2, 9},
	crypto.SHA3_512:   {2, 16, 840, 1, 101, 3, 4, 2, 10},
}

// digestInfo encodes the DER DigestInfo of a digest (RFC 8017, section 9.2):
// the NetHSM's PKCS1 mode pads its input as is and does not know the hash.
func digestInfo(h crypto.Hash, digest []byte) ([]byte, error) {
	oid, ok := hashOIDs[h]
	if !ok {
		return nil, fmt.Errorf("PKCS#1 v1.5 with hash %v: %w", h, tokens.ErrUnsupported)
	}
	return asn1.Marshal(struct {
		Alg    pkix.AlgorithmIdentifier
		Digest []byte
	}{pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.NullRawValue}, digest})
}

// request maps a Sign call to a NetHSM mode and message.
func (s *signer) request(digest []byte, opts crypto.SignerOpts) (mode string, msg []byte, err error) {
	h := opts.HashFunc()
	if h != 0 && len(digest) != h.Size() {
		return "", nil, fmt.Errorf("a %v digest is %d bytes, not %d", h, h.Size(), len(digest))
	}
	switch s.pub.(type) {
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			mode, ok := pssModes[h]
			if !ok {
				return "", nil, fmt.Errorf("RSA-PSS with hash %v: %w", h, tokens.ErrUnsupported)
			}
			if err := remote.CheckPSSSalt("NetHSM", pss, h); err != nil {
				return "", nil, err
			}
			return mode, digest, nil
		}
		if h == 0 {
			return "PKCS1", digest, nil // already a DigestInfo, or raw data
		}
		di, err := digestInfo(h, digest)
		return "PKCS1", di, err
	case *ecdsa.PublicKey:
		return "ECDSA", digest, nil
	case ed25519.PublicKey:
		return "EdDSA", digest, remote.CheckEd25519(opts)
	}
	return "", nil, fmt.Errorf("key type %T: %w", s.pub, tokens.ErrUnsupported)
}

// Sign signs digest with the NetHSM key, in the mode opts select: PKCS1
// (the DigestInfo is added here), PSS_<hash>, ECDSA or EdDSA (opts.HashFunc()
// zero: digest is the whole message). ECDSA signatures are ASN.1 DER.
func (s *signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	t := s.t
	mode, msg, err := s.request(digest, opts)
	if err != nil {
		return nil, fmt.Errorf("nethsm token %s: key %s: %w", t.name, s.id, err)
	}
	resp, err := t.do(s.ctx, http.MethodPost, "/keys/"+s.id+"/sign", "application/json", signBody(mode, msg), true)
	if err != nil {
		var he *remote.HTTPError
		if errors.As(err, &he) && he.Status == http.StatusBadRequest {
			return nil, fmt.Errorf("nethsm token %s: key %s: mode %s: %w: %w", t.name, s.id, mode, he, tokens.ErrUnsupported)
		}
		return nil, t.keyErr(s.id, err)
	}
	sig, err := parseSignature(resp, s.pub)
	if err != nil {
		return nil, fmt.Errorf("nethsm token %s: key %s: %w", t.name, s.id, err)
	}
	if err := remote.Verify(s.pub, digest, sig, opts); err != nil {
		// The key may have been made again under its ID: read its public
		// key again for the next signer.
		t.forgetPublic(s.id)
		return nil, fmt.Errorf("nethsm token %s: key %s: the NetHSM's answer: %w", t.name, s.id, err)
	}
	return sig, nil
}

// parseSignature reads the NetHSM's answer to POST /keys/{id}/sign for a
// key whose public key is pub: the signature, ECDSA ones as ASN.1 DER.
func parseSignature(resp []byte, pub crypto.PublicKey) ([]byte, error) {
	b64, err := signAnswer(resp)
	if err != nil {
		return nil, fmt.Errorf("sign answer: %w", err)
	}
	sig, err := decodeB64(b64)
	if err != nil || len(sig) == 0 {
		return nil, errors.New("the sign answer has no base64 signature")
	}
	if k, ok := pub.(*ecdsa.PublicKey); ok {
		return remote.ECDSADER(k, sig)
	}
	return sig, nil
}

// signBody is the SignRequestData {"mode","message"}, written by hand: mode
// is one of the API's names, base64 needs no escaping, and encoding/json's
// reflection was a tenth of the token's own CPU per signature.
func signBody(mode string, msg []byte) []byte {
	b := make([]byte, 0, len(`{"mode":"","message":""}`)+len(mode)+base64.StdEncoding.EncodedLen(len(msg)))
	b = append(b, `{"mode":"`...)
	b = append(b, mode...)
	b = append(b, `","message":"`...)
	b = base64.StdEncoding.AppendEncode(b, msg)
	return append(b, `"}`...)
}

// signAnswer returns the signature property of a SignData answer. The
// answer a NetHSM writes, {"signature":"<base64>"}, is read in one pass
// (plainjson.Object); any other shape through encoding/json, so that the
// same answers are accepted (FuzzSignAnswer holds both to that).
func signAnswer(body []byte) (string, error) {
	var v [1][]byte
	if plainjson.Object(body, answerKeys, v[:]) && v[0] != nil {
		return string(v[0]), nil
	}
	var out struct {
		Signature string `json:"signature"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", err
	}
	return out.Signature, nil
}

// answerKeys is the member of a SignData answer.
var answerKeys = []string{"signature"}

// decodeB64 decodes standard base64, padded or not.
func decodeB64(s string) ([]byte, error) {
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}
