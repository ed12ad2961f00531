package cms

// The encoder writes DER headers by hand rather than through
// cryptobyte.Builder: it must know every length before the first byte is
// written so that WriteTo can stream content of a known length, and the
// per-document path should cost one allocation, not a builder that grows and
// shifts its buffer at each nested length.

import "encoding/asn1"

// DER tags the encoder writes.
const (
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagOID         = 0x06
	tagSequence    = 0x30
	tagSet         = 0x31
	tagContext0    = 0xa0 // [0] constructed
	tagContext1    = 0xa1 // [1] constructed
	tagUTCTime     = 0x17
	tagGenTime     = 0x18
)

// headerLen is the size of a DER tag and length for n content bytes.
func headerLen(n int64) int64 {
	switch {
	case n < 0x80:
		return 2
	case n < 1<<8:
		return 3
	case n < 1<<16:
		return 4
	case n < 1<<24:
		return 5
	case n < 1<<32:
		return 6
	case n < 1<<40:
		return 7
	case n < 1<<48:
		return 8
	case n < 1<<56:
		return 9
	}
	return 10
}

// elemLen is the size of a DER element with n content bytes.
func elemLen(n int64) int64 { return headerLen(n) + n }

// appendHeader appends a DER tag and the definite length n.
func appendHeader(b []byte, tag byte, n int64) []byte {
	b = append(b, tag)
	if n < 0x80 {
		return append(b, byte(n))
	}
	k := int(headerLen(n) - 2)
	b = append(b, 0x80|byte(k))
	for i := k - 1; i >= 0; i-- {
		b = append(b, byte(n>>(8*i)))
	}
	return b
}

// appendTime appends the contents of a UTCTime (YYMMDDHHMMSSZ) or, when gen
// is set, a GeneralizedTime (YYYYMMDDHHMMSSZ), written digit by digit
// because time.Format allocates.
func appendTime(b []byte, year, month, day, hour, min, sec int, gen bool) []byte {
	two := func(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	if gen {
		b = two(b, year/100)
	}
	b = two(b, year%100)
	b = two(b, month)
	b = two(b, day)
	b = two(b, hour)
	b = two(b, min)
	b = two(b, sec)
	return append(b, 'Z')
}

// appendOID appends the DER OBJECT IDENTIFIER of oid, and reports false for
// one DER cannot encode: fewer than two arcs, a first arc above 2, a second
// above 39 under a first of 0 or 1, a negative arc.
func appendOID(b []byte, oid asn1.ObjectIdentifier) ([]byte, bool) {
	if len(oid) < 2 || oid[0] < 0 || oid[0] > 2 || oid[1] < 0 || oid[0] < 2 && oid[1] >= 40 {
		return b, false
	}
	var body [64]byte
	c := appendBase128(body[:0], oid[0]*40+oid[1])
	for _, arc := range oid[2:] {
		if arc < 0 {
			return b, false
		}
		c = appendBase128(c, arc)
	}
	b = appendHeader(b, tagOID, int64(len(c)))
	return append(b, c...), true
}

// appendBase128 appends v in base 128, most significant group first, the
// high bit set on every byte but the last.
func appendBase128(b []byte, v int) []byte {
	n := 1
	for x := v >> 7; x > 0; x >>= 7 {
		n++
	}
	for i := n - 1; i >= 0; i-- {
		c := byte(v>>(7*i)) & 0x7f
		if i > 0 {
			c |= 0x80
		}
		b = append(b, c)
	}
	return b
}
