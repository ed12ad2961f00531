package nethsm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	_ "crypto/md5" // PSS_MD5 needs MD5 registered for its size
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/internal/clienttext"
	"github.com/signet-project/signet/internal/mediatype"
	"github.com/signet-project/signet/internal/plainjson"
	"github.com/signet-project/signet/tokens"
)

// maxSignBody bounds a sign request body. EdDSA signs whole messages, so the
// bound is generous; digests are tiny.
const maxSignBody = 8 << 20

// signRequest is the SignRequestData schema.
type signRequest struct {
	Mode    *string `json:"mode"`
	Message *string `json:"message"`
}

type signData struct {
	Signature string `json:"signature"`
}

var pssModes = map[string]crypto.Hash{
	"PSS_MD5":    crypto.MD5,
	"PSS_SHA1":   crypto.SHA1,
	"PSS_SHA224": crypto.SHA224,
	"PSS_SHA256": crypto.SHA256,
	"PSS_SHA384": crypto.SHA384,
	"PSS_SHA512": crypto.SHA512,
}

// digestInfoHashes are the hashes whose DigestInfo prefix PKCS1 mode
// recognises, so that the token is asked for a normal PKCS#1 v1.5 signature
// of the digest (PKCS#1 v1.5 is deterministic: the result is the same as
// padding the DigestInfo raw, and tokens that cannot sign raw data work too).
var digestInfoHashes = []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512, crypto.SHA224, crypto.SHA1, crypto.MD5}

var hashOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
	crypto.MD5:    {1, 2, 840, 113549, 2, 5},
	crypto.SHA1:   {1, 3, 14, 3, 2, 26},
	crypto.SHA224: {2, 16, 840, 1, 101, 3, 4, 2, 4},
	crypto.SHA256: {2, 16, 840, 1, 101, 3, 4, 2, 1},
	crypto.SHA384: {2, 16, 840, 1, 101, 3, 4, 2, 2},
	crypto.SHA512: {2, 16, 840, 1, 101, 3, 4, 2, 3},
}

// digestInfoPrefix returns the DER DigestInfo header that precedes a digest
// made with h (RFC 8017, section 9.2, note 1).
func digestInfoPrefix(h crypto.Hash) []byte {
	der, err := asn1.Marshal(struct {
		Alg    pkix.AlgorithmIdentifier
		Digest []byte
	}{pkix.AlgorithmIdentifier{Algorithm: hashOIDs[h], Parameters: asn1.NullRawValue}, make([]byte, h.Size())})
	if err != nil {
		panic(err) // constant input
	}
	return der[:len(der)-h.Size()]
}

// ecdsaHash names the hash of an ECDSA digest by its length, for tokens that
// check the length against opts. The NetHSM does not know the hash.
func ecdsaHash(n int) crypto.Hash {
	switch n {
	case 20:
		return crypto.SHA1
	case 28:
		return crypto.SHA224
	case 32:
		return crypto.SHA256
	case 48:
		return crypto.SHA384
	case 64:
		return crypto.SHA512
	}
	return 0
}

// decodeSignRequest parses a SignRequestData body strictly: unknown
// properties, missing properties and bad base64 are errors.
func decodeSignRequest(r io.Reader) (mode string, msg []byte, err error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var req signRequest
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return "", nil, fmt.Errorf("the request body is larger than %d bytes", maxSignBody)
		}
		return "", nil, fmt.Errorf("the body must be a JSON object with only \"mode\" and \"message\" (%s)", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", nil, errors.New("the body must hold one JSON object and nothing after it")
	}
	if req.Mode == nil || req.Message == nil {
		return "", nil, errors.New("the body needs both \"mode\" and \"message\"")
	}
	b64 := *req.Message
	if b64 == "" {
		return "", nil, errors.New("\"message\" is empty: send the base64 of the data to sign")
	}
	msg, err = decodeMessage([]byte(b64))
	if err != nil {
		return "", nil, errors.New("\"message\" is not valid base64")
	}
	return *req.Mode, msg, nil
}

// jsonProblem words what encoding/json found wrong with a sign request
// body: its own words name Go types ("Go struct field signRequest.mode")
// and repeat an unknown property's name whole, so the client's text is
// quoted by clienttext.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field != "":
		kind, _, _ := strings.Cut(te.Value, " ")
		return fmt.Sprintf("%s is a %s, not a string", clienttext.Quote(te.Field), kind)
	case errors.As(err, &te):
		kind, _, _ := strings.Cut(te.Value, " ")
		return "the body is a JSON " + kind
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		if f, uerr := strconv.Unquote(field); uerr == nil {
			field = f
		}
		return "unknown property " + clienttext.Quote(field)
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.Is(err, io.EOF):
		return "the body is empty"
	}
	return "the body ends early"
}

// decodeMessage decodes a sign request's message: standard base64, padded
// or, when its length says so, not.
func decodeMessage(b64 []byte) ([]byte, error) {
	enc := base64.StdEncoding
	if !bytes.HasSuffix(b64, []byte("=")) && len(b64)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	msg := make([]byte, enc.DecodedLen(len(b64)))
	n, err := enc.Decode(msg, b64)
	return msg[:n], err
}

// signOpts chooses the token call for a NetHSM mode: the input handed to
// crypto.Signer.Sign and its options. It answers the 400 cases of the API
// description: unknown mode, mode not matching the key, wrong input length.
func signOpts(mode string, pub crypto.PublicKey, msg []byte) ([]byte, crypto.SignerOpts, error) {
	switch mode {
	case "PKCS1":
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, nil, errors.New("mode PKCS1 needs an RSA key")
		}
		if len(msg) > k.Size()-11 {
			return nil, nil, fmt.Errorf("mode PKCS1 input of %d bytes is too long for a %d-bit key", len(msg), k.N.BitLen())
		}
		for _, h := range digestInfoHashes {
			p := digestInfoPrefix(h)
			if len(msg) == len(p)+h.Size() && bytes.HasPrefix(msg, p) {
				return msg[len(p):], h, nil
			}
		}
		return msg, crypto.Hash(0), nil
	case "EdDSA":
		if _, ok := pub.(ed25519.PublicKey); !ok {
			return nil, nil, errors.New("mode EdDSA needs a Curve25519 key")
		}
		return msg, crypto.Hash(0), nil
	case "ECDSA":
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return nil, nil, errors.New("mode ECDSA needs an EC key")
		}
		if bits := k.Curve.Params().BitSize; len(msg)*8 > bits+7 {
			return nil, nil, fmt.Errorf("mode ECDSA input of %d bytes exceeds the %d-bit group size: send a digest of at most %d bytes (SHA-256 for a P-256 key, SHA-384 for P-384)", len(msg), bits, (bits+7)/8)
		}
		// The input is a digest, and its length the only sign of its hash:
		// one of no hash's length (16 bytes: MD5's) is refused here, a
		// SHA-1 one by the key's policy (tokens/guard), as the worker
		// endpoints refuse both.
		h := ecdsaHash(len(msg))
		if h == 0 {
			return nil, nil, fmt.Errorf("mode ECDSA signs a digest: send the SHA-256, SHA-384, SHA-512 or SHA-224 digest of the data (32, 48, 64 or 28 bytes), not %d bytes", len(msg))
		}
		return msg, h, nil
	case "BIP340":
		return nil, nil, errors.New("mode BIP340 is not supported")
	}
	h, ok := pssModes[mode]
	if !ok {
		return nil, nil, fmt.Errorf("unknown signing mode %s", clienttext.Quote(mode))
	}
	k, isRSA := pub.(*rsa.PublicKey)
	if !isRSA {
		return nil, nil, fmt.Errorf("mode %s needs an RSA key", mode)
	}
	if len(msg) != h.Size() {
		return nil, nil, fmt.Errorf("mode %s needs a %d-byte hash, not %d bytes", mode, h.Size(), len(msg))
	}
	if k.Size() < 2*h.Size()+2 {
		return nil, nil, fmt.Errorf("the key is too small for mode %s", mode)
	}
	return msg, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}, nil
}

// sign serves POST /keys/{KeyID}/sign.
func (h *Handler) sign(c echo.Context) error {
	k, ok, err := h.key(c, mimeJSON, RoleOperator)
	if !ok {
		return err
	}
	r := c.Request()
	if !mediatype.Body(r, mediatype.JSON) {
		return fail(c, http.StatusUnsupportedMediaType, "A sign request body is application/json: set the Content-Type header.")
	}
	u, _ := c.Get(userKey).(User)
	c.SetRequest(r.WithContext(tokens.WithCaller(r.Context(), tokens.Caller{Surface: "nethsm", User: u.Name, Client: c.RealIP(), RequestID: c.Response().Header().Get(echo.HeaderXRequestID)})))
	mode, msg, err := readSignRequest(c)
	if err != nil {
		return fail(c, http.StatusBadRequest, "Bad sign request: "+err.Error()+".")
	}
	s, ok, err := h.signer(c, k)
	if !ok {
		return err
	}
	input, opts, err := signOpts(mode, s.Public(), msg)
	if err != nil {
		return fail(c, http.StatusBadRequest, "Bad sign request for key "+k.ID+": "+err.Error()+".")
	}
	h.signCalls.Add(1)
	sig, err := s.Sign(rand.Reader, input, opts)
	if err != nil {
		if errors.Is(err, rsa.ErrMessageTooLong) {
			return fail(c, http.StatusBadRequest, "The input is too long for key "+k.ID+".")
		}
		return tokenError(c, k, err)
	}
	h.operations(k.ID).Add(1)
	if _, pretty := c.QueryParams()["pretty"]; pretty {
		return c.JSON(http.StatusOK, signData{Signature: base64.StdEncoding.EncodeToString(sig)})
	}
	// As c.JSON writes it, without encoding/json: base64 needs no escaping.
	w := make([]byte, 0, len(`{"signature":""}`)+1+base64.StdEncoding.EncodedLen(len(sig)))
	w = append(w, `{"signature":"`...)
	w = base64.StdEncoding.AppendEncode(w, sig)
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, append(w, "\"}\n"...))
}

// readSignRequest reads the body of a sign request: the shape clients send,
// {"mode":"…","message":"…"}, in one pass, and anything else through
// decodeSignRequest, so that the same bodies are accepted and refused.
func readSignRequest(c echo.Context) (mode string, msg []byte, err error) {
	r := c.Request()
	var buf bytes.Buffer
	buf.Grow(int(min(max(r.ContentLength, 0), maxSignBody)) + 1)
	if _, err := buf.ReadFrom(http.MaxBytesReader(c.Response(), r.Body, maxSignBody)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return "", nil, fmt.Errorf("the request body is larger than %d bytes", maxSignBody)
		}
		return "", nil, fmt.Errorf("the body must be a JSON object with only \"mode\" and \"message\" (%v)", err)
	}
	return signRequestBody(buf.Bytes())
}

// signRequestBody reads a whole sign request body: the shape clients send
// in one pass (simpleSignRequest), anything else, and a message that is not
// base64, through decodeSignRequest, whose answers these are
// (FuzzSimpleSignRequest holds it to them).
func signRequestBody(b []byte) (mode string, msg []byte, err error) {
	if m, b64, ok := simpleSignRequest(b); ok && m != "" && len(b64) != 0 {
		if msg, err := decodeMessage(b64); err == nil {
			return m, msg, nil
		}
	}
	return decodeSignRequest(bytes.NewReader(b))
}

// simpleSignRequest reads {"mode":"…","message":"…"} (either order,
// each once, plain strings: plainjson.Object), the message as its base64
// text, a slice of b.
func simpleSignRequest(b []byte) (mode string, message []byte, ok bool) {
	var v [2][]byte
	if !plainjson.Object(b, signKeys, v[:]) || v[0] == nil || v[1] == nil {
		return "", nil, false
	}
	return string(v[0]), v[1], true
}

// signKeys are the members of a SignRequestData body.
var signKeys = []string{"mode", "message"}
