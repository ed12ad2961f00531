package workers

import (
	"context"
	"crypto"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"strings"
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
	levels   int         // INCLUDE_CERTIFICATE_LEVELS, <0 the whole chain

	mu   sync.Mutex
	auth *tsp.Authority // for the signer certificate the token has now
}

var _ tsp.Stamper = (*TimeStampSigner)(nil)

func newTimeStampSigner(ctx context.Context, b base, p config.Properties) *TimeStampSigner {
	w := &TimeStampSigner{base: b, levels: -1}
	// One serial source for the worker's lifetime: random serials need no
	// state to stay unique across restarts (see tsp.RandomSerials).
	w.opts.Serials = tsp.RandomSerials()
	w.opts.IncludeStatusString = p.Bool("INCLUDESTATUSSTRING")
	w.opts.Ordering = p.Bool("ORDERING")
	w.opts.Accuracy = time.Duration(p.Int("ACCURACYSECONDS"))*time.Second +
		time.Duration(p.Int("ACCURACYMILLIS"))*time.Millisecond +
		time.Duration(p.Int("ACCURACYMICROS"))*time.Microsecond
	w.fromCert = p.Bool("TSA_FROM_CERT")
	if p.IsSet(propIncludeCertificateLevels) {
		w.levels = p.Int(propIncludeCertificateLevels)
	}
	add := func(format string, args ...any) { w.problems = append(w.problems, fmt.Sprintf(format, args...)) }
	if s := p.String("DEFAULTTSAPOLICYOID"); s != "" {
		oid, err := parseOID(s)
		if err != nil {
			add("DEFAULTTSAPOLICYOID %q is not an object identifier: write it as dotted numbers, such as 1.2.3.4.", s)
		}
		w.opts.DefaultPolicy = oid
	}
	for _, s := range p.List("ACCEPTEDPOLICIES") {
		oid, err := parseOID(s)
		if err != nil {
			add("ACCEPTEDPOLICIES item %q is not an object identifier: write dotted numbers separated by ;.", s)
			continue
		}
		w.opts.AcceptedPolicies = append(w.opts.AcceptedPolicies, oid)
	}
	for _, s := range p.List("ACCEPTEDALGORITHMS") {
		h, err := timeStampHash(s)
		if err != nil {
			add("ACCEPTEDALGORITHMS: %v.", err)
			continue
		}
		w.opts.AcceptedAlgorithms = append(w.opts.AcceptedAlgorithms, h)
	}
	if s := p.String(propSignatureAlgorithm); s != "" {
		alg, err := cms.ParseSignatureAlgorithm(s)
		switch {
		case err != nil:
			add("%s: %v", propSignatureAlgorithm, err)
		case alg.Scheme == cms.PSS:
			add("%s %s is not supported by TimeStampSigner: use SHA256withRSA, SHA256withECDSA or Ed25519 (or their SHA-384 and SHA-512 variants).", propSignatureAlgorithm, s)
		default:
			w.opts.Hash = alg.Hash
		}
	}
	if s := p.String("TSA"); s != "" {
		name, err := tsaName(s)
		if err != nil {
			add("TSA %q is not a distinguished name: %v.", s, strings.TrimSuffix(err.Error(), "."))
		}
		w.tsaName = name
	}
	if len(w.problems) == 0 && w.tok != nil {
		// The certificate is checked now when the token can tell, so that
		// a certificate without the critical timeStamping EKU keeps the
		// worker OFFLINE from the start; an offline token is checked on
		// the first request and in Status.
		if _, err := w.authority(ctx); err != nil && errors.Is(err, ErrMisconfigured) {
			w.problems = append(w.problems, err.Error())
		}
	}
	return w
}

// timeStampHash parses a digest name of ACCEPTEDALGORITHMS or
// TSA_DIGESTALGORITHM into one RFC 3161 time-stamps can carry.
func timeStampHash(name string) (crypto.Hash, error) {
	if h, err := cms.ParseHash(name); err == nil && (h == crypto.SHA256 || h == crypto.SHA384 || h == crypto.SHA512) {
		return h, nil
	}
	// SHA-1 is not a CMS signing digest (cms.ParseHash refuses it) but RFC
	// 3161 clients still send it, and SignServer accepts it when listed.
	if n := strings.NewReplacer("-", "", "_", "").Replace(strings.TrimSpace(name)); strings.EqualFold(n, "SHA1") {
		return crypto.SHA1, nil
	}
	return 0, fmt.Errorf("digest algorithm %q is not supported for time-stamps: use SHA256, SHA384, SHA512 or SHA1", name)
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
	if w.auth != nil && w.auth.Certificate().Equal(chain[0]) {
		return w.auth, nil
	}
	signer, err := w.tok.Signer(ctx, w.alias)
	if err != nil {
		return nil, w.tokenError(err)
	}
	opts := w.opts
	opts.Chain = chain
	opts.Signer = &usageSigner{Signer: signer, b: &w.base}
	opts.IncludeCertificates = w.levels
	if w.levels < 0 {
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

// usageSigner counts each signature of the time-stamp authority against the
// key's usage limit before it is made.
type usageSigner struct {
	crypto.Signer
	b *base
}

func (s *usageSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := s.b.count(context.Background(), 1); err != nil {
		return nil, err
	}
	return s.Signer.Sign(r, digest, opts)
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

// Stamp makes a time-stamp token over a digest in process, for CAdES
// signers whose TSA_WORKER names this worker.
func (w *TimeStampSigner) Stamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	if err := w.ready(); err != nil {
		return nil, err
	}
	a, err := w.authority(ctx)
	if err != nil {
		return nil, err
	}
	token, err := a.Stamp(ctx, digest, h)
	if err != nil {
		if errors.Is(err, tsp.ErrRejected) {
			return nil, &Error{Kind: ErrMisconfigured, Msg: fmt.Sprintf("Time-stamp worker %s refused the request: %v", w.name, err), Err: err}
		}
		return nil, w.tokenError(err)
	}
	return token, nil
}
