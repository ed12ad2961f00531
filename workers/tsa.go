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

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
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

// stamp returns a time-stamp token over the digest of one signature value.
// Any failure is ErrUnavailable with a sentence naming the TSA: a signature
// is never passed off as B-T without its time-stamp.
func (ts *timeStamper) stamp(ctx context.Context, st tsp.Stamper, signature []byte) ([]byte, error) {
	d := ts.h.New()
	d.Write(signature)
	ctx, cancel := context.WithTimeout(ctx, ts.timeout)
	defer cancel()
	token, err := st.Stamp(ctx, d.Sum(nil), ts.h)
	if err != nil {
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
			return nil, Unavailable(err, "The signature could not be time-stamped: %s.", msg)
		}
		return nil, Unavailable(err, "The signature could not be time-stamped by %s: %s.", ts.where, msg)
	}
	return token, nil
}

// addTimeStamp puts token into the signature-time-stamp unsigned attribute
// of the (only) SignerInfo of der. A signature just made by formats/cms
// (one SignerInfo, no unsigned attributes) is extended in place with
// cryptobyte; anything else goes through cms.Parse, which also parses
// every certificate and costs a fifth of a B-T batch.
func addTimeStamp(der, token []byte) ([]byte, error) {
	if out, ok := appendTimeStamp(der, token); ok {
		return out, nil
	}
	sd, err := cms.Parse(der)
	if err == nil {
		err = sd.AddUnsignedAttribute(0, cms.OIDSignatureTimeStampToken, token)
	}
	var out []byte
	if err == nil {
		out, err = sd.Bytes()
	}
	if err != nil {
		return nil, Unavailable(err, "Adding the signature time-stamp failed: %v", err)
	}
	return out, nil
}

// appendTimeStamp re-encodes a ContentInfo whose SignedData has exactly one
// SignerInfo without unsigned attributes, with the signature-time-stamp
// attribute appended to that SignerInfo. It reports false for any other
// shape.
func appendTimeStamp(der, token []byte) ([]byte, bool) {
	var ci, ctOID, inner, sd cryptobyte.String
	in := cryptobyte.String(der)
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !in.Empty() ||
		!ci.ReadASN1Element(&ctOID, cbasn1.OBJECT_IDENTIFIER) ||
		!ci.ReadASN1(&inner, cbasn1.Tag(0).Constructed().ContextSpecific()) || !ci.Empty() ||
		!inner.ReadASN1(&sd, cbasn1.SEQUENCE) || !inner.Empty() {
		return nil, false
	}
	// The SignerInfos SET is the last element of the SignedData.
	whole := []byte(sd)
	var last cryptobyte.String
	var tag cbasn1.Tag
	lastStart := 0
	for !sd.Empty() {
		lastStart = len(whole) - len(sd)
		if !sd.ReadAnyASN1Element(&last, &tag) {
			return nil, false
		}
	}
	var sis, si cryptobyte.String
	if tag != cbasn1.SET || !last.ReadASN1(&sis, cbasn1.SET) || !sis.ReadASN1(&si, cbasn1.SEQUENCE) || !sis.Empty() {
		return nil, false
	}
	for rest := si; !rest.Empty(); {
		var e cryptobyte.String
		if !rest.ReadAnyASN1Element(&e, &tag) || tag == cbasn1.Tag(1).Constructed().ContextSpecific() {
			return nil, false // malformed, or unsigned attributes already
		}
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(ctOID)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(whole[:lastStart])
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddBytes(si)
						b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
								b.AddASN1ObjectIdentifier(cms.OIDSignatureTimeStampToken)
								b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(token) })
							})
						})
					})
				})
			})
		})
	})
	out, err := b.Bytes()
	return out, err == nil
}

// timeStampOne time-stamps one encoded signature whose signature value is
// signature.
func (ts *timeStamper) timeStampOne(ctx context.Context, der, signature []byte) ([]byte, error) {
	st, err := ts.stamper()
	if errors.Is(err, ErrMisconfigured) {
		return nil, err
	}
	if err != nil {
		return nil, Unavailable(err, "The signature could not be time-stamped by %s: %v.", ts.where, err)
	}
	token, err := ts.stamp(ctx, st, signature)
	if err != nil {
		return nil, err
	}
	return addTimeStamp(der, token)
}

// timeStampAll time-stamps the encoded signatures ders (whose signature
// values are sigs) in place, each with its own token, with at most
// ts.parallel requests at once. The first failure cancels the others and
// fails the whole batch.
func (ts *timeStamper) timeStampAll(ctx context.Context, ders, sigs [][]byte) error {
	st, err := ts.stamper()
	if errors.Is(err, ErrMisconfigured) {
		return err
	}
	if err != nil {
		return Unavailable(err, "The signatures could not be time-stamped by %s: %v.", ts.where, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(ts.parallel)
	for i := range ders {
		g.Go(func() error {
			token, err := ts.stamp(gctx, st, sigs[i])
			if err != nil {
				return err
			}
			ders[i], err = addTimeStamp(ders[i], token)
			return err
		})
	}
	return g.Wait()
}
