package workers

import (
	"context"
	"crypto"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/formats/dn"
	"github.com/signet-project/signet/formats/tsp"
)

// ContentTypeTimeStampReply is the content type of RFC 3161 responses
// (RFC 3161 section 3.4); queries come as application/timestamp-query.
const ContentTypeTimeStampReply = "application/timestamp-reply"

// ContentTypeTimeStampQuery is the content type of RFC 3161 requests
// (section 3.4): a query sent as an HTTP body of another type is refused.
const ContentTypeTimeStampQuery = "application/timestamp-query"

// maxTimeStampQuery bounds the size of a time-stamp query: a query is a
// digest, a policy, a nonce and a few flags, well under a kilobyte.
const maxTimeStampQuery = 64 << 10

// TimeStampSigner is an RFC 3161 time-stamp authority (kind TimeStampSigner),
// configured by SignServer's TimeStampSigner properties: it answers a DER
// TimeStampReq (application/timestamp-query) with a DER TimeStampResp
// (application/timestamp-reply). A query it cannot serve gets a response
// with status rejection and a failInfo, not an error. It also implements
// tsp.Stamper, so that CAdES signers with TSA_WORKER time-stamp in process.
//
// Its signer certificate must carry the critical timeStamping extended key
// usage (RFC 3161 section 2.3): without it the worker is OFFLINE.
type TimeStampSigner struct {
	base
	opts     tsp.Options // without Chain and Signer, which come from the token
	tsaName  *pkix.Name  // TSA
	fromCert bool        // TSA_FROM_CERT
	levels   int         // INCLUDE_CERTIFICATE_LEVELS, allCertificates for the whole chain

	mu   sync.Mutex
	auth *tsp.Authority // for the signer certificate the token has now
}

var (
	_ tsp.BatchStamper = (*TimeStampSigner)(nil)
	_ canStamper       = (*TimeStampSigner)(nil)
)

// newTimeStampSigner makes a TimeStampSigner from validated properties
// (OIDs, digests formats/tsp accepts, a SIGNATUREALGORITHM RFC 3161 tokens
// are signed with, a TSA that is a distinguished name). The certificate
// (the critical timeStamping extended key usage) is checked when the worker
// signs, and by Status.
func newTimeStampSigner(b base, p config.Properties) *TimeStampSigner {
	w := &TimeStampSigner{base: b, levels: allCertificates}
	// One serial source for the worker's lifetime: random serials need no
	// state to stay unique across restarts (see tsp.RandomSerials).
	w.opts.Serials = tsp.RandomSerials()
	w.opts.IncludeStatusString = p.Bool(config.PropIncludeStatusString)
	w.opts.Ordering = p.Bool(config.PropOrdering)
	w.opts.Accuracy = time.Duration(p.Int(config.PropAccuracySeconds))*time.Second +
		time.Duration(p.Int(config.PropAccuracyMillis))*time.Millisecond +
		time.Duration(p.Int(config.PropAccuracyMicros))*time.Microsecond
	w.fromCert = p.Bool(config.PropTSAFromCert)
	if p.IsSet(config.PropIncludeCertificateLevels) {
		w.levels = p.Int(config.PropIncludeCertificateLevels)
	}
	w.opts.DefaultPolicy = p.OID(config.PropDefaultTSAPolicyOID)
	w.opts.AcceptedPolicies = p.OIDs(config.PropAcceptedPolicies)
	for _, s := range p.List(config.PropAcceptedAlgorithms) {
		if h, err := tsp.ParseHash(s); err == nil {
			w.opts.AcceptedAlgorithms = append(w.opts.AcceptedAlgorithms, h)
		}
	}
	if s := p.String(config.PropSignatureAlgorithm); s != "" {
		if alg, err := cms.ParseSignatureAlgorithm(s); err == nil {
			w.opts.Hash = alg.Hash
		}
	}
	if s := p.String(config.PropTSA); s != "" {
		w.tsaName, _ = tsaName(s)
	}
	return w
}

// tsaName parses the TSA property, a distinguished name written as
// SignServer's ("CN=My TSA,O=My Org,C=SE"), into a Name whose encoding keeps
// the written order. (Each attribute becomes its own RDN: pkix.Name cannot
// carry a multi-valued one.)
func tsaName(s string) (*pkix.Name, error) {
	seq, err := dn.Parse(s)
	if err != nil {
		return nil, err
	}
	name := &pkix.Name{}
	for _, rdn := range seq {
		name.ExtraNames = append(name.ExtraNames, rdn...)
	}
	return name, nil
}

// authority returns the tsp.Authority for the signer certificate the token
// holds now, built once per certificate.
func (w *TimeStampSigner) authority(ctx context.Context) (*tsp.Authority, error) {
	chain, err := w.chain(ctx)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.auth != nil && sameCertificate(w.auth.Certificate(), chain[0]) {
		return w.auth, nil
	}
	signer, err := w.tok.Signer(ctx, w.alias)
	if err != nil {
		return nil, w.tokenError(err)
	}
	opts := w.opts
	opts.Chain = chain
	opts.Signer = signer // its public half; the token signs through Sign
	// The authority signs like every worker: its usage reserved and the
	// signature made through tokens.SignAll, with the request's context.
	opts.Sign = func(ctx context.Context, input []byte, so crypto.SignerOpts) ([]byte, error) {
		sigs, err := w.sign(ctx, [][]byte{input}, so)
		if err != nil {
			return nil, err
		}
		return sigs[0], nil
	}
	opts.IncludeCertificates = w.levels
	if w.levels == allCertificates {
		opts.IncludeCertificates = len(chain)
	}
	opts.TSAName = w.tsaName
	if w.fromCert {
		opts.TSAName = &chain[0].Subject
	}
	a, err := tsp.New(opts)
	if err != nil {
		return nil, &Error{Kind: ErrMisconfigured, Msg: fmt.Sprintf("Worker %s cannot time-stamp: %v", w.name, err), Err: err}
	}
	w.auth = a
	return a, nil
}

// Status adds to the common status the check of the signer certificate
// (the critical timeStamping extended key usage), once the token can tell.
func (w *TimeStampSigner) Status(ctx context.Context) Status {
	st := w.base.Status(ctx)
	if !st.Active {
		return st
	}
	if _, err := w.authority(ctx); err != nil {
		return Status{Errors: []string{err.Error()}}
	}
	return st
}

// Process answers one DER TimeStampReq with a DER TimeStampResp. Queries it
// cannot serve (not DER, a digest algorithm or policy it does not accept)
// get a rejection response; errors are for a worker that cannot serve at
// all (misconfigured, token offline).
func (w *TimeStampSigner) Process(ctx context.Context, req *Request) (*Response, error) {
	return w.archived(ctx, req, w.process)
}

// process is Process without the archive.
func (w *TimeStampSigner) process(ctx context.Context, req *Request) (*Response, error) {
	if err := req.requireType(ContentTypeTimeStampQuery, "A time-stamp query (RFC 3161)"); err != nil {
		return nil, err
	}
	if err := w.ready(); err != nil {
		return nil, err
	}
	a, err := w.authority(ctx)
	if err != nil {
		return nil, err
	}
	query, err := io.ReadAll(io.LimitReader(req.Data, maxTimeStampQuery+1))
	if err != nil {
		return nil, readError(err)
	}
	var out []byte
	if len(query) > maxTimeStampQuery {
		out, err = a.Reject(tsp.BadDataFormat, fmt.Sprintf("The request is larger than %d bytes: send a DER TimeStampReq.", maxTimeStampQuery))
	} else {
		out, err = a.Respond(ctx, query)
	}
	if err != nil {
		return nil, w.tokenError(err)
	}
	items := 0 // a rejection signs nothing
	if tsp.Granted(out) {
		items = 1
	}
	return &Response{Data: out, ContentType: ContentTypeTimeStampReply, SignerCertificate: a.Certificate(), Items: items}, nil
}

// CanStamp reports whether Stamp and StampAll would time-stamp now (the
// worker ready, its certificate one a TSA may sign with), for a B-T
// signer to ask before its own key signs.
func (w *TimeStampSigner) CanStamp(ctx context.Context) error {
	if err := w.ready(); err != nil {
		return err
	}
	_, err := w.authority(ctx)
	return err
}

// Stamp makes a time-stamp token over a digest in process, for CAdES
// signers whose TSA_WORKER names this worker.
func (w *TimeStampSigner) Stamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	tokens, err := w.StampAll(ctx, [][]byte{digest}, h)
	if err != nil {
		return nil, err
	}
	return tokens[0], nil
}

// StampAll makes a time-stamp token over each digest in process, for a
// batch of a CAdES signer whose TSA_WORKER names this worker. Each token
// has its own serial number and genTime; the tokens are built and encoded
// in parallel chunks, and the worker's key signs all of them in one call
// through tokens.SignAll, as a batch of any worker: the key's policy
// counts every signature against its usage limit, checks its certificate
// once and writes one signing log record with every token's hash.
func (w *TimeStampSigner) StampAll(ctx context.Context, digests [][]byte, h crypto.Hash) ([][]byte, error) {
	if err := w.ready(); err != nil {
		return nil, err
	}
	a, err := w.authority(ctx)
	if err != nil {
		return nil, err
	}
	n := len(digests)
	pending := make([]*tsp.PendingToken, n)
	errs := make([]error, n)
	inChunks(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			pending[i], errs[i] = a.Prepare(ctx, digests[i], h)
		}
	})
	if err := firstError(errs); err != nil {
		if errors.Is(err, tsp.ErrRejected) {
			return nil, &Error{Kind: ErrMisconfigured, Msg: fmt.Sprintf("Time-stamp worker %s refused the request: %v", w.name, err), Err: err}
		}
		return nil, w.tokenError(err)
	}
	inputs := make([][]byte, n)
	for i, p := range pending {
		inputs[i] = p.Input()
	}
	sigs, err := w.sign(ctx, inputs, a.SignerOpts())
	if err != nil {
		return nil, err
	}
	tokens := make([][]byte, n)
	inChunks(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			tokens[i], errs[i] = pending[i].Encode(sigs[i])
		}
	})
	if err := firstError(errs); err != nil {
		return nil, Unavailable(err, "Time-stamp worker %s could not encode a token: %v", w.name, err)
	}
	return tokens, nil
}
