package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-project/signet/formats/pades"
	"github.com/signet-project/signet/formats/pades/padestest"
	"github.com/signet-project/signet/formats/validate"
	"github.com/signet-project/signet/workers"
)

// TestDemoPAdES signs PDFs of three producers with the demo's PDFSigner,
// PDFSignerT and PDFSignerLT, and checks each with pdfsig, qpdf and the
// demo's PDFValidator: B-LT documents hold the demo CA's CRL, which the demo
// server publishes, and read as B-T without their DSS; a second signature
// keeps the first valid; a changed byte fails pdfsig and the validator.
func TestDemoPAdES(t *testing.T) {
	t.Parallel()
	s := launch(t, t.TempDir(), loopbackAddr(t)) // the certificates name this address's CRL
	resp, err := http.Get(s.url + "/crl/demo-ca.crl")
	if err != nil {
		t.Fatal(err)
	}
	crlDER, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	ca := demoCA(t, s)
	crl, err := x509.ParseRevocationList(crlDER)
	if err != nil || crl.CheckSignatureFrom(ca) != nil || resp.Header.Get("Content-Type") != "application/pkix-crl" {
		t.Fatalf("the demo CRL: %v (%s)", err, resp.Header.Get("Content-Type"))
	}
	levels := []struct {
		worker, level string
		meta          map[string]string
	}{
		{"PDFSigner", "PAdES-BASELINE-B", map[string]string{"USING_BATCHSIGNING": "false"}},
		{"PDFSignerT", "PAdES-BASELINE-T", nil},
		{"PDFSignerLT", "PAdES-BASELINE-LT", nil},
	}
	for name, doc := range padestest.Producers(t, "Invoice 42") {
		for _, l := range levels {
			code, out := s.postRaw(t, l.worker, bytes.NewReader(doc), l.meta)
			if code != http.StatusOK {
				t.Fatalf("%s %s: %d %s", name, l.worker, code, out)
			}
			padestest.QPDFCheck(t, out)
			in, err := pades.Inspect(context.Background(), out, pades.Limits{})
			if err != nil || len(in.Signatures) != 1 {
				t.Fatalf("%s %s: %v", name, l.worker, err)
			}
			signed := out[:in.Signatures[0].Revision] // the signature's revision: without the DSS at B-LT
			padestest.CheckPDFSig(t, signed, 1, true)
			padestest.CheckPDFSig(t, out, 1, l.worker != "PDFSignerLT")
			if rep := s.validatePDF(t, out); rep.Indication != validate.TotalPassed || rep.Signatures[0].Level != l.level {
				t.Errorf("%s %s: %s %s %v", name, l.worker, rep.Indication, rep.Signatures[0].Level, rep.Signatures[0].Messages)
			}
			if l.worker != "PDFSignerLT" {
				continue
			}
			if in.DSS == nil || len(in.DSS.CRLs) == 0 || !bytes.Equal(in.DSS.CRLs[0], crlDER) && !sameIssuer(in.DSS.CRLs[0], ca) {
				t.Errorf("%s: the DSS lacks the demo CA's CRL", name)
			}
			if rep := s.validatePDF(t, signed); rep.Signatures[0].Level != "PAdES-BASELINE-T" {
				t.Errorf("%s: without its DSS the B-LT document reads as %s", name, rep.Signatures[0].Level)
			}
			// Signed twice: the first signature stays valid.
			code, twice := s.postRaw(t, "PDFSigner", bytes.NewReader(out), map[string]string{"USING_BATCHSIGNING": "false"})
			if code != http.StatusOK {
				t.Fatalf("second signature: %d %s", code, twice)
			}
			padestest.CheckPDFSig(t, twice, 2, true)
			if rep := s.validatePDF(t, twice); rep.Indication != validate.TotalPassed || len(rep.Signatures) != 2 {
				t.Errorf("%s signed twice: %s", name, rep.Indication)
			}
			// A byte changed inside the signed range: in the binary comment
			// after the header, which readers skip.
			bad := bytes.Clone(out)
			if bad[9] != '%' {
				t.Fatalf("%s: no binary comment line after the header: %q", name, bad[:16])
			}
			bad[10] ^= 1
			if rep := padestest.PDFSig(t, bad); strings.Contains(rep, "Signature is Valid.") {
				t.Errorf("%s: pdfsig accepts a changed byte:\n%s", name, rep)
			}
			if rep := s.validatePDF(t, bad); rep.Indication != validate.TotalFailed || rep.Signatures[0].SubIndication != validate.HashFailure {
				t.Errorf("%s: the validator says %s/%s for a changed byte", name, rep.Indication, rep.Signatures[0].SubIndication)
			}
		}
	}
}

// validatePDF asks the demo's PDFValidator.
func (s *server) validatePDF(t *testing.T, doc []byte) validate.Report {
	t.Helper()
	code, out := s.postRaw(t, "PDFValidator", bytes.NewReader(doc), nil)
	var rep validate.Report
	if code != http.StatusOK || json.Unmarshal(out, &rep) != nil || len(rep.Signatures) == 0 {
		t.Fatalf("PDFValidator: %d %s", code, out)
	}
	return rep
}

func demoCA(t *testing.T, s *server) *x509.Certificate {
	t.Helper()
	certs, err := workers.ReadCertificates(filepath.Join(s.data, "demo-ca.pem"))
	if err != nil || len(certs) == 0 {
		t.Fatalf("demo CA: %v", err)
	}
	return certs[0]
}

// sameIssuer reports whether der is a CRL that ca signed.
func sameIssuer(der []byte, ca *x509.Certificate) bool {
	crl, err := x509.ParseRevocationList(der)
	return err == nil && crl.CheckSignatureFrom(ca) == nil
}

// TestDemoCRLHead: the demo CA's CRL answers HEAD as its GET, without the
// body, over https and over the plain http of the same port that the
// certificates name, as every other read of the server does. Over https it
// answered 405: echo routes HEAD to no GET route by itself.
func TestDemoCRLHead(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	for _, base := range []string{s.url, "http://" + strings.TrimPrefix(s.url, "https://")} {
		resp, err := http.Head(base + "/crl/demo-ca.crl")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pkix-crl" || len(body) != 0 {
			t.Errorf("HEAD %s/crl/demo-ca.crl: %d %q with %d bytes, want 200 application/pkix-crl without a body", base, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
	}
}
