package cms_test

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"testing"
	"time"

	"github.com/signet-project/signet/formats/cms"
)

// TestAppendBase64 checks AppendBase64 against base64 of Encode for every
// certificate alignment: attached content of lengths 0 to 5 moves the
// certificates across the three base64 group offsets.
func TestAppendBase64(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	k := issue(t, ca, "EC-P256")
	for _, levels := range []int{0, 1, 2} {
		s, err := cms.NewSigner(cms.Options{Chain: []*x509.Certificate{k.cert, ca.Cert}, IncludeCertificates: levels,
			Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}, CAdES: true})
		if err != nil {
			t.Fatal(err)
		}
		for n := -1; n <= 5; n++ {
			var content []byte
			if n >= 0 {
				content = bytes.Repeat([]byte{'x'}, n)
			}
			d := sha256.Sum256(content)
			p, err := s.Prepare(d[:], time.Now())
			if err != nil {
				t.Fatal(err)
			}
			sig := bytes.Repeat([]byte{7}, 70+n%3)
			der, err := p.Encode(sig, content)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := p.AppendBase64([]byte("prefix:"), nil, sig, content)
			if err != nil {
				t.Fatal(err)
			}
			if want := "prefix:" + base64.StdEncoding.EncodeToString(der); string(got) != want {
				t.Fatalf("levels %d, content %d: AppendBase64 differs from base64 of Encode", levels, n)
			}
		}
		d := sha256.Sum256(nil)
		p, _ := s.Prepare(d[:], time.Now())
		if _, _, err := p.AppendBase64(nil, nil, nil, nil); err == nil {
			t.Fatal("AppendBase64 accepts an empty signature")
		}
	}
}
