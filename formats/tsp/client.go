package tsp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"
)

// Errors of Client.Stamp besides ErrRejected. Client errors wrap one of the
// three and the underlying cause.
var (
	// ErrUnavailable reports that the time-stamp authority could not be
	// reached, did not answer in time or answered with an HTTP error.
	ErrUnavailable = errors.New("time-stamp authority unavailable")
	// ErrBadReply reports that the authority's answer is not a time-stamp
	// response, or not one for the request that was sent.
	ErrBadReply = errors.New("bad time-stamp reply")
)

// DefaultTimeout bounds a Client's exchange when its Timeout is zero.
const DefaultTimeout = 10 * time.Second

// maxReply bounds the size of a time-stamp reply a Client reads.
const maxReply = 1 << 20

// Client is an RFC 3161 client over HTTP (RFC 3161 section 3.4), for the
// TSA_URL, TSA_USERNAME, TSA_PASSWORD and TSA_POLICYOID properties of CAdES
// signers. It is safe for concurrent use.
type Client struct {
	// URL is the time-stamp authority's address.
	URL string
	// Username and Password, when Username is set, are sent with HTTP basic
	// authentication.
	Username, Password string
	// Policy, when set, is the reqPolicy of queries; the token must then be
	// issued under it.
	Policy asn1.ObjectIdentifier
	// Timeout bounds the whole exchange; zero means DefaultTimeout.
	Timeout time.Duration
	// HTTPClient sends the queries; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// Stamp asks the authority for a time-stamp token over a digest computed
// with h and returns the token (DER ContentInfo). It sends a query with a
// random nonce and certReq set, and accepts the reply only when it is an HTTP
// 200 of type application/timestamp-reply holding a granted response whose
// token parses, verifies against the certificate it carries, which must be a
// time-stamping certificate (CheckTimeStampingEKU), echoes the nonce
// and covers the same message imprint (and policy, when Policy is set).
func (c *Client) Stamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	where := c.URL
	if u, err := url.Parse(c.URL); err == nil {
		where = u.Redacted()
	}
	if hashOID(h) == nil {
		return nil, fmt.Errorf("cannot time-stamp a %s digest: use SHA-256, SHA-384, SHA-512 or SHA-1", h)
	}
	if len(digest) != h.Size() {
		return nil, fmt.Errorf("the digest to time-stamp is %d bytes long, a %s digest is %d bytes", len(digest), hashName(h), h.Size())
	}
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, fmt.Errorf("draw a time-stamp nonce: %w", err)
	}
	query, err := (&timestamp.Request{
		HashAlgorithm: h,
		HashedMessage: digest,
		Certificates:  true,
		Nonce:         nonce,
		TSAPolicyOID:  c.Policy,
	}).Marshal()
	if err != nil {
		return nil, fmt.Errorf("encode the time-stamp query: %w", err)
	}

	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// failed turns a transport error into a sentence: our timeout, the
	// caller's cancellation, or a connection failure.
	failed := func(err error) error {
		switch {
		case ctx.Err() != nil:
			return &clientError{ErrUnavailable, fmt.Sprintf("time-stamp request to %s was cancelled", where), ctx.Err()}
		case tctx.Err() != nil:
			return &clientError{ErrUnavailable, fmt.Sprintf("time-stamp authority %s did not answer within %s", where, timeout), err}
		}
		return &clientError{ErrUnavailable, fmt.Sprintf("time-stamp authority %s could not be reached: %v", where, unwrapURLError(err)), err}
	}

	req, err := http.NewRequestWithContext(tctx, http.MethodPost, c.URL, bytes.NewReader(query))
	if err != nil {
		return nil, fmt.Errorf("the time-stamp authority URL %q is not valid: set TSA_URL to an http or https address", where)
	}
	req.Header.Set("Content-Type", "application/timestamp-query")
	req.Header.Set("Accept", "application/timestamp-reply")
	if c.Username != "" {
		req.SetBasicAuth(c.Username, c.Password)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, failed(err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, &clientError{ErrUnavailable, fmt.Sprintf("time-stamp authority %s refused the request with HTTP %d: check TSA_USERNAME and TSA_PASSWORD", where, resp.StatusCode), nil}
	case resp.StatusCode != http.StatusOK:
		return nil, &clientError{ErrUnavailable, fmt.Sprintf("time-stamp authority %s answered HTTP %d instead of a time-stamp reply", where, resp.StatusCode), nil}
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	// application/timestamp-response is what some older authorities send.
	if ct != "application/timestamp-reply" && ct != "application/timestamp-response" {
		return nil, &clientError{ErrBadReply, fmt.Sprintf("time-stamp authority %s answered with content type %q instead of application/timestamp-reply", where, resp.Header.Get("Content-Type")), nil}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReply+1))
	if err != nil {
		return nil, failed(err)
	}
	if len(body) > maxReply {
		return nil, &clientError{ErrBadReply, fmt.Sprintf("time-stamp authority %s sent a reply larger than %d bytes", where, maxReply), nil}
	}

	var r timeStampResp
	if rest, err := asn1.Unmarshal(body, &r); err != nil || len(rest) > 0 {
		if err == nil {
			err = errors.New("trailing data")
		}
		return nil, &clientError{ErrBadReply, fmt.Sprintf("time-stamp authority %s sent a reply that is not a TimeStampResp", where), err}
	}
	if s := r.Status.Status; s != statusGranted && s != 1 { // 1: grantedWithMods
		return nil, &clientError{ErrRejected, fmt.Sprintf("time-stamp authority %s rejected the request%s", where, describeStatus(r.Status)), nil}
	}
	token := r.TimeStampToken.FullBytes
	if len(token) == 0 {
		return nil, &clientError{ErrBadReply, fmt.Sprintf("time-stamp authority %s granted the request but sent no token", where), nil}
	}
	ts, err := timestamp.Parse(token)
	if err != nil {
		return nil, &clientError{ErrBadReply, fmt.Sprintf("time-stamp authority %s sent a token that does not parse or verify: %v", where, err), err}
	}
	switch {
	case len(ts.Certificates) == 0:
		return nil, &clientError{ErrBadReply, fmt.Sprintf("time-stamp authority %s sent a token without its certificate although the request asked for it", where), nil}
	case ts.Nonce == nil || ts.Nonce.Cmp(nonce) != 0:
		return nil, &clientError{ErrBadReply, fmt.Sprintf("time-stamp authority %s did not echo the nonce of the request", where), nil}
	case ts.HashAlgorithm != h || !bytes.Equal(ts.HashedMessage, digest):
		return nil, &clientError{ErrBadReply, fmt.Sprintf("time-stamp authority %s time-stamped another message imprint than the one sent", where), nil}
	case len(c.Policy) > 0 && !ts.Policy.Equal(c.Policy):
		return nil, &clientError{ErrBadReply, fmt.Sprintf("time-stamp authority %s issued the token under policy %s instead of %s", where, ts.Policy, c.Policy), nil}
	}
	// Only a time-stamping certificate vouches for a time (RFC 3161
	// section 2.3): a token signed with another key is no proof of time to
	// a validator (formats/validate applies the same rule), so the
	// signature it was asked for would be passed off as B-T without being.
	p7, err := pkcs7.Parse(token)
	if err != nil {
		return nil, &clientError{ErrBadReply, fmt.Sprintf("time-stamp authority %s sent a token that does not parse: %v", where, err), err}
	}
	signer := p7.GetOnlySigner()
	if signer == nil {
		return nil, &clientError{ErrBadReply, fmt.Sprintf("time-stamp authority %s sent a token without one signer and its certificate", where), nil}
	}
	if err := CheckTimeStampingEKU(signer); err != nil {
		return nil, &clientError{ErrBadReply, fmt.Sprintf("time-stamp authority %s signed the token with a certificate that is no time-stamping certificate: %v", where, err), err}
	}
	return token, nil
}

// maxFailInfoBit bounds the PKIFailureInfo bits read from a reply: RFC
// 3161 and RFC 4210 define fewer than 32.
const maxFailInfoBit = 32

// peerText is text from a peer, as valid UTF-8 without control characters,
// at most 256 bytes.
func peerText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) > 256 {
		s = strings.ToValidUTF8(s[:256], "") + "…"
	}
	return s
}

// describeStatus renders a rejection's failInfo and statusString as
// ": unacceptedPolicy (text)".
func describeStatus(s pkiStatusInfo) string {
	// The reply is the peer's: only the bits RFC 3161 can define are read
	// (a megabyte of set bits would otherwise become a hundred megabytes of
	// names), and its text is cut short and made printable for logs.
	var fails []string
	for i := range min(s.FailInfo.BitLength, maxFailInfoBit) {
		if s.FailInfo.At(i) == 1 {
			fails = append(fails, FailInfo(i).String())
		}
	}
	var texts []string
	for _, t := range s.StatusString {
		texts = append(texts, string(t.Bytes))
	}
	out := ""
	if len(fails) > 0 {
		out = ": " + strings.Join(fails, ", ")
	}
	if len(texts) > 0 {
		out += " (" + peerText(strings.Join(texts, " ")) + ")"
	}
	if out == "" {
		out = fmt.Sprintf(" with status %d", s.Status)
	}
	return out
}

// unwrapURLError drops the "Post \"URL\": " prefix of *url.Error, whose URL
// the sentence already names.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// clientError is an error of one kind (ErrUnavailable, ErrRejected,
// ErrBadReply) with a sentence and an optional cause.
type clientError struct {
	kind  error
	msg   string
	cause error
}

func (e *clientError) Error() string { return e.msg }

func (e *clientError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}
