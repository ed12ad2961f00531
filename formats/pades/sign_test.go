package pades_test

import (
	"context"
	"errors"
	"strings"
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

// certifiedPDF is a one-page document whose catalog's /Perms /DocMDP
// names a certification signature (not a real one: Prepare reads the
// structure only) with the DocMDP transform params given, and the extra
// objects 6, 7, … after it.
func certifiedPDF(params string, extra ...string) []byte {
	return padestest.Classic("%PDF-1.7\n", "", append([]string{
		"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] /SigFlags 3 >> /Perms << /DocMDP 5 0 R >> >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots [4 0 R] >>",
		"<< /Type /Annot /Subtype /Widget /FT /Sig /T (Certification) /V 5 0 R /Rect [0 0 0 0] /P 3 0 R >>",
		"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /ByteRange [0 0 0 0] /Contents <00> /Reference [<< /Type /SigRef /TransformMethod /DocMDP " + params + " >>] >>",
	}, extra...)...)
}

// TestCertifiedNoChanges: a document certified with no changes allowed is
// not signed again, however its DocMDP /P is written; P=2, P=3 and no /P
// (which reads as 2) take approval signatures. A certification signature
// must be the first.
func TestCertifiedNoChanges(t *testing.T) {
	t.Parallel()
	s := newSigner(t)
	for _, c := range []struct {
		name   string
		doc    []byte
		refuse bool
	}{
		{"certified by Signet, P=1", s.sign(t, padestest.GoPDF("locked"), pades.Options{CertificationLevel: 1}), true},
		{"certified by Signet, P=2", s.sign(t, padestest.GoPDF("form"), pades.Options{CertificationLevel: 2}), false},
		{"P=1", certifiedPDF("/TransformParams << /Type /TransformParams /P 1 /V /1.2 >>"), true},
		{"P=1, params an indirect object", certifiedPDF("/TransformParams 6 0 R", "<< /Type /TransformParams /P 1 /V /1.2 >>"), true},
		{"P=1, P an indirect object", certifiedPDF("/TransformParams << /P 6 0 R >>", "1"), true},
		{"P=3", certifiedPDF("/TransformParams << /P 3 >>"), false},
		{"no P", certifiedPDF("/TransformParams << /V /1.2 >>"), false},
		{"no params", certifiedPDF(""), false},
	} {
		_, err := pades.Prepare(context.Background(), c.doc, pades.Options{ContentsSize: 100})
		switch {
		case c.refuse && (!errors.Is(err, pades.ErrInvalidPDF) || !strings.Contains(err.Error(), "DocMDP P=1")):
			t.Errorf("%s: Prepare: %v, want the DocMDP P=1 refusal", c.name, err)
		case !c.refuse && err != nil:
			t.Errorf("%s: Prepare: %v, want an approval signature prepared", c.name, err)
		}
	}
	signed := s.sign(t, padestest.GoPDF("signed"), pades.Options{})
	if _, err := pades.Prepare(context.Background(), signed, pades.Options{ContentsSize: 100, CertificationLevel: 2}); err == nil {
		t.Error("a certification signature was prepared after an approval signature")
	}
}

// formPDF is a one-page form, as a form designer leaves it for signing:
// an empty signature field Signature1 and a text field Signature2.
func formPDF() []byte { return formPDFListing("4 0 R 5 0 R") }

// formPDFListing is formPDF whose AcroForm lists the fields given.
func formPDFListing(fields string) []byte {
	return padestest.Classic("%PDF-1.7\n", "",
		"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields ["+fields+"] >> >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots [4 0 R 5 0 R] >>",
		"<< /Type /Annot /Subtype /Widget /FT /Sig /T (Signature1) /Rect [50 50 250 100] /P 3 0 R >>",
		"<< /Type /Annot /Subtype /Widget /FT /Tx /T (Signature2) /V (typed name) /Rect [50 150 250 200] /P 3 0 R >>")
}

// TestFieldNames: a signature field gets a name no field of the document
// has, since fields of one name are one field (ISO 32000-1, 12.7.3.2); a
// configured name that is taken is refused rather than given twice. A
// field the AcroForm lists twice was refused as a loop in the field tree.
func TestFieldNames(t *testing.T) {
	t.Parallel()
	s := newSigner(t)
	approved := s.sign(t, padestest.GoPDF("approved"), pades.Options{FieldName: "Approval"})
	for _, c := range []struct {
		name      string
		doc       []byte
		fieldName string
		want      string // the new field's name; "" when refused
	}{
		{"a form with fields Signature1 and Signature2", formPDF(), "", "Signature3"},
		{"a document without fields", padestest.GoPDF("plain"), "", "Signature1"},
		{"a configured name, free", formPDF(), "Approval", "Approval"},
		{"a configured name, taken", approved, "Approval", ""},
		// Listed twice is still one field, as qpdf and PDF readers take
		// it: not a loop in the field tree.
		{"a form listing a field twice", formPDFListing("4 0 R 5 0 R 4 0 R"), "", "Signature3"},
	} {
		if c.want == "" {
			if _, err := pades.Prepare(context.Background(), c.doc, pades.Options{ContentsSize: 100, FieldName: c.fieldName}); !errors.Is(err, pades.ErrInvalidPDF) {
				t.Errorf("%s: Prepare: %v, want ErrInvalidPDF", c.name, err)
			}
			continue
		}
		out := s.sign(t, c.doc, pades.Options{FieldName: c.fieldName})
		padestest.QPDFCheck(t, out)
		in, err := pades.Inspect(context.Background(), out, pades.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		var fields []string
		for _, sig := range in.Signatures {
			fields = append(fields, sig.Field)
		}
		if len(fields) != 1 || fields[0] != c.want {
			t.Errorf("%s: signatures in fields %q, want one in field %s", c.name, fields, c.want)
		}
	}
}
