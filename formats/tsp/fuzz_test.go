package tsp

import (
	"context"
	"crypto/sha256"
	"encoding/asn1"
	"testing"
)

// FuzzRespond: any query gets a DER TimeStampResp (granted or rejected),
// never a panic or an error of the authority's own.
func FuzzRespond(f *testing.F) {
	p := newPKI(f, "EC-P256")
	a := p.authority(f, nil)
	sum := sha256.Sum256([]byte("fuzz"))
	f.Add(rawQuery(f, oidSHA256, sum[:], nil))
	f.Add(rawQueryWith(f, 1, asn1.RawValue{}, oidSHA256, sum[:], nil))
	f.Add(rawQueryWith(f, 2, asn1.NullRawValue, oidSHA256, sum[:], nil))
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, q []byte) {
		resp, err := a.Respond(context.Background(), q)
		if err != nil {
			t.Fatalf("Respond: %v", err)
		}
		var r timeStampResp
		if rest, err := asn1.Unmarshal(resp, &r); err != nil || len(rest) > 0 {
			t.Fatalf("the response does not decode: %v", err)
		}
	})
}
