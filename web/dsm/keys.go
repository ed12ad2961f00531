package dsm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/internal/clienttext"
)

// sobject is the part of DSM's Sobject schema that Signet fills in.
type sobject struct {
	Kid           string   `json:"kid"`
	Name          string   `json:"name"`
	ObjType       string   `json:"obj_type,omitempty"`
	KeySize       int      `json:"key_size,omitempty"`
	EllipticCurve string   `json:"elliptic_curve,omitempty"`
	PubKey        string   `json:"pub_key,omitempty"`
	KeyOps        []string `json:"key_ops"`
	Enabled       bool     `json:"enabled"`
}

// curves maps Go curve names to DSM EllipticCurve names.
var curves = map[string]string{
	"P-256": "NistP256",
	"P-384": "NistP384",
	"P-521": "NistP521",
}

// describe fills in what the public key says about a key: type, size,
// curve and the DER SubjectPublicKeyInfo. A key whose token cannot give its
// public key now (offline) is listed with kid and name only, disabled.
func describe(k Key, pub crypto.PublicKey) sobject {
	o := sobject{Kid: k.Kid, Name: k.Name, KeyOps: []string{"SIGN", "VERIFY"}, Enabled: pub != nil}
	switch p := pub.(type) {
	case *rsa.PublicKey:
		o.ObjType, o.KeySize = "RSA", p.N.BitLen()
	case *ecdsa.PublicKey:
		o.ObjType, o.EllipticCurve = "EC", curves[p.Curve.Params().Name]
		o.KeySize = p.Curve.Params().BitSize
	case ed25519.PublicKey:
		o.ObjType, o.EllipticCurve, o.KeySize = "EC", "Ed25519", 256
	}
	if pub != nil {
		if der, err := x509.MarshalPKIXPublicKey(pub); err == nil {
			o.PubKey = base64.StdEncoding.EncodeToString(der)
		}
	}
	return o
}

// listKeys serves GET /crypto/v1/keys: the keys the caller may use, in the
// key source's order; ?name= keeps the key of that name.
func (h *Handler) listKeys(c echo.Context) error {
	user, ok, err := h.caller(c)
	if !ok {
		return err
	}
	ctx := c.Request().Context()
	name, byName := c.QueryParams()["name"]
	pubs := publicKeys{}
	out := []sobject{}
	for _, k := range h.keys(ctx).list {
		if !h.allowed(k, user) || byName && k.Name != name[0] {
			continue
		}
		pub, _ := pubs.get(ctx, k)
		out = append(out, describe(k, pub))
	}
	return c.JSON(http.StatusOK, out)
}

// getKey serves GET /crypto/v1/keys/{kid}.
func (h *Handler) getKey(c echo.Context) error {
	user, ok, err := h.caller(c)
	if !ok {
		return err
	}
	ctx := c.Request().Context()
	id, err := uuid.Parse(c.Param("kid"))
	if err != nil {
		return fail(c, http.StatusBadRequest, "The kid "+clienttext.Quote(c.Param("kid"))+" is not a UUID: give the kid of a key as GET /crypto/v1/keys lists it, or find a key by name with GET /crypto/v1/keys?name=NAME.")
	}
	ks := h.keys(ctx)
	k, found := ks.byKid[id.String()]
	if !found {
		return fail(c, http.StatusNotFound, ks.notFound("No key with kid "+id.String(), "check the kid"))
	}
	if !h.allowed(k, user) {
		return fail(c, http.StatusForbidden, "User "+user+" is not allowed to use key "+k.Name+".")
	}
	pub, _ := publicKeys{}.get(ctx, k)
	return c.JSON(http.StatusOK, describe(k, pub))
}
