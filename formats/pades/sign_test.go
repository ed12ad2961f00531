package pades_test

import (
	"strings"
	"testing"

	"github.com/signet-project/signet/formats/pades"
)

func TestSignProducers(t *testing.T) {
	t.Parallel()
	s := newSigner(t)
	base := goPDF("Hello PAdES")
	docs := map[string][]byte{
		"go":          base,
		"qpdf":        qpdfPDF(t, base),
		"ghostscript": ghostscriptPDF(t, "Hello from ps2pdf"),
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := s.sign(t, doc, pades.Options{Reason: "Approval", Location: "Zürich"})
			qpdfCheck(t, out)
			rep := pdfsig(t, out)
			for _, want := range []string{"Signature Validation: Signature is Valid.", "Signature Type: ETSI.CAdES.detached", "Total document signed"} {
				if !strings.Contains(rep, want) {
					t.Errorf("pdfsig lacks %q:\n%s", want, rep)
				}
			}
		})
	}
}
