package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/tokens/soft"
)

// TestImportSignServerServes imports SignServer property files (a worker of
// each kind with the keystore crypto worker they name, an old-style dump
// with the token inside the signer, and a PKCS#11 crypto worker on
// SoftHSM2), checks the YAML with config check, serves it, and verifies
// what each imported worker signs with openssl (and Go for the raw
// PlainSigner signature). The test only points the imported keystore path
// and slot label at its own files: everything else is as the files say.
func TestImportSignServerServes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	files, _, err := demo.Bootstrap(ctx, filepath.Join(dir, "demo"))
	if err != nil {
		t.Fatal(err)
	}
	pin, err := os.ReadFile(files.PIN)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIGNET_PIN_CRYPTOTOKENP12", strings.TrimSpace(string(pin)))
	t.Setenv("SIGNET_PIN_LEGACYCMSTOKEN", strings.TrimSpace(string(pin)))
	t.Setenv("SIGNET_PIN_CRYPTOTOKENP11", e2ePIN)

	module, _ := useSoftHSM(t, importLabel, false)
	issueHSMCerts(t, module, importLabel, mustLoadCA(t, files), "p256")

	corpus := filepath.Join("..", "..", "testdata", "signserver")
	var in []string
	for _, name := range []string{"keystore-crypto.properties", "cmssigner.properties", "cadessigner.properties",
		"plainsigner.properties", "timestamp.properties", "dump-legacy.properties", "pkcs11-crypto.properties"} {
		b, err := os.ReadFile(filepath.Join(corpus, name))
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("/opt/signserver/keystores/signers.p12"), []byte(files.Keystore))
		b = bytes.ReplaceAll(b, []byte("/opt/signserver/keystores/legacy.p12"), []byte(files.Keystore))
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		in = append(in, p)
	}
	// A signer on the PKCS#11 crypto worker, as setproperties would add it.
	hsmSigner := filepath.Join(dir, "hsmsigner.properties")
	if err := os.WriteFile(hsmSigner, []byte("WORKERGENID1.TYPE=PROCESSABLE\n"+
		"WORKERGENID1.IMPLEMENTATION_CLASS=org.signserver.module.cmssigner.CMSSigner\n"+
		"WORKERGENID1.NAME=HSMSigner\nWORKERGENID1.AUTHTYPE=NOAUTH\n"+
		"WORKERGENID1.CRYPTOTOKEN=CryptoTokenP11\nWORKERGENID1.DEFAULTKEY=p256\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in = append(in, hsmSigner)

	yamlFile := filepath.Join(dir, "signet.yaml")
	var out, errOut bytes.Buffer
	if err := run(ctx, append([]string{"config", "import-signserver", "-o", yamlFile}, in...), &out, &errOut); err != nil {
		t.Fatalf("import-signserver: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"ARCHIVER0.ARCHIVE_OF_TYPE=REQUEST_AND_RESPONSE is ARCHIVE_OF_TYPE REQUEST_AND_RESPONSE", "XAdESSigner: Signet has no XAdESSigner worker", "CryptoTokenP11.ATTRIBUTES"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("the report does not list %q:\n%s", want, errOut.String())
		}
	}
	out.Reset()
	errOut.Reset()
	if err := run(ctx, []string{"config", "check", yamlFile}, &out, &errOut); err != nil {
		t.Fatalf("config check refuses the imported YAML: %v\n%s", err, errOut.String())
	}

	s := launch(t, filepath.Join(dir, "data"), "127.0.0.1:0", "--config", yamlFile)
	doc := []byte("an invoice imported from SignServer\n")
	caFile := files.CA
	for _, tc := range []struct {
		worker string
		detach bool
	}{
		{worker: "CMSSigner"},
		{worker: "LegacyCMS", detach: true},
		{worker: "HSMSigner"},
	} {
		code, sig := s.postRaw(t, tc.worker, bytes.NewReader(doc), nil)
		if code != 200 {
			t.Errorf("%s: %d %s", tc.worker, code, sig)
			continue
		}
		ca := caFile // the HSM key's certificate is from the demo CA too
		var content []byte
		if tc.detach {
			content = doc
		}
		if err := opensslVerify(t, sig, content, ca, false); err != nil {
			t.Errorf("%s: openssl refuses the signature: %v", tc.worker, err)
		}
	}

	// CAdESSigner has BATCHSIGNING=true: every request is a batch.
	docs := [][]byte{doc, []byte("a second invoice")}
	code, sigs, body := postHashBatch(t, s, "CAdESSigner", docs)
	if code != 200 || len(sigs) != len(docs) {
		t.Fatalf("CAdESSigner batch: %d %s", code, body)
	}
	for i, sig := range sigs {
		if err := opensslVerify(t, sig, docs[i], caFile, true); err != nil {
			t.Errorf("CAdESSigner item %d: openssl refuses the signature: %v", i, err)
		}
	}

	// PlainSigner: a raw ECDSA signature over SHA-256 of the document.
	code, sig := s.postRaw(t, "PlainSigner", bytes.NewReader(doc), nil)
	if code != 200 {
		t.Fatalf("PlainSigner: %d %s", code, sig)
	}
	cert := demoSignerCert(t, files, strings.TrimSpace(string(pin)), "signer-p256")
	h := sha256.Sum256(doc)
	if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), h[:], sig) {
		t.Error("PlainSigner: the signature does not verify with signer-p256's certificate")
	}

	// TimeStampSigner: an openssl query, and openssl's verification.
	qdir := t.TempDir()
	if err := os.WriteFile(filepath.Join(qdir, "doc"), doc, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runOpenSSL(t, qdir, "ts", "-query", "-data", "doc", "-sha256", "-cert", "-out", "q.tsq"); err != nil {
		t.Fatalf("openssl ts -query: %v\n%s", err, out)
	}
	query, err := os.ReadFile(filepath.Join(qdir, "q.tsq"))
	if err != nil {
		t.Fatal(err)
	}
	code, _, reply := postQuery(t, s, "TimeStampSigner", query)
	if code != 200 {
		t.Fatalf("TimeStampSigner: %d %s", code, reply)
	}
	if err := os.WriteFile(filepath.Join(qdir, "r.tsr"), reply, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runOpenSSL(t, qdir, "ts", "-verify", "-data", "doc", "-in", "r.tsr", "-CAfile", caFile); err != nil {
		t.Errorf("openssl ts -verify: %v\n%s", err, out)
	}
}

func mustLoadCA(t *testing.T, f demo.Files) *demo.CA {
	t.Helper()
	ca, err := demo.LoadCA(f)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// demoSignerCert reads a demo key's certificate from the demo keystore.
func demoSignerCert(t *testing.T, f demo.Files, pin, alias string) *x509.Certificate {
	t.Helper()
	ctx := context.Background()
	tok, err := soft.Open(soft.Options{Path: f.Keystore, Type: soft.TypePKCS12})
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Activate(ctx, pin); err != nil {
		t.Fatal(err)
	}
	chain, err := tok.Chain(ctx, alias)
	if err != nil || len(chain) == 0 {
		t.Fatalf("chain of %s: %v %v", alias, chain, err)
	}
	return chain[0]
}

// TestImportNothingExits1: config import-signserver of a file from which
// nothing is imported exits 1 with the problem, not 0 as a clean import.
func TestImportNothingExits1(t *testing.T) {
	t.Parallel()
	empty := filepath.Join(t.TempDir(), "empty.properties")
	if err := os.WriteFile(empty, []byte("# nothing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"config", "import-signserver", empty}, &out, &errb)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(errb.String(), "Nothing was imported: "+empty+" holds no SignServer worker") {
		t.Errorf("%v, stderr %q; want exit 1 saying nothing was imported", err, errb.String())
	}
}
