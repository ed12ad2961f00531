package pades_test

import (
	"context"
	"testing"

	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/formats/pades"
	"github.com/signet-project/signet/formats/pades/padestest"
)

// TestSignProducers signs PDFs of three producers, visibly and not, then
// again, and has pdfsig and qpdf check each result.
func TestSignProducers(t *testing.T) {
	t.Parallel()
	s := newSigner(t)
	for name, doc := range padestest.Producers(t, "Hello PAdES") {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			once := s.sign(t, doc, pades.Options{Reason: "Approval", Location: "Zürich", CertificationLevel: 2})
			padestest.QPDFCheck(t, once)
			padestest.CheckPDFSig(t, once, 1, true)
			visible := &pades.Appearance{Page: 0, Rect: [4]float64{300, 700, 500, 760}, Text: "Signed by Signet\nsecond line"}
			twice := s.sign(t, once, pades.Options{Reason: "second", Appearance: visible})
			padestest.QPDFCheck(t, twice)
			padestest.CheckPDFSig(t, twice, 2, true)

			in, err := pades.Inspect(context.Background(), twice, pades.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(in.Signatures) != 2 || in.Signatures[0].DocMDP != 2 || in.Signatures[1].Reason != "second" || in.Signatures[0].Location != "Zürich" {
				t.Fatalf("inspection: %+v", in.Signatures)
			}
			sd, err := cms.Parse(in.Signatures[1].Contents)
			if err != nil {
				t.Fatal(err)
			}
			si := sd.Signers[0]
			if !si.SigningTime.IsZero() || !si.HasSigningCertificateV2 {
				t.Errorf("PAdES attributes: signing-time %v, signing-certificate-v2 %v", si.SigningTime, si.HasSigningCertificateV2)
			}
		})
	}
}

// TestCertifiedNoChanges: a document certified with no changes allowed is
// not signed again, and a certification signature must be the first.
func TestCertifiedNoChanges(t *testing.T) {
	t.Parallel()
	s := newSigner(t)
	locked := s.sign(t, padestest.GoPDF("locked"), pades.Options{CertificationLevel: 1})
	if _, err := pades.Prepare(context.Background(), locked, pades.Options{ContentsSize: 100}); err == nil {
		t.Error("a document certified with DocMDP P=1 was prepared for another signature")
	}
	signed := s.sign(t, padestest.GoPDF("signed"), pades.Options{})
	if _, err := pades.Prepare(context.Background(), signed, pades.Options{ContentsSize: 100, CertificationLevel: 2}); err == nil {
		t.Error("a certification signature was prepared after an approval signature")
	}
}
