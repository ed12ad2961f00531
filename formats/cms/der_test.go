package cms

import (
	"bytes"
	"encoding/asn1"
	"math"
	"testing"
)

// TestAppendOID holds appendOID to encoding/asn1 for valid identifiers and
// to its refusal of those DER cannot encode.
func TestAppendOID(t *testing.T) {
	t.Parallel()
	for _, oid := range []asn1.ObjectIdentifier{
		{0, 0}, {1, 39}, {2, 0}, {2, 999}, {1, 2, 840, 113549, 1, 9, 16, 2, 14}, {1, 3, 6, 1, 4, 1, 127, 128, 16383, 16384, math.MaxInt32},
	} {
		want, err := asn1.Marshal(oid)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := appendOID([]byte{0xee}, oid); !ok || !bytes.Equal(got, append([]byte{0xee}, want...)) {
			t.Errorf("%v: % x, encoding/asn1 % x", oid, got, want)
		}
	}
	for _, oid := range []asn1.ObjectIdentifier{nil, {1}, {3, 1}, {0, 40}, {1, 40}, {-1, 2}, {1, -2}, {1, 2, -3}} {
		if got, ok := appendOID(nil, oid); ok {
			t.Errorf("%v: encoded as % x, want a refusal", oid, got)
		}
	}
}
