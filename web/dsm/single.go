package dsm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/internal/plainjson"
)

// sign serves POST /crypto/v1/sign: one SignRequest, answered with a
// SignResponse, or the item's status with {"error": "..."}. The item is
// signed by signItems, as a batch of one, so that it passes the same checks
// and the same token calls (key policy, usage limit, audit) as the items of
// a batch.
func (h *Handler) sign(c echo.Context) error {
	user, ok, err := h.caller(c)
	if !ok {
		return err
	}
	const what = "one SignRequest JSON object"
	body, ok, err := readBody(c, what, "sign a digest (\"hash\") instead of the data")
	if !ok {
		return err
	}
	var it []item
	p := scanner{plainjson.NewScanner(body)}
	var one item
	var name, alg *string
	if p.object(&one.req, &name, &alg) && p.End() {
		it = []item{one}
	} else {
		raw, ok, err := singleBody(c, body, "SignRequest")
		if !ok {
			return err
		}
		it = rawItems([]json.RawMessage{raw})
	}
	h.signCalls.Add(1)
	r := h.signItems(c, user, it)[0]
	if r.Body == nil {
		return fail(c, r.Status, r.Error)
	}
	return writeJSON(c, append(appendSignResponse(make([]byte, 0, 160), r.Body), '\n'), r.Body)
}

// single authenticates a single-item request and reads its body, one JSON
// object (schema names it, verb what is done with it). It returns false
// after writing the 401, 400 or 413 answer.
func (h *Handler) single(c echo.Context, schema, verb string) (user string, raw json.RawMessage, ok bool, err error) {
	if user, ok, err = h.caller(c); !ok {
		return "", nil, false, err
	}
	what := "one " + schema + " JSON object"
	body, ok, err := readBody(c, what, verb+" a digest (\"hash\") instead of the data")
	if !ok {
		return "", nil, false, err
	}
	raw, ok, err = singleBody(c, body, schema)
	return user, raw, ok, err
}

// singleBody checks that body is one JSON object (schema names it). It
// returns false after writing the 400 answer.
func singleBody(c echo.Context, body []byte, schema string) (json.RawMessage, bool, error) {
	what := "one " + schema + " JSON object"
	var raw json.RawMessage
	if ok, err := decodeJSON(c, body, &raw, what); !ok {
		return nil, false, err
	}
	if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		return nil, false, fail(c, http.StatusBadRequest, "The body must be "+what+"; send arrays of sign requests to /crypto/v1/keys/batch/sign.")
	}
	return raw, true, nil
}

// verifyRequest is the VerifyRequest schema: a SignRequest without
// deterministic_signature, with the signature to check.
type verifyRequest struct {
	signRequest
	Signature *string `json:"signature"`
}

// verifyResponse is the VerifyResponse schema.
type verifyResponse struct {
	Kid    string `json:"kid"`
	Result bool   `json:"result"`
}

// verify serves POST /crypto/v1/verify: it checks a signature with the
// public key of the key the request names, in the mode and with the hash a
// SignRequest for the same key would use. The key is found and the user's
// right to it checked as for signing; verifying signs nothing, so it
// counts no key usage. A signature that does not verify is 200 with
// "result": false.
func (h *Handler) verify(c echo.Context) error {
	user, raw, ok, err := h.single(c, "VerifyRequest", "verify")
	if !ok {
		return err
	}
	var req verifyRequest
	if json.Unmarshal(raw, &req) != nil {
		return fail(c, http.StatusBadRequest, "The body must be one VerifyRequest JSON object: check its field types.")
	}
	if req.Signature == nil {
		return fail(c, http.StatusBadRequest, "The request has no \"signature\": send the base64 signature to verify.")
	}
	sig, err := decodeB64(*req.Signature)
	if err != nil {
		return fail(c, http.StatusBadRequest, "\"signature\" is not valid base64.")
	}
	req.Deterministic = nil // not part of VerifyRequest
	ctx := c.Request().Context()
	k, ie := h.resolve(h.keys(ctx), req.Key, user)
	var pub crypto.PublicKey
	if ie == nil {
		pub, ie = publicKeys{}.get(ctx, k)
	}
	var input []byte
	var opts crypto.SignerOpts
	if ie == nil {
		input, opts, ie = prepare(&req.signRequest, pub)
	}
	if ie != nil {
		return fail(c, ie.status, ie.msg)
	}
	return c.JSON(http.StatusOK, verifyResponse{Kid: k.Kid, Result: verifySignature(pub, input, sig, opts)})
}

// verifySignature checks sig over input (a digest, or the message for
// Ed25519) as prepare's opts describe it.
func verifySignature(pub crypto.PublicKey, input, sig []byte, opts crypto.SignerOpts) bool {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			return rsa.VerifyPSS(k, pss.Hash, input, sig, pss) == nil
		}
		return rsa.VerifyPKCS1v15(k, opts.HashFunc(), input, sig) == nil
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, input, sig)
	case ed25519.PublicKey:
		return ed25519.Verify(k, input, sig)
	}
	return false
}
