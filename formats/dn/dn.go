// Package dn parses X.500 distinguished names as people write them: RFC 4514
// strings ("CN=Signer,O=Example,C=DE", most specific first) and OpenSSL's
// -subj form ("/C=DE/O=Example/CN=Signer"). Go's crypto/x509/pkix prints
// names but does not parse them; the CSR subjects of the admin API and the
// TSA property of TimeStampSigner both need it.
package dn

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// attributeTypes maps the attribute names a subject DN may use (RFC 4514,
// RFC 4519 and the names SignServer and OpenSSL accept) to their OIDs.
var attributeTypes = map[string]asn1.ObjectIdentifier{
	"CN":                     {2, 5, 4, 3},
	"SN":                     {2, 5, 4, 4},
	"SURNAME":                {2, 5, 4, 4},
	"SERIALNUMBER":           {2, 5, 4, 5},
	"C":                      {2, 5, 4, 6},
	"L":                      {2, 5, 4, 7},
	"ST":                     {2, 5, 4, 8},
	"S":                      {2, 5, 4, 8},
	"STREET":                 {2, 5, 4, 9},
	"O":                      {2, 5, 4, 10},
	"OU":                     {2, 5, 4, 11},
	"T":                      {2, 5, 4, 12},
	"TITLE":                  {2, 5, 4, 12},
	"POSTALCODE":             {2, 5, 4, 17},
	"GIVENNAME":              {2, 5, 4, 42},
	"G":                      {2, 5, 4, 42},
	"DNQUALIFIER":            {2, 5, 4, 46},
	"PSEUDONYM":              {2, 5, 4, 65},
	"ORGANIZATIONIDENTIFIER": {2, 5, 4, 97},
	"E":                      {1, 2, 840, 113549, 1, 9, 1},
	"EMAILADDRESS":           {1, 2, 840, 113549, 1, 9, 1},
	"UID":                    {0, 9, 2342, 19200300, 100, 1, 1},
	"DC":                     {0, 9, 2342, 19200300, 100, 1, 25},
}

var (
	oidCountry = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidEmail   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	oidDC      = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
)

const dnHint = `write it as "CN=Signer,O=Example,C=DE" (RFC 4514) or "/C=DE/O=Example/CN=Signer" (OpenSSL)`

// Parse parses a distinguished name, either in RFC 4514 form ("CN=Signer,
// O=Example, C=DE": most specific first, so encoded in the reverse order)
// or in OpenSSL's -subj form ("/C=DE/O=Example/CN=Signer": encoded in the
// order written). Multi-valued RDNs are written with +. emailAddress and
// DC values are IA5Strings, a country must be two capital letters. Errors
// say what to change.
func Parse(s string) (pkix.RDNSequence, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("the DN is empty: " + dnHint)
	}
	var rdns []string
	var err error
	if strings.HasPrefix(s, "/") {
		rdns, err = split(s[1:], '/')
	} else {
		rdns, err = split(s, ',')
		for i, j := 0, len(rdns)-1; i < j; i, j = i+1, j-1 {
			rdns[i], rdns[j] = rdns[j], rdns[i]
		}
	}
	if err != nil {
		return nil, err
	}
	var seq pkix.RDNSequence
	for _, r := range rdns {
		avas, err := split(r, '+')
		if err != nil {
			return nil, err
		}
		var set pkix.RelativeDistinguishedNameSET
		for _, a := range avas {
			atv, err := parseATV(a)
			if err != nil {
				return nil, err
			}
			set = append(set, atv)
		}
		seq = append(seq, set)
	}
	return seq, nil
}

// split cuts s at each sep that is neither escaped with a backslash nor
// inside double quotes.
func split(s string, sep byte) ([]string, error) {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if quoted {
		return nil, errors.New("the DN has an unclosed double quote: " + dnHint)
	}
	return append(out, s[start:]), nil
}

// parseATV parses one "type=value".
func parseATV(s string) (pkix.AttributeTypeAndValue, error) {
	name, raw, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return pkix.AttributeTypeAndValue{}, fmt.Errorf("%q in the DN is not type=value: %s", strings.TrimSpace(s), dnHint)
	}
	oid, ok := attributeTypes[strings.ToUpper(name)]
	if !ok {
		var err error
		if oid, err = ParseOID(name); err != nil {
			return pkix.AttributeTypeAndValue{}, fmt.Errorf("unknown attribute %q in the DN: use CN, O, OU, C, L, ST, STREET, SERIALNUMBER, E, DC, UID, … or a dotted OID", name)
		}
	}
	v, err := unescape(raw)
	if err != nil {
		return pkix.AttributeTypeAndValue{}, fmt.Errorf("attribute %s of the DN: %w", name, err)
	}
	if v == "" {
		return pkix.AttributeTypeAndValue{}, fmt.Errorf("attribute %s of the DN has an empty value: give a value or leave it out", name)
	}
	atv := pkix.AttributeTypeAndValue{Type: oid, Value: v}
	switch {
	case oid.Equal(oidCountry):
		if len(v) != 2 || !isUpperAlpha(v) {
			return atv, fmt.Errorf("country %q in the DN is not a two-letter ISO 3166 code such as DE", v)
		}
	case oid.Equal(oidEmail), oid.Equal(oidDC):
		for _, r := range v {
			if r > 0x7f {
				return atv, fmt.Errorf("attribute %s of the DN must be ASCII", name)
			}
		}
		atv.Value = asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte(v)}
	}
	return atv, nil
}

func isUpperAlpha(s string) bool {
	for _, c := range s {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// ParseOID parses an object identifier in dotted decimal, such as
// 1.2.840.113549.1.7.1: at least two arcs, the first 0, 1 or 2, each a
// decimal number without leading zeros. It is Signet's one OID parser: the
// property schema validates OID properties with it and workers read them
// and request metadata with it, so that what a configuration check accepts
// is what a worker can use.
func ParseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	bad := fmt.Errorf("%q is not an object identifier: write it in dotted decimal, such as 1.2.840.113549.1.7.1", s)
	if len(parts) < 2 || len(parts[0]) != 1 || parts[0][0] > '2' {
		return nil, bad
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		if p == "" || strings.TrimLeft(p, "0123456789") != "" || (len(p) > 1 && p[0] == '0') {
			return nil, bad
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, bad
		}
		oid[i] = n
	}
	return oid, nil
}

// unescape returns a value with surrounding spaces removed, quotes
// stripped and backslash escapes (\, \+ \\ \" and \XX hex) resolved.
func unescape(raw string) (string, error) {
	s := strings.TrimLeft(raw, " ")
	// Trailing spaces are cut unless the last one is escaped.
	for strings.HasSuffix(s, " ") && !strings.HasSuffix(s, `\ `) {
		s = s[:len(s)-1]
	}
	if strings.HasPrefix(s, "#") {
		return "", errors.New("hex-encoded BER values (#…) are not accepted: write the value as text")
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' {
			continue
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return "", errors.New("the value ends with a lone backslash: escape it as \\\\")
		}
		if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// AttributeOID returns the OID of an attribute name (CN, O, SERIALNUMBER,
// …, any letter case), as Parse reads it.
func AttributeOID(name string) (asn1.ObjectIdentifier, bool) {
	oid, ok := attributeTypes[strings.ToUpper(name)]
	return oid, ok
}
