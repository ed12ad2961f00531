// Package workers holds Signet's worker kinds (CMSSigner, CAdESSigner,
// PlainSigner, …), the request pipeline they share and the live registry that
// a configuration reload swaps atomically.
//
// A worker never talks HTTP: it takes a Request (document bytes as a stream
// plus request metadata) and returns a Response or an error that wraps one of
// the Err* kinds below, which the web layer maps to a status code.
package workers

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/signet-project/signet/config"
)

// Error kinds. Errors returned by Process wrap exactly one of them.
var (
	// ErrIllegalRequest: the request is malformed or not allowed (400).
	ErrIllegalRequest = errors.New("illegal request")
	// ErrTooLarge: the request exceeds a configured size (413).
	ErrTooLarge = errors.New("request too large")
	// ErrNotFound: no such worker (404).
	ErrNotFound = errors.New("no such worker")
	// ErrMisconfigured: the worker's configuration is wrong (500).
	ErrMisconfigured = errors.New("worker misconfigured")
	// ErrUnavailable: the worker cannot serve now: disabled, token offline,
	// key usage exhausted, time-stamp authority down (503).
	ErrUnavailable = errors.New("worker unavailable")
	// ErrUnsupportedMedia: the request body is not of the media type its
	// protocol names (415).
	ErrUnsupportedMedia = errors.New("unsupported media type")
)

// Error is an error of one of the kinds above with a sentence a user can act
// on. Error() returns only the sentence.
type Error struct {
	Kind error  // one of the Err* kinds
	Msg  string // one sentence, no secrets
	Err  error  // optional cause, for errors.Is/As
}

func (e *Error) Error() string { return e.Msg }

// Is reports whether target is e's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Illegal returns an ErrIllegalRequest error with a formatted message.
func Illegal(format string, args ...any) error {
	return &Error{Kind: ErrIllegalRequest, Msg: fmt.Sprintf(format, args...)}
}

// TooLarge returns an ErrTooLarge error with a formatted message.
func TooLarge(format string, args ...any) error {
	return &Error{Kind: ErrTooLarge, Msg: fmt.Sprintf(format, args...)}
}

// UnsupportedMedia returns an ErrUnsupportedMedia error with a formatted
// message.
func UnsupportedMedia(format string, args ...any) error {
	return &Error{Kind: ErrUnsupportedMedia, Msg: fmt.Sprintf(format, args...)}
}

// Unavailable returns an ErrUnavailable error with a message and a cause.
func Unavailable(cause error, format string, args ...any) error {
	return &Error{Kind: ErrUnavailable, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// Request is one signing request as a worker sees it.
type Request struct {
	// Data is the document, the batch JSON or the client-side digest. Workers
	// that can stream (detached signatures) read it once without buffering.
	Data io.Reader
	// Size is the length of Data, or -1 when unknown.
	Size int64
	// Metadata is the request metadata (REQUEST_METADATA.* in the process
	// servlet, metaData in REST), keys upper case.
	Metadata map[string]string
	// ID identifies the request in logs and responses.
	ID string
	// MemoryLimit bounds what the worker may hold in memory for this
	// request (an embedded document, the items of a batch); zero means no
	// bound. Streamed work (hashing a detached document) is not bounded by
	// it.
	MemoryLimit int64
	// ContentType is the media type of Data (without parameters) when Data
	// is a whole HTTP body: its Content-Type, or application/octet-stream
	// when it named none (RFC 9110 section 8.3). It is empty when Data came
	// from a form field, a file part, a REST data member or another worker
	// in process, whose protocols name no type for the document. A worker
	// whose protocol names a media type (RFC 3161 queries, SignServer's
	// JSON batches) refuses a body of another type with requireType.
	ContentType string
}

// requireType refuses a request body of another media type than want,
// the type the protocol of what (a sentence's subject) names.
func (req *Request) requireType(want, what string) error {
	if req.ContentType == "" || req.ContentType == want {
		return nil
	}
	return UnsupportedMedia("%s is sent as %s, not %s: set the header Content-Type: %s.", what, want, req.ContentType, want)
}

// memoryLimit is req's bound, or no bound.
func (req *Request) memoryLimit() int64 {
	if req.MemoryLimit <= 0 {
		return 1 << 62
	}
	return req.MemoryLimit
}

// Response is a worker's answer.
type Response struct {
	Data              []byte
	ContentType       string
	SignerCertificate *x509.Certificate
	Metadata          map[string]string
	// Items is the number of signatures made (1, or the batch size).
	Items int
	// ArchiveID is the ID the archive keeps this request and answer under
	// (the request ID) when the worker archives (ARCHIVERS); "" otherwise.
	ArchiveID string
}

// Status is a worker's health: Active, or offline with the reasons.
type Status struct {
	Active bool
	Errors []string
}

// Worker processes requests. Implementations are safe for concurrent use.
type Worker interface {
	Name() string
	ID() int
	Kind() string
	// Status reports whether the worker can serve, and if not, why. It
	// includes the state of the worker's token.
	Status(ctx context.Context) Status
	// Process handles one request.
	Process(ctx context.Context, req *Request) (*Response, error)
}

// Keyed is a Worker that signs with one key of a crypto token: the admin
// API shows the token and key of such workers, and which workers use a
// key. Every worker kind of this package is one.
type Keyed interface {
	Worker
	// TokenName is the name of the worker's crypto token in the
	// configuration ("" for none).
	TokenName() string
	// KeyAlias is the alias of the worker's key in that token.
	KeyAlias() string
}

// Disableable is a Worker that can be configured DISABLED=true, so that
// status pages and the health check tell a disabled worker from an
// offline one.
type Disableable interface {
	Worker
	Disabled() bool
}

// UsageReporter is a Worker whose key's signatures are counted
// (KEYUSAGELIMIT): KeyUsage returns the count and the limit (-1 for none);
// counted is false when the worker does not count or its key cannot be
// reached now.
type UsageReporter interface {
	Worker
	KeyUsage(ctx context.Context) (used, limit int64, counted bool)
}

// Authorized is a Worker whose clients are authorized by its AUTHTYPE,
// authorizedClients and users (config.Access), which the web layer
// enforces on every surface that reaches it. AUTHTYPE applies to every
// kind (its default, CLIENTCERT, too): every worker kind of this package
// is one, and the web layer refuses a worker that is not rather than
// serve it to everyone.
type Authorized interface {
	Worker
	Access() config.Access
}

// KeyChecked is a Worker whose key can be checked on its own: KeyProblem
// says why its key cannot serve it (not in its token, or a signature
// algorithm that does not fit it), or "" (also when its token is offline,
// which is not the key's problem). It is the part of Status that depends on
// the key alone: `signet config check` asks it of the workers on the soft
// keystores it can read, so that a key the server would not find at start
// is refused at the worker's line. (A TimeStampSigner's certificate, which
// its Status checks too, config check reads itself: tsp's rule.)
type KeyChecked interface {
	Worker
	KeyProblem(ctx context.Context) string
}

// Every signing worker kind has each capability; validators, which have
// no key, can be disabled and authorize their clients.
var (
	_ Authorized    = (*CMSSigner)(nil)
	_ Authorized    = (*PlainSigner)(nil)
	_ Authorized    = (*TimeStampSigner)(nil)
	_ Authorized    = (*PDFSigner)(nil)
	_ Authorized    = (*Validator)(nil)
	_ KeyChecked    = (*CMSSigner)(nil)
	_ KeyChecked    = (*PlainSigner)(nil)
	_ KeyChecked    = (*TimeStampSigner)(nil)
	_ KeyChecked    = (*PDFSigner)(nil)
	_ Keyed         = (*CMSSigner)(nil)
	_ Keyed         = (*PlainSigner)(nil)
	_ Keyed         = (*TimeStampSigner)(nil)
	_ Keyed         = (*PDFSigner)(nil)
	_ Disableable   = (*CMSSigner)(nil)
	_ Disableable   = (*PlainSigner)(nil)
	_ Disableable   = (*TimeStampSigner)(nil)
	_ Disableable   = (*PDFSigner)(nil)
	_ Disableable   = (*Validator)(nil)
	_ UsageReporter = (*CMSSigner)(nil)
	_ UsageReporter = (*PlainSigner)(nil)
	_ UsageReporter = (*TimeStampSigner)(nil)
	_ UsageReporter = (*PDFSigner)(nil)
)
