package workers

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"testing"
	"time"

	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/internal/demo"
)

// TestAppendTimeStampMatchesCMS checks that the fast path of addTimeStamp
// encodes exactly what cms.Parse, AddUnsignedAttribute and Bytes encode,
// for detached and attached signatures, and leaves other shapes to them.
func TestAppendTimeStampMatchesCMS(t *testing.T) {
	ca, err := demo.NewCA("Test CA")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := demo.NewKey("EC-P256")
	cert, err := ca.Issue("signer", key.Public(), demo.DocumentSigning, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s, err := cms.NewSigner(cms.Options{Chain: []*x509.Certificate{cert, ca.Cert}, IncludeCertificates: -1, Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}, CAdES: true})
	if err != nil {
		t.Fatal(err)
	}
	token, _ := asn1.Marshal(struct{ A, B int }{1, 2}) // any one DER element
	for _, content := range [][]byte{nil, []byte("attached content")} {
		d := sha256.Sum256(content)
		p, err := s.Prepare(d[:], time.Now())
		if err != nil {
			t.Fatal(err)
		}
		sig, err := key.Sign(rand.Reader, p.Input(), s.SignerOpts())
		if err != nil {
			t.Fatal(err)
		}
		der, err := p.Encode(sig, content)
		if err != nil {
			t.Fatal(err)
		}
		fast, ok := appendTimeStamp(der, token)
		if !ok {
			t.Fatal("appendTimeStamp refused a signature made by formats/cms")
		}
		sd, err := cms.Parse(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := sd.AddUnsignedAttribute(0, cms.OIDSignatureTimeStampToken, token); err != nil {
			t.Fatal(err)
		}
		slow, err := sd.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fast, slow) {
			t.Fatalf("content %q: appendTimeStamp and cms encode differently", content)
		}
		// A second time-stamp: the SignerInfo has unsigned attributes now,
		// so the fast path steps aside and cms adds it.
		if _, ok := appendTimeStamp(fast, token); ok {
			t.Fatal("appendTimeStamp extended a SignerInfo that has unsigned attributes")
		}
		twice, err := addTimeStamp(fast, token)
		if err != nil {
			t.Fatal(err)
		}
		if sd, err := cms.Parse(twice); err != nil || len(sd.Signers[0].UnsignedAttributes) != 2 {
			t.Fatalf("second time-stamp: %v", err)
		}
	}
	if _, ok := appendTimeStamp([]byte("garbage"), token); ok {
		t.Fatal("appendTimeStamp accepted garbage")
	}
}
