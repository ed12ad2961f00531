package pades_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"testing"
	"time"

	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/formats/pades"
	"github.com/signet-project/signet/internal/demo"
)

// signer is a key and its chain from a fresh test CA.
type signer struct {
	key   crypto.Signer
	chain []*x509.Certificate
}

func newSigner(t testing.TB) signer {
	t.Helper()
	ca, err := demo.NewCA("Signet PAdES Test CA")
	if err != nil {
		t.Fatal(err)
	}
	k, err := demo.NewKey("EC-P256")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.Issue("PAdES test signer", k.Public(), demo.DocumentSigning, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return signer{k, []*x509.Certificate{c, ca.Cert}}
}

// sign makes a PAdES-BASELINE-B signature of doc the way the worker does.
func (s signer) sign(t testing.TB, doc []byte, opts pades.Options) []byte {
	t.Helper()
	alg, err := cms.DefaultAlgorithm(s.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := cms.NewSigner(cms.Options{Chain: s.chain, Algorithm: alg, CAdES: true, OmitSigningTime: true, IncludeCertificates: -1})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Time.IsZero() {
		opts.Time = time.Now()
	}
	sign := func(_ context.Context, in []byte) ([]byte, error) { return s.key.Sign(nil, in, cs.SignerOpts()) }
	out, err := pades.Sign(context.Background(), doc, cs, sign, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
