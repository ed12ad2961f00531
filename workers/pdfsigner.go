package workers

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/formats/pades"
	"github.com/signet-project/signet/formats/revocation"
	"github.com/signet-project/signet/internal/clienttext"
)

// pdfReadTimeout bounds the parsing of one PDF: a hostile file (an object
// graph with loops, huge object streams) is refused with 400 at the latest
// then, not read for ever. Each reading has its own (each document of a
// batch, and the DSS update of BASELINE-LT): the signing, the time-stamp
// and the CRLs between them are not the document's doing.
const pdfReadTimeout = 20 * time.Second

// errPDFReadTimeout is the cause of a reading's context that pdfReadTimeout
// ended, rather than its request's deadline: the PDF budget's 503 says
// which.
var errPDFReadTimeout = errors.New("a PDF's reading took its bound, pdfReadTimeout")

// pdfReadContext returns the context of one reading of a PDF, which ends
// after pdfReadTimeout with errPDFReadTimeout as its cause.
func pdfReadContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, pdfReadTimeout, errPDFReadTimeout)
}

// PDFSigner makes PAdES baseline signatures inside PDF documents (kind
// PDFSigner): B-B, B-T with a time-stamp from TSA_WORKER or TSA_URL, or
// B-LT with a Document Security Store holding the chains' certificates and
// CRLs. It shares CAdESSigner's CMS encoder, algorithms, key usage counting
// and time-stamping, with PAdES's attributes (no signing-time).
type PDFSigner struct {
	*CMSSigner
	lt          bool
	reason      string
	location    string
	contact     string
	overridable map[string]bool // ALLOW_PROPERTY_OVERRIDE
	certLevel   int
	visible     bool
	page        int // 0: last
	rect        [4]float64
	fieldName   string
	limits      pades.Limits // MAX_PDF_OBJECTS, reserving from pdfMemory
	crls        *revocation.Fetcher
	// readContext bounds one reading of a PDF; nil: pdfReadTimeout (tests
	// set it to end a read on an event).
	readContext func(context.Context) (context.Context, context.CancelFunc)
}

// certificationLevels maps CERTIFICATION_LEVEL to DocMDP /P.
var certificationLevels = map[string]int{
	config.NotCertified: 0, config.NoChangesAllowed: 1, config.FormFilling: 2, config.FormFillingAndAnnotations: 3,
}

func newPDFSigner(b base, p config.Properties, now func() time.Time, lookup Lookup) *PDFSigner {
	w := &PDFSigner{
		CMSSigner:   newCMSSigner(b, p, now, lookup),
		lt:          p.String(config.PropSignatureLevel) == config.LevelBaselineLT,
		reason:      p.String(config.PropReason),
		location:    p.String(config.PropLocation),
		contact:     p.String(config.PropContactInfo),
		overridable: map[string]bool{},
		certLevel:   certificationLevels[p.String(config.PropCertificationLevel)],
		visible:     p.Bool(config.PropAddVisibleSignature),
		page:        1,
		fieldName:   p.String(config.PropVisibleSignatureName),
		limits:      pdfMemory.limits(pades.Limits{MaxObjects: p.Int(config.PropMaxPDFObjects)}),
		crls:        &revocation.Fetcher{Timeout: p.Duration(config.PropRevocationTimeout)},
	}
	for _, name := range p.List(config.PropAllowPropertyOverride) {
		w.overridable[name] = true
	}
	switch pg := p.String(config.PropVisibleSignaturePage); {
	case strings.EqualFold(pg, "Last"):
		w.page = 0
	case pg != "" && !strings.EqualFold(pg, "First"):
		w.page, _ = strconv.Atoi(pg)
	}
	if r := p.String(config.PropVisibleSignatureRectangle); r != "" {
		w.rect, _ = config.ParseRectangle(r) // checked by the schema
	}
	return w
}

// options builds the signature's options for one request.
func (w *PDFSigner) options(meta map[string]string, cert *x509.Certificate, now time.Time) (pades.Options, error) {
	o := pades.Options{Time: now, Reason: w.reason, Location: w.location, Contact: w.contact,
		CertificationLevel: w.certLevel, FieldName: w.fieldName, Limits: w.limits, Name: cert.Subject.CommonName}
	for key, dst := range map[string]*string{config.PropReason: &o.Reason, config.PropLocation: &o.Location, config.PropContactInfo: &o.Contact} {
		v, ok := meta[key]
		if !ok {
			continue
		}
		if !w.overridable[key] {
			return o, Illegal("The request sets %s but this worker does not let requests override it: remove it, or list it in ALLOW_PROPERTY_OVERRIDE.", key)
		}
		*dst = v
	}
	if w.visible {
		text := "Digitally signed by " + cert.Subject.CommonName + "\nDate: " + now.UTC().Format("2006-01-02 15:04:05 MST")
		if o.Reason != "" {
			text += "\nReason: " + o.Reason
		}
		if o.Location != "" {
			text += "\nLocation: " + o.Location
		}
		o.Appearance = &pades.Appearance{Page: w.page, Rect: w.rect, Text: text}
	}
	return o, nil
}

// pdfError turns an error of formats/pades into a worker error: an unusable
// document is the client's to fix (400). verb is what could not be done,
// "signed" or "validated".
func pdfError(err error, verb string) error {
	var many *pades.TooManyObjectsError
	var we *Error
	switch {
	case errors.As(err, &many):
		return &Error{Kind: ErrIllegalRequest, Err: err, Msg: fmt.Sprintf("The document cannot be %s: the PDF has %d objects, more than this worker's limit of %d (%s): send a PDF with fewer objects, or ask the operator to raise %s.", verb, many.Objects, many.Limit, config.PropMaxPDFObjects, config.PropMaxPDFObjects)}
	case errors.As(err, &we), errors.Is(err, context.Canceled):
		return err // the memory budget's 503, or a client gone
	}
	if errors.Is(err, pades.ErrInvalidPDF) {
		msg := strings.TrimPrefix(err.Error(), pades.ErrInvalidPDF.Error()+": ")
		return &Error{Kind: ErrIllegalRequest, Msg: "The document cannot be " + verb + ": " + msg + ".", Err: err}
	}
	return &Error{Kind: ErrUnavailable, Msg: fmt.Sprintf("The PDF could not be %s: %v.", verb, err), Err: err}
}

// pdfTooLarge gives the 413 of a PDF worker (a PDF, or a batch of PDFs,
// over the request memory bound) a fix that applies to PDFs: a PDF is held
// whole in memory to be signed inside or validated, so the detached
// signature or client-side hashing that the other workers' sentence offers
// do not help. Other errors are returned as they are.
func pdfTooLarge(err error, req *Request, batch bool) error {
	var we *Error
	if !errors.As(err, &we) || we.Kind != ErrTooLarge {
		return err
	}
	if batch {
		return TooLarge("The batch's PDFs exceed the server's request memory bound of %d bytes (server.maxRequestMemory), within which each PDF is held whole to be signed: send fewer or smaller PDFs per batch request.", req.memoryLimit())
	}
	return TooLarge("The PDF exceeds the server's request memory bound of %d bytes (server.maxRequestMemory), within which a PDF is held whole to be signed or validated: send a smaller PDF, or ask the operator to raise the bound.", req.memoryLimit())
}

// readCtx returns the context of one reading of a PDF.
func (w *PDFSigner) readCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if w.readContext != nil {
		return w.readContext(ctx)
	}
	return pdfReadContext(ctx)
}

// refuseClientHash answers requests that ask for client-side hashing.
func refuseClientHash(meta map[string]string) error {
	using, _, err := metaBool(meta, config.MetaUsingClientSuppliedHash)
	if err != nil {
		return err
	}
	if using || strings.TrimSpace(meta[config.MetaClientSideHashAlgorithm]) != "" {
		return Illegal("Client-side hashing does not apply to PDF signing: the signature is written inside the document, so send the PDF itself, not its digest.")
	}
	return nil
}

// signed is one document on its way: prepared, then signed.
type signed struct {
	prep    *pades.Prepared
	pending *cms.Pending
	digest  []byte
	id      string
	out     []byte
}

// Process signs one PDF, or a batch of PDFs.
func (w *PDFSigner) Process(ctx context.Context, req *Request) (*Response, error) {
	return w.archived(ctx, req, w.process)
}

// process is Process without the archive.
func (w *PDFSigner) process(ctx context.Context, req *Request) (*Response, error) {
	if err := w.ready(); err != nil {
		return nil, err
	}
	if err := refuseClientHash(req.Metadata); err != nil {
		return nil, err
	}
	d, err := w.pol.decide(req.Metadata, true)
	if err != nil {
		return nil, err
	}
	c, err := w.current(ctx)
	if err != nil {
		return nil, err
	}
	s, err := w.signerFor(c, c.alg.Hash, cms.OIDData)
	if err != nil {
		return nil, err
	}
	chain := c.chain
	now := w.now()
	opts, err := w.options(req.Metadata, chain[0], now)
	if err != nil {
		return nil, err
	}
	opts.ContentsSize = pades.Reserve(s, w.tsa != nil)

	var docs []signed
	var raw [][]byte
	if d.batch {
		items, err := readBatch(req, w.pol.maxBatch)
		if err != nil {
			return nil, pdfTooLarge(err, req, true)
		}
		if len(items) == 0 {
			return nil, Illegal("The batch request has no signatureRequests: send at least one item.")
		}
		for i := range items {
			it := &items[i]
			b, err := base64.StdEncoding.DecodeString(it.Data)
			if err != nil {
				return nil, itemError(i, it, "data is not valid base64.")
			}
			if it.HashingAlgorithm != "" {
				return nil, itemError(i, it, "hashingAlgorithm is set, but client-side hashing does not apply to PDF signing: send each PDF itself.")
			}
			raw = append(raw, b)
			docs = append(docs, signed{id: it.CustomIdentifier})
		}
	} else {
		b, err := readAll(req)
		if err != nil {
			return nil, pdfTooLarge(err, req, false)
		}
		raw, docs = [][]byte{b}, []signed{{}}
	}

	inputs := make([][]byte, len(docs))
	for i := range docs {
		rctx, cancel := w.readCtx(ctx)
		p, err := pades.Prepare(rctx, raw[i], opts)
		cancel()
		if err != nil {
			err = pdfError(err, "signed")
			if d.batch {
				var we *Error
				if errors.As(err, &we) {
					we.Msg = fmt.Sprintf("Batch item %d (customIdentifier %s): %s", i, clienttext.Quote(docs[i].id), we.Msg)
				}
			}
			return nil, err
		}
		docs[i].prep = p
		docs[i].digest = p.Digest(s.Hash())
		if docs[i].pending, err = s.Prepare(docs[i].digest, now); err != nil {
			return nil, Illegal("%v", err)
		}
		inputs[i] = docs[i].pending.Input()
	}
	if w.tsa != nil {
		if err := w.tsa.ready(ctx, len(docs)); err != nil {
			return nil, err
		}
	}
	sigs, err := w.sign(ctx, inputs, s.SignerOpts())
	if err != nil {
		return nil, err
	}
	if w.tsa != nil {
		ps := make([]*cms.Pending, len(docs))
		for i := range docs {
			ps[i] = docs[i].pending
		}
		if err := w.tsa.timeStampAll(ctx, ps, sigs); err != nil {
			return nil, err
		}
	}
	ders := make([][]byte, len(docs))
	for i := range docs {
		if ders[i], err = docs[i].pending.Encode(sigs[i], nil); err != nil {
			return nil, Unavailable(err, "Encoding the signature failed: %v", err)
		}
	}
	for i := range docs {
		if docs[i].out, err = docs[i].prep.Finish(ders[i]); err != nil {
			return nil, Unavailable(err, "The signature did not fit the room reserved for it in the PDF: %v", err)
		}
		if w.lt {
			if docs[i].out, err = w.addValidationData(ctx, docs[i].out, chain, ders[i]); err != nil {
				return nil, err
			}
		}
	}
	if !d.batch {
		return &Response{Data: docs[0].out, ContentType: ContentTypePDF, SignerCertificate: chain[0], Items: 1}, nil
	}
	resp := BatchResponse{Signatures: make([]BatchSignature, len(docs))}
	for i, doc := range docs {
		resp.Signatures[i] = BatchSignature{Signature: doc.out, Hash: doc.digest, CustomIdentifier: doc.id}
	}
	out, err := json.Marshal(resp)
	if err != nil {
		return nil, Unavailable(err, "Encoding the batch response failed: %v", err)
	}
	return &Response{Data: out, ContentType: ContentTypeJSON, SignerCertificate: chain[0], Items: len(docs)}, nil
}

// addValidationData appends a DSS with the certificates of the signer's and
// the TSA's chains and a CRL for each of their certificates but the roots
// (PAdES-BASELINE-LT). A certificate without revocation data is an error:
// the signature is never handed out as B-LT without it.
func (w *PDFSigner) addValidationData(ctx context.Context, doc []byte, chain []*x509.Certificate, der []byte) ([]byte, error) {
	chains := [][]*x509.Certificate{chain}
	if tsa, err := tsaChain(der); err != nil {
		return nil, Unavailable(err, "The time-stamp's certificates cannot be read: %v", err)
	} else if tsa != nil {
		chains = append(chains, tsa)
	}
	var vd pades.ValidationData
	for _, ch := range chains {
		for i, c := range ch {
			vd.Certs = append(vd.Certs, c.Raw)
			if isSelfSigned(c) {
				continue
			}
			if i+1 >= len(ch) {
				return nil, &Error{Kind: ErrMisconfigured, Msg: fmt.Sprintf("BASELINE-LT needs the issuer of %s to check its CRL, but the chain ends there: give the key its whole chain up to the root.", c.Subject)}
			}
			if len(c.CRLDistributionPoints) == 0 {
				return nil, &Error{Kind: ErrMisconfigured, Msg: fmt.Sprintf("BASELINE-LT needs revocation data, but the certificate %s names no CRL distribution point: issue it with one, or sign at BASELINE-T.", c.Subject)}
			}
			crls, err := w.crls.CRLs(ctx, c, ch[i+1])
			if err == nil && len(crls) == 0 {
				err = errors.New("no HTTP distribution point")
			}
			if err != nil {
				return nil, Unavailable(err, "BASELINE-LT needs the CRL of %s, which could not be fetched: %v.", c.Subject, err)
			}
			if st := revocation.Check(c, ch[i+1], crls, time.Now()); st.Revoked {
				return nil, Unavailable(nil, "The certificate %s was revoked at %s: it must not sign.", c.Subject, st.RevokedAt.Format(time.RFC3339))
			}
			vd.CRLs = append(vd.CRLs, crls...)
		}
	}
	rctx, cancel := w.readCtx(ctx)
	defer cancel()
	out, err := pades.AppendDSS(rctx, doc, vd, w.limits)
	if err != nil {
		return nil, pdfError(err, "signed")
	}
	return out, nil
}

// tsaChain returns the chain of the signature time-stamp in der, signer
// first, from the certificates the token carries; nil without a time-stamp.
func tsaChain(der []byte) ([]*x509.Certificate, error) {
	sd, err := cms.Parse(der)
	if err != nil || len(sd.Signers) == 0 {
		return nil, err
	}
	for _, a := range sd.Signers[0].UnsignedAttributes {
		if !a.Type.Equal(cms.OIDSignatureTimeStampToken) || len(a.Values) == 0 {
			continue
		}
		tok, err := cms.Parse(a.Values[0].FullBytes)
		if err != nil {
			return nil, err
		}
		c, err := tok.SignerCertificate(0)
		if err != nil {
			return nil, err
		}
		out := []*x509.Certificate{c}
		for len(out) < 8 && !isSelfSigned(c) {
			var next *x509.Certificate
			for _, o := range tok.Certificates {
				if o != c && c.CheckSignatureFrom(o) == nil {
					next = o
					break
				}
			}
			if next == nil {
				break
			}
			out = append(out, next)
			c = next
		}
		return out, nil
	}
	return nil, nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return c.CheckSignatureFrom(c) == nil
}
