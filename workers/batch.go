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
	"time"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/internal/clienttext"
	"github.com/signet-project/signet/internal/plainjson"
	"github.com/signet-project/signet/tokens"
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

// prepareBatch reads the batch, checks every item (decodeBatch stops at
// MAX_BATCH_SIZE) and prepares its signed attributes, signed at now.
//
// Reading the JSON is serial, about 0.4 µs per item of client-side
// digests on the 2-core bench machine, and checking and preparing an item
// (base64, signer, signed attributes and their digest) costs twice that:
// done after the whole read, it left the other cores idle while the batch
// was read. The items are instead handed over in blocks of batchBlock as
// they are read, to a goroutine per other core, and the reading goroutine
// prepares the blocks still waiting once it has read the last: the engine
// alone (BenchmarkBatchEngine, a token that does not compute) takes 1.34–1.43
// ms per batch of 1000 instead of 1.47–1.56. The signing time, now, is
// therefore taken when the read begins: a client that sends its batch
// slowly gets signing times as early as its request.
func (w *CMSSigner) prepareBatch(req *Request, d decision, c *cmsCache, now time.Time) ([]batchItem, error) {
	var (
		blocks  []*preparedBlock // in request order; appended by this goroutine only
		queue   chan *preparedBlock
		wg      sync.WaitGroup
		helpers = runtime.GOMAXPROCS(0) - 1
	)
	newPreparer := func() *batchPreparer { return &batchPreparer{w: w, d: d, c: c, now: now} }
	emit := func(reqs []BatchItem) {
		b := &preparedBlock{lo: len(blocks) * batchBlock, reqs: reqs}
		blocks = append(blocks, b)
		if helpers <= 0 {
			return
		}
		if queue == nil { // a batch of fewer than batchBlock items starts no goroutine
			queue = make(chan *preparedBlock, max(1, min(w.pol.maxBatch/batchBlock, 1024)))
			for range helpers {
				wg.Go(func() {
					p := newPreparer()
					for b := range queue {
						p.claim(b)
					}
				})
			}
		}
		select {
		case queue <- b:
		default: // the helpers are that far behind: prepared below
		}
	}
	reqs, err := func() (reqs []BatchItem, err error) {
		read := false
		defer func() { // the helpers end however the read does, a panic included
			if !read || err != nil {
				for _, b := range blocks {
					b.claimed.Store(true) // a refused batch: the helpers skip what is left
				}
			}
			if queue != nil {
				close(queue)
			}
		}()
		reqs, err = readBatchBlocks(req, w.pol.maxBatch, emit)
		read = true
		return reqs, err
	}()
	if err != nil {
		wg.Wait()
		return nil, err
	}
	if n := len(blocks) * batchBlock; n < len(reqs) {
		blocks = append(blocks, &preparedBlock{lo: n, reqs: reqs[n:]})
	}
	p := newPreparer()
	for _, b := range blocks {
		p.claim(b)
	}
	wg.Wait()
	if len(reqs) == 0 {
		return nil, Illegal("The batch request has no signatureRequests: send at least one item.")
	}
	for stage := range stages {
		for _, b := range blocks {
			if err := b.errs[stage]; err != nil {
				return nil, err // the first invalid item's, stage by stage
			}
		}
	}
	items := make([]batchItem, len(reqs))
	for _, b := range blocks {
		copy(items[b.lo:], b.items)
	}
	return items, nil
}

// The stages of preparing an item, in the order their errors are reported:
// an item's request is checked (parseItem) before any item's signer is
// built (signerFor), and every signer before any signed attributes are
// made (Prepare). Prepared in one pass per item, the items keep the order
// in which the errors were found when each stage ran over the whole batch
// in turn: a malformed item is named even when an earlier one has a
// digest algorithm the key cannot sign with.
const (
	stageParse = iota
	stageSigner
	stagePrepare
	stages
)

// preparedBlock is a block of a batch's items from index lo: their
// requests, and once prepared, the items ready to sign or, for each stage,
// the error of the first item invalid at it.
type preparedBlock struct {
	lo      int
	reqs    []BatchItem
	claimed atomic.Bool // by the goroutine that prepares it
	items   []batchItem
	errs    [stages]error
}

// batchPreparer prepares the blocks one goroutine claims, with its own
// cache of the worker's signers.
type batchPreparer struct {
	w       *CMSSigner
	d       decision
	c       *cmsCache
	now     time.Time
	signers map[crypto.Hash]*cms.Signer // one signerFor per algorithm, not per item
}

// claim prepares b unless another goroutine has.
func (p *batchPreparer) claim(b *preparedBlock) {
	if !b.claimed.CompareAndSwap(false, true) {
		return
	}
	b.items = make([]batchItem, len(b.reqs))
	for j := range b.reqs {
		stage, err := p.item(b.lo+j, &b.reqs[j], &b.items[j])
		if err != nil && b.errs[stage] == nil {
			b.errs[stage] = err
		}
		if stage == stageParse && err != nil {
			return // the block's first malformed item: what follows is not reported
		}
	}
}

// item checks item i and prepares it into out, and returns the stage that
// failed, with its error.
func (p *batchPreparer) item(i int, it *BatchItem, out *batchItem) (int, error) {
	if err := p.w.parseItem(i, it, p.d, p.c.alg.Hash, out); err != nil {
		return stageParse, err
	}
	s := p.signers[out.h]
	if s == nil {
		var err error
		if s, err = p.w.signerFor(p.c, out.h, p.d.contentOID); err != nil {
			return stageSigner, err
		}
		if p.signers == nil {
			p.signers = map[crypto.Hash]*cms.Signer{}
		}
		p.signers[out.h] = s
	}
	out.signer = s
	var err error
	if out.pending, err = s.Prepare(out.digest, p.now); err != nil {
		return stagePrepare, Illegal("Batch item %d: %v", i, err)
	}
	return stagePrepare, nil
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
	items, err := w.prepareBatch(req, d, c, w.now())
	if err != nil {
		return nil, err
	}
	// Group by digest algorithm: each group has its own signer options.
	groups := map[crypto.Hash][]int{}
	var order []crypto.Hash
	for i := range items {
		h := items[i].h
		if _, ok := groups[h]; !ok {
			order = append(order, h)
		}
		groups[h] = append(groups[h], i)
	}
	if w.tsa != nil {
		if err := w.tsa.ready(ctx, len(items)); err != nil {
			return nil, err
		}
	}
	// The answer is written with the helpers of a standby, started as the
	// signing ends and given the signatures while the key's guard records
	// them, when the signing is the last step before it: not with
	// time-stamps, nor for digest algorithms signed in turn, nor for a
	// batch too small to share.
	ans := newBatchAnswer(items)
	var sb *standby
	if w.tsa == nil && len(order) == 1 && ans.chunks.helpers > 0 {
		sb = newStandby(ans.chunks.helpers)
		defer sb.end()
		ctx = tokens.WithSignTrace(ctx, sb.trace(ans))
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
	buf, err := ans.write(sigs, sb)
	if err != nil {
		return nil, err
	}
	return &Response{Data: buf, ContentType: ContentTypeJSON, SignerCertificate: items[0].signer.Certificate(), Items: len(items)}, nil
}

// The batch response's JSON around each item's signature and hash.
const (
	batchOpen  = `{"signatures":[`
	batchTail  = `]}`
	batchHead  = `{"signature":"`
	batchMid   = `","hash":"`
	batchIDKey = `,"customIdentifier":`
)

// itemJSONLen is the length of item i's JSON in the batch response, its
// comma included, for a CMS encoding of der bytes.
func itemJSONLen(it *batchItem, i, der int) int {
	enc := base64.StdEncoding
	l := len(batchHead) + enc.EncodedLen(der) + len(batchMid) + enc.EncodedLen(len(it.digest)) + len(`"}`)
	if it.id != "" {
		l += len(batchIDKey) + plainjson.StringLen(it.id)
	}
	if i > 0 {
		l++ // the comma
	}
	return l
}

// contentLen is the Size argument of an item: its content's length, or -1
// when detached.
func (it *batchItem) contentLen() int64 {
	if it.content != nil {
		return int64(len(it.content))
	}
	return -1
}

// batchAnswer is a batch response being written. It is written by hand
// rather than with encoding/json because the signatures are the bulk of
// the output and json.Marshal would first copy each into a separate base64
// string. The length of every item's JSON is known once the signatures
// are, so the response is allocated once at its final size (lay) and the
// items are encoded into their places in parallel, each range with one
// scratch buffer for its DER (encode).
type batchAnswer struct {
	items   []batchItem
	sigs    [][]byte // one per item, once signed
	chunks  *chunks  // the ranges encode takes, and by how many goroutines
	laid    sync.Once
	off     []int // where item i's JSON starts, its comma included
	largest int   // the largest item's DER
	buf     []byte
	errs    []error // per item
}

func newBatchAnswer(items []batchItem) *batchAnswer {
	a := &batchAnswer{items: items, errs: make([]error, len(items))}
	a.chunks = newChunks(len(items), a.encode)
	return a
}

// signed takes the signatures of res, one per item, and reports whether
// the answer can be written with them: not when an item failed (the batch
// fails) nor when it has its signatures already. It runs on the
// goroutine that called tokens.SignAll (SignTrace.Signed), processBatch's,
// the one write later reads a.sigs on.
func (a *batchAnswer) signed(res []tokens.Result) bool {
	if a.sigs != nil || len(res) != len(a.items) {
		return false
	}
	sigs := make([][]byte, len(res))
	for i, r := range res {
		if r.Err != nil {
			return false
		}
		sigs[i] = r.Signature
	}
	a.sigs = sigs
	return true
}

// write writes the answer with sigs, on the helpers of sb when not nil
// (which may have begun with the same signatures, given by signed), and
// returns it.
func (a *batchAnswer) write(sigs [][]byte, sb *standby) ([]byte, error) {
	switch {
	case sb == nil:
		a.sigs = sigs
		a.laid.Do(a.lay)
		a.chunks.run()
	case a.sigs == nil: // not given while recorded: no guard, or one that does not say
		a.sigs = sigs
		sb.give(a.work)
		sb.join()
	default:
		sb.join()
	}
	for i, err := range a.errs {
		if err != nil {
			return nil, Unavailable(err, "Encoding signature %d failed: %v", i, err)
		}
	}
	return a.buf, nil
}

// work lays the answer out unless another goroutine has, then encodes
// ranges of it until none is left: what each goroutine writing it runs.
func (a *batchAnswer) work() {
	a.laid.Do(a.lay)
	a.chunks.work()
}

// lay finds where each item's JSON goes and allocates the response.
func (a *batchAnswer) lay() {
	n := len(a.items)
	a.off = make([]int, n+1)
	a.off[0] = len(batchOpen)
	for i := range a.items {
		it := &a.items[i]
		der := int(it.pending.Size(len(a.sigs[i]), it.contentLen()))
		a.largest = max(a.largest, der)
		a.off[i+1] = a.off[i] + itemJSONLen(it, i, der)
	}
	a.buf = make([]byte, a.off[n]+len(batchTail))
	copy(a.buf, batchOpen)
	copy(a.buf[a.off[n]:], batchTail)
}

// encode writes items [lo, hi) into their places.
func (a *batchAnswer) encode(lo, hi int) {
	enc := base64.StdEncoding
	off := a.off
	scratch := make([]byte, 0, a.largest)
	for i := lo; i < hi; i++ {
		it := &a.items[i]
		b := a.buf[off[i]:off[i]:off[i+1]] // appends stay in item i's place
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, batchHead...)
		var err error
		if b, scratch, err = it.pending.AppendBase64(b, scratch, a.sigs[i], it.content); err != nil {
			a.errs[i] = err
			continue
		}
		b = append(b, batchMid...)
		b = enc.AppendEncode(b, it.digest)
		b = append(b, '"')
		if it.id != "" {
			b = append(b, batchIDKey...)
			b = plainjson.AppendString(b, it.id)
		}
		b = append(b, '}')
		if len(b) != off[i+1]-off[i] {
			a.errs[i] = fmt.Errorf("item %d is %d bytes of JSON, not %d", i, len(b), off[i+1]-off[i])
		}
	}
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
