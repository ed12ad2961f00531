package workers

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/internal/clienttext"
	"github.com/signet-project/signet/internal/plainjson"
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
	e.Msg = "Batch item " + strconv.Itoa(i) + " (customIdentifier " + clienttext.Quote(it.CustomIdentifier) + "): " + e.Msg
	return e
}

// parseBatch decodes the batch as it is read (decodeBatch stops at
// MAX_BATCH_SIZE) and checks every item.
func (w *CMSSigner) parseBatch(req *Request, d decision, docHash crypto.Hash) ([]batchItem, error) {
	reqs, err := readBatch(req, w.pol.maxBatch)
	if err != nil {
		return nil, err
	}
	n := len(reqs)
	if n == 0 {
		return nil, Illegal("The batch request has no signatureRequests: send at least one item.")
	}
	items := make([]batchItem, n)
	errs := make([]error, n)
	inChunks(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			errs[i] = w.parseItem(i, &reqs[i], d, docHash, &items[i])
		}
	})
	if err := firstError(errs); err != nil {
		return nil, err // the first invalid item
	}
	return items, nil
}

// parseItem decodes and checks item i of a batch into out; docHash digests
// an item that names no digest algorithm.
func (w *CMSSigner) parseItem(i int, it *BatchItem, d decision, docHash crypto.Hash, out *batchItem) error {
	var (
		h   crypto.Hash
		err error
	)
	switch {
	case it.HashingAlgorithm != "":
		if h, err = w.pol.acceptHash(it.HashingAlgorithm); err != nil {
			return itemError(i, it, "%v", err)
		}
	case d.clientHash && d.clientHashAlg != 0:
		h = d.clientHashAlg
	case d.clientHash:
		return itemError(i, it, "no hashingAlgorithm, and no %s in the request metadata: say which digest algorithm made the data.", config.MetaClientSideHashAlgorithm)
	default:
		if h, err = w.pol.acceptHash(cms.HashName(docHash)); err != nil {
			return itemError(i, it, "no hashingAlgorithm, and the worker's digest algorithm is not accepted: %v", err)
		}
	}
	if d.clientHash && len(it.Data) > base64.StdEncoding.EncodedLen(h.Size()) {
		// A digest: refused before its base64 is decoded into memory.
		return itemError(i, it, "data is longer than the base64 of a %s digest (%d bytes): send the digest, not the document, when client-side hashing is on.", cms.HashName(h), h.Size())
	}
	data, err := base64.StdEncoding.DecodeString(it.Data)
	if err != nil {
		return itemError(i, it, "data is not valid base64.")
	}
	*out = batchItem{h: h, id: it.CustomIdentifier}
	if d.clientHash {
		if len(data) != h.Size() {
			return itemError(i, it, "data is %d bytes but a %s digest is %d bytes.", len(data), cms.HashName(h), h.Size())
		}
		out.digest = data
		return nil
	}
	hh := h.New()
	hh.Write(data)
	out.digest = hh.Sum(nil)
	if !d.detached {
		out.content = data
	}
	return nil
}

// jsonErrorText words encoding/json's error on a request body: its own
// words repeat an unknown field's name whole, so that name is quoted by
// clienttext.
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
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		if f, uerr := strconv.Unquote(field); uerr == nil {
			field = f
		}
		return "unknown field " + clienttext.Quote(field)
	}
	return err.Error()
}

// processBatch validates every item first (nothing is signed when one is
// invalid), signs all through tokens.SignAll, one call per digest
// algorithm, and answers in request order.
func (w *CMSSigner) processBatch(ctx context.Context, req *Request, d decision, c *cmsCache) (*Response, error) {
	items, err := w.parseBatch(req, d, c.alg.Hash)
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
			if it.signer, err = w.signerFor(c, it.h, d.contentOID); err != nil {
				return nil, err
			}
			signers[it.h] = it.signer
		}
		if _, ok := groups[it.h]; !ok {
			order = append(order, it.h)
		}
		groups[it.h] = append(groups[it.h], i)
	}
	errs := make([]error, len(items))
	inChunks(len(items), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			items[i].pending, errs[i] = items[i].signer.Prepare(items[i].digest, now)
		}
	})
	for i, err := range errs {
		if err != nil {
			return nil, Illegal("Batch item %d: %v", i, err)
		}
	}
	sigs := make([][]byte, len(items))
	for _, h := range order {
		idx := groups[h]
		inputs, docs := make([][]byte, len(idx)), make([][]byte, len(idx))
		for j, i := range idx {
			inputs[j], docs[j] = items[i].pending.Input(), items[i].digest
		}
		out, err := w.signDocuments(ctx, inputs, docs, h, items[idx[0]].signer.SignerOpts())
		if err != nil {
			return nil, err
		}
		for j, i := range idx {
			sigs[i] = out[j]
		}
	}
	if w.tsa != nil { // CAdES-BASELINE-T: each item its own time-stamp
		ps := make([]*cms.Pending, len(items))
		for i := range items {
			ps[i] = items[i].pending
		}
		if err := w.tsa.timeStampAll(ctx, ps, sigs); err != nil {
			return nil, err
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
// json.Marshal would first copy each into a separate base64 string. The
// length of every item's JSON is known beforehand, so the response is
// allocated once at its final size and the items are encoded into their
// places in parallel, each chunk with one scratch buffer for its DER.
func encodeBatch(items []batchItem, sigs [][]byte) ([]byte, error) {
	enc := base64.StdEncoding
	const (
		open  = `{"signatures":[`
		tail  = `]}`
		head  = `{"signature":"`
		mid   = `","hash":"`
		idKey = `,"customIdentifier":`
	)
	n := len(items)
	ders := make([]int, n)
	off := make([]int, n+1) // where item i's JSON starts, its comma included
	off[0] = len(open)
	largest := 0
	for i := range items {
		it := &items[i]
		cl := int64(-1)
		if it.content != nil {
			cl = int64(len(it.content))
		}
		ders[i] = int(it.pending.Size(len(sigs[i]), cl))
		largest = max(largest, ders[i])
		l := len(head) + enc.EncodedLen(ders[i]) + len(mid) + enc.EncodedLen(len(it.digest)) + len(`"}`)
		if it.id != "" {
			l += len(idKey) + plainjson.StringLen(it.id)
		}
		if i > 0 {
			l++ // the comma
		}
		off[i+1] = off[i] + l
	}
	buf := make([]byte, off[n]+len(tail))
	copy(buf, open)
	copy(buf[off[n]:], tail)
	errs := make([]error, n)
	inChunks(n, func(lo, hi int) {
		scratch := make([]byte, 0, largest)
		for i := lo; i < hi; i++ {
			it := &items[i]
			b := buf[off[i]:off[i]:off[i+1]] // appends stay in item i's place
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, head...)
			var err error
			if b, scratch, err = it.pending.AppendBase64(b, scratch, sigs[i], it.content); err != nil {
				errs[i] = err
				continue
			}
			b = append(b, mid...)
			b = enc.AppendEncode(b, it.digest)
			b = append(b, '"')
			if it.id != "" {
				b = append(b, idKey...)
				b = plainjson.AppendString(b, it.id)
			}
			b = append(b, '}')
			if len(b) != off[i+1]-off[i] {
				errs[i] = fmt.Errorf("item %d is %d bytes of JSON, not %d", i, len(b), off[i+1]-off[i])
			}
		}
	})
	for i, err := range errs {
		if err != nil {
			return nil, Unavailable(err, "Encoding signature %d failed: %v", i, err)
		}
	}
	return buf, nil
}

// inChunks calls f on contiguous ranges that split [0, n), on one
// goroutine per CPU in parallel: the per-item work of a batch besides
// signing (signed attributes, DER and base64 encoding) would otherwise run
// on one core while the others wait. The goroutines take the next range as
// they finish one (about eight per goroutine, at least minChunk items), so
// that a goroutine the machine's other load holds back delays the batch by
// one range rather than by its whole share, as one range per CPU did. Small
// batches run on the caller's goroutine, which always takes ranges too.
func inChunks(n int, f func(lo, hi int)) {
	const minChunk = 64
	p := min(runtime.GOMAXPROCS(0), n/minChunk)
	if p <= 1 {
		f(0, n)
		return
	}
	size := max(minChunk, n/(8*p))
	var next atomic.Int64
	work := func() {
		for {
			lo := int(next.Add(int64(size))) - size
			if lo >= n {
				return
			}
			f(lo, min(lo+size, n))
		}
	}
	var wg sync.WaitGroup
	for range p - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// firstError returns the first error of errs that is not nil: the errors
// of the items inChunks worked on, in item order.
func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
