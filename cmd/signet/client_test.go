package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestClientSignAndBatch signs a folder with signet client sign (one request
// per file, client-side hashing) and signet client batch, and verifies every
// output with openssl.
func TestClientSignAndBatch(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	in := t.TempDir()
	for i := range 5 {
		os.WriteFile(filepath.Join(in, fmt.Sprintf("doc%d.txt", i)), []byte(fmt.Sprintf("document %d\n", i)), 0o644)
	}
	ca := filepath.Join(s.data, "demo-ca.pem")
	cases := []struct {
		name string
		args []string
	}{
		{"sign", []string{"client", "sign", "-clientside", "-meta", "USING_BATCHSIGNING=false", "-threads", "3"}},
		{"batch", []string{"client", "batch", "-clientside", "-size", "2"}},
		{"batch-documents", []string{"client", "batch", "-size", "3", "-digest", "SHA-384"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			var stdout, stderr bytes.Buffer
			args := append(append(append([]string{}, c.args...), s.tlsArgs()...), "-url", s.url, "-worker", "CAdESSigner", "-out", out, in)
			if err := run(t.Context(), args, &stdout, &stderr); err != nil {
				t.Fatalf("%v: %s", err, stderr.String())
			}
			if got := stdout.String(); got != "5 signed, 0 failed\n" {
				t.Fatalf("client printed %q", got)
			}
			for i := range 5 {
				doc, _ := os.ReadFile(filepath.Join(in, fmt.Sprintf("doc%d.txt", i)))
				sig, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("doc%d.txt.p7s", i)))
				if err != nil {
					t.Fatal(err)
				}
				if err := opensslVerify(t, sig, doc, ca, true); err != nil {
					t.Fatalf("doc%d: %v", i, err)
				}
			}
		})
	}
}

// TestClientDefaults signs with the defaults of client sign and client
// batch against the demo workers, beside the inputs, twice: the second run
// signs the documents again and not the signatures of the first.
func TestClientDefaults(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ca := filepath.Join(s.data, "demo-ca.pem")
	for _, cmd := range []string{"sign", "batch"} {
		t.Run(cmd, func(t *testing.T) {
			in := t.TempDir()
			for i := range 3 {
				os.WriteFile(filepath.Join(in, fmt.Sprintf("doc%d.txt", i)), []byte(fmt.Sprintf("document %d\n", i)), 0o644)
			}
			for range 2 {
				var stdout, stderr bytes.Buffer
				if err := run(t.Context(), append(append([]string{"client", cmd, "-url", s.url}, s.tlsArgs()...), in), &stdout, &stderr); err != nil {
					t.Fatalf("%v: %s", err, stderr.String())
				}
				if got := stdout.String(); got != "3 signed, 0 failed\n" {
					t.Fatalf("client %s printed %q", cmd, got)
				}
			}
			entries, _ := os.ReadDir(in)
			if len(entries) != 6 {
				t.Fatalf("%d files after two runs, want 3 documents and 3 signatures", len(entries))
			}
			for i := range 3 {
				doc := filepath.Join(in, fmt.Sprintf("doc%d.txt", i))
				content, _ := os.ReadFile(doc)
				sig, err := os.ReadFile(doc + ".p7s")
				if err != nil {
					t.Fatal(err)
				}
				if err := opensslVerify(t, sig, content, ca, true); err != nil {
					t.Fatalf("doc%d: %v", i, err)
				}
			}
		})
	}
	// -out keeps the folders below the one given: two documents of the same
	// name get two signatures.
	in, out := t.TempDir(), t.TempDir()
	for _, sub := range []string{"a", "b"} {
		os.MkdirAll(filepath.Join(in, sub), 0o755)
		os.WriteFile(filepath.Join(in, sub, "x.txt"), []byte("document "+sub), 0o644)
	}
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), append(append([]string{"client", "sign", "-url", s.url}, s.tlsArgs()...), "-out", out, in), &stdout, &stderr); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	for _, sub := range []string{"a", "b"} {
		sig, err := os.ReadFile(filepath.Join(out, sub, "x.txt.p7s"))
		if err != nil {
			t.Fatal(err)
		}
		if err := opensslVerify(t, sig, []byte("document "+sub), ca, true); err != nil {
			t.Fatalf("%s/x.txt: %v", sub, err)
		}
	}
}

// TestClientBatchAttached: client batch names an attached signature (the
// document inside it) .p7m, as client sign does, not .p7s, the name of a
// detached signature beside its document.
func TestClientBatchAttached(t *testing.T) {
	t.Parallel()
	cfgFile, _ := writeMatrixConfig(t)
	s := startServer(t, "--config", cfgFile)
	worker := "CMSSigner-" + matrixKeys[0].alias // attached, batch allowed
	for _, cmd := range []string{"sign", "batch"} {
		t.Run(cmd, func(t *testing.T) {
			in := t.TempDir()
			if err := os.WriteFile(filepath.Join(in, "doc.txt"), []byte("document\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			if err := run(t.Context(), append(append([]string{"client", cmd, "-url", s.url, "-worker", worker}, s.tlsArgs()...), in), &stdout, &stderr); err != nil {
				t.Fatalf("%v: %s", err, stderr.String())
			}
			var names []string
			entries, _ := os.ReadDir(in)
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if fmt.Sprint(names) != "[doc.txt doc.txt.p7m]" {
				t.Errorf("client %s wrote %v, want doc.txt.p7m beside doc.txt", cmd, names)
			}
		})
	}
}

// TestClientPDFSigner: client sign and client batch sign a folder's PDFs with
// the demo PDFSigner, each written as FILE.signed.pdf. A batch of documents
// names no hashingAlgorithm unless -digest chooses one: the client sent
// SHA-256 with every item, and PDFSigner, which signs no digest a client
// chooses, refused the whole batch.
func TestClientPDFSigner(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	pdf, err := os.ReadFile(filepath.Join("..", "..", "testdata", "samples", "invoice.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"sign", "batch"} {
		t.Run(cmd, func(t *testing.T) {
			in := t.TempDir()
			if err := os.WriteFile(filepath.Join(in, "invoice.pdf"), pdf, 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			if err := run(t.Context(), append(append([]string{"client", cmd, "-url", s.url, "-worker", "PDFSigner"}, s.tlsArgs()...), in), &stdout, &stderr); err != nil {
				t.Fatalf("%v: %s", err, stderr.String())
			}
			if got := stdout.String(); got != "1 signed, 0 failed\n" {
				t.Fatalf("client %s printed %q: %s", cmd, got, stderr.String())
			}
			signed, err := os.ReadFile(filepath.Join(in, "invoice.pdf.signed.pdf"))
			if err != nil || !bytes.HasPrefix(signed, []byte("%PDF-")) || len(signed) <= len(pdf) {
				t.Fatalf("invoice.pdf.signed.pdf: %d bytes, %v; want the PDF signed", len(signed), err)
			}
		})
	}
}
