package cms_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/internal/demo"
)

// A worker builds one Signer per key and algorithm, then for each document
// hashes the content, prepares the signed attributes, has the token sign
// Input, and encodes the result.
func ExampleSigner() {
	ca, _ := demo.NewCA("Example CA")
	key, _ := demo.NewKey("EC-P256")
	cert, _ := ca.Issue("Example signer", key.Public(), demo.DocumentSigning, time.Hour)
	alg, _ := cms.DefaultAlgorithm(key.Public())

	s, err := cms.NewSigner(cms.Options{Chain: []*x509.Certificate{cert, ca.Cert}, IncludeCertificates: 1, Algorithm: alg, CAdES: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	doc := []byte("hello")
	digest, _, _ := s.Digest(bytes.NewReader(doc))
	p, _ := s.Prepare(digest, time.Now())
	sig, _ := key.Sign(rand.Reader, p.Input(), s.SignerOpts())
	der, _ := p.Encode(sig, nil) // detached

	sd, _ := cms.Parse(der)
	fmt.Println(alg, sd.Signers[0].HasSigningCertificateV2, sd.Verify(bytes.NewReader(doc)))
	// Output: SHA256withECDSA true <nil>
}
