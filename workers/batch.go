package workers

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strconv"

	"github.com/signet-project/signet/formats/cms"
)

// BatchRequest is SignServer's AdES batch signing request.
type BatchRequest struct {
	SignatureRequests []BatchItem `json:"signatureRequests"`
}

// BatchItem is one item of a batch request: a document, or a digest when
// client-side hashing is on.
type BatchItem struct {
	Data             string `json:"data"`
	HashingAlgorithm string `json:"hashingAlgorithm,omitempty"`
	CustomIdentifier string `json:"customIdentifier,omitempty"`
}

// BatchResponse is SignServer's batch signing response.
type BatchResponse struct {
	Signatures []BatchSignature `json:"signatures"`
}

// BatchSignature is one signature of a batch response, in request order.
type BatchSignature struct {
	Signature        []byte `json:"signature"`
	Hash             []byte `json:"hash"`
	CustomIdentifier string `json:"customIdentifier,omitempty"`
}

// batchItem is a validated item ready to sign.
type batchItem struct {
	h       crypto.Hash
	digest  []byte
	content []byte // nil when detached
	id      string
	signer  *cms.Signer
	pending *cms.Pending
}

// itemError names an invalid item by index and customIdentifier.
func itemError(i int, it *BatchItem, format string, args ...any) error {
	e := Illegal(format, args...).(*Error)
	e.Msg = "Batch item " + strconv.Itoa(i) + " (customIdentifier " + strconv.Quote(it.CustomIdentifier) + "): " + e.Msg
	return e
}

func (w *CMSSigner) parseBatch(req *Request, d decision) ([]batchItem, error) {
	body, err := readAll(req.Data)
	if err != nil {
		return nil, err
	}
	var br BatchRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&br); err != nil {
		return nil, Illegal("The batch request is not valid JSON of the form {\"signatureRequests\":[{\"data\":…,\"hashingAlgorithm\":…,\"customIdentifier\":…}]}: %v.", jsonErrorText(err))
	}
	if dec.More() {
		return nil, Illegal("The batch request has data after its JSON object: send one object.")
	}
	n := len(br.SignatureRequests)
	if n == 0 {
		return nil, Illegal("The batch request has no signatureRequests: send at least one item.")
	}
	if n > w.pol.maxBatch {
		return nil, TooLarge("The batch has %d items but this worker signs at most %d per request (MAX_BATCH_SIZE): split it.", n, w.pol.maxBatch)
	}
	items := make([]batchItem, n)
	for i := range br.SignatureRequests {
		it := &br.SignatureRequests[i]
		data, err := base64.StdEncoding.DecodeString(it.Data)
		if err != nil {
			return nil, itemError(i, it, "data is not valid base64.")
		}
		var h crypto.Hash
		switch {
		case it.HashingAlgorithm != "":
			if h, err = w.pol.acceptHash(it.HashingAlgorithm); err != nil {
				return nil, itemError(i, it, "%v", err)
			}
		case d.clientHash && d.clientHashAlg != 0:
			h = d.clientHashAlg
		case d.clientHash:
			return nil, itemError(i, it, "no hashingAlgorithm, and no %s in the request metadata: say which digest algorithm made the data.", MetaClientSideHashAlgorithm)
		default:
			if h, err = w.pol.acceptHash(cms.HashName(w.digest)); err != nil {
				return nil, itemError(i, it, "no hashingAlgorithm, and the worker's digest algorithm is not accepted: %v", err)
			}
		}
		items[i] = batchItem{h: h, id: it.CustomIdentifier}
		if d.clientHash {
			if len(data) != h.Size() {
				return nil, itemError(i, it, "data is %d bytes but a %s digest is %d bytes.", len(data), cms.HashName(h), h.Size())
			}
			items[i].digest = data
			continue
		}
		hh := h.New()
		hh.Write(data)
		items[i].digest = hh.Sum(nil)
		if !d.detached {
			items[i].content = data
		}
	}
	return items, nil
}

func jsonErrorText(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "syntax error at byte " + strconv.FormatInt(se.Offset, 10)
	case errors.As(err, &te):
		return "field " + strconv.Quote(te.Field) + " has the wrong type"
	case errors.Is(err, io.EOF):
		return "the body is empty"
	}
	return err.Error()
}

// processBatch validates every item first (nothing is signed when one is
// invalid), signs all through tokens.SignAll, one call per digest
// algorithm, and answers in request order.
func (w *CMSSigner) processBatch(ctx context.Context, req *Request, d decision) (*Response, error) {
	items, err := w.parseBatch(req, d)
	if err != nil {
		return nil, err
	}
	now := w.now()
	// Group by digest algorithm: each group has its own signer options.
	groups := map[crypto.Hash][]int{}
	var order []crypto.Hash
	signers := map[crypto.Hash]*cms.Signer{} // one signerFor per algorithm, not per item
	for i := range items {
		it := &items[i]
		if it.signer = signers[it.h]; it.signer == nil {
			if it.signer, err = w.signerFor(ctx, it.h, d.contentOID); err != nil {
				return nil, err
			}
			signers[it.h] = it.signer
		}
		if it.pending, err = it.signer.Prepare(it.digest, now); err != nil {
			return nil, Illegal("Batch item %d: %v", i, err)
		}
		if _, ok := groups[it.h]; !ok {
			order = append(order, it.h)
		}
		groups[it.h] = append(groups[it.h], i)
	}
	sigs := make([][]byte, len(items))
	for _, h := range order {
		idx := groups[h]
		inputs := make([][]byte, len(idx))
		for j, i := range idx {
			inputs[j] = items[i].pending.Input()
		}
		out, err := w.sign(ctx, inputs, items[idx[0]].signer.SignerOpts())
		if err != nil {
			return nil, err
		}
		for j, i := range idx {
			sigs[i] = out[j]
		}
	}
	buf, err := encodeBatch(items, sigs)
	if err != nil {
		return nil, err
	}
	return &Response{Data: buf, ContentType: ContentTypeJSON, SignerCertificate: items[0].signer.Certificate(), Items: len(items)}, nil
}

// encodeBatch writes the batch response. It is written by hand rather than
// with encoding/json because the signatures are the bulk of the output and
// json.Marshal would first copy each into a separate base64 string: each
// DER is encoded into one scratch buffer and base64-encoded straight into
// the response, which is allocated once at its final size.
func encodeBatch(items []batchItem, sigs [][]byte) ([]byte, error) {
	enc := base64.StdEncoding
	size, largest := len(`{"signatures":[]}`), 0
	for i := range items {
		it := &items[i]
		cl := int64(-1)
		if it.content != nil {
			cl = int64(len(it.content))
		}
		der := int(it.pending.Size(len(sigs[i]), cl))
		largest = max(largest, der)
		size += len(`{"signature":"","hash":"","customIdentifier":},`) + enc.EncodedLen(der) + enc.EncodedLen(len(it.digest)) + len(it.id) + 2
	}
	buf := make([]byte, 0, size)
	scratch := make([]byte, 0, largest)
	buf = append(buf, `{"signatures":[`...)
	for i := range items {
		it := &items[i]
		der, err := it.pending.AppendEncode(scratch[:0], sigs[i], it.content)
		if err != nil {
			return nil, Unavailable(err, "Encoding signature %d failed: %v", i, err)
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"signature":"`...)
		buf = enc.AppendEncode(buf, der)
		buf = append(buf, `","hash":"`...)
		buf = enc.AppendEncode(buf, it.digest)
		buf = append(buf, '"')
		if it.id != "" {
			buf = append(buf, `,"customIdentifier":`...)
			buf = appendJSONString(buf, it.id)
		}
		buf = append(buf, '}')
	}
	buf = append(buf, "]}"...)
	return buf, nil
}

// appendJSONString appends s as a JSON string; plain ASCII is copied as it
// is, anything else goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
