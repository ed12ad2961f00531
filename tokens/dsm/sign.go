package dsm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"golang.org/x/sync/errgroup"

	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/internal/remote"
)

// hashAlgs are the DSM DigestAlgorithm names of the hashes Signet uses.
var hashAlgs = map[crypto.Hash]string{
	crypto.SHA1:     "SHA1",
	crypto.SHA224:   "SHA224",
	crypto.SHA256:   "SHA256",
	crypto.SHA384:   "SHA384",
	crypto.SHA512:   "SHA512",
	crypto.SHA3_224: "SHA3_224",
	crypto.SHA3_256: "SHA3_256",
	crypto.SHA3_384: "SHA3_384",
	crypto.SHA3_512: "SHA3_512",
}

// signItem is the SignRequest schema, as the token sends it.
type signItem struct {
	Key     keyName `json:"key"`
	HashAlg string  `json:"hash_alg"`
	Hash    string  `json:"hash,omitempty"`
	Data    string  `json:"data,omitempty"`
	Mode    any     `json:"mode,omitempty"`
}

type keyName struct {
	Name string `json:"name"`
}

// itemResult is the BatchSignResponseItem schema.
type itemResult struct {
	Status int `json:"status"`
	Body   *struct {
		Kid       string `json:"kid"`
		Signature string `json:"signature"`
	} `json:"body"`
	Error string `json:"error"`
}

// template is what every item of one SignBatch call shares.
type template struct {
	hash    crypto.Hash // 0: the input is the whole message (Ed25519)
	hashAlg string
	mode    any
}

// newTemplate maps the key and the signer options to a SignRequest.
func newTemplate(pub crypto.PublicKey, opts crypto.SignerOpts) (template, error) {
	h := opts.HashFunc()
	if _, ok := pub.(ed25519.PublicKey); ok {
		if err := remote.CheckEd25519(opts); err != nil {
			return template{}, err
		}
		// DSM's EdDSA takes the message as data, with SHA-512 (the hash of
		// Ed25519) as hash_alg.
		return template{hashAlg: "SHA512"}, nil
	}
	name, ok := hashAlgs[h]
	if !ok {
		return template{}, fmt.Errorf("signing with hash %v (the DSM needs a SHA-1, SHA-2 or SHA-3 digest): %w", h, tokens.ErrUnsupported)
	}
	switch pub.(type) {
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			if err := remote.CheckPSSSalt("DSM", pss, h); err != nil {
				return template{}, err
			}
			mode := map[string]any{"PSS": map[string]any{"mgf": map[string]any{"mgf1": map[string]string{"hash": name}}}}
			return template{hash: h, hashAlg: name, mode: mode}, nil
		}
		return template{hash: h, hashAlg: name, mode: map[string]any{"PKCS1_V15": struct{}{}}}, nil
	case *ecdsa.PublicKey:
		return template{hash: h, hashAlg: name}, nil
	}
	return template{}, fmt.Errorf("key type %T: %w", pub, tokens.ErrUnsupported)
}

// item makes the SignRequest of one input, or says why it cannot be sent.
func (tp template) item(alias string, in []byte) (signItem, error) {
	it := signItem{Key: keyName{Name: alias}, HashAlg: tp.hashAlg, Mode: tp.mode}
	if tp.hash == 0 {
		if len(in) == 0 {
			return it, fmt.Errorf("the message is empty: %w", tokens.ErrUnsupported)
		}
		it.Data = base64.StdEncoding.EncodeToString(in)
		return it, nil
	}
	if len(in) != tp.hash.Size() {
		return it, fmt.Errorf("a %v digest is %d bytes, not %d: %w", tp.hash, tp.hash.Size(), len(in), tokens.ErrUnsupported)
	}
	it.Hash = base64.StdEncoding.EncodeToString(in)
	return it, nil
}

// SignBatch signs every input with the DSM key named alias through
// /crypto/v1/keys/batch/sign: at most MaxBatchSize items per request,
// Parallelism requests at once, results in input order. An input that
// cannot be sent (a digest of the wrong length) and an item the DSM refuses
// fail alone. The returned error reports that nothing was signed: the token
// is offline, the key unknown, the options unsupported, or every request
// failed.
func (t *Token) SignBatch(ctx context.Context, alias string, inputs [][]byte, opts crypto.SignerOpts) ([]tokens.Result, error) {
	if len(inputs) == 0 {
		return nil, nil
	}
	k, err := t.readyKey(ctx, alias)
	if err != nil {
		return nil, err
	}
	tp, err := newTemplate(k.pub, opts)
	if err != nil {
		return nil, fmt.Errorf("dsm token %s: key %s: %w", t.name, alias, err)
	}
	res := make([]tokens.Result, len(inputs))
	var idx []int
	var items []signItem
	for i, in := range inputs {
		it, err := tp.item(alias, in)
		if err != nil {
			res[i].Err = fmt.Errorf("dsm token %s: key %s: %w", t.name, alias, err)
			continue
		}
		idx = append(idx, i)
		items = append(items, it)
	}
	if len(items) == 0 {
		return res, nil
	}
	var eg errgroup.Group
	eg.SetLimit(t.parallel)
	nparts := (len(items)-1)/t.maxBatch + 1 // not len+maxBatch-1, which overflows for a MAXBATCHSIZE near the largest int
	partErr := make([]error, nparts)
	for p := range nparts {
		lo, hi := p*t.maxBatch, min((p+1)*t.maxBatch, len(items))
		eg.Go(func() error {
			partErr[p] = t.signPart(ctx, alias, k.pub, inputs, opts, items[lo:hi], idx[lo:hi], res)
			return nil
		})
	}
	_ = eg.Wait()
	failed := 0
	for _, err := range partErr {
		if err != nil {
			failed++
		}
	}
	if failed == nparts && len(items) == len(inputs) {
		return nil, partErr[0]
	}
	return res, nil
}

// signPart sends one batch request and fills the results of its items. A
// failure of the whole request is returned and set on each of its items.
func (t *Token) signPart(ctx context.Context, alias string, pub crypto.PublicKey, inputs [][]byte, opts crypto.SignerOpts, items []signItem, idx []int, res []tokens.Result) error {
	err := func() error {
		body, err := json.Marshal(items)
		if err != nil {
			return err
		}
		resp, err := t.request(ctx, http.MethodPost, "/crypto/v1/keys/batch/sign", body, false)
		if err != nil {
			return err
		}
		out, err := parseBatchReply(resp, len(items))
		if err != nil {
			return fmt.Errorf("dsm token %s: %w", t.name, err)
		}
		for j, r := range out {
			res[idx[j]].Signature, res[idx[j]].Err = t.itemSignature(alias, pub, inputs[idx[j]], opts, r)
		}
		return nil
	}()
	if err != nil {
		for _, i := range idx {
			res[i].Err = err
		}
	}
	return err
}

// parseBatchReply reads the DSM's answer to a batch sign request of n items:
// one result per item, in order.
func parseBatchReply(resp []byte, n int) ([]itemResult, error) {
	var out []itemResult
	if err := json.Unmarshal(resp, &out); err != nil {
		return nil, fmt.Errorf("the batch sign answer is not a JSON array: %w", err)
	}
	if len(out) != n {
		return nil, fmt.Errorf("the DSM answered %d items for %d", len(out), n)
	}
	return out, nil
}

// itemSignature maps one response item to a signature or an error: a
// signature that does not verify over in with pub is an error.
func (t *Token) itemSignature(alias string, pub crypto.PublicKey, in []byte, opts crypto.SignerOpts, r itemResult) ([]byte, error) {
	if r.Status/100 == 2 {
		if r.Body == nil {
			return nil, fmt.Errorf("dsm token %s: key %s: the DSM answered %d without a signature", t.name, alias, r.Status)
		}
		sig, err := base64.StdEncoding.DecodeString(r.Body.Signature)
		if err != nil || len(sig) == 0 {
			return nil, fmt.Errorf("dsm token %s: key %s: the signature is not base64", t.name, alias)
		}
		if k, ok := pub.(*ecdsa.PublicKey); ok {
			if sig, err = remote.ECDSADER(k, sig); err != nil {
				return nil, fmt.Errorf("dsm token %s: key %s: %w", t.name, alias, err)
			}
		}
		if err := remote.Verify(pub, in, sig, opts); err != nil {
			// The key may have been made again under its name: read it
			// again for the next request.
			t.forgetKey(alias)
			return nil, fmt.Errorf("dsm token %s: key %s: the DSM's answer: %w", t.name, alias, err)
		}
		return sig, nil
	}
	he := &remote.HTTPError{Server: "DSM", Status: r.Status, Message: r.Error}
	switch r.Status {
	case http.StatusBadRequest:
		return nil, fmt.Errorf("dsm token %s: key %s: %w: %w", t.name, alias, he, tokens.ErrUnsupported)
	case http.StatusForbidden:
		return nil, fmt.Errorf("dsm token %s: key %s: %w: %w", t.name, alias, he, ErrForbidden)
	case http.StatusNotFound:
		t.forgetKey(alias)
		return nil, fmt.Errorf("dsm token %s: key %s: %w: %w", t.name, alias, he, tokens.ErrKeyNotFound)
	case http.StatusServiceUnavailable:
		return nil, fmt.Errorf("dsm token %s: key %s: %w: %w", t.name, alias, he, tokens.ErrOffline)
	}
	return nil, fmt.Errorf("dsm token %s: key %s: %w", t.name, alias, he)
}

// signer signs with one DSM key, one digest per batch request.
type signer struct {
	t     *Token
	ctx   context.Context
	alias string
	pub   crypto.PublicKey
}

func (s *signer) Public() crypto.PublicKey { return s.pub }

// Sign signs digest (the whole message for Ed25519, opts.HashFunc() zero)
// with the DSM key through a batch of one. ECDSA signatures are ASN.1 DER.
func (s *signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	res, err := s.t.SignBatch(s.ctx, s.alias, [][]byte{digest}, opts)
	if err != nil {
		return nil, err
	}
	return res[0].Signature, res[0].Err
}
