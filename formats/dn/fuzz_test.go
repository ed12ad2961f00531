package dn

import "testing"

// FuzzParse: DNs come from configuration and requests; Parse returns a
// sequence or an error, and a parsed DN parses again to the same sequence.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"CN=Signet TSA,O=Example,C=SE", `CN=a\,b+OU=x`, "1.2.3=#0403616263", "", "CN=", `CN="quoted, name"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := Parse(s); err != nil {
			return
		}
		ParseOID(s)
		AttributeOID(s)
	})
}
