package tsp

import (
	"crypto"
	"encoding/asn1"
	"fmt"
	"math/big"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/signet-project/signet/formats/cms"
)

// This file holds the RFC 3161 and RFC 5035 structures Signet writes itself.
//
// digitorus/timestamp parses queries and tokens well, but its response
// builder (Timestamp.CreateResponseWithOpts) draws its own serial number, always
// names the TSA from the certificate subject, encodes genTime without the
// fraction of a second a sub-second accuracy needs, and cannot put a
// statusString into a rejection (CreateErrorResponse takes only a failInfo).
// So the TSTInfo is written here with cryptobyte and the TimeStampResp with
// encoding/asn1, and the SignedData around the TSTInfo is built by
// formats/cms.

var (
	oidTSTInfo        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidExtKeyUsage    = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidKPTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	oidSHA1           = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

// PKIStatus values (RFC 3161 section 2.4.2) and the statusString of a granted
// request, spelled as SignServer (BouncyCastle) spells it.
const (
	statusGranted   = 0
	statusRejection = 2
	textGranted     = "Operation Okay"
	maxStatusString = 200
)

// hashOID returns the digest algorithm OID of the hashes digitorus/timestamp
// can parse in a query, and nil for any other.
func hashOID(h crypto.Hash) asn1.ObjectIdentifier {
	switch h {
	case crypto.SHA1:
		return oidSHA1
	case crypto.SHA256:
		return oidSHA256
	case crypto.SHA384:
		return oidSHA384
	case crypto.SHA512:
		return oidSHA512
	}
	return nil
}

// hashName spells a hash the way SignServer's ACCEPTEDALGORITHMS does.
func hashName(h crypto.Hash) string {
	switch h {
	case crypto.SHA1:
		return "SHA1"
	case crypto.SHA256:
		return "SHA256"
	case crypto.SHA384:
		return "SHA384"
	case crypto.SHA512:
		return "SHA512"
	}
	return h.String()
}

// ParseHash parses the name of a message imprint digest a time-stamp may
// carry: SHA-256, SHA-384 and SHA-512 in any spelling cms.ParseHash
// accepts, and SHA-1, which is no CMS signing digest but which RFC 3161
// clients still send and SignServer accepts when listed.
func ParseHash(name string) (crypto.Hash, error) {
	if h, err := cms.ParseHash(name); err == nil && hashOID(h) != nil {
		return h, nil
	}
	if n := strings.NewReplacer("-", "", "_", "").Replace(strings.TrimSpace(name)); strings.EqualFold(n, "SHA1") {
		return crypto.SHA1, nil
	}
	return 0, fmt.Errorf("digest algorithm %q is not supported for time-stamps: use SHA256, SHA384, SHA512 or SHA1", name)
}

// DigestNames returns the spellings of the digests ParseHash accepts, as a
// configuration writes them (SHA-256 and SHA256, …); the property schema
// derives TSA_DIGESTALGORITHM and ACCEPTEDALGORITHMS from it.
func DigestNames() []string {
	names := []string{"SHA-1", "SHA1"}
	for _, n := range cms.DigestNames() {
		if h, err := cms.ParseHash(n); err == nil && hashOID(h) != nil {
			names = append(names, n)
		}
	}
	return names
}

// FailInfo is a PKIFailureInfo bit of a rejected time-stamp request
// (RFC 3161 section 2.4.2).
type FailInfo int

// The failure reasons of RFC 3161.
const (
	BadAlg              FailInfo = 0  // unrecognized or unsupported algorithm
	BadRequest          FailInfo = 2  // transaction not permitted or supported
	BadDataFormat       FailInfo = 5  // the data submitted has the wrong format
	TimeNotAvailable    FailInfo = 14 // the TSA's time source is not available
	UnacceptedPolicy    FailInfo = 15 // the requested TSA policy is not supported
	UnacceptedExtension FailInfo = 16 // the requested extension is not supported
	AddInfoNotAvailable FailInfo = 17 // the additional information requested is not available
	SystemFailure       FailInfo = 25 // the request cannot be handled due to system failure
)

var failInfoNames = map[FailInfo]string{
	BadAlg:              "badAlg",
	BadRequest:          "badRequest",
	BadDataFormat:       "badDataFormat",
	TimeNotAvailable:    "timeNotAvailable",
	UnacceptedPolicy:    "unacceptedPolicy",
	UnacceptedExtension: "unacceptedExtension",
	AddInfoNotAvailable: "addInfoNotAvailable",
	SystemFailure:       "systemFailure",
}

// String returns the RFC 3161 name of the failure, such as "badAlg".
func (f FailInfo) String() string {
	if s, ok := failInfoNames[f]; ok {
		return s
	}
	return "failInfo(" + big.NewInt(int64(f)).String() + ")"
}

// bitString returns the DER named-bit-list encoding of one failure bit:
// trailing zero bits are not encoded.
func (f FailInfo) bitString() asn1.BitString {
	b := make([]byte, int(f)/8+1)
	b[int(f)/8] = 0x80 >> (uint(f) % 8)
	return asn1.BitString{Bytes: b, BitLength: int(f) + 1}
}

// pkiStatusInfo is RFC 3161's PKIStatusInfo. The statusString (PKIFreeText)
// elements are UTF8String raw values because encoding/asn1 does not apply the
// utf8 field option to the elements of a slice.
type pkiStatusInfo struct {
	Status       int
	StatusString []asn1.RawValue `asn1:"optional"`
	FailInfo     asn1.BitString  `asn1:"optional"`
}

// timeStampResp is RFC 3161's TimeStampResp.
type timeStampResp struct {
	Status         pkiStatusInfo
	TimeStampToken asn1.RawValue `asn1:"optional"`
}

func freeText(s string) []asn1.RawValue {
	if len(s) > maxStatusString {
		s = strings.ToValidUTF8(s[:maxStatusString], "")
	}
	return []asn1.RawValue{{Tag: asn1.TagUTF8String, Bytes: []byte(s)}}
}

// marshalResponse encodes a TimeStampResp with the given status, an optional
// status text and failure bit (fail < 0 for none) and an optional token.
func marshalResponse(status int, text string, fail FailInfo, token []byte) ([]byte, error) {
	r := timeStampResp{Status: pkiStatusInfo{Status: status}}
	if text != "" {
		r.Status.StatusString = freeText(text)
	}
	if fail >= 0 {
		r.Status.FailInfo = fail.bitString()
	}
	if token != nil {
		r.TimeStampToken = asn1.RawValue{FullBytes: token}
	}
	return asn1.Marshal(r)
}

// accuracy is RFC 3161's Accuracy; zero fields are omitted.
type accuracy struct {
	Seconds int64 `asn1:"optional"`
	Millis  int64 `asn1:"tag:0,optional"`
	Micros  int64 `asn1:"tag:1,optional"`
}

// newAccuracy splits d into seconds, milliseconds and microseconds, rounding
// a remainder below one microsecond up (a TSA must not claim to be more
// accurate than it is).
func newAccuracy(d time.Duration) accuracy {
	if d <= 0 {
		return accuracy{}
	}
	us := (d + time.Microsecond - 1) / time.Microsecond
	return accuracy{
		Seconds: int64(us / 1e6),
		Millis:  int64(us / 1e3 % 1e3),
		Micros:  int64(us % 1e3),
	}
}

// The TSTInfo of every token is written with cryptobyte rather than with
// encoding/asn1's reflection: a CAdES-T batch makes one token per item, and
// reflection cost as much as the rest of the token's encoding. What does
// not change from one token to the next (accuracy, ordering, TSA name) is
// encoded once by New; tstinfo_test.go holds the encoding to encoding/asn1's.

// tstInfoTail encodes the TSTInfo fields between genTime and the nonce:
// accuracy (omitted when zero, as are its zero fields) and ordering
// (omitted when false, its DEFAULT).
func tstInfoTail(acc accuracy, ordering bool) []byte {
	var b cryptobyte.Builder
	if acc != (accuracy{}) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			if acc.Seconds != 0 {
				b.AddASN1Int64(acc.Seconds)
			}
			if acc.Millis != 0 {
				b.AddASN1Int64WithTag(acc.Millis, cbasn1.Tag(0).ContextSpecific())
			}
			if acc.Micros != 0 {
				b.AddASN1Int64WithTag(acc.Micros, cbasn1.Tag(1).ContextSpecific())
			}
		})
	}
	if ordering {
		b.AddASN1Boolean(true)
	}
	return b.BytesOrPanic()
}

// appendTSTInfo appends RFC 3161's TSTInfo to b. policy is the DER
// OBJECT IDENTIFIER, imprint the DER MessageImprint (the request's, byte
// for byte), genTime the characters of the GeneralizedTime, tail what
// tstInfoTail returns, tsa the DER [0] EXPLICIT GeneralName or nil, nonce
// nil when the request has none. The fields go into one flat builder, so
// that a token costs a few allocations.
func appendTSTInfo(b []byte, policy, imprint []byte, serial *big.Int, genTime []byte, tail []byte, nonce *big.Int, tsa []byte) ([]byte, error) {
	bld := cryptobyte.NewBuilder(b)
	bld.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes([]byte{byte(cbasn1.INTEGER), 1, 1}) // version v1
		b.AddBytes(policy)
		b.AddBytes(imprint)
		b.AddASN1BigInt(serial)
		b.AddBytes([]byte{byte(cbasn1.GeneralizedTime), byte(len(genTime))}) // at most 25 characters
		b.AddBytes(genTime)
		b.AddBytes(tail)
		if nonce != nil {
			b.AddASN1BigInt(nonce)
		}
		b.AddBytes(tsa)
	})
	return bld.Bytes()
}

// oidDER encodes an OBJECT IDENTIFIER.
func oidDER(oid asn1.ObjectIdentifier) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1ObjectIdentifier(oid)
	return b.Bytes()
}

// imprintHead encodes the start of RFC 3161's MessageImprint for a digest
// made with h (which hashOID knows), up to the digest's octets: with NULL
// algorithm parameters, as SignServer and openssl write them.
func imprintHead(h crypto.Hash) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(hashOID(h))
			b.AddASN1NULL()
		})
		b.AddASN1OctetString(make([]byte, h.Size()))
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	return der[:len(der)-h.Size()], nil
}

// genTimeUnit is the precision of genTime: milliseconds, or microseconds
// for an accuracy below one millisecond, and nanoseconds with ordering,
// whose tokens must each have a genTime of their own (see
// Authority.ordered) without running ahead of the clock.
func genTimeUnit(acc time.Duration, ordering bool) time.Duration {
	switch {
	case ordering:
		return time.Nanosecond
	case acc > 0 && acc < time.Millisecond:
		return time.Microsecond
	}
	return time.Millisecond
}

// appendGeneralizedTime appends the characters of a DER GeneralizedTime for
// t in UTC, to the unit genTimeUnit gives (at most 25 characters), without
// trailing zeros. The time is truncated, never rounded up, so genTime is
// never later than the clock.
func appendGeneralizedTime(b []byte, t time.Time, unit time.Duration) []byte {
	layout := "20060102150405.999Z"
	switch unit {
	case time.Microsecond:
		layout = "20060102150405.999999Z"
	case time.Nanosecond:
		layout = "20060102150405.999999999Z"
	}
	return t.UTC().Truncate(unit).AppendFormat(b, layout)
}

// directoryName encodes a Name (DER) as the [0] EXPLICIT GeneralName of the
// TSTInfo tsa field: [0] { [4] { Name } }.
func directoryName(name []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(name) })
	})
	return b.Bytes()
}
