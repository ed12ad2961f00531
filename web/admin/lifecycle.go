package admin

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/formats/dn"
	"github.com/signet-project/signet/internal/clienttext"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/workers"
)

// ActivateRequest is the body of POST /tokens/{token}/activate.
type ActivateRequest struct {
	PIN string `json:"pin"`
}

// activate handles POST /tokens/{token}/activate.
func (h *Handler) activate(c echo.Context) error {
	name := param(c, "token")
	var req ActivateRequest
	err := decode(c, &req, false)
	var t tokens.Token
	if err == nil {
		_, t, err = h.token(c)
	}
	if err == nil {
		switch aerr := t.Activate(c.Request().Context(), req.PIN); {
		case aerr == nil:
		case errors.Is(aerr, tokens.ErrNoPIN):
			// No PIN at all ({} or "pin": ""): a token of unencrypted
			// keys activates so, this one wants its PIN; "Wrong PIN" would
			// send the client checking a PIN it never sent. The token
			// says so, not the empty PIN: a DSM token given none tries
			// its configured API key, whose refusal is a wrong PIN.
			err = errorf(http.StatusBadRequest, "No PIN was given for crypto token %s, which needs one to activate: give its PIN.", name)
		default:
			err = tokenError(name, "", aerr)
		}
	}
	h.record(c, "token.activate", "token/"+name, nil, err)
	if err != nil {
		return h.answer(c, 0, nil, err)
	}
	return h.getToken(c)
}

// deactivate handles POST /tokens/{token}/deactivate.
func (h *Handler) deactivate(c echo.Context) error {
	name := param(c, "token")
	var req struct{}
	err := decode(c, &req, true)
	var t tokens.Token
	if err == nil {
		_, t, err = h.token(c)
	}
	if err == nil {
		if derr := t.Deactivate(c.Request().Context()); derr != nil {
			err = tokenError(name, "", derr)
		}
	}
	h.record(c, "token.deactivate", "token/"+name, nil, err)
	if err != nil {
		return h.answer(c, 0, nil, err)
	}
	return h.getToken(c)
}

// listKeys handles GET /tokens/{token}/keys.
func (h *Handler) listKeys(c echo.Context) error {
	set, t, err := h.token(c)
	if err != nil {
		return h.answer(c, 0, nil, err)
	}
	keys, err := t.Keys(c.Request().Context())
	if err != nil {
		return h.answer(c, 0, nil, tokenError(param(c, "token"), "", err))
	}
	out := make([]Key, 0, len(keys))
	for _, k := range keys {
		out = append(out, describeKey(k, users(set, param(c, "token"), k.Alias)))
	}
	return c.JSON(http.StatusOK, out)
}

// key finds the key of the path's alias.
func (h *Handler) key(ctx context.Context, c echo.Context) (tokens.Token, Key, crypto.Signer, error) {
	set, t, err := h.token(c)
	if err != nil {
		return nil, Key{}, nil, err
	}
	return keyOf(ctx, set, t, param(c, "token"), param(c, "alias"))
}

// keyOf finds key alias of t, the token named name in set: names as read,
// never read from the path again (a name with a '%' escape of its own
// would be decoded twice).
func keyOf(ctx context.Context, set *workers.Set, t tokens.Token, name, alias string) (tokens.Token, Key, crypto.Signer, error) {
	if err := checkAlias(alias); err != nil {
		return nil, Key{}, nil, err
	}
	s, err := t.Signer(ctx, alias)
	if err != nil {
		return nil, Key{}, nil, tokenError(name, alias, err)
	}
	keys, err := t.Keys(ctx)
	if err != nil {
		return nil, Key{}, nil, tokenError(name, alias, err)
	}
	for _, k := range keys {
		if k.Alias == alias {
			out := describeKey(k, users(set, name, alias))
			out.PublicKey = publicPEM(s.Public())
			return t, out, s, nil
		}
	}
	return nil, Key{}, nil, tokenError(name, alias, tokens.ErrKeyNotFound)
}

// getKey handles GET /tokens/{token}/keys/{alias}.
func (h *Handler) getKey(c echo.Context) error {
	_, k, _, err := h.key(c.Request().Context(), c)
	return h.answer(c, http.StatusOK, k, err)
}

func publicPEM(pub crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// checkAlias accepts aliases that are safe as file names and PKCS#11
// labels: 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'.
func checkAlias(alias string) error {
	ok := alias != "" && len(alias) <= 64 && alias[0] != '.'
	for _, r := range alias {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			ok = false
		}
	}
	if !ok {
		return errorf(http.StatusBadRequest, "Invalid key alias %s: use 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'.", clienttext.Quote(alias))
	}
	return nil
}

// GenerateRequest is the body of POST /tokens/{token}/keys.
type GenerateRequest struct {
	Alias string `json:"alias"`
	// Algorithm is RSA, ECDSA (or EC) or Ed25519.
	Algorithm string `json:"algorithm"`
	// Bits is the RSA size (2048, 3072, 4096; default 3072).
	Bits int `json:"bits,omitempty"`
	// Curve is the ECDSA curve (P-256, P-384, P-521; default P-256).
	Curve string `json:"curve,omitempty"`
}

// spec checks a generation request and returns the key spec.
func (r GenerateRequest) spec() (tokens.KeySpec, error) {
	if err := checkAlias(r.Alias); err != nil {
		return tokens.KeySpec{}, err
	}
	switch strings.ToUpper(r.Algorithm) {
	case "RSA":
		if r.Curve != "" {
			return tokens.KeySpec{}, errorf(http.StatusBadRequest, "An RSA key has no curve: give bits (2048, 3072 or 4096) instead.")
		}
		bits := r.Bits
		if bits == 0 {
			bits = 3072
		}
		if bits != 2048 && bits != 3072 && bits != 4096 {
			return tokens.KeySpec{}, errorf(http.StatusBadRequest, "RSA keys of %d bits are not offered: use 2048, 3072 or 4096.", bits)
		}
		return tokens.KeySpec{Algorithm: "RSA", Bits: bits}, nil
	case "ECDSA", "EC":
		curve := strings.ToUpper(strings.ReplaceAll(r.Curve, "-", ""))
		if curve == "" && r.Bits != 0 {
			curve = "P" + strconv.Itoa(r.Bits)
		}
		switch curve {
		case "", "P256", "PRIME256V1", "SECP256R1":
			return tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256", Bits: 256}, nil
		case "P384", "SECP384R1":
			return tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-384", Bits: 384}, nil
		case "P521", "SECP521R1":
			return tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-521", Bits: 521}, nil
		}
		return tokens.KeySpec{}, errorf(http.StatusBadRequest, "ECDSA curve %s is not offered: use P-256, P-384 or P-521.", clienttext.Quote(r.Curve))
	case "ED25519":
		if r.Curve != "" || (r.Bits != 0 && r.Bits != 256) {
			return tokens.KeySpec{}, errorf(http.StatusBadRequest, "An Ed25519 key has no size or curve to choose: leave bits and curve out.")
		}
		return tokens.KeySpec{Algorithm: "Ed25519"}, nil
	case "":
		return tokens.KeySpec{}, errorf(http.StatusBadRequest, "The key algorithm is missing: set algorithm to RSA, ECDSA or Ed25519.")
	}
	return tokens.KeySpec{}, errorf(http.StatusBadRequest, "Key algorithm %s is not offered: use RSA, ECDSA or Ed25519.", clienttext.Quote(r.Algorithm))
}

// generateKey handles POST /tokens/{token}/keys.
func (h *Handler) generateKey(c echo.Context) error {
	ctx := c.Request().Context()
	name := param(c, "token")
	var req GenerateRequest
	var spec tokens.KeySpec
	err := decode(c, &req, false)
	if err == nil {
		spec, err = req.spec()
	}
	var gen tokens.KeyGenerator
	var set *workers.Set
	var t tokens.Token
	if err == nil {
		set, t, err = h.token(c)
	}
	if err == nil {
		var ok bool
		if gen, ok = tokens.Unwrap(t).(tokens.KeyGenerator); !ok {
			err = errorf(http.StatusConflict, "Crypto token %s cannot generate keys: generate the key with the token's own tools.", name)
		}
	}
	if err == nil {
		if _, serr := t.Signer(ctx, req.Alias); serr == nil {
			err = errorf(http.StatusConflict, "Crypto token %s already has a key %q: remove it first or choose another alias.", name, req.Alias)
		} else if !errors.Is(serr, tokens.ErrKeyNotFound) {
			err = tokenError(name, req.Alias, serr)
		}
	}
	var pub crypto.PublicKey
	if err == nil {
		// The key must exist even if the client gives up waiting for a
		// large RSA key: finish what was started.
		if pub, err = gen.GenerateKey(context.WithoutCancel(ctx), req.Alias, spec); err != nil {
			err = tokenError(name, req.Alias, err)
		}
	}
	details := map[string]string{"algorithm": spec.Algorithm}
	if spec.Bits != 0 {
		details["bits"] = strconv.Itoa(spec.Bits)
	}
	if spec.Curve != "" {
		details["curve"] = spec.Curve
	}
	h.record(c, "key.generate", keyTarget(name, req.Alias), details, err)
	if err != nil {
		return h.answer(c, 0, nil, err)
	}
	_, k, _, err := keyOf(ctx, set, t, name, req.Alias)
	if err != nil {
		// The key was made but cannot be read back; answer what we know.
		k = Key{Alias: req.Alias, Algorithm: spec.Algorithm, Bits: spec.Bits, Curve: spec.Curve, PublicKey: publicPEM(pub)}
	}
	return c.JSON(http.StatusCreated, k)
}

func keyTarget(token, alias string) string { return "token/" + token + "/key/" + alias }

// removeKey handles DELETE /tokens/{token}/keys/{alias}.
func (h *Handler) removeKey(c echo.Context) error {
	ctx := c.Request().Context()
	name, alias := param(c, "token"), param(c, "alias")
	set, t, err := h.token(c)
	if err == nil {
		err = checkAlias(alias)
	}
	// force is true or false: another value is a slip refused before
	// anything is removed (force=maybe removed an unused key).
	force := c.QueryParams()["force"]
	if err == nil && (len(force) > 1 || len(force) == 1 && force[0] != "true" && force[0] != "false") {
		err = errorf(http.StatusBadRequest, "Query parameter force must be true or false.")
	}
	var details map[string]string
	if err == nil {
		// A key that workers sign with is not removed by a slip: the
		// caller names it with force=true.
		if used := users(set, name, alias); len(used) > 0 {
			if len(force) == 0 || force[0] != "true" {
				err = errorf(http.StatusConflict, "Key %q is used by worker %s: point the workers at another key first, or remove it anyway with force=true (signet admin keys remove --force).", alias, strings.Join(used, ", "))
			} else {
				details = map[string]string{"force": "true", "workers": strings.Join(used, ",")}
			}
		}
	}
	if err == nil {
		gen, ok := tokens.Unwrap(t).(tokens.KeyGenerator)
		if !ok {
			err = errorf(http.StatusConflict, "Crypto token %s cannot remove keys: remove the key with the token's own tools.", name)
		} else if rerr := gen.RemoveKey(context.WithoutCancel(ctx), alias); rerr != nil {
			err = tokenError(name, alias, rerr)
		}
	}
	h.record(c, "key.remove", keyTarget(name, alias), details, err)
	if err != nil {
		return h.answer(c, 0, nil, err)
	}
	return c.NoContent(http.StatusNoContent)
}

// TestResult is the answer of POST /tokens/{token}/keys/{alias}/test.
type TestResult struct {
	Alias     string `json:"alias"`
	Algorithm string `json:"algorithm"` // signature algorithm used, e.g. SHA256withECDSA
	// Verified is true when the signature verified with the public key.
	Verified bool `json:"verified"`
	// Duration is the time the token took to sign, in milliseconds.
	Duration float64 `json:"durationMs"`
}

// testKey handles POST /tokens/{token}/keys/{alias}/test: it signs a random
// digest and verifies the signature with the public key.
func (h *Handler) testKey(c echo.Context) error {
	// The test signature is a signature of the key like any other: its
	// guard counts it, applies the key's policy and records it.
	ctx := tokens.WithCaller(c.Request().Context(), tokens.Caller{Surface: "admin/test-sign", User: user(c), Client: c.RealIP(),
		RequestID: c.Response().Header().Get(echo.HeaderXRequestID)})
	name, alias := param(c, "token"), param(c, "alias")
	var req struct{}
	err := decode(c, &req, true)
	var s crypto.Signer
	if err == nil {
		_, _, s, err = h.key(ctx, c)
	}
	var res TestResult
	if err == nil {
		res, err = test(s)
		res.Alias = alias
		if err != nil {
			err = tokenError(name, alias, err)
		} else if !res.Verified {
			err = errorf(http.StatusConflict, "The test signature of key %q does not verify with its public key: the token or key is faulty.", alias)
		}
	}
	details := map[string]string{}
	if res.Algorithm != "" {
		details["algorithm"] = res.Algorithm
		details["durationMs"] = strconv.FormatFloat(res.Duration, 'f', 2, 64)
	}
	h.record(c, "key.test", keyTarget(name, alias), details, err)
	return h.answer(c, http.StatusOK, res, err)
}

// test signs 32 random bytes (as a SHA-256 digest, or as the message for
// Ed25519) and verifies the signature.
func test(s crypto.Signer) (TestResult, error) {
	msg := make([]byte, sha256.Size)
	rand.Read(msg)
	var opts crypto.SignerOpts = crypto.SHA256
	var res TestResult
	switch s.Public().(type) {
	case *rsa.PublicKey:
		res.Algorithm = "SHA256withRSA"
	case *ecdsa.PublicKey:
		res.Algorithm = "SHA256withECDSA"
	case ed25519.PublicKey:
		res.Algorithm, opts = "Ed25519", crypto.Hash(0)
	default:
		return res, fmt.Errorf("key type %T: %w", s.Public(), tokens.ErrUnsupported)
	}
	start := time.Now()
	sig, err := s.Sign(rand.Reader, msg, opts)
	res.Duration = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		return res, err
	}
	switch pub := s.Public().(type) {
	case *rsa.PublicKey:
		res.Verified = rsa.VerifyPKCS1v15(pub, crypto.SHA256, msg, sig) == nil
	case *ecdsa.PublicKey:
		res.Verified = ecdsa.VerifyASN1(pub, msg, sig)
	case ed25519.PublicKey:
		res.Verified = ed25519.Verify(pub, msg, sig)
	}
	return res, nil
}

// CSRRequest is the body of POST /tokens/{token}/keys/{alias}/csr.
type CSRRequest struct {
	// Subject is the subject DN, "CN=Signer,O=Example,C=DE" (RFC 4514) or
	// "/C=DE/O=Example/CN=Signer" (OpenSSL).
	Subject string `json:"subject"`
	// SignatureAlgorithm optionally chooses the CSR's signature algorithm,
	// e.g. SHA384withECDSA or SHA256withRSAandMGF1; default from the key.
	SignatureAlgorithm string `json:"signatureAlgorithm,omitempty"`
}

// CSRResponse is the answer of POST …/csr.
type CSRResponse struct {
	Subject string `json:"subject"`
	CSR     string `json:"csr"` // PEM "CERTIFICATE REQUEST"
}

var signatureAlgorithms = map[string]x509.SignatureAlgorithm{
	"SHA256WITHRSA":        x509.SHA256WithRSA,
	"SHA384WITHRSA":        x509.SHA384WithRSA,
	"SHA512WITHRSA":        x509.SHA512WithRSA,
	"SHA256WITHRSAANDMGF1": x509.SHA256WithRSAPSS,
	"SHA384WITHRSAANDMGF1": x509.SHA384WithRSAPSS,
	"SHA512WITHRSAANDMGF1": x509.SHA512WithRSAPSS,
	"SHA256WITHECDSA":      x509.ECDSAWithSHA256,
	"SHA384WITHECDSA":      x509.ECDSAWithSHA384,
	"SHA512WITHECDSA":      x509.ECDSAWithSHA512,
	"ED25519":              x509.PureEd25519,
}

// csr handles POST /tokens/{token}/keys/{alias}/csr.
func (h *Handler) csr(c echo.Context) error {
	// The CSR's signature is a signature of the key: its guard counts and
	// records it, without the checks of the certificate it is to replace.
	ctx := tokens.WithCaller(c.Request().Context(), tokens.Caller{Surface: "admin/csr", User: user(c), Client: c.RealIP(),
		RequestID: c.Response().Header().Get(echo.HeaderXRequestID), Renewal: true})
	name, alias := param(c, "token"), param(c, "alias")
	var req CSRRequest
	err := decode(c, &req, false)
	var subject []byte
	if err == nil {
		var seq pkix.RDNSequence
		if seq, err = dn.Parse(req.Subject); err != nil {
			err = errorf(http.StatusBadRequest, "The subject is not a valid DN: %s.", strings.TrimSuffix(err.Error(), "."))
		} else if subject, err = asn1.Marshal(seq); err != nil {
			err = errorf(http.StatusBadRequest, "The subject is not a valid DN: %s.", err)
		}
	}
	tmpl := &x509.CertificateRequest{RawSubject: subject}
	if err == nil && req.SignatureAlgorithm != "" {
		alg, ok := signatureAlgorithms[strings.ToUpper(req.SignatureAlgorithm)]
		if !ok {
			err = errorf(http.StatusBadRequest, "Signature algorithm %s is not offered for a CSR: use e.g. SHA256withRSA, SHA256withRSAandMGF1, SHA256withECDSA or Ed25519.", clienttext.Quote(req.SignatureAlgorithm))
		}
		tmpl.SignatureAlgorithm = alg
	}
	var s crypto.Signer
	if err == nil {
		_, _, s, err = h.key(ctx, c)
	}
	var res CSRResponse
	if err == nil {
		der, cerr := x509.CreateCertificateRequest(rand.Reader, tmpl, s)
		switch {
		case cerr == nil:
			parsed, perr := x509.ParseCertificateRequest(der)
			if perr != nil {
				err = fmt.Errorf("parse the CSR made: %w", perr)
				break
			}
			res.Subject = parsed.Subject.String()
			res.CSR = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
		case errors.Is(cerr, tokens.ErrOffline), errors.Is(cerr, tokens.ErrUnsupported):
			err = tokenError(name, alias, cerr)
		case req.SignatureAlgorithm != "" && strings.Contains(cerr.Error(), "x509:"):
			err = errorf(http.StatusBadRequest, "Signature algorithm %s does not fit key %q: choose one for its key type, or leave it out.", req.SignatureAlgorithm, alias)
		default:
			err = tokenError(name, alias, cerr)
		}
	}
	details := map[string]string{}
	if res.Subject != "" {
		details["subject"] = res.Subject
	}
	h.record(c, "key.csr", keyTarget(name, alias), details, err)
	return h.answer(c, http.StatusOK, res, err)
}

// ChainRequest is the JSON form of the body of PUT …/chain; the body may
// also be the PEM bundle itself.
type ChainRequest struct {
	// Chain is the PEM certificates, signer first, then its issuers.
	Chain string `json:"chain"`
}

// ChainResponse is the answer of GET and PUT …/chain.
type ChainResponse struct {
	Alias        string        `json:"alias"`
	Certificates []Certificate `json:"certificates"`
	// Workers are the workers that sign with this chain from now on.
	Workers []string `json:"workers,omitempty"`
}

// getChain handles GET /tokens/{token}/keys/{alias}/chain.
func (h *Handler) getChain(c echo.Context) error {
	ctx := c.Request().Context()
	t, k, _, err := h.key(ctx, c)
	if err != nil {
		return h.answer(c, 0, nil, err)
	}
	ch, err := t.Chain(ctx, k.Alias)
	if err != nil {
		return h.answer(c, 0, nil, tokenError(param(c, "token"), k.Alias, err))
	}
	return c.JSON(http.StatusOK, chainResponse(k, ch))
}

func chainResponse(k Key, ch []*x509.Certificate) ChainResponse {
	res := ChainResponse{Alias: k.Alias, Certificates: []Certificate{}, Workers: k.Workers}
	now := time.Now()
	for _, cert := range ch {
		res.Certificates = append(res.Certificates, *describeCert(cert, now))
	}
	return res
}

// readChain reads the body of PUT …/chain: JSON {"chain": PEM} when the
// content type says JSON, otherwise the PEM bundle itself.
func readChain(c echo.Context) ([]*x509.Certificate, error) {
	var text []byte
	if strings.Contains(c.Request().Header.Get(echo.HeaderContentType), "json") {
		var req ChainRequest
		if err := decode(c, &req, false); err != nil {
			return nil, err
		}
		text = []byte(req.Chain)
	} else {
		body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxBody+1))
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "The request body could not be read: send it again.")
		}
		if len(body) > maxBody {
			return nil, errorf(http.StatusRequestEntityTooLarge, "The certificate chain is larger than %d bytes: send only the signer certificate and its issuers.", maxBody)
		}
		text = body
	}
	var chain []*x509.Certificate
	for n := 1; ; n++ {
		var b *pem.Block
		b, text = pem.Decode(text)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, errorf(http.StatusBadRequest, "PEM block %d is a %s, not a CERTIFICATE: send only certificates, signer first.", n, b.Type)
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "PEM block %d is not a valid X.509 certificate: send the certificates as issued.", n)
		}
		chain = append(chain, cert)
	}
	if len(chain) == 0 {
		if len(bytes.TrimSpace(text)) > 0 && !json.Valid(text) {
			return nil, errorf(http.StatusBadRequest, "The body holds no PEM certificate: send the chain as PEM (-----BEGIN CERTIFICATE-----), signer first.")
		}
		return nil, errorf(http.StatusBadRequest, "The certificate chain is empty: send the PEM certificates, signer first.")
	}
	for i := 1; i < len(chain); i++ {
		if err := chain[i-1].CheckSignatureFrom(chain[i]); err != nil {
			return nil, errorf(http.StatusBadRequest, "Certificate %d (%s) is not issued by certificate %d (%s): send the chain signer first, then its issuers in order.",
				i, chain[i-1].Subject.CommonName, i+1, chain[i].Subject.CommonName)
		}
	}
	return chain, nil
}

type equaler interface {
	Equal(crypto.PublicKey) bool
}

// putChain handles PUT /tokens/{token}/keys/{alias}/chain.
func (h *Handler) putChain(c echo.Context) error {
	ctx := c.Request().Context()
	name, alias := param(c, "token"), param(c, "alias")
	chain, err := readChain(c)
	var store tokens.CertificateStore
	var t tokens.Token
	var k Key
	var s crypto.Signer
	if err == nil {
		t, k, s, err = h.key(ctx, c)
	}
	if err == nil {
		var ok bool
		if store, ok = tokens.Unwrap(t).(tokens.CertificateStore); !ok {
			err = errorf(http.StatusConflict, "Crypto token %s cannot store certificates: store the chain with the token's own tools.", name)
		}
	}
	if err == nil {
		if pub, ok := s.Public().(equaler); !ok || !pub.Equal(chain[0].PublicKey) {
			err = errorf(http.StatusBadRequest, "The first certificate (%s) is not for key %q, its public key is another one: send the certificate issued for this key first.", chain[0].Subject.String(), alias)
		}
	}
	if err == nil {
		if ierr := store.ImportChain(context.WithoutCancel(ctx), alias, chain); ierr != nil {
			err = tokenError(name, alias, ierr)
		}
	}
	details := map[string]string{}
	if len(chain) > 0 {
		details["subject"] = chain[0].Subject.String()
		details["issuer"] = chain[0].Issuer.String()
		details["serial"] = chain[0].SerialNumber.Text(16)
		details["certificates"] = strconv.Itoa(len(chain))
	}
	h.record(c, "key.chain", keyTarget(name, alias), details, err)
	if err != nil {
		return h.answer(c, 0, nil, err)
	}
	return c.JSON(http.StatusOK, chainResponse(k, chain))
}
