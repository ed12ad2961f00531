// Package tsp implements the RFC 3161 Time-Stamp Protocol for Signet: an
// Authority that answers time-stamp queries and makes time-stamp tokens with a
// token's key (the TimeStampSigner worker, and TSA_WORKER for CAdES-T), and a
// Client that fetches tokens from a remote time-stamp authority over HTTP
// (TSA_URL). Both implement Stamper, which is all a CAdES-T signer needs.
//
// Queries are parsed and tokens are checked with github.com/digitorus/timestamp;
// the SignedData of a token is built with Signet's own encoder, formats/cms.
package tsp

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/digitorus/timestamp"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/signet-project/signet/formats/cms"
)

// ErrRejected reports that a time-stamp request was refused: the local
// Authority does not accept the digest algorithm or digest, or a remote
// authority answered with a status other than granted.
var ErrRejected = errors.New("time-stamp request rejected")

// Stamper makes a time-stamp token over a digest: what a CAdES-T signer needs
// for its signature-time-stamp attribute. The token is a DER ContentInfo
// (SignedData with a TSTInfo). Authority and Client implement it.
type Stamper interface {
	Stamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error)
}

// BatchStamper is a Stamper that makes the tokens of many digests at once,
// for a CAdES-T batch: each token is the one Stamp would make, with its own
// serial number and genTime, and the TSA's signatures of all of them are
// made in one call to its batch engine. The TimeStampSigner worker
// implements it (over Authority.Prepare); a remote authority (Client)
// answers one query per token, as RFC 3161 has it.
type BatchStamper interface {
	Stamper
	StampAll(ctx context.Context, digests [][]byte, h crypto.Hash) ([][]byte, error)
}

// SerialSource hands out the serial numbers of time-stamp tokens. Every
// number it returns must be positive and unique for the authority's lifetime
// (RFC 3161 section 2.4.2), including across restarts and across the nodes
// that share one TSA key. Implementations are safe for concurrent use.
type SerialSource interface {
	NextSerial(ctx context.Context) (*big.Int, error)
}

// Options configure an Authority. The comments name the TimeStampSigner
// worker properties of SignServer that each field comes from.
type Options struct {
	// Chain is the TSA certificate chain, signer first. The signer
	// certificate must carry a critical extended key usage extension with
	// timeStamping as its only purpose (RFC 3161 section 2.3).
	Chain []*x509.Certificate
	// Signer is the token's key for Chain[0].
	Signer crypto.Signer
	// Sign, when set, makes the token's signatures instead of Signer.Sign,
	// with the context of the query: a signing service signs through its
	// token's own path (usage limits, batch engine, cancellation), and
	// Signer then only gives the public key.
	Sign func(ctx context.Context, input []byte, opts crypto.SignerOpts) ([]byte, error)
	// Hash is the digest of the token's signature (SIGNATUREALGORITHM's
	// digest): SHA-256 (the default), SHA-384 or SHA-512. Ed25519 keys
	// always use SHA-512 (RFC 8419).
	Hash crypto.Hash
	// DefaultPolicy is the TSA policy of tokens whose query names none
	// (DEFAULTTSAPOLICYOID). Required.
	DefaultPolicy asn1.ObjectIdentifier
	// AcceptedPolicies are the policies a query may ask for
	// (ACCEPTEDPOLICIES). As in SignServer, a query that names a policy not
	// in this list, the default policy included, is rejected with
	// unacceptedPolicy; a query that names none gets DefaultPolicy.
	AcceptedPolicies []asn1.ObjectIdentifier
	// AcceptedAlgorithms are the message imprint digests accepted
	// (ACCEPTEDALGORITHMS): any of SHA-1, SHA-256, SHA-384 and SHA-512.
	// Empty means SHA-256, SHA-384 and SHA-512. Others are rejected with
	// badAlg.
	AcceptedAlgorithms []crypto.Hash
	// Accuracy is the accuracy of genTime (ACCURACYSECONDS, ACCURACYMILLIS,
	// ACCURACYMICROS added up); zero leaves it out of the token.
	Accuracy time.Duration
	// Ordering sets the TSTInfo ordering flag (ORDERING).
	Ordering bool
	// IncludeStatusString puts a statusString into every response
	// (INCLUDESTATUSSTRING): "Operation Okay", or why the query was rejected.
	IncludeStatusString bool
	// TSAName, when set, is written as the TSTInfo tsa field, a GeneralName
	// directoryName (TSA). For TSA_FROM_CERT pass &Chain[0].Subject: the
	// certificate's subject is then copied byte for byte.
	TSAName *pkix.Name
	// IncludeCertificates is how many certificates of Chain, signer first,
	// go into a token whose query sets certReq (INCLUDE_CERTIFICATE_LEVELS).
	// Zero means 1: RFC 3161 requires the signer certificate then. A value
	// above len(Chain) includes the whole chain. Without certReq a token
	// carries no certificates.
	IncludeCertificates int
	// Serials hands out serial numbers; nil means RandomSerials().
	Serials SerialSource
	// Now is the time source; nil means time.Now.
	Now func() time.Time
}

// Authority is an RFC 3161 time-stamp authority over one key. It is safe for
// concurrent use.
type Authority struct {
	opts     Options
	accepted []crypto.Hash
	tsaName  []byte // DER [0] GeneralName, or nil when no TSA name
	tstTail  []byte // DER TSTInfo accuracy and ordering, the same in every token
	policy   []byte // DER DefaultPolicy
	// imprints holds the start of the MessageImprint of each accepted
	// digest, up to the digest itself.
	imprints map[crypto.Hash][]byte
	// The token encoders, with and without certificates (certReq).
	withCerts, noCerts *cms.Signer
	// genUnit is the precision of genTime (genTimeUnit).
	genUnit time.Duration
	// With Ordering, lastGen is the genTime of the latest token.
	orderMu sync.Mutex
	lastGen time.Time
}

// DefaultAcceptedAlgorithms are the message imprint digests an authority
// accepts when Options.AcceptedAlgorithms is empty (ACCEPTEDALGORITHMS not
// set): SHA-256, SHA-384 and SHA-512. config checks a B-T signer's
// TSA_DIGESTALGORITHM against them.
func DefaultAcceptedAlgorithms() []crypto.Hash {
	return []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512}
}

// New checks opts and returns an Authority.
func New(opts Options) (*Authority, error) {
	if len(opts.Chain) == 0 || opts.Chain[0] == nil {
		return nil, errors.New("the time-stamp authority has no certificate: give the signer certificate first in its chain")
	}
	if opts.Signer == nil {
		return nil, errors.New("the time-stamp authority has no signing key")
	}
	cert := opts.Chain[0]
	if err := CheckTimeStampingEKU(cert); err != nil {
		return nil, err
	}
	if pub, ok := opts.Signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("the signing key does not belong to the TSA certificate %q: configure the key and certificate of the same pair", cert.Subject.CommonName)
	}
	for i := 0; i+1 < len(opts.Chain); i++ {
		if err := opts.Chain[i].CheckSignatureFrom(opts.Chain[i+1]); err != nil {
			return nil, fmt.Errorf("the TSA certificate chain is out of order: %q is not issued by %q; give the chain signer first, each certificate followed by its issuer", opts.Chain[i].Subject.CommonName, opts.Chain[i+1].Subject.CommonName)
		}
	}
	if _, ok := cert.PublicKey.(ed25519.PublicKey); ok {
		// RFC 8419 section 3.1: SignedData signed with Ed25519 uses SHA-512
		// for the message digest.
		if opts.Hash != 0 && opts.Hash != crypto.SHA512 {
			return nil, fmt.Errorf("an Ed25519 time-stamp key signs with SHA-512, not %s: leave the signature digest unset or set SHA-512", opts.Hash)
		}
		opts.Hash = crypto.SHA512
	}
	switch opts.Hash {
	case 0:
		opts.Hash = crypto.SHA256
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return nil, fmt.Errorf("the time-stamp signature digest %s is not supported: use SHA-256, SHA-384 or SHA-512", opts.Hash)
	}
	if len(opts.DefaultPolicy) == 0 {
		return nil, errors.New("the time-stamp authority has no default policy: set DEFAULTTSAPOLICYOID")
	}
	// Copies, so that a caller changing its slices later changes nothing.
	opts.Chain = slices.Clone(opts.Chain)
	opts.AcceptedPolicies = slices.Clone(opts.AcceptedPolicies)
	a := &Authority{opts: opts, accepted: slices.Clone(opts.AcceptedAlgorithms)}
	if len(a.accepted) == 0 {
		a.accepted = DefaultAcceptedAlgorithms()
	}
	a.imprints = map[crypto.Hash][]byte{}
	for _, h := range a.accepted {
		if hashOID(h) == nil {
			return nil, fmt.Errorf("the accepted algorithm %s is not supported: use SHA1, SHA256, SHA384 or SHA512", h)
		}
		head, err := imprintHead(h)
		if err != nil {
			return nil, fmt.Errorf("the accepted algorithm %s cannot be encoded: %w", h, err)
		}
		a.imprints[h] = head
	}
	if opts.Accuracy < 0 {
		return nil, errors.New("the time-stamp accuracy is negative: give zero or a positive accuracy")
	}
	if opts.IncludeCertificates < 0 {
		return nil, errors.New("INCLUDE_CERTIFICATE_LEVELS is negative: give 1 or more")
	}
	if a.opts.Serials == nil {
		a.opts.Serials = RandomSerials()
	}
	if a.opts.Now == nil {
		a.opts.Now = time.Now
	}
	a.tstTail = tstInfoTail(newAccuracy(opts.Accuracy), opts.Ordering)
	a.genUnit = genTimeUnit(opts.Accuracy, opts.Ordering)
	var err error
	if a.policy, err = oidDER(opts.DefaultPolicy); err != nil {
		return nil, fmt.Errorf("the default policy %s cannot be encoded: give a valid DEFAULTTSAPOLICYOID", opts.DefaultPolicy)
	}
	if opts.TSAName != nil {
		name := cert.RawSubject // TSA_FROM_CERT: the subject byte for byte
		if !reflect.DeepEqual(*opts.TSAName, cert.Subject) {
			name, err = asn1.Marshal(opts.TSAName.ToRDNSequence())
		}
		if err == nil {
			a.tsaName, err = directoryName(name)
		}
		if err != nil {
			return nil, fmt.Errorf("the TSA name cannot be encoded: %w", err)
		}
	}
	alg, err := cms.DefaultAlgorithm(cert.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("the TSA key cannot sign time-stamps: %w", err)
	}
	if alg.Scheme != cms.Ed25519 {
		alg.Hash = opts.Hash
	}
	// With certReq the token carries IncludeCertificates certificates
	// (at least the signer's, RFC 3161 section 2.4.1), otherwise none.
	cmsOpts := cms.Options{Chain: opts.Chain, IncludeCertificates: max(opts.IncludeCertificates, 1), Algorithm: alg, ContentType: oidTSTInfo, CAdES: true}
	if a.withCerts, err = cms.NewSigner(cmsOpts); err != nil {
		return nil, fmt.Errorf("the TSA key cannot sign time-stamps: %w", err)
	}
	cmsOpts.IncludeCertificates = 0
	if a.noCerts, err = cms.NewSigner(cmsOpts); err != nil {
		return nil, fmt.Errorf("the TSA key cannot sign time-stamps: %w", err)
	}
	return a, nil
}

// CheckTimeStampingEKU enforces RFC 3161 section 2.3: exactly one extended
// key usage, timeStamping, in a critical extension. The authority checks
// its own certificate with it, and validators the certificate of a token's
// signer: the one rule for both.
func CheckTimeStampingEKU(cert *x509.Certificate) error {
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidExtKeyUsage) {
			continue
		}
		var usages []asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(ext.Value, &usages); err != nil || len(usages) != 1 || !usages[0].Equal(oidKPTimeStamping) {
			return fmt.Errorf("the TSA certificate %q must have timeStamping as its only extended key usage: issue a time-stamping certificate", cert.Subject.CommonName)
		}
		if !ext.Critical {
			return fmt.Errorf("the TSA certificate %q has a non-critical extended key usage extension: RFC 3161 requires it critical, issue a new time-stamping certificate", cert.Subject.CommonName)
		}
		return nil
	}
	return fmt.Errorf("the TSA certificate %q has no extended key usage extension: issue a certificate with the critical timeStamping extended key usage", cert.Subject.CommonName)
}

// Certificate returns the TSA certificate.
func (a *Authority) Certificate() *x509.Certificate { return a.opts.Chain[0] }

// Respond answers a DER TimeStampReq with a DER TimeStampResp.
//
// A query the authority cannot serve gets a response with status rejection
// and the failInfo that says why (badDataFormat, badAlg, unacceptedPolicy,
// unacceptedExtension), with a statusString when IncludeStatusString is set;
// that is not an error. Respond returns an error only when the authority
// itself failed: no serial number, or signing failed (a token offline is
// wrapped so that errors.Is(err, tokens.ErrOffline) holds).
func (a *Authority) Respond(ctx context.Context, query []byte) ([]byte, error) {
	req, err := timestamp.ParseRequest(query)
	if err != nil {
		// digitorus/timestamp reports an unknown digest OID only by this
		// ParseError value; anything else is a malformed query.
		if errors.Is(err, timestamp.ParseError("Time-Stamp request uses unknown hash function")) {
			return a.reject(BadAlg, "The message imprint digest algorithm is not supported.")
		}
		return a.reject(BadDataFormat, "The request is not a DER TimeStampReq.")
	}
	version, imprint, ok := requestHead(query)
	if !ok {
		return a.reject(BadDataFormat, "The request is not a DER TimeStampReq.")
	}
	if version != 1 {
		// As openssl's TSA: RFC 3161 defines version 1 only.
		return a.reject(BadRequest, fmt.Sprintf("The request version is %d; RFC 3161 requests are version 1.", version))
	}
	if !slices.Contains(a.accepted, req.HashAlgorithm) {
		return a.reject(BadAlg, fmt.Sprintf("The message imprint digest %s is not accepted; use %s.", hashName(req.HashAlgorithm), a.acceptedNames()))
	}
	if len(req.HashedMessage) != req.HashAlgorithm.Size() {
		return a.reject(BadDataFormat, fmt.Sprintf("The message imprint is %d bytes long; a %s digest is %d bytes.", len(req.HashedMessage), hashName(req.HashAlgorithm), req.HashAlgorithm.Size()))
	}
	if len(req.Extensions) > 0 {
		return a.reject(UnacceptedExtension, fmt.Sprintf("The request extension %s is not supported.", req.Extensions[0].Id))
	}
	policy := a.opts.DefaultPolicy
	if len(req.TSAPolicyOID) > 0 {
		if !slices.ContainsFunc(a.opts.AcceptedPolicies, req.TSAPolicyOID.Equal) {
			return a.reject(UnacceptedPolicy, fmt.Sprintf("The requested policy %s is not accepted.", req.TSAPolicyOID))
		}
		policy = req.TSAPolicyOID
	}
	policyDER, err := oidDER(policy)
	if err != nil {
		return a.reject(UnacceptedPolicy, fmt.Sprintf("The requested policy %s cannot be encoded.", policy))
	}
	token, err := a.token(ctx, imprint, policyDER, req.Nonce, req.Certificates)
	if err != nil {
		return nil, err
	}
	text := ""
	if a.opts.IncludeStatusString {
		text = textGranted
	}
	return marshalResponse(statusGranted, text, -1, token)
}

// Granted reports whether a DER TimeStampResp grants the request (status
// granted or grantedWithMods) and carries a token.
func Granted(resp []byte) bool {
	var r timeStampResp
	rest, err := asn1.Unmarshal(resp, &r)
	return err == nil && len(rest) == 0 && (r.Status.Status == statusGranted || r.Status.Status == 1) && len(r.TimeStampToken.FullBytes) > 0
}

// Reject returns a DER TimeStampResp with status rejection and failure
// f, with text as its statusString when IncludeStatusString is set: for a
// query the caller refuses before Respond, such as one too large to read.
func (a *Authority) Reject(f FailInfo, text string) ([]byte, error) { return a.reject(f, text) }

func (a *Authority) reject(f FailInfo, text string) ([]byte, error) {
	if !a.opts.IncludeStatusString {
		text = ""
	}
	return marshalResponse(statusRejection, text, f, nil)
}

func (a *Authority) acceptedNames() string {
	names := make([]string, len(a.accepted))
	for i, h := range a.accepted {
		names[i] = hashName(h)
	}
	return strings.Join(names, ", ")
}

// Stamp makes a time-stamp token (DER ContentInfo) over a digest computed
// with h, under the default policy, with the certificates a query with certReq
// would get. It is the in-process path for CAdES signers (TSA_WORKER). A
// digest the authority does not accept is an error wrapping ErrRejected.
func (a *Authority) Stamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	t, err := a.Prepare(ctx, digest, h)
	if err != nil {
		return nil, err
	}
	return a.sign(ctx, t)
}

// PendingToken is a time-stamp token built up to the TSA's signature:
// the key signs Input with Authority.SignerOpts, and Encode makes the
// token from that signature. It lets a caller with many tokens to make (a
// CAdES-T batch) sign all their inputs in one call to its batch engine.
type PendingToken struct {
	content []byte // DER TSTInfo
	p       *cms.Pending
}

// Input is what the TSA's key must sign.
func (t *PendingToken) Input() []byte { return t.p.Input() }

// Encode returns the token (DER ContentInfo) with signature, the TSA's
// signature of Input.
func (t *PendingToken) Encode(signature []byte) ([]byte, error) {
	der, err := t.p.Encode(signature, t.content)
	if err != nil {
		return nil, fmt.Errorf("encode the time-stamp token: %w", err)
	}
	return der, nil
}

// SignerOpts returns the options the TSA's key signs a PendingToken's Input
// with.
func (a *Authority) SignerOpts() crypto.SignerOpts { return a.withCerts.SignerOpts() }

// Prepare builds the token Stamp would make over digest, with its own
// serial number and genTime, up to its signature. A digest the authority
// does not accept is an error wrapping ErrRejected.
func (a *Authority) Prepare(ctx context.Context, digest []byte, h crypto.Hash) (*PendingToken, error) {
	head, ok := a.imprints[h]
	if !ok {
		return nil, fmt.Errorf("%w: the time-stamp authority does not accept %s digests; use %s", ErrRejected, hashName(h), a.acceptedNames())
	}
	if len(digest) != h.Size() {
		return nil, fmt.Errorf("%w: the digest to time-stamp is %d bytes long, a %s digest is %d bytes", ErrRejected, len(digest), hashName(h), h.Size())
	}
	imprint := append(head[:len(head):len(head)], digest...)
	return a.prepare(ctx, imprint, a.policy, nil, true)
}

// requestHead reads the version and the DER MessageImprint of a
// TimeStampReq. The imprint is copied into the token byte for byte, its
// AlgorithmIdentifier included, as RFC 3161 section 2.4.2 requires: a
// client that sent SHA-256 without parameters gets it back without them.
//
// It also holds the query to RFC 3161's layout, which encoding/asn1 (what
// timestamp.ParseRequest reads the fields with) does not: that skips an
// optional field whose tag it does not expect and ignores whatever follows
// the last field, so a query with its nonce after certReq, or its policy
// after the nonce, was granted without them, a token that does not answer
// the query. Each optional field may come once, in order, and nothing after.
func requestHead(query []byte) (version int64, imprint []byte, ok bool) {
	in := cryptobyte.String(query)
	var req, mi cryptobyte.String
	if !in.ReadASN1(&req, cbasn1.SEQUENCE) || !req.ReadASN1Int64WithTag(&version, cbasn1.INTEGER) || !req.ReadASN1Element(&mi, cbasn1.SEQUENCE) {
		return 0, nil, false
	}
	// reqPolicy, nonce, certReq, [0] extensions.
	for _, tag := range []cbasn1.Tag{cbasn1.OBJECT_IDENTIFIER, cbasn1.INTEGER, cbasn1.BOOLEAN, cbasn1.Tag(0).Constructed().ContextSpecific()} {
		if !req.SkipOptionalASN1(tag) {
			return 0, nil, false
		}
	}
	if !req.Empty() || !in.Empty() {
		return 0, nil, false
	}
	return version, slices.Clone([]byte(mi)), true
}

// token builds and signs a TimeStampToken.
func (a *Authority) token(ctx context.Context, imprint, policy []byte, nonce *big.Int, withCerts bool) ([]byte, error) {
	t, err := a.prepare(ctx, imprint, policy, nonce, withCerts)
	if err != nil {
		return nil, err
	}
	return a.sign(ctx, t)
}

// sign signs t with Options.Sign, or the Signer, and encodes the token.
func (a *Authority) sign(ctx context.Context, t *PendingToken) ([]byte, error) {
	var sig []byte
	var err error
	if a.opts.Sign != nil {
		sig, err = a.opts.Sign(ctx, t.Input(), a.SignerOpts())
	} else {
		sig, err = a.opts.Signer.Sign(rand.Reader, t.Input(), a.SignerOpts())
	}
	if err != nil {
		return nil, fmt.Errorf("sign the time-stamp token: %w", err)
	}
	return t.Encode(sig)
}

// prepare builds a TimeStampToken up to its signature: a new serial number,
// genTime now, the TSTInfo and the signed attributes over it.
func (a *Authority) prepare(ctx context.Context, imprint, policy []byte, nonce *big.Int, withCerts bool) (*PendingToken, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	serial, err := a.opts.Serials.NextSerial(ctx)
	if err != nil {
		return nil, fmt.Errorf("the time-stamp authority has no serial number for the token: %w", err)
	}
	if serial == nil || serial.Sign() <= 0 {
		return nil, errors.New("the time-stamp serial number source returned a number that is not positive")
	}
	gen := a.opts.Now()
	if a.opts.Ordering {
		gen = a.ordered(gen)
	}
	var genTime [32]byte
	content, err := appendTSTInfo(make([]byte, 0, 96+len(imprint)+len(a.tsaName)), policy, imprint, serial,
		appendGeneralizedTime(genTime[:0], gen, a.genUnit), a.tstTail, nonce, a.tsaName)
	if err != nil {
		return nil, fmt.Errorf("encode TSTInfo: %w", err)
	}
	// The token is a SignedData over the TSTInfo made by Signet's own CMS
	// encoder: content-type, signing-time, message-digest and the
	// signing-certificate-v2 that RFC 5816 lets a TSA use.
	s := a.noCerts
	if withCerts {
		s = a.withCerts
	}
	d := s.Hash().New()
	d.Write(content)
	// signing-time is the real clock, as in any CMS signature; genTime is
	// the authority's time source (Options.Now).
	p, err := s.Prepare(d.Sum(nil), time.Now())
	if err != nil {
		return nil, fmt.Errorf("build the time-stamp token: %w", err)
	}
	return &PendingToken{content: content, p: p}, nil
}

// ordered returns the genTime of a token under Ordering: now, or one unit
// after the previous token's genTime when the clock has not moved past it
// (tokens within one clock tick, a clock stepped back). Ordering claims
// that every token of the TSA can be ordered by genTime whatever its
// accuracy (RFC 3161 section 2.4.2): two tokens of one genTime, or a later
// token with an earlier one, would make the claim false. The unit is a
// nanosecond, so a genTime runs ahead of the clock by a nanosecond a token
// at most while the clock stands still.
func (a *Authority) ordered(now time.Time) time.Time {
	now = now.Truncate(a.genUnit) // the wall clock only, as genTime has it
	a.orderMu.Lock()
	defer a.orderMu.Unlock()
	if !now.After(a.lastGen) {
		now = a.lastGen.Add(a.genUnit)
	}
	a.lastGen = now
	return now
}
