package workers_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/validate"
	"github.com/signet-project/signet/workers"
)

// validator builds a validator of kind trusting the fixture's CA.
func (f *fixture) validator(t *testing.T, kind string) workers.Worker {
	t.Helper()
	anchors := filepath.Join(t.TempDir(), "anchors.pem")
	if err := os.WriteFile(anchors, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.ca.Cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f.workerOf(t, kind, "TRUSTANCHORS: "+anchors)
}

func report(t *testing.T, w workers.Worker, body []byte) validate.Report {
	t.Helper()
	resp, err := process(w, body, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	var rep validate.Report
	if err := json.Unmarshal(resp.Data, &rep); err != nil || resp.ContentType != workers.ContentTypeJSON {
		t.Fatalf("report %s: %v", resp.Data, err)
	}
	return rep
}

// TestCMSValidatorRequests validates a detached CAdES signature with its
// content, with its digest, and against changed content, the signature of
// an empty document with its content "", and an attached CMS signature
// given bare or in PEM, or with another content.
func TestCMSValidatorRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	doc := []byte("a contract")
	detached, err := process(f.worker(t, "DETACHEDSIGNATURE: true"), doc, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	attached, err := process(f.workerOf(t, config.KindCMSSigner, ""), doc, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	// A signer signs an empty document; its content is "" in the request.
	empty, err := process(f.worker(t, "DETACHEDSIGNATURE: true"), []byte{}, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	sum := sha256.Sum256(doc)
	js := func(m map[string]string) []byte { b, _ := json.Marshal(m); return b }
	v := f.validator(t, config.KindCMSValidator)
	for _, c := range []struct {
		name, ind, sub, level string
		body                  []byte
		says                  string // in the messages, when set
	}{
		{"content", validate.TotalPassed, "", "CAdES-BASELINE-B", js(map[string]string{"signature": b64(detached.Data), "content": b64(doc)}), ""},
		{"digest", validate.TotalPassed, "", "CAdES-BASELINE-B", js(map[string]string{"signature": b64(detached.Data), "digest": b64(sum[:]), "digestAlgorithm": "SHA-256"}), ""},
		{"changed content", validate.TotalFailed, validate.HashFailure, "", js(map[string]string{"signature": b64(detached.Data), "content": b64([]byte("a contrast"))}), ""},
		// The message names the fix of both callers, the API and signet verify.
		{"no content", validate.Indeterminate, validate.SignedDataNotFound, "", js(map[string]string{"signature": b64(detached.Data)}), "signet verify: -content FILE"},
		{"empty content", validate.TotalPassed, "", "CAdES-BASELINE-B", js(map[string]string{"signature": b64(empty.Data), "content": ""}), ""},
		{"empty content, not sent", validate.Indeterminate, validate.SignedDataNotFound, "", js(map[string]string{"signature": b64(empty.Data)}), ""},
		{"attached, with other content", validate.TotalFailed, validate.HashFailure, "", js(map[string]string{"signature": b64(attached.Data), "content": b64([]byte("a contrast"))}), ""},
		{"attached", validate.TotalPassed, "", "", attached.Data, ""},
		{"attached PEM", validate.TotalPassed, "", "", pem.EncodeToMemory(&pem.Block{Type: "CMS", Bytes: attached.Data}), ""},
		{"not CMS", validate.Indeterminate, validate.FormatFailure, "", []byte("hello"), ""},
	} {
		rep := report(t, v, c.body)
		s := rep.Signatures[0]
		if rep.Indication != c.ind || s.SubIndication != c.sub || s.Level != c.level {
			t.Errorf("%s: %s/%s %q, want %s/%s %q (%v)", c.name, rep.Indication, s.SubIndication, s.Level, c.ind, c.sub, c.level, s.Messages)
		}
		if c.says != "" && !strings.Contains(strings.Join(s.Messages, " "), c.says) {
			t.Errorf("%s: messages %q do not say %q", c.name, s.Messages, c.says)
		}
	}
	long := strings.Repeat("y", 5000)
	for _, c := range []struct{ name, body, says string }{
		{"wrong type", `{"signature": 1}`, `The request is not JSON of the form`},
		// Client text is quoted up to 128 bytes, not whole.
		{"long unknown field", `{"signature":"AA==","` + long + `":1}`, `unknown field "` + long[:128] + `"…`},
		{"long digestAlgorithm", `{"signature":"AA==","digestAlgorithm":"` + long + `"}`, `Unknown digestAlgorithm "` + long[:128] + `"…: use`},
	} {
		_, err = process(v, []byte(c.body), map[string]string{})
		wantErr(t, err, workers.ErrIllegalRequest, c.says)
		if len(err.Error()) > 512 {
			t.Errorf("%s: the error repeats the request whole: %.600q", c.name, err)
		}
	}
}

func TestPDFValidatorRefusesNonPDF(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := process(f.validator(t, config.KindPDFValidator), []byte("hello"), map[string]string{})
	wantErr(t, err, workers.ErrIllegalRequest, "The document cannot be validated: the document does not start with %PDF-")
	// Removing the encryption rewrites the file and breaks its signatures
	// (qpdf --decrypt of a PDF pdfsig signed: pdfsig no longer verifies it),
	// so the validator does not tell the client to do it, as the signer
	// does.
	for _, user := range []string{"", "user"} {
		_, err = process(f.validator(t, config.KindPDFValidator), encrypted(t, user), map[string]string{})
		wantErr(t, err, workers.ErrIllegalRequest, "The document cannot be validated: the PDF is encrypted")
		if strings.Contains(err.Error(), "remove the encryption") {
			t.Errorf("user password %q: %q tells the client to break the signatures", user, err)
		}
	}
	rep := report(t, f.validator(t, config.KindPDFValidator), onePage())
	if rep.Indication != validate.Indeterminate || len(rep.Signatures) != 0 {
		t.Errorf("an unsigned PDF: %s with %d signatures", rep.Indication, len(rep.Signatures))
	}
}
