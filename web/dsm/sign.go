package dsm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	_ "crypto/sha1" // SHA1 hash_alg
	_ "crypto/sha256"
	_ "crypto/sha3" // SHA3_* hash_alg
	_ "crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"golang.org/x/sync/errgroup"

	"github.com/signet-project/signet/internal/clienttext"
	"github.com/signet-project/signet/tokens"
)

// Limits of one batch request.
const (
	// MaxBatchBody bounds the request body; data items carry whole
	// messages, so it is generous.
	MaxBatchBody = 32 << 20
	// MaxBatchItems bounds the number of items of one request.
	MaxBatchItems = 10000
	// groupParallelism is how many keys (groups) are signed at once.
	groupParallelism = 4
)

// hashAlgs maps DSM DigestAlgorithm names to the hashes Signet signs with.
var hashAlgs = map[string]crypto.Hash{
	"SHA1":     crypto.SHA1,
	"SHA224":   crypto.SHA224,
	"SHA256":   crypto.SHA256,
	"SHA384":   crypto.SHA384,
	"SHA512":   crypto.SHA512,
	"SHA3_224": crypto.SHA3_224,
	"SHA3_256": crypto.SHA3_256,
	"SHA3_384": crypto.SHA3_384,
	"SHA3_512": crypto.SHA3_512,
}

// unsupportedHashAlgs are DigestAlgorithm names of the API that Signet's
// tokens cannot sign with (no PKCS#1 DigestInfo, no Go implementation).
var unsupportedHashAlgs = map[string]bool{
	"BLAKE2B256": true, "BLAKE2B384": true, "BLAKE2B512": true, "BLAKE2S256": true,
	"RIPEMD160": true, "SSL3": true, "STREEBOG256": true, "STREEBOG512": true,
}

// signRequest is the SignRequest schema. Pointers tell absent (or null)
// fields from empty ones.
type signRequest struct {
	Key           *keyDescriptor  `json:"key"`
	HashAlg       *string         `json:"hash_alg"`
	Hash          *string         `json:"hash"`
	Data          *string         `json:"data"`
	Mode          json.RawMessage `json:"mode"`
	Deterministic *bool           `json:"deterministic_signature"`
	Context       *string         `json:"context"`
}

// keyDescriptor is the SobjectDescriptor schema.
type keyDescriptor struct {
	Kid          *string         `json:"kid"`
	Name         *string         `json:"name"`
	TransientKey *string         `json:"transient_key"`
	Inline       json.RawMessage `json:"inline"`
}

// signatureMode is the SignatureMode schema: an RsaSignaturePadding or an
// MlDsaMode.
type signatureMode struct {
	PSS *struct {
		Mgf *struct {
			Mgf1 *struct {
				Hash string `json:"hash"`
			} `json:"mgf1"`
		} `json:"mgf"`
	} `json:"PSS"`
	PKCS1V15 json.RawMessage `json:"PKCS1_V15"`
	Variant  *string         `json:"variant"`
}

// itemResult is the BatchSignResponseItem schema.
type itemResult struct {
	Status int           `json:"status"`
	Body   *signResponse `json:"body,omitempty"`
	Error  string        `json:"error,omitempty"`
}

// signResponse is the SignResponse schema.
type signResponse struct {
	Kid       string `json:"kid"`
	Signature string `json:"signature"`
}

// itemError is a failed item: its status and one sentence.
type itemError struct {
	status int
	msg    string
}

func (e *itemError) Error() string { return e.msg }

func badItem(format string, args ...any) *itemError {
	return &itemError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// decodeB64 decodes standard base64, padded or not.
func decodeB64(s string) ([]byte, error) {
	enc := base64.StdEncoding
	if !strings.HasSuffix(s, "=") && len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	return enc.DecodeString(s)
}

// publicKeys caches, for one request, the public key of each key (or why it
// cannot be had), so that a key is looked up once per batch.
type publicKeys map[string]pubResult

type pubResult struct {
	pub crypto.PublicKey
	err *itemError
}

func (p publicKeys) get(ctx context.Context, k Key) (crypto.PublicKey, *itemError) {
	if r, ok := p[k.Kid]; ok {
		return r.pub, r.err
	}
	var r pubResult
	s, err := k.Token.Signer(ctx, k.Alias)
	if err != nil {
		r.err = tokenItemError(k, err)
	} else {
		r.pub = s.Public()
	}
	p[k.Kid] = r
	return r.pub, r.err
}

// resolve finds the key an item names and checks that user may use it.
func (h *Handler) resolve(ks keySet, d *keyDescriptor, user string) (Key, *itemError) {
	if d == nil {
		return Key{}, badItem("The item has no key: name it by kid or name.")
	}
	if d.TransientKey != nil || len(d.Inline) > 0 {
		return Key{}, badItem("Transient and inline keys are not supported: name a key by kid or name.")
	}
	var k Key
	var found bool
	var what string
	switch {
	case d.Kid != nil && d.Name != nil:
		return Key{}, badItem("The key names both a kid and a name: give one of them.")
	case d.Kid != nil:
		what = "kid " + *d.Kid
		id, err := uuid.Parse(*d.Kid)
		if err != nil || len(*d.Kid) != 36 {
			return Key{}, badItem("The kid %s is not a UUID.", clienttext.Quote(*d.Kid))
		}
		k, found = ks.byKid[id.String()]
	case d.Name != nil:
		what = "name " + clienttext.Quote(*d.Name)
		k, found = ks.byName[*d.Name]
	default:
		return Key{}, badItem("The key descriptor is empty: name the key by kid or name.")
	}
	if !found {
		return Key{}, &itemError{status: http.StatusNotFound, msg: ks.notFound("No key with "+what, "check the key descriptor")}
	}
	if !h.allowed(k, user) {
		return Key{}, &itemError{status: http.StatusForbidden, msg: "User " + user + " is not allowed to use key " + k.Name + "."}
	}
	return k, nil
}

// group is the items signed by one tokens.SignAll call: one key, one set of
// signature options.
type groupKey struct {
	kid  string
	hash crypto.Hash
	pss  bool
}

type group struct {
	key    Key
	opts   crypto.SignerOpts
	idx    []int
	inputs [][]byte
}

// prepare checks an item against its key and returns what to sign and how.
func prepare(r *signRequest, pub crypto.PublicKey) ([]byte, crypto.SignerOpts, *itemError) {
	if r.Context != nil {
		return nil, nil, badItem("Only ML-DSA keys take a context: remove \"context\".")
	}
	if r.HashAlg == nil {
		return nil, nil, badItem("The item has no hash_alg: name the hash algorithm.")
	}
	h, ok := hashAlgs[*r.HashAlg]
	switch {
	case !ok && unsupportedHashAlgs[*r.HashAlg]:
		return nil, nil, badItem("Hash algorithm %s is not supported: use SHA-2 or SHA-3.", *r.HashAlg)
	case !ok:
		return nil, nil, badItem("Unknown hash algorithm %s: use SHA256, SHA384, SHA512 or another DigestAlgorithm.", clienttext.Quote(*r.HashAlg))
	}
	if (r.Hash == nil) == (r.Data == nil) {
		return nil, nil, badItem("Give exactly one of \"hash\" and \"data\".")
	}
	field, b64 := "hash", r.Hash
	if r.Data != nil {
		field, b64 = "data", r.Data
	}
	msg, err := decodeB64(*b64)
	if err != nil {
		return nil, nil, badItem("%q is not valid base64.", field)
	}
	var mode signatureMode
	if len(r.Mode) > 0 && !bytes.Equal(r.Mode, []byte("null")) {
		if err := json.Unmarshal(r.Mode, &mode); err != nil {
			return nil, nil, badItem("\"mode\" is not a SignatureMode: use {\"PKCS1_V15\":{}} or {\"PSS\":{\"mgf\":{\"mgf1\":{\"hash\":...}}}}.")
		}
		if mode.PSS == nil && mode.PKCS1V15 == nil && mode.Variant == nil {
			return nil, nil, badItem("\"mode\" names no signature mode: use PKCS1_V15 or PSS.")
		}
	}
	deterministic := r.Deterministic != nil && *r.Deterministic
	hasMode := mode.PSS != nil || mode.PKCS1V15 != nil || mode.Variant != nil
	if mode.Variant != nil {
		return nil, nil, badItem("ML-DSA modes need an ML-DSA key: remove \"mode\" or use an ML-DSA key.")
	}
	digest := func() ([]byte, *itemError) {
		if r.Data != nil {
			hh := h.New()
			hh.Write(msg)
			return hh.Sum(nil), nil
		}
		if len(msg) != h.Size() {
			return nil, badItem("A %s hash is %d bytes, not %d.", *r.HashAlg, h.Size(), len(msg))
		}
		return msg, nil
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		d, ie := digest()
		if ie != nil {
			return nil, nil, ie
		}
		if mode.PSS == nil {
			return d, h, nil // PKCS1_V15, also the default of Signet's keys
		}
		if deterministic {
			return nil, nil, badItem("RSA-PSS signatures are not deterministic: drop deterministic_signature or use PKCS1_V15.")
		}
		if mode.PSS.Mgf == nil || mode.PSS.Mgf.Mgf1 == nil {
			return nil, nil, badItem("PSS needs \"mgf\": {\"mgf1\": {\"hash\": ...}}.")
		}
		if mgfHash, ok := hashAlgs[mode.PSS.Mgf.Mgf1.Hash]; !ok || mgfHash != h {
			return nil, nil, badItem("The MGF1 hash must be the hash_alg, %s.", *r.HashAlg)
		}
		if k.Size() < 2*h.Size()+2 {
			return nil, nil, badItem("The RSA key is too small for PSS with %s.", *r.HashAlg)
		}
		return d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}, nil
	case *ecdsa.PublicKey:
		if hasMode {
			return nil, nil, badItem("\"mode\" is for RSA keys: remove it for an EC key.")
		}
		if deterministic {
			return nil, nil, badItem("Deterministic ECDSA is not supported: drop deterministic_signature.")
		}
		d, ie := digest()
		if ie != nil {
			return nil, nil, ie
		}
		return d, h, nil
	case ed25519.PublicKey:
		if hasMode {
			return nil, nil, badItem("\"mode\" is for RSA keys: remove it for an Ed25519 key.")
		}
		if r.Data == nil {
			return nil, nil, badItem("Ed25519 keys sign \"data\", not a hash.")
		}
		return msg, crypto.Hash(0), nil
	}
	return nil, nil, badItem("Keys of type %T cannot sign through this API.", pub)
}

// tokenItemError maps a token error to an item status and sentence.
func tokenItemError(k Key, err error) *itemError {
	switch {
	case errors.Is(err, tokens.ErrKeyNotFound):
		return &itemError{http.StatusNotFound, "Key " + k.Name + " is no longer in its token: check the configuration."}
	case errors.Is(err, tokens.ErrNotRecorded): // before ErrOffline, which it wraps
		return &itemError{http.StatusServiceUnavailable, "Key " + k.Name + " cannot sign now: the signing log could not record the signature; try again later."}
	case errors.Is(err, tokens.ErrNotCounted): // before ErrOffline, which it wraps
		return &itemError{http.StatusServiceUnavailable, "Key " + k.Name + " cannot sign now: its usage count could not be stored; try again later."}
	case errors.Is(err, tokens.ErrOffline):
		return &itemError{http.StatusServiceUnavailable, "The token of key " + k.Name + " is offline: activate it or try again later."}
	case errors.Is(err, tokens.ErrUsageLimit):
		return &itemError{http.StatusServiceUnavailable, "Key " + k.Name + " reached its usage limit."}
	case errors.Is(err, tokens.ErrWeakHash):
		return &itemError{http.StatusBadRequest, "Key " + k.Name + " does not sign SHA-1 or MD5 digests: use SHA-256 or stronger."}
	case errors.Is(err, tokens.ErrCertificateValidity):
		return &itemError{http.StatusServiceUnavailable, "Key " + k.Name + " may not sign now: " + err.Error() + "."}
	case errors.Is(err, tokens.ErrUnsupported), errors.Is(err, rsa.ErrMessageTooLong):
		return &itemError{http.StatusBadRequest, "Key " + k.Name + " cannot sign this item: " + err.Error() + "."}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &itemError{http.StatusServiceUnavailable, "Signing with key " + k.Name + " was cancelled: try again."}
	}
	return &itemError{http.StatusInternalServerError, "The token of key " + k.Name + " failed to sign: see the server log."}
}

// batchSign serves POST /crypto/v1/keys/batch/sign.
func (h *Handler) batchSign(c echo.Context) error {
	user, ok, err := h.caller(c)
	if !ok {
		return err
	}
	const what = "a JSON array of sign requests"
	body, ok, err := readBody(c, what, "split the batch")
	if !ok {
		return err
	}
	items, fast := parseBatch(body)
	if !fast {
		var raw []json.RawMessage
		if ok, err := decodeJSON(c, body, &raw, what); !ok {
			return err
		}
		if raw == nil { // JSON null; an empty array is a nil-free empty slice
			return fail(c, http.StatusBadRequest, "The body must be a JSON array of sign requests.")
		}
		items = rawItems(raw)
	}
	if len(items) > MaxBatchItems {
		return fail(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("The batch has %d items, more than %d: split it.", len(items), MaxBatchItems))
	}
	h.batchCalls.Add(1)
	out := h.signItems(c, user, items)
	return writeJSON(c, appendResults(make([]byte, 0, resultsSize(len(out))), out), out)
}

// signItems signs the SignRequest items of raw for user and returns one
// result per item, in order. Each item fails alone; the valid items are
// signed together, through tokens.SignAll, one call per key and signature
// options. Every signature of the DSM API, batch or single, is made here,
// so that each goes through the same checks and the same tokens.
func (h *Handler) signItems(c echo.Context, user string, items []item) []itemResult {
	// The key guard records who signs, from where, for which request.
	ctx := tokens.WithCaller(c.Request().Context(), tokens.Caller{Surface: "dsm", User: user, Client: c.RealIP(), RequestID: c.Response().Header().Get(echo.HeaderXRequestID)})
	c.SetRequest(c.Request().WithContext(ctx)) // the request log line names the user
	ks := h.keys(ctx)
	pubs := publicKeys{}
	out := make([]itemResult, len(items))
	groups := map[groupKey]*group{}
	var order []*group
	for i := range items {
		if items[i].bad {
			out[i] = itemResult{Status: http.StatusBadRequest, Error: "The item is not a SignRequest object: check its field types."}
			continue
		}
		req := &items[i].req
		k, ie := h.resolve(ks, req.Key, user)
		if ie == nil {
			var pub crypto.PublicKey
			if pub, ie = pubs.get(ctx, k); ie == nil {
				var input []byte
				var opts crypto.SignerOpts
				if input, opts, ie = prepare(req, pub); ie == nil {
					_, pss := opts.(*rsa.PSSOptions)
					gk := groupKey{kid: k.Kid, hash: opts.HashFunc(), pss: pss}
					g := groups[gk]
					if g == nil {
						g = &group{key: k, opts: opts}
						groups[gk] = g
						order = append(order, g)
					}
					if g.idx == nil {
						g.idx, g.inputs = make([]int, 0, len(items)-i), make([][]byte, 0, len(items)-i)
					}
					g.idx = append(g.idx, i)
					g.inputs = append(g.inputs, input)
					continue
				}
			}
		}
		out[i] = itemResult{Status: ie.status, Error: ie.msg}
	}

	if len(order) == 1 {
		// One key, as every single request and most batches: signed on
		// this goroutine (tokens.SignAll spreads a batch over the cores),
		// not handed to another and waited for.
		h.signGroup(c, order[0], out)
		return out
	}
	var eg errgroup.Group
	eg.SetLimit(groupParallelism)
	for _, g := range order {
		eg.Go(func() error {
			h.signGroup(c, g, out)
			return nil
		})
	}
	_ = eg.Wait()
	return out
}

// signGroup signs one group through tokens.SignAll and fills its items of
// out. Groups own disjoint items, so groups run concurrently.
func (h *Handler) signGroup(c echo.Context, g *group, out []itemResult) {
	res, err := tokens.SignAll(c.Request().Context(), g.key.Token, g.key.Alias, g.inputs, g.opts)
	for j, i := range g.idx {
		e := err
		if e == nil {
			e = res[j].Err
		}
		if e != nil {
			ie := tokenItemError(g.key, e)
			if ie.status == http.StatusInternalServerError {
				c.Logger().Errorf("dsm: key %s (token %s, alias %q): %v", g.key.Name, g.key.Token.Name(), g.key.Alias, e)
			}
			out[i] = itemResult{Status: ie.status, Error: ie.msg}
			continue
		}
		out[i] = itemResult{Status: http.StatusOK, Body: &signResponse{
			Kid:       g.key.Kid,
			Signature: base64.StdEncoding.EncodeToString(res[j].Signature),
		}}
	}
}
