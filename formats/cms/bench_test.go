package cms_test

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"testing"
	"time"

	"github.com/signet-project/signet/formats/cms"
)

// BenchmarkSignPipeline compares a raw P-256 ecdsa.Sign with the whole
// per-item path of a batch (Prepare, Sign, Encode); the goal is a pipeline
// throughput of at least 0.9 of the raw signature.
func BenchmarkSignPipeline(b *testing.B) {
	ca := newCA(b)
	k := issue(b, ca, "EC-P256")
	s, err := cms.NewSigner(cms.Options{Chain: []*x509.Certificate{k.cert, ca.Cert}, IncludeCertificates: 1,
		Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}, CAdES: true})
	if err != nil {
		b.Fatal(err)
	}
	digest := make([]byte, 32)
	now := time.Now()
	b.Run("raw-ecdsa", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := k.key.Sign(rand.Reader, digest, crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cades-pipeline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := s.Prepare(digest, now)
			if err != nil {
				b.Fatal(err)
			}
			sig, err := k.key.Sign(rand.Reader, p.Input(), s.SignerOpts())
			if err != nil {
				b.Fatal(err)
			}
			if _, err := p.Encode(sig, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
