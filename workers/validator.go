package workers

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/formats/pades"
	"github.com/signet-project/signet/formats/revocation"
	"github.com/signet-project/signet/formats/validate"
	"github.com/signet-project/signet/internal/clienttext"
)

// Validator validates signatures and answers with a JSON report (kinds
// CMSValidator and PDFValidator), against the trust anchors of
// TRUSTANCHORS, fetching CRLs a signature does not carry when
// REVOCATION_FETCH is on. It has no key and never signs.
type Validator struct {
	name     string
	id       int
	kind     string
	problems []string // config's, as for every worker
	// anchorsErr says why the TRUSTANCHORS file cannot be used: read when
	// the worker is built, as a keystore is, so not a configuration problem.
	anchorsErr string
	disabled   bool
	access     config.Access // AUTHTYPE applies to validators as to signers
	roots      []*x509.Certificate
	online     validate.CRLSource
	limits     pades.Limits
	now        func() time.Time
}

func newValidator(b base, p config.Properties, now func() time.Time) *Validator {
	v := &Validator{name: b.name, id: b.id, kind: b.kind, problems: b.problems, disabled: b.disabled, access: b.access, now: now,
		limits: pdfMemory.limits(pades.Limits{MaxObjects: p.Int(config.PropMaxPDFObjects)})}
	if path := p.String(config.PropTrustAnchors); path != "" {
		roots, err := ReadCertificates(path)
		if err != nil {
			v.anchorsErr = "TRUSTANCHORS: " + err.Error()
		}
		v.roots = roots
	}
	if p.Bool(config.PropRevocationFetch) {
		v.online = &revocation.Fetcher{Timeout: p.Duration(config.PropRevocationTimeout)}
	}
	return v
}

// ReadCertificates reads a PEM file of certificates (trust anchors).
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the trust anchors cannot be read: %w", err)
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("a certificate of %s cannot be parsed: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate: give the trusted root certificates", path)
	}
	return out, nil
}

// Name returns the worker's name.
func (v *Validator) Name() string { return v.name }

// ID returns the worker's ID.
func (v *Validator) ID() int { return v.id }

// Disabled reports whether the worker is configured DISABLED=true.
func (v *Validator) Disabled() bool { return v.disabled }

// Access returns the worker's client authorization.
func (v *Validator) Access() config.Access { return v.access }

// configProblems returns the worker's configuration problems, config's.
func (v *Validator) configProblems() []string { return v.problems }

// Kind returns CMSValidator or PDFValidator.
func (v *Validator) Kind() string { return v.kind }

// Status is Active unless the configuration is wrong, the trust anchors
// cannot be read or DISABLED is set.
func (v *Validator) Status(context.Context) Status {
	if len(v.problems) > 0 {
		return Status{Errors: v.problems}
	}
	if v.anchorsErr != "" {
		return Status{Errors: []string{v.anchorsErr}}
	}
	if v.disabled {
		return Status{Errors: []string{"Worker is disabled (DISABLED=true)."}}
	}
	return Status{Active: true}
}

// cmsRequest is CMSValidator's JSON request: a signature and, for a
// detached one, its content or the content's digest (all base64). Content
// is a pointer so that "content": "" (an empty document, which the signers
// sign) is told apart from no content.
type cmsRequest struct {
	Signature       string  `json:"signature"`
	Content         *string `json:"content,omitempty"`
	Digest          string  `json:"digest,omitempty"`
	DigestAlgorithm string  `json:"digestAlgorithm,omitempty"`
}

// Process validates the request's document and answers with the report.
func (v *Validator) Process(ctx context.Context, req *Request) (*Response, error) {
	if st := v.Status(ctx); !st.Active {
		if v.disabled && len(v.problems) == 0 && v.anchorsErr == "" {
			return nil, Unavailable(nil, "Worker %s is disabled.", v.name)
		}
		if len(v.problems) == 0 && v.anchorsErr != "" { // the status names the file; a client is not told where it is
			return nil, &Error{Kind: ErrMisconfigured, Msg: fmt.Sprintf("Worker %s cannot validate: its TRUSTANCHORS file cannot be read; the worker's status in the health check says why.", v.name)}
		}
		return nil, &Error{Kind: ErrMisconfigured, Msg: fmt.Sprintf("Worker %s is misconfigured: %s", v.name, st.Errors[0])}
	}
	data, err := readAll(req)
	if err != nil {
		return nil, v.tooLarge(err, req)
	}
	opts := validate.Options{Roots: v.roots, Time: v.now(), Online: v.online}
	ctx, cancel := pdfReadContext(ctx)
	defer cancel()
	var rep *validate.Report
	if v.kind == config.KindPDFValidator {
		if rep, err = validate.PDF(ctx, data, opts, v.limits); err != nil {
			return nil, pdfError(err, "validated")
		}
	} else {
		sig, content, digest, h, err := parseCMSRequest(data)
		if err != nil {
			return nil, err
		}
		var contentFn func() io.Reader
		if content != nil {
			contentFn = func() io.Reader { return bytes.NewReader(content) }
		}
		rep = validate.CMS(ctx, sig, contentFn, digest, h, opts)
	}
	out, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, Unavailable(err, "Encoding the report failed: %v", err)
	}
	return &Response{Data: append(out, '\n'), ContentType: ContentTypeJSON, Items: len(rep.Signatures)}, nil
}

// tooLarge gives a validator's 413 (a request over the memory bound) a fix
// that applies to it: the signers' sentence offers a detached signature or
// client-side hashing. Other errors are returned as they are.
func (v *Validator) tooLarge(err error, req *Request) error {
	if v.kind == config.KindPDFValidator {
		return pdfTooLarge(err, req, false)
	}
	var we *Error
	if !errors.As(err, &we) || we.Kind != ErrTooLarge {
		return err
	}
	return TooLarge("The request exceeds the server's request memory bound of %d bytes (server.maxRequestMemory): for a detached signature of a large document, send the content's digest instead of the content ({\"signature\":…,\"digest\":…,\"digestAlgorithm\":\"SHA-256\"}, base64).", req.memoryLimit())
}

// parseCMSRequest reads CMSValidator's body: the JSON request, or a bare
// DER or PEM signature that encapsulates its content.
func parseCMSRequest(data []byte) (sig, content, digest []byte, h crypto.Hash, err error) {
	trimmed := bytes.TrimSpace(data)
	if blk, _ := pem.Decode(trimmed); blk != nil {
		return blk.Bytes, nil, nil, 0, nil
	}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return data, nil, nil, 0, nil
	}
	var r cmsRequest
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, nil, nil, 0, Illegal("The request is not JSON of the form {\"signature\":…,\"content\":…} or {\"signature\":…,\"digest\":…,\"digestAlgorithm\":\"SHA-256\"} (base64): %v.", jsonErrorText(err))
	}
	field := func(name, s string) ([]byte, error) {
		if s == "" {
			return nil, nil
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, Illegal("%s is not valid base64.", name)
		}
		return b, nil
	}
	if sig, err = field("signature", r.Signature); err != nil {
		return
	}
	if sig == nil {
		return nil, nil, nil, 0, Illegal("The request has no signature: send it base64 in \"signature\".")
	}
	if r.Content != nil {
		if content, err = field("content", *r.Content); err != nil {
			return
		}
		if content == nil {
			content = []byte{}
		}
	}
	if digest, err = field("digest", r.Digest); err != nil {
		return
	}
	if r.DigestAlgorithm != "" {
		if h, err = cms.ParseHash(r.DigestAlgorithm); err != nil {
			// ParseHash's error repeats the name whole: quote it here.
			return nil, nil, nil, 0, Illegal("Unknown digestAlgorithm %s: use SHA-256, SHA-384, SHA-512 or another digest algorithm name.", clienttext.Quote(r.DigestAlgorithm))
		}
	}
	return sig, content, digest, h, nil
}
