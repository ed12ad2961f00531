package workers

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/signet-project/signet/tokens"
)

// base is what every signing worker has: identity, its token and key, the
// configuration problems that keep it offline, and DISABLED.
type base struct {
	name     string
	id       int
	kind     string
	tok      tokens.Token
	tokName  string
	alias    string
	problems []string
	disabled bool
	usage    UsageCounter
}

func (b *base) Name() string { return b.name }
func (b *base) ID() int      { return b.id }
func (b *base) Kind() string { return b.kind }

// TokenName returns the name of the worker's crypto token ("" for none).
func (b *base) TokenName() string { return b.tokName }

// KeyAlias returns the alias of the worker's key in its token.
func (b *base) KeyAlias() string { return b.alias }

// Token returns the worker's crypto token, nil when it is not available.
func (b *base) Token() tokens.Token { return b.tok }

// Status reports configuration problems first, then DISABLED, then the
// token's state and the key.
func (b *base) Status(ctx context.Context) Status {
	if len(b.problems) > 0 {
		return Status{Errors: b.problems}
	}
	if b.disabled {
		return Status{Errors: []string{"Worker is disabled (DISABLED=true)."}}
	}
	if b.tok == nil {
		return Status{Errors: []string{fmt.Sprintf("Crypto token %q is not available.", b.tokName)}}
	}
	if st := b.tok.Status(ctx); st.State != tokens.Active {
		return Status{Errors: []string{fmt.Sprintf("Crypto token %q is offline: %s", b.tokName, st.Reason)}}
	}
	if _, err := b.tok.Signer(ctx, b.alias); err != nil {
		return Status{Errors: []string{fmt.Sprintf("Key %q in crypto token %q: %v", b.alias, b.tokName, err)}}
	}
	return Status{Active: true}
}

// ready fails fast for a worker that cannot serve whatever the request.
func (b *base) ready() error {
	if len(b.problems) > 0 {
		return &Error{Kind: ErrMisconfigured, Msg: fmt.Sprintf("Worker %s is misconfigured: %s", b.name, b.problems[0])}
	}
	if b.disabled {
		return Unavailable(nil, "Worker %s is disabled.", b.name)
	}
	if b.tok == nil {
		return Unavailable(nil, "Worker %s has no crypto token: token %q is not available.", b.name, b.tokName)
	}
	return nil
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

// sign signs inputs through tokens.SignAll, counting key usage first, and
// turns token errors into worker errors.
func (b *base) sign(ctx context.Context, inputs [][]byte, opts crypto.SignerOpts) ([][]byte, error) {
	if b.usage != nil {
		if err := b.usage.Use(ctx, b.tokName, b.alias, len(inputs)); err != nil {
			return nil, b.tokenError(err)
		}
	}
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
	var we *Error
	switch {
	case errors.As(err, &we):
		return err
	case errors.Is(err, tokens.ErrUsageLimit):
		return Unavailable(err, "Key usage limit exceeded for key %q of worker %s.", b.alias, b.name)
	case errors.Is(err, tokens.ErrOffline):
		return Unavailable(err, "Crypto token %q of worker %s is offline: activate it or check the HSM.", b.tokName, b.name)
	case errors.Is(err, tokens.ErrKeyNotFound):
		return &Error{Kind: ErrMisconfigured, Msg: fmt.Sprintf("Key %q of worker %s does not exist in crypto token %q.", b.alias, b.name, b.tokName), Err: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return Unavailable(err, "The request was cancelled before it was signed.")
	}
	return Unavailable(err, "Signing with key %q of worker %s failed: %v", b.alias, b.name, err)
}

// UsageCounter counts signatures per key (KEYUSAGELIMIT). Use must refuse
// with an error wrapping tokens.ErrUsageLimit when n more signatures would
// pass the limit, and must have stored the count before it returns nil.
type UsageCounter interface {
	Use(ctx context.Context, token, alias string, n int) error
}

// readAll reads a request body that must be in memory (attached content,
// batch JSON), turning an upload-limit error into ErrTooLarge.
func readAll(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, readError(err)
	}
	return data, nil
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
