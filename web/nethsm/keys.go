package nethsm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/tokens"
)

const (
	mimeJSON = echo.MIMEApplicationJSON
	mimePEM  = "application/x-pem-file"
	mimeBin  = echo.MIMEOctetStream
)

type infoData struct {
	Vendor  string `json:"vendor"`
	Product string `json:"product"`
}

func (h *Handler) info(c echo.Context) error {
	if !accepts(c.Request().Header.Get(echo.HeaderAccept), mimeJSON) {
		return fail(c, http.StatusNotAcceptable, "The Accept header must allow "+mimeJSON+".")
	}
	return c.JSON(http.StatusOK, infoData{Vendor: h.opts.Vendor, Product: h.opts.Product})
}

// alive answers 200 in the states the API description gives for
// /health/alive (Locked or Unprovisioned: started but not taking traffic),
// and 412 otherwise.
func (h *Handler) alive(c echo.Context) error {
	return h.health(c, Locked, Unprovisioned)
}

// ready answers 200 when the service is Operational, 412 otherwise.
func (h *Handler) ready(c echo.Context) error {
	return h.health(c, Operational)
}

func (h *Handler) health(c echo.Context, ok ...State) error {
	if !accepts(c.Request().Header.Get(echo.HeaderAccept), mimeJSON) {
		return fail(c, http.StatusNotAcceptable, "The Accept header must allow "+mimeJSON+".")
	}
	s := h.state(c.Request().Context())
	for _, want := range ok {
		if s == want {
			return c.NoContent(http.StatusOK)
		}
	}
	return fail(c, http.StatusPreconditionFailed, "The NetHSM service is "+string(s)+".")
}

func (h *Handler) healthState(c echo.Context) error {
	if !accepts(c.Request().Header.Get(echo.HeaderAccept), mimeJSON) {
		return fail(c, http.StatusNotAcceptable, "The Accept header must allow "+mimeJSON+".")
	}
	return c.JSON(http.StatusOK, struct {
		State State `json:"state"`
	}{h.state(c.Request().Context())})
}

type keyItem struct {
	ID string `json:"id"`
}

// listKeys serves GET /keys. The label query parameter keeps the keys whose
// label (the token alias) is equal to it. An operator is offered only the
// keys it may sign with (Options.MayUse), always, as if it asked for
// filter; an administrator sees every key, or with filter, as in NetHSM,
// the keys it may sign with.
func (h *Handler) listKeys(c echo.Context) error {
	if ok, err := h.access(c, mimeJSON, RoleOperator, RoleAdministrator); !ok {
		return err
	}
	list, _ := h.keys(c.Request().Context())
	label, byLabel := c.QueryParams()["label"]
	_, filter := c.QueryParams()["filter"]
	u, _ := c.Get(userKey).(User)
	items := make([]keyItem, 0, len(list))
	for _, k := range list {
		if byLabel && k.Alias != label[0] {
			continue
		}
		if !h.usable(c, k) || filter && h.opts.MayUse != nil && !h.opts.MayUse(u, k) {
			continue
		}
		items = append(items, keyItem{ID: k.ID})
	}
	return c.JSON(http.StatusOK, items)
}

// publicKeyData is the PublicKey schema of the NetHSM API.
type publicKeyData struct {
	Mechanisms   []string        `json:"mechanisms"`
	Type         string          `json:"type"`
	Restrictions struct{}        `json:"restrictions"`
	Public       *keyPublicValue `json:"public,omitempty"`
	Operations   int64           `json:"operations"`
	Label        string          `json:"label,omitempty"`
}

type keyPublicValue struct {
	Modulus        string `json:"modulus,omitempty"`
	PublicExponent string `json:"publicExponent,omitempty"`
	Data           string `json:"data,omitempty"`
}

var rsaMechanisms = []string{
	"RSA_Signature_PKCS1",
	"RSA_Signature_PSS_MD5",
	"RSA_Signature_PSS_SHA1",
	"RSA_Signature_PSS_SHA224",
	"RSA_Signature_PSS_SHA256",
	"RSA_Signature_PSS_SHA384",
	"RSA_Signature_PSS_SHA512",
}

// describe returns the NetHSM description of a public key. Keys of a kind
// the API has no type for are "Generic" with no mechanisms.
func describe(pub crypto.PublicKey) publicKeyData {
	b64 := base64.StdEncoding.EncodeToString
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return publicKeyData{
			Mechanisms: rsaMechanisms,
			Type:       "RSA",
			Public: &keyPublicValue{
				Modulus:        b64(k.N.Bytes()),
				PublicExponent: b64(big.NewInt(int64(k.E)).Bytes()),
			},
		}
	case *ecdsa.PublicKey:
		typ := ""
		switch k.Curve {
		case elliptic.P256():
			typ = "EC_P256"
		case elliptic.P384():
			typ = "EC_P384"
		case elliptic.P521():
			typ = "EC_P521"
		}
		if raw, err := k.Bytes(); err == nil && typ != "" {
			return publicKeyData{Mechanisms: []string{"ECDSA_Signature"}, Type: typ, Public: &keyPublicValue{Data: b64(raw)}}
		}
	case ed25519.PublicKey:
		return publicKeyData{Mechanisms: []string{"EdDSA_Signature"}, Type: "Curve25519", Public: &keyPublicValue{Data: b64(k)}}
	}
	return publicKeyData{Mechanisms: []string{}, Type: "Generic"}
}

// signer answers with the token's error when the key's signer is not
// available.
func (h *Handler) signer(c echo.Context, k Key) (crypto.Signer, bool, error) {
	s, err := k.Token.Signer(c.Request().Context(), k.Alias)
	if err != nil {
		return nil, false, tokenError(c, k, err)
	}
	return s, true, nil
}

// tokenError maps a token error to the NetHSM status codes: an offline token
// is a NetHSM that is not Operational (412), a missing key 404, an
// unsupported operation 400, an exhausted key 403.
func tokenError(c echo.Context, k Key, err error) error {
	switch {
	case errors.Is(err, tokens.ErrKeyNotFound):
		return fail(c, http.StatusNotFound, "No key with ID "+k.ID+": check the KeyID.")
	case errors.Is(err, tokens.ErrNotRecorded): // before ErrOffline, which it wraps
		return fail(c, http.StatusServiceUnavailable, "Key "+k.ID+" cannot sign now: the signing log could not record the signature; try again later.")
	case errors.Is(err, tokens.ErrNotCounted): // before ErrOffline, which it wraps
		return fail(c, http.StatusServiceUnavailable, "Key "+k.ID+" cannot sign now: its usage count could not be stored; try again later.")
	case errors.Is(err, tokens.ErrOffline):
		return fail(c, http.StatusPreconditionFailed, "The crypto token holding key "+k.ID+" is offline: activate it first.")
	case errors.Is(err, tokens.ErrUnsupported):
		return fail(c, http.StatusBadRequest, "Key "+k.ID+" cannot do this: "+err.Error()+".")
	case errors.Is(err, tokens.ErrUsageLimit):
		return fail(c, http.StatusForbidden, "Key "+k.ID+" reached its usage limit.")
	case errors.Is(err, tokens.ErrWeakHash):
		return fail(c, http.StatusBadRequest, "Key "+k.ID+" does not sign SHA-1 or MD5 digests: use a SHA-256 or stronger mode.")
	case errors.Is(err, tokens.ErrCertificateValidity):
		return fail(c, http.StatusPreconditionFailed, "Key "+k.ID+" may not sign now: "+err.Error()+".")
	}
	c.Logger().Errorf("nethsm: key %s: %v", k.ID, err)
	return fail(c, http.StatusInternalServerError, "The crypto token failed; see the server log.")
}

// key checks the request (access, for the roles) and finds the key of its
// KeyID (lookup). It returns false after writing the error answer.
func (h *Handler) key(c echo.Context, produces string, roles ...string) (Key, bool, error) {
	if ok, err := h.access(c, produces, roles...); !ok {
		return Key{}, false, err
	}
	return h.lookup(c)
}

// publicKey is key for the readers of keys (operators and administrators),
// with the key's public key.
func (h *Handler) publicKey(c echo.Context, produces string) (Key, crypto.PublicKey, bool, error) {
	k, ok, err := h.key(c, produces, RoleOperator, RoleAdministrator)
	if !ok {
		return Key{}, nil, false, err
	}
	s, ok, err := h.signer(c, k)
	if !ok {
		return Key{}, nil, false, err
	}
	return k, s.Public(), true, nil
}

func (h *Handler) getKey(c echo.Context) error {
	k, pub, ok, err := h.publicKey(c, mimeJSON)
	if !ok {
		return err
	}
	d := describe(pub)
	d.Operations = h.operations(k.ID).Load()
	d.Label = k.Alias
	return c.JSON(http.StatusOK, d)
}

func (h *Handler) publicPEM(c echo.Context) error {
	k, pub, ok, err := h.publicKey(c, mimePEM)
	if !ok {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fail(c, http.StatusBadRequest, "Key "+k.ID+" has a public key that cannot be exported.")
	}
	return c.Blob(http.StatusOK, mimePEM, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// cert serves the key's certificate chain, signer first, as concatenated PEM
// blocks (the NetHSM returns certificates in the format they were stored in;
// Signet stores chains, and PEM keeps every certificate). A key without
// certificates is 404.
func (h *Handler) cert(c echo.Context) error {
	k, ok, err := h.key(c, mimeBin, RoleOperator, RoleAdministrator)
	if !ok {
		return err
	}
	chain, err := k.Token.Chain(c.Request().Context(), k.Alias)
	if err != nil {
		return tokenError(c, k, err)
	}
	if len(chain) == 0 {
		return fail(c, http.StatusNotFound, "Key "+k.ID+" has no certificate.")
	}
	var out []byte
	for _, crt := range chain {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: crt.Raw})...)
	}
	return c.Blob(http.StatusOK, mimeBin, out)
}
