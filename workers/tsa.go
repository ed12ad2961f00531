package workers

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/formats/tsp"
)

// urlStampParallelism bounds the time-stamp requests one batch has in
// flight to an external TSA (TSA_URL); an in-process TSA (TSA_WORKER) is
// bounded by the CPUs instead.
const urlStampParallelism = 16

// Lookup finds a worker by name or ID; CAdES signers use it at request time
// to reach their TSA_WORKER.
type Lookup func(idOrName string) (Worker, error)

// timeStamper adds CAdES-BASELINE-T signature time-stamps: a token over the
// TSA_DIGESTALGORITHM digest of each SignerInfo's signature value, in the
// signature-time-stamp unsigned attribute.
type timeStamper struct {
	where    string      // names the TSA in messages: its URL or its worker
	worker   string      // TSA_WORKER; empty for TSA_URL
	h        crypto.Hash // TSA_DIGESTALGORITHM
	timeout  time.Duration
	parallel int
	// stamper returns the TSA to ask now: the TSA_WORKER as the Set has it,
	// or the TSA_URL client with TSA_PASSWORD read now.
	stamper func() (tsp.Stamper, error)
}

// newTimeStamper reads SIGNATURE_LEVEL and the TSA_* properties, which
// config validated (one of TSA_URL and TSA_WORKER at BASELINE-T, a digest
// formats/tsp accepts, TSA_POLICYOID only with TSA_URL). It returns nil for
// a BASELINE-B signer.
func newTimeStamper(p config.Properties, lookup Lookup) *timeStamper {
	if lvl := p.String(config.PropSignatureLevel); lvl != config.LevelBaselineT && lvl != config.LevelBaselineLT {
		return nil
	}
	h, _ := tsp.ParseHash(p.String(config.PropTSADigestAlgorithm))
	ts := &timeStamper{h: h, timeout: p.Duration(config.PropTSATimeout)}
	switch {
	case p.IsSet(config.PropTSAURL):
		c := &tsp.Client{URL: p.String(config.PropTSAURL), Username: p.String(config.PropTSAUsername), Timeout: ts.timeout,
			Policy: p.OID(config.PropTSAPolicyOID)}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = urlStampParallelism
		c.HTTPClient = &http.Client{Transport: tr}
		ts.where = "time-stamp authority " + c.URL
		if u, err := url.Parse(c.URL); err == nil {
			ts.where = "time-stamp authority " + u.Redacted()
		}
		ts.parallel = urlStampParallelism
		password := p.Secret(config.PropTSAPassword)
		ts.stamper = func() (tsp.Stamper, error) {
			if c.Username == "" {
				return c, nil
			}
			// Read when used, as token PINs are: a secret that cannot be
			// read keeps the worker OFFLINE (Status) until it can.
			pw, err := password.Resolve()
			if err != nil {
				return nil, &Error{Kind: ErrMisconfigured, Msg: fmt.Sprintf("TSA_PASSWORD cannot be read: %v.", err), Err: err}
			}
			withPassword := *c
			withPassword.Password = pw
			return &withPassword, nil
		}
	default: // TSA_WORKER
		name := p.String(config.PropTSAWorker)
		ts.where = "time-stamp worker " + name
		ts.worker = name
		ts.parallel = max(runtime.GOMAXPROCS(0), 2)
		ts.stamper = func() (tsp.Stamper, error) {
			w, err := lookup(name)
			if err != nil {
				return nil, err
			}
			s, ok := w.(tsp.Stamper)
			if !ok {
				return nil, fmt.Errorf("worker %s is a %s, not a TimeStampSigner", name, w.Kind())
			}
			return s, nil
		}
	}
	return ts
}

// Status adds to the common status (which checks the signature algorithm
// against the key) what a B-T signer needs of its TSA: a TSA_WORKER of this
// server that is ACTIVE (a CAdESSignerT whose TimeStampSigner is offline
// cannot sign, so it is not ACTIVE either), or for TSA_URL a TSA_PASSWORD
// that can be read. An external TSA is not probed; its failures show in
// the requests.
func (w *CMSSigner) Status(ctx context.Context) Status {
	st := w.status(ctx, w.checkKey)
	if !st.Active || w.tsa == nil {
		return st
	}
	s, err := w.tsa.stamper()
	switch {
	case err != nil && w.tsa.worker == "":
		return Status{Errors: []string{err.Error()}}
	case err != nil:
		return Status{Errors: []string{fmt.Sprintf("TSA_WORKER %s cannot be used: %v", w.tsa.worker, err)}}
	}
	if tw, ok := s.(Worker); ok {
		if ts := tw.Status(ctx); !ts.Active {
			return Status{Errors: []string{fmt.Sprintf("Time-stamp worker %s is offline: %s", w.tsa.worker, strings.Join(ts.Errors, "; "))}}
		}
	}
	return st
}

// failed turns a TSA's error into ErrUnavailable with a sentence naming
// the TSA: a signature is never passed off as B-T without its time-stamp.
// ctx is the context the TSA was asked with (its TSA_TIMEOUT).
func (ts *timeStamper) failed(ctx context.Context, err error) error {
	var we *Error
	msg := err.Error()
	if errors.As(err, &we) {
		msg = we.Msg
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		msg = fmt.Sprintf("no answer within %s (TSA_TIMEOUT)", ts.timeout)
	}
	msg = strings.TrimSuffix(msg, ".")
	if strings.Contains(msg, ts.where) { // tsp.Client names the TSA itself
		return Unavailable(err, "The signature could not be time-stamped: %s.", msg)
	}
	return Unavailable(err, "The signature could not be time-stamped by %s: %s.", ts.where, msg)
}

// stamperError is the error of a request whose n signatures cannot be
// time-stamped because the TSA cannot be had (ts.stamper failed).
func (ts *timeStamper) stamperError(err error, n int) error {
	if errors.Is(err, ErrMisconfigured) {
		return err
	}
	what := "signatures"
	if n == 1 {
		what = "signature"
	}
	return Unavailable(err, "The %s could not be time-stamped by %s: %v.", what, ts.where, err)
}

// canStamper is an in-process TSA that can tell, before anything is
// signed, whether it would time-stamp now: the TimeStampSigner.
type canStamper interface {
	CanStamp(ctx context.Context) error
}

// ready returns, before the signer's key makes n signatures, the error
// timeStampAll would return after it when the TSA cannot time-stamp them
// now: a TSA_WORKER disabled, offline or whose certificate is no
// time-stamping certificate, or a TSA_PASSWORD that cannot be read.
// Otherwise each request was signed, counted against the key's usage limit
// and logged, and its signatures thrown away. A remote TSA (TSA_URL) is
// not probed; its failures show when it is asked.
func (ts *timeStamper) ready(ctx context.Context, n int) error {
	st, err := ts.stamper()
	if err != nil {
		return ts.stamperError(err, n)
	}
	if c, ok := st.(canStamper); ok {
		if err := c.CanStamp(ctx); err != nil {
			return ts.failed(ctx, err)
		}
	}
	return nil
}

// timeStampAll adds to each pending signature ps[i], whose signature value
// is sigs[i], a signature-time-stamp unsigned attribute with its own token
// over the TSA_DIGESTALGORITHM digest of that value; the caller then
// encodes ps as it would without time-stamps. An in-process TSA
// (tsp.BatchStamper: TSA_WORKER) makes all the tokens in one call, its
// signatures through its key's batch engine. A remote TSA (TSA_URL) gets
// one RFC 3161 request per token, at most ts.parallel at once. The first
// failure fails the whole batch.
func (ts *timeStamper) timeStampAll(ctx context.Context, ps []*cms.Pending, sigs [][]byte) error {
	st, err := ts.stamper()
	if err != nil {
		return ts.stamperError(err, len(ps))
	}
	digests := make([][]byte, len(sigs))
	inChunks(len(sigs), func(lo, hi int) {
		d := ts.h.New()
		for i := lo; i < hi; i++ {
			d.Reset()
			d.Write(sigs[i])
			digests[i] = d.Sum(nil)
		}
	})
	var tokens [][]byte
	if bs, ok := st.(tsp.BatchStamper); ok {
		tokens, err = ts.stampBatch(ctx, bs, digests)
	} else {
		tokens, err = ts.stampEach(ctx, st, digests)
	}
	if err != nil {
		return err
	}
	errs := make([]error, len(ps))
	inChunks(len(ps), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			errs[i] = ps[i].AddUnsignedAttribute(cms.OIDSignatureTimeStampToken, tokens[i])
		}
	})
	if err := firstError(errs); err != nil {
		return Unavailable(err, "Adding the signature time-stamp failed: %v", err)
	}
	return nil
}

// stampBatch asks an in-process TSA for the tokens of every digest at
// once. TSA_TIMEOUT bounds the wait for one token; the batch may take as
// long as its tokens took one after another on ts.parallel goroutines.
func (ts *timeStamper) stampBatch(ctx context.Context, bs tsp.BatchStamper, digests [][]byte) ([][]byte, error) {
	rounds := (len(digests) + ts.parallel - 1) / ts.parallel
	ctx, cancel := context.WithTimeout(ctx, ts.timeout*time.Duration(rounds))
	defer cancel()
	tokens, err := bs.StampAll(ctx, digests, ts.h)
	if err != nil {
		return nil, ts.failed(ctx, err)
	}
	if len(tokens) != len(digests) {
		return nil, Unavailable(nil, "The signatures could not be time-stamped by %s: %d tokens for %d signatures.", ts.where, len(tokens), len(digests))
	}
	return tokens, nil
}

// stampEach asks st for one token per digest, each within TSA_TIMEOUT, at
// most ts.parallel at once; the first failure cancels the others.
func (ts *timeStamper) stampEach(ctx context.Context, st tsp.Stamper, digests [][]byte) ([][]byte, error) {
	tokens := make([][]byte, len(digests))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(ts.parallel)
	for i := range digests {
		g.Go(func() error {
			ctx, cancel := context.WithTimeout(gctx, ts.timeout)
			defer cancel()
			var err error
			if tokens[i], err = st.Stamp(ctx, digests[i], ts.h); err != nil {
				return ts.failed(ctx, err)
			}
			return nil
		})
	}
	return tokens, g.Wait()
}
