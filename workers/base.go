package workers

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/tokens"
)

// base is what every signing worker has: identity, its token and key, the
// configuration problems that keep it offline, and DISABLED.
type base struct {
	name    string
	id      int
	kind    string
	tok     tokens.Token
	tokName string
	alias   string
	// problems are the worker's configuration problems, exactly as config
	// reports them: a worker adds none of its own.
	problems []string
	// publicProblem is the first problem without its file and line: what
	// a client (anonymous, perhaps) is told.
	publicProblem string
	// openErr says why the token could not be opened (tok is then nil).
	openErr  string
	disabled bool
	// allowSHA1 is ALLOW_SHA1: the key guard signs SHA-1 digests for this
	// worker.
	allowSHA1 bool
	access    config.Access
	// archive keeps what the worker signs (ARCHIVERS); nil: nothing.
	archive *archiver
}

// configProblems returns the worker's configuration problems, which are
// config's: the consistency test of config and Build reads them.
func (b *base) configProblems() []string { return b.problems }

func (b *base) Name() string { return b.name }
func (b *base) ID() int      { return b.id }
func (b *base) Kind() string { return b.kind }

// TokenName returns the name of the worker's crypto token ("" for none).
func (b *base) TokenName() string { return b.tokName }

// KeyAlias returns the alias of the worker's key in its token.
func (b *base) KeyAlias() string { return b.alias }

// Status reports configuration problems first, then DISABLED, then the
// token's state and the key.
func (b *base) Status(ctx context.Context) Status { return b.status(ctx, nil) }

// status is Status with a check of the key's public half that the worker
// kind adds (its signature algorithm fits the key), run once the token
// holds the key: workers resolve what depends on the key when they sign, so
// a key generated or replaced later is seen without rebuilding the worker.
func (b *base) status(ctx context.Context, checkKey func(crypto.PublicKey) error) Status {
	if len(b.problems) > 0 {
		return Status{Errors: b.problems}
	}
	if b.openErr != "" {
		return Status{Errors: []string{b.openErr}}
	}
	if b.disabled {
		return Status{Errors: []string{"Worker is disabled (DISABLED=true)."}}
	}
	if b.tok == nil {
		return Status{Errors: []string{fmt.Sprintf("Crypto token %q is not available.", b.tokName)}}
	}
	if b.archive != nil && b.archive.store == nil {
		return Status{Errors: []string{"The worker archives what it signs (ARCHIVERS), but this server keeps no archive."}}
	}
	if st := b.tok.Status(ctx); st.State != tokens.Active {
		return Status{Errors: []string{fmt.Sprintf("Crypto token %q is offline: %s", b.tokName, st.Reason)}}
	}
	if p := b.keyProblem(ctx, checkKey); p != "" {
		return Status{Errors: []string{p}}
	}
	// The key's policy (usage limit, certificate validity) is the guard's,
	// the same for every surface that signs with the key.
	if kc, ok := b.tok.(tokens.KeyChecker); ok {
		if err := kc.CheckKey(ctx, b.alias); err != nil {
			if errors.Is(err, tokens.ErrUsageLimit) {
				return Status{Errors: []string{"Key usage limit exceeded: " + err.Error() + "."}}
			}
			return Status{Errors: []string{fmt.Sprintf("Key %q in crypto token %q: %v.", b.alias, b.tokName, err)}}
		}
	}
	return Status{Active: true}
}

// keyProblem is the part of status that depends on the key alone, once
// the token is active: the token holds the key, and the key fits the
// worker (checkKey, the kind's; nil: any key). "" when it does.
func (b *base) keyProblem(ctx context.Context, checkKey func(crypto.PublicKey) error) string {
	signer, err := b.tok.Signer(ctx, b.alias)
	if errors.Is(err, tokens.ErrKeyNotFound) { // the token's own sentence names the key again, not the fix
		return fmt.Sprintf("Key %q is not in crypto token %q: generate or import it there, or point worker %s at another key.", b.alias, b.tokName, b.name)
	}
	if err != nil {
		return fmt.Sprintf("Key %q in crypto token %q: %v", b.alias, b.tokName, err)
	}
	if checkKey != nil {
		if err := checkKey(signer.Public()); err != nil {
			return err.Error()
		}
	}
	return ""
}

// activeKeyProblem is keyProblem of a worker whose token is there and
// active, and "" otherwise: a token offline is not its key's problem.
func (b *base) activeKeyProblem(ctx context.Context, checkKey func(crypto.PublicKey) error) string {
	if !b.tokenActive(ctx) {
		return ""
	}
	return b.keyProblem(ctx, checkKey)
}

// tokenActive reports whether the worker has its token and it is active.
func (b *base) tokenActive(ctx context.Context) bool {
	return b.tok != nil && b.tok.Status(ctx).State == tokens.Active
}

// KeyProblem says why the worker's key cannot serve it (not in its
// token, or not fitting the worker), or "", also when its token is not
// there or not active: the part of Status that depends on the key alone
// (see KeyChecked).
func (b *base) KeyProblem(ctx context.Context) string { return b.activeKeyProblem(ctx, nil) }

// ready fails fast for a worker that cannot serve whatever the request.
func (b *base) ready() error {
	if len(b.problems) > 0 {
		return b.misconfigured(b.publicProblem + " (the server log and signet config check name the place)")
	}
	if b.openErr != "" {
		return b.misconfigured(b.openErr)
	}
	if b.disabled {
		return Unavailable(nil, "Worker %s is disabled.", b.name)
	}
	if b.tok == nil {
		return Unavailable(nil, "Worker %s has no crypto token: token %q is not available.", b.name, b.tokName)
	}
	return nil
}

// misfit is misconfigured for a SIGNATUREALGORITHM that does not fit the
// key, in cms's sentence without its "cms: unsupported: " prefix, which
// is the package's, not the operator's.
func (b *base) misfit(err error) error {
	return b.misconfigured(config.PropSignatureAlgorithm + ": " + strings.TrimPrefix(err.Error(), cms.ErrUnsupported.Error()+": "))
}

// misconfigured returns the ErrMisconfigured error of a key that does not
// fit the worker's configuration.
func (b *base) misconfigured(msg string) error {
	return &Error{Kind: ErrMisconfigured, Msg: fmt.Sprintf("Worker %s is misconfigured: %s", b.name, msg)}
}

// chain returns the signer certificate chain, which CMS workers need.
func (b *base) chain(ctx context.Context) ([]*x509.Certificate, error) {
	ch, err := b.tok.Chain(ctx, b.alias)
	if err != nil {
		return nil, b.tokenError(err)
	}
	if len(ch) == 0 {
		return nil, &Error{Kind: ErrMisconfigured, Msg: fmt.Sprintf("Key %q of worker %s has no certificate: upload its certificate chain.", b.alias, b.name)}
	}
	return ch, nil
}

// sign signs inputs through tokens.SignAll with the worker's key, whose
// guard (tokens/guard) applies the key's policy, counts and records, and
// turns token errors into worker errors.
func (b *base) sign(ctx context.Context, inputs [][]byte, opts crypto.SignerOpts) ([][]byte, error) {
	return b.signDocuments(ctx, inputs, nil, 0, opts)
}

// signDocuments is sign for inputs that are not the documents' digests
// (CMS signed attributes): docs, one per input, are the digests of the
// documents by docHash, which the signing log records so that a search by
// a document's hash finds its signature.
func (b *base) signDocuments(ctx context.Context, inputs, docs [][]byte, docHash crypto.Hash, opts crypto.SignerOpts) ([][]byte, error) {
	ctx = tokens.WithCaller(ctx, tokens.Caller{Surface: "worker/" + b.name, AllowSHA1: b.allowSHA1, Documents: docs, DocumentHash: docHash})
	res, err := tokens.SignAll(ctx, b.tok, b.alias, inputs, opts)
	if err != nil {
		return nil, b.tokenError(err)
	}
	sigs := make([][]byte, len(res))
	for i, r := range res {
		if r.Err != nil {
			if len(res) == 1 {
				return nil, b.tokenError(r.Err)
			}
			return nil, Unavailable(r.Err, "Signing item %d failed: %v", i, b.tokenError(r.Err))
		}
		sigs[i] = r.Signature
	}
	return sigs, nil
}

func (b *base) tokenError(err error) error {
	var (
		we  *Error
		wre *state.WriteError
	)
	switch {
	case errors.As(err, &we):
		return we // already a worker's sentence, whoever wrapped it
	case errors.Is(err, tokens.ErrUsageLimit):
		return Unavailable(err, "Key usage limit exceeded for key %q of worker %s: %v; use a new key.", b.alias, b.name, err)
	case errors.Is(err, tokens.ErrWeakHash):
		return Illegal("Worker %s does not sign this digest: %v.", b.name, err)
	case errors.Is(err, tokens.ErrCertificateValidity):
		return Unavailable(err, "Worker %s cannot sign now: %v.", b.name, err)
	case errors.As(err, &wre):
		// The state database answers but cannot be written: its sentence
		// names the cause and the fix, for anyone.
		return Unavailable(err, "Worker %s cannot sign now: %s.", b.name, wre.Msg)
	case errors.Is(err, state.ErrUnavailable):
		return Unavailable(err, "Worker %s is offline: the usage limit of its key is shared by the cluster, whose database does not answer; try another node.", b.name)
	case errors.Is(err, tokens.ErrNotRecorded): // before ErrOffline, which it wraps
		return Unavailable(err, "Worker %s cannot sign now: the signing log could not record the signature, and its key's usage limit allows none unrecorded; the server log names the cause.", b.name)
	case errors.Is(err, tokens.ErrNotCounted): // before ErrOffline, which it wraps
		return Unavailable(err, "Worker %s cannot sign now: the usage count of its key could not be stored, and it signs nothing uncounted; the server log names the cause.", b.name)
	case errors.Is(err, tokens.ErrOffline):
		return Unavailable(err, "Crypto token %q of worker %s is offline: activate it or check the HSM.", b.tokName, b.name)
	case errors.Is(err, tokens.ErrKeyNotFound):
		return &Error{Kind: ErrMisconfigured, Msg: fmt.Sprintf("Key %q of worker %s does not exist in crypto token %q.", b.alias, b.name, b.tokName), Err: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return Unavailable(err, "The request was cancelled before it was signed.")
	}
	return Unavailable(err, "Signing with key %q of worker %s failed: %v", b.alias, b.name, err)
}

// readAll reads a request body that must be in memory (attached content),
// within the request's memory bound, in one allocation when its size is
// known.
func readAll(req *Request) ([]byte, error) {
	limit := req.memoryLimit()
	if req.Size > limit {
		return nil, tooMuchMemory(limit)
	}
	var buf bytes.Buffer
	if req.Size >= 0 {
		buf.Grow(int(req.Size) + 1) // +1: the read that sees EOF
	}
	if _, err := buf.ReadFrom(io.LimitReader(req.Data, limit+1)); err != nil {
		return nil, readError(err)
	}
	if int64(buf.Len()) > limit {
		return nil, tooMuchMemory(limit)
	}
	return buf.Bytes(), nil
}

// tooMuchMemory is the 413 of a document that must be held in memory and
// exceeds the request memory bound.
func tooMuchMemory(limit int64) error {
	return TooLarge("The document must be held in memory to be embedded in its signature, and exceeds the server's request memory bound of %d bytes (server.maxRequestMemory): sign it detached, hash it client-side, or split it.", limit)
}

// readError keeps a reader's error for the web layer (which recognises its
// own limit errors) while giving it a worker error kind.
func readError(err error) error {
	return &Error{Kind: ErrIllegalRequest, Msg: "The request body could not be read: " + err.Error(), Err: err}
}

// copyTo streams a request body into w (a hash), turning read errors into
// worker errors.
func copyTo(w io.Writer, r io.Reader) (int64, error) {
	n, err := io.Copy(w, r)
	if err != nil {
		return n, readError(err)
	}
	return n, nil
}
