package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/soft"
	"github.com/signet-project/signet/workers"
)

// matrixKeys are every key type Signet signs with.
var matrixKeys = []struct {
	alias string
	spec  tokens.KeySpec
}{
	{"rsa2048", tokens.KeySpec{Algorithm: "RSA", Bits: 2048}},
	{"rsa3072", tokens.KeySpec{Algorithm: "RSA", Bits: 3072}},
	{"rsa4096", tokens.KeySpec{Algorithm: "RSA", Bits: 4096}},
	{"p256", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"}},
	{"p384", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-384"}},
	{"p521", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-521"}},
	{"ed25519", tokens.KeySpec{Algorithm: "Ed25519"}},
}

// writeMatrixConfig makes a keystore with every key type, a CA, and one
// CMSSigner and one CAdESSigner per key (plus an RSA-PSS CAdESSigner).
func writeMatrixConfig(t *testing.T) (cfgFile, caFile string) {
	t.Helper()
	dir := t.TempDir()
	ca, err := demo.NewCA("Matrix CA")
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, demo.PEM(ca.Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	ks, err := soft.Create(soft.Options{Path: filepath.Join(dir, "ks"), Type: "PKCS12", Name: "m"}, "matrix-pin")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var y strings.Builder
	y.WriteString("tokens:\n  - name: m\n    type: soft\n    properties: {KEYSTOREPATH: ks, KEYSTORETYPE: PKCS12}\n    pin: {file: pin}\nworkers:\n")
	const props = "      ALLOW_DETACHEDSIGNATURE_OVERRIDE: true\n      ALLOW_CLIENTSIDEHASHING_OVERRIDE: true\n      ALLOW_BATCHSIGNING_OVERRIDE: true\n      ACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256,SHA-384,SHA-512\n"
	id := 1
	for _, k := range matrixKeys {
		pub, err := ks.GenerateKey(ctx, k.alias, k.spec)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := ca.Issue("signer "+k.alias, pub, demo.DocumentSigning, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := ks.ImportChain(ctx, k.alias, []*x509.Certificate{cert, ca.Cert}); err != nil {
			t.Fatal(err)
		}
		for _, kind := range []string{"CMSSigner", "CAdESSigner"} {
			fmt.Fprintf(&y, "  - name: %s-%s\n    id: %d\n    kind: %s\n    token: m\n    key: %s\n    properties:\n      AUTHTYPE: NOAUTH\n%s", kind, k.alias, id, kind, k.alias, props)
			id++
		}
	}
	fmt.Fprintf(&y, "  - name: CAdESSigner-pss\n    id: %d\n    kind: CAdESSigner\n    token: m\n    key: rsa2048\n    properties:\n      AUTHTYPE: NOAUTH\n      SIGNATUREALGORITHM: SHA256withRSAandMGF1\n%s", id, props)
	if err := os.WriteFile(filepath.Join(dir, "pin"), []byte("matrix-pin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile = filepath.Join(dir, "matrix.yaml")
	if err := os.WriteFile(cfgFile, []byte(y.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgFile, caFile
}

// TestSignatureMatrix signs with every key type × attached/detached ×
// server/client-side hashing × single/batch, over REST and the process
// servlet, and checks each signature with openssl (Ed25519 by its parts).
func TestSignatureMatrix(t *testing.T) {
	t.Parallel()
	cfgFile, caFile := writeMatrixConfig(t)
	s := startServer(t, "--config", cfgFile)
	docs := [][]byte{[]byte("first document of the matrix\n"), []byte("second document\x00\x01 with binary bytes")}
	modes := []struct {
		name               string
		detached, clientSH bool
	}{
		{"attached", false, false},
		{"detached", true, false},
		{"detached-clienthash", true, true},
	}
	workerNames := []string{"CAdESSigner-pss"}
	for _, k := range matrixKeys {
		workerNames = append(workerNames, "CMSSigner-"+k.alias, "CAdESSigner-"+k.alias)
	}
	for _, wn := range workerNames {
		cades := strings.HasPrefix(wn, "CAdES")
		h := crypto.SHA256
		if strings.HasSuffix(wn, "ed25519") {
			h = crypto.SHA512
		}
		for _, m := range modes {
			meta := map[string]string{
				"DETACHEDSIGNATURE":              fmt.Sprint(m.detached),
				"USING_CLIENTSUPPLIED_HASH":      fmt.Sprint(m.clientSH),
				"CLIENTSIDE_HASHDIGESTALGORITHM": cms.HashName(h),
			}
			input := func(doc []byte) []byte {
				if !m.clientSH {
					return doc
				}
				hh := h.New()
				hh.Write(doc)
				return hh.Sum(nil)
			}
			t.Run(wn+"/"+m.name+"/single", func(t *testing.T) {
				meta := withMeta(meta, "USING_BATCHSIGNING", "false")
				code, sig, body := s.postREST(t, wn, restRequest{Data: base64.StdEncoding.EncodeToString(input(docs[0])), Encoding: "BASE64", MetaData: meta})
				if code != http.StatusOK {
					t.Fatalf("status %d: %v", code, body)
				}
				checkSignature(t, sig, docs[0], m.detached, caFile, cades, h)
			})
			t.Run(wn+"/"+m.name+"/batch", func(t *testing.T) {
				var items []workers.BatchItem
				for i, d := range docs {
					items = append(items, workers.BatchItem{Data: base64.StdEncoding.EncodeToString(input(d)), HashingAlgorithm: cms.HashName(h), CustomIdentifier: fmt.Sprint("doc", i)})
				}
				batch, _ := json.Marshal(workers.BatchRequest{SignatureRequests: items})
				form := url.Values{"workerName": {wn}, "encoding": {"base64"}, "data": {base64.StdEncoding.EncodeToString(batch)}}
				for k, v := range withMeta(meta, "USING_BATCHSIGNING", "true") {
					form.Set("REQUEST_METADATA."+k, v)
				}
				resp, err := http.PostForm(s.url+"/signserver/process", form)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var br workers.BatchResponse
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d", resp.StatusCode)
				}
				if err := json.NewDecoder(resp.Body).Decode(&br); err != nil {
					t.Fatal(err)
				}
				if len(br.Signatures) != len(docs) {
					t.Fatalf("%d signatures for %d documents", len(br.Signatures), len(docs))
				}
				for i, sg := range br.Signatures {
					if sg.CustomIdentifier != items[i].CustomIdentifier {
						t.Fatalf("item %d is %q", i, sg.CustomIdentifier)
					}
					checkSignature(t, sg.Signature, docs[i], m.detached, caFile, cades, h)
				}
			})
		}
	}
}

func withMeta(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		out[a] = b
	}
	return out
}

// checkSignature verifies sig over doc with openssl (and a tampered copy
// must fail); Ed25519, which openssl 3.0 cannot verify in CMS, is checked by
// its parts: the message digest and ed25519.Verify over the signed attributes.
func checkSignature(t *testing.T, sig, doc []byte, detached bool, caFile string, cades bool, h crypto.Hash) {
	t.Helper()
	sd, err := cms.Parse(sig)
	if err != nil {
		t.Fatal(err)
	}
	if got := sd.Content != nil; got == detached {
		t.Fatalf("attached=%v, want %v", got, !detached)
	}
	if cades != sd.Signers[0].HasSigningCertificateV2 {
		t.Fatalf("signing-certificate-v2 present=%v, want %v", sd.Signers[0].HasSigningCertificateV2, cades)
	}
	tampered := append(bytes.Clone(doc[:len(doc)-1]), doc[len(doc)-1]^1)
	if sd.Signers[0].Algorithm.Scheme == cms.Ed25519 {
		hh := h.New()
		hh.Write(doc)
		if !bytes.Equal(sd.Signers[0].MessageDigest, hh.Sum(nil)) {
			t.Fatal("Ed25519: message digest is not the SHA-512 of the document")
		}
		if err := sd.Verify(bytes.NewReader(doc)); err != nil {
			t.Fatalf("Ed25519: %v", err)
		}
		if detached && sd.Verify(bytes.NewReader(tampered)) == nil {
			t.Fatal("Ed25519: a tampered document verifies")
		}
		return
	}
	var content []byte
	if detached {
		content = doc
	} else if !bytes.Equal(sd.Content, doc) {
		t.Fatal("encapsulated content is not the document")
	}
	if err := opensslVerify(t, sig, content, caFile, cades); err != nil {
		t.Fatalf("openssl: %v", err)
	}
	if detached {
		if err := opensslVerify(t, sig, tampered, caFile, cades); err == nil {
			t.Fatal("openssl accepts a tampered document")
		}
	}
}
