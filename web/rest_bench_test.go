package web

import (
	"bytes"
	"encoding/base64"
	"testing"
)

// BenchmarkDecodeREST decodes REST request bodies of a 1 KiB and a 1 MiB
// document (base64, with request metadata): what reading the JSON costs
// before the document is decoded in place.
func BenchmarkDecodeREST(b *testing.B) {
	for _, tc := range []struct {
		name string
		size int
	}{{"1KiB", 1 << 10}, {"1MiB", 1 << 20}} {
		b.Run(tc.name, func(b *testing.B) {
			doc := bytes.Repeat([]byte("0123456789abcdef"), tc.size/16)
			body := []byte(`{"data":"` + base64.StdEncoding.EncodeToString(doc) + `","encoding":"BASE64","metaData":{"CLIENTSIDEHASHING":"false","USERNAME":"bench"}}`)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				req, err := decodeREST(body)
				if err != nil || len(req.data) != len(body)-len(`{"data":,"encoding":"BASE64","metaData":{"CLIENTSIDEHASHING":"false","USERNAME":"bench"}}`) {
					b.Fatal(err)
				}
			}
		})
	}
}
