package workers

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/soft"
)

// problemsOf returns the configuration problems a built worker holds.
func problemsOf(t *testing.T, w Worker) []string {
	t.Helper()
	b, ok := w.(interface{ configProblems() []string })
	if !ok {
		t.Fatalf("worker %s is a %T, which does not embed base", w.Name(), w)
	}
	return b.configProblems()
}

// checkBuildAgrees builds cfg and checks that every worker holds exactly
// the problems config reports for it: a worker enforces no rule of its own,
// so `signet config check` refuses exactly what the server puts OFFLINE.
func checkBuildAgrees(t *testing.T, cfg *config.Config, tok tokens.Token) *Set {
	t.Helper()
	set := Build(context.Background(), cfg, BuildOptions{
		Open:   func(context.Context, config.Token) (tokens.Token, error) { return tok, nil },
		Logger: slog.New(slog.DiscardHandler),
	})
	for _, wc := range cfg.Workers {
		w, err := set.Lookup(wc.Name)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, p := range wc.Problems {
			want = append(want, p.Error())
		}
		if got := problemsOf(t, w); !slices.Equal(got, want) {
			t.Errorf("worker %s: Build holds the problems\n  %q\nconfig reports\n  %q", wc.Name, got, want)
		}
		if st := w.Status(context.Background()); len(want) > 0 && (st.Active || !slices.Equal(st.Errors, want)) {
			t.Errorf("worker %s: status %+v, want OFFLINE with config's problems", wc.Name, st)
		}
	}
	return set
}

// ruleToken is a soft token with a P-256 document-signing key "k" and a
// P-256 time-stamping key "tsa", each with a self-signed certificate.
func ruleToken(t *testing.T) tokens.Token {
	t.Helper()
	ctx := context.Background()
	st, err := soft.Create(soft.Options{Path: filepath.Join(t.TempDir(), "ks.p12"), Type: "PKCS12", Name: "t"}, "pin")
	if err != nil {
		t.Fatal(err)
	}
	ekuTimeStamping, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	for alias, ext := range map[string][]pkix.Extension{
		"k":   nil,
		"tsa": {{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: ekuTimeStamping}},
	} {
		pub, err := st.GenerateKey(ctx, alias, tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"})
		if err != nil {
			t.Fatal(err)
		}
		signer, err := st.Signer(ctx, alias)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: alias},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtraExtensions: ext}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.ImportChain(ctx, alias, []*x509.Certificate{cert}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// TestBuildAgreesWithConfigCorpus builds every sample configuration of
// testdata/config that loads, and the demo's default configuration.
func TestBuildAgreesWithConfigCorpus(t *testing.T) {
	t.Parallel()
	const dir = "../testdata/config/"
	tok := ruleToken(t)
	for _, files := range [][]string{
		{"tokens.yaml", "workers.yaml"},
		{"tokens.yaml", "tokens-bad.yaml", "workers-bad.yaml"},
		{"../../internal/demo/default.yaml"},
	} {
		var paths []string
		for _, f := range files {
			paths = append(paths, dir+f)
		}
		cfg, err := config.Load(paths...)
		if err != nil {
			t.Fatalf("%v: %v", files, err)
		}
		if ps := config.Check(paths...); len(ps) != len(cfg.Problems()) {
			t.Errorf("%v: Check reports %d problems, Load %d", files, len(ps), len(cfg.Problems()))
		}
		checkBuildAgrees(t, cfg, tok)
	}
}

// TestBuildAgreesWithConfigRules builds one worker per case, over a token
// whose keys fit: each rule of config (and each value a worker could not
// use) is reported once by config and held as is by the worker, and a
// worker without problems is ACTIVE. Every worker kind has cases.
func TestBuildAgreesWithConfigRules(t *testing.T) {
	t.Parallel()
	tok := ruleToken(t)
	var none [2]string
	chain, err := tok.Chain(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	anchors := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[0].Raw})
	const tsaWorker = "  - name: TSA\n    id: 9\n    kind: TimeStampSigner\n    token: t\n    key: tsa\n    properties:\n      AUTHTYPE: NOAUTH\n      DEFAULTTSAPOLICYOID: 1.2.3.4\n"
	type ruleCase struct {
		kind, props, want string    // want: the one problem config reports; "" for none
		edit              [2]string // replaces edit[0] by edit[1] in worker W's YAML
	}
	tests := []ruleCase{
		// Every kind, configured well, is ACTIVE.
		{config.KindCMSSigner, "", "", none},
		{config.KindCMSSigner, "SIGNATUREALGORITHM: SHA384withECDSA\nDIGESTALGORITHM: SHA3-256\nINCLUDE_CERTIFICATE_LEVELS: 0", "", none},
		{config.KindCAdESSigner, "SIGNATURE_LEVEL: BASELINE-T\nTSA_WORKER: TSA\nTSA_DIGESTALGORITHM: SHA-512", "", none},
		{config.KindCAdESSigner, "SIGNATURE_LEVEL: BASELINE-T\nTSA_URL: http://127.0.0.1:1/tsr\nTSA_POLICYOID: 1.2.3", "", none},
		{config.KindPlainSigner, "SIGNATUREALGORITHM: NONEwithECDSA\nCLIENTSIDEHASHING: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256", "", none},
		{config.KindPlainSigner, "", "", none},
		{config.KindTimeStampSigner, "DEFAULTTSAPOLICYOID: 1.2.3\nACCEPTEDPOLICIES: 1.2.3;1.2.4\nACCEPTEDALGORITHMS: SHA1;SHA256\nTSA: CN=TSA,O=Signet\nSIGNATUREALGORITHM: SHA384withECDSA", "", none},
		{config.KindPDFSigner, "", "", none},
		{config.KindPDFSigner, "SIGNATURE_LEVEL: BASELINE-T\nTSA_WORKER: TSA\nREASON: test", "", none},
		{config.KindCMSValidator, "TRUSTANCHORS: anchors.pem", "", none},
		{config.KindPDFValidator, "TRUSTANCHORS: anchors.pem\nREVOCATION_FETCH: false", "", none},
		{config.KindPDFValidator, "", "Set TRUSTANCHORS", none},
		{config.KindPDFSigner, "SIGNATURE_LEVEL: BASELINE-LT", "BASELINE-LT needs", none},
		{config.KindCAdESSigner, "SIGNATURE_LEVEL: BASELINE-LT\nTSA_WORKER: TSA", "BASELINE-LT is made by PDFSigner only", none},
		{config.KindPDFSigner, "VISIBLE_SIGNATURE_RECTANGLE: 10,10,5,20", "the rectangle is empty", none},
		{config.KindPDFSigner, "VISIBLE_SIGNATURE_PAGE: 0", "page number from 1", none},
		{config.KindPDFSigner, "CLIENTSIDEHASHING: true", "does not apply to PDFSigner", none},
		// MAX_PDF_OBJECTS: a count from 1, raised or lowered at will; the
		// server reads the same value config checks.
		{config.KindPDFSigner, "MAX_PDF_OBJECTS: 1", "", none},
		{config.KindPDFSigner, "MAX_PDF_OBJECTS: 2000000", "", none},
		{config.KindPDFValidator, "TRUSTANCHORS: anchors.pem\nMAX_PDF_OBJECTS: 500", "", none},
		{config.KindPDFSigner, "MAX_PDF_OBJECTS: 0", "MAX_PDF_OBJECTS must be at least 1, not 0.", none},
		{config.KindPDFValidator, "TRUSTANCHORS: anchors.pem\nMAX_PDF_OBJECTS: -5", "MAX_PDF_OBJECTS must be at least 1, not -5.", none},
		{config.KindPDFSigner, "MAX_PDF_OBJECTS: 40k", `MAX_PDF_OBJECTS must be a whole number, not "40k".`, none},
		{config.KindPDFSigner, "MAX_PDF_OBJECTS: 99999999999999999999", "MAX_PDF_OBJECTS must be at most 9223372036854775807, not 99999999999999999999.", none},
		{config.KindCAdESSigner, "MAX_PDF_OBJECTS: 10", "MAX_PDF_OBJECTS does not apply to CAdESSigner workers (only to PDFSigner, PDFValidator): remove it.", none},
		{config.KindPDFSigner, "SIGNATURE_LEVEL: BASELINE-LT\nTSA_WORKER: TSA\nCERTIFICATION_LEVEL: form_filling\nADD_VISIBLE_SIGNATURE: true\nVISIBLE_SIGNATURE_PAGE: Last\nVISIBLE_SIGNATURE_RECTANGLE: 1,2,3,4\nALLOW_PROPERTY_OVERRIDE: REASON,LOCATION\nALLOW_BATCHSIGNING_OVERRIDE: true", "", none},
		{config.KindCAdESSigner, "SIGNATURE_LEVEL: BASELINE-LT\nTSA_WORKER: TSA", "BASELINE-LT", none},

		// Digests: the lists derive from formats/cms and formats/tsp.
		{config.KindCMSSigner, "CLIENTSIDEHASHING: true\nDETACHEDSIGNATURE: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-224", `lists unknown value "SHA-224"`, none},
		{config.KindPlainSigner, "CLIENTSIDEHASHING: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256,SHA-1", `lists unknown value "SHA-1"`, none},
		{config.KindCAdESSigner, "ALLOW_CLIENTSIDEHASHING_OVERRIDE: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA3-224", `lists unknown value "SHA3-224"`, none},
		{config.KindCMSSigner, "DIGESTALGORITHM: SHA-1", "DIGESTALGORITHM must be one of", none},
		{config.KindCAdESSigner, "TSA_DIGESTALGORITHM: SHA3-256", "not supported for time-stamps", none},
		{config.KindTimeStampSigner, "DEFAULTTSAPOLICYOID: 1.2.3\nACCEPTEDALGORITHMS: SHA-224", "not supported for time-stamps", none},

		// Signature algorithms, as formats/cms parses them, per kind.
		{config.KindCMSSigner, "SIGNATUREALGORITHM: SHA1withRSA", "SIGNATUREALGORITHM is not a signature algorithm", none},
		{config.KindCMSSigner, "SIGNATUREALGORITHM: NONEwithECDSA", "only PlainSigner", none},
		{config.KindPlainSigner, "SIGNATUREALGORITHM: NONEwithRSAandMGF1", "RSA-PSS needs a digest algorithm", none},
		{config.KindTimeStampSigner, "DEFAULTTSAPOLICYOID: 1.2.3\nSIGNATUREALGORITHM: SHA256withRSAandMGF1", "not supported by TimeStampSigner", none},
		{config.KindTimeStampSigner, "DEFAULTTSAPOLICYOID: 1.2.3\nSIGNATUREALGORITHM: SHA3-256withECDSA", "not supported by TimeStampSigner", none},

		// OIDs and names, with the one parser.
		{config.KindCMSSigner, "CONTENTOID: 1.2.840.0113549", "CONTENTOID must be an object identifier", none},
		{config.KindTimeStampSigner, "DEFAULTTSAPOLICYOID: 3.1", "DEFAULTTSAPOLICYOID must be an object identifier", none},
		{config.KindTimeStampSigner, "DEFAULTTSAPOLICYOID: 1.2.3\nACCEPTEDPOLICIES: 1.2.3;x", "not an object identifier", none},
		{config.KindTimeStampSigner, "DEFAULTTSAPOLICYOID: 1.2.3\nTSA: NOTANATTR=x", "not a distinguished name", none},

		// The rules of config/rules.go, each reported once.
		{config.KindCMSSigner, "BATCHSIGNING: true", "BATCHSIGNING=true needs ACCEPTED_HASH_DIGEST_ALGORITHMS", none},
		{config.KindPlainSigner, "BATCHSIGNING: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256", "not supported by PlainSigner", none},
		{config.KindPlainSigner, "ALLOW_BATCHSIGNING_OVERRIDE: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256", "not supported by PlainSigner", none},
		{config.KindCMSSigner, "KEYUSAGELIMIT: 5\nDISABLEKEYUSAGECOUNTER: true", "cannot be combined with DISABLEKEYUSAGECOUNTER", none},
		{config.KindCAdESSigner, "ARCHIVE_RETENTION: 24h", "ARCHIVE_RETENTION has no effect without ARCHIVERS", none},
		{config.KindPlainSigner, "ARCHIVE_OF_TYPE: REQUEST", "ARCHIVE_OF_TYPE has no effect without ARCHIVERS", none},
		{config.KindCMSSigner, "ARCHIVERS: FileArchiver", `unknown value "FileArchiver"`, none},
		{config.KindCMSSigner, "ARCHIVERS: OldDatabaseArchiver\nARCHIVE_OF_TYPE: BOTH", `"BOTH"`, none},
		{config.KindCMSSigner, "ARCHIVERS: OldDatabaseArchiver\nARCHIVE_RETENTION: -1h", `"-1h"`, none},
		{config.KindCAdESSigner, "AUTHTYPE: CLIENTCERT", "AUTHTYPE CLIENTCERT needs TLS with client certificates", none},
		{config.KindTimeStampSigner, "DEFAULTTSAPOLICYOID: 1.2.3\nAUTHTYPE: clientcert", "AUTHTYPE CLIENTCERT needs TLS with client certificates", none},
		{config.KindCAdESSigner, "AUTHTYPE: USERNAME_PASSWORD", "AUTHTYPE USERNAME_PASSWORD needs users", none},
		{config.KindCAdESSigner, "SIGNATURE_LEVEL: BASELINE-T\nTSA_URL: http://127.0.0.1:1/tsr\nTSA_WORKER: TSA", "TSA_URL and TSA_WORKER cannot both be set", none},
		{config.KindCAdESSigner, "SIGNATURE_LEVEL: BASELINE-T", "BASELINE-T needs a time-stamp authority", none},
		{config.KindCAdESSigner, "SIGNATURE_LEVEL: BASELINE-T\nTSA_WORKER: TSA\nTSA_POLICYOID: 1.2.3", "TSA_POLICYOID is not used with TSA_WORKER", none},
		{config.KindCAdESSigner, "TSA_URL: http://127.0.0.1:1/tsr\nTSA_USERNAME: u", "TSA_USERNAME needs TSA_PASSWORD", none},
		{config.KindCMSSigner, "CLIENTSIDEHASHING: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256", "makes detached signatures only", none},
		{config.KindTimeStampSigner, "DEFAULTTSAPOLICYOID: 1.2.3\nINCLUDE_CERTIFICATE_LEVELS: 0", "0 is not supported by TimeStampSigner", none},
		{config.KindTimeStampSigner, "DEFAULTTSAPOLICYOID: 1.2.3\nTSA: CN=x\nTSA_FROM_CERT: true", "cannot be combined with TSA_FROM_CERT", none},
		{config.KindTimeStampSigner, "", "Set DEFAULTTSAPOLICYOID", none},
		{config.KindPlainSigner, "DETACHEDSIGNATURE: true", "does not apply to PlainSigner", none},

		// The rules between workers.
		{config.KindCAdESSigner, "SIGNATURE_LEVEL: BASELINE-T\nTSA_WORKER: Nobody", "names no worker of this configuration", none},
		{config.KindCAdESSigner, "SIGNATURE_LEVEL: BASELINE-T\nTSA_WORKER: W", "not a TimeStampSigner", none},
		// Seconds beyond a time.Duration wrapped round: a negative accuracy
		// (the TSA OFFLINE) or a smaller one than configured in every token.
		{config.KindTimeStampSigner, "DEFAULTTSAPOLICYOID: 1.2.3\nACCURACYSECONDS: 10000000000", "ACCURACYSECONDS must be between 0 and", none},
		{config.KindTimeStampSigner, "DEFAULTTSAPOLICYOID: 1.2.3\nACCURACYSECONDS: 3600\nACCURACYMILLIS: 999\nACCURACYMICROS: 999", "", none},
		// A digest the TSA_WORKER does not accept: the signer's key signed,
		// then the TSA refused every time-stamp (a 500 per request).
		{config.KindCAdESSigner, "SIGNATURE_LEVEL: BASELINE-T\nTSA_WORKER: TSA\nTSA_DIGESTALGORITHM: SHA1", "TSA_DIGESTALGORITHM SHA1 is not accepted by time-stamp worker TSA", none},
		{config.KindPDFSigner, "SIGNATURE_LEVEL: BASELINE-T\nTSA_WORKER: 9\nTSA_DIGESTALGORITHM: SHA-1", "not accepted by time-stamp worker 9", none},
		{"CMSigner", "", "did you mean CMSSigner?", none},
		{config.KindCMSSigner, "", "Set token to the name of a token", [2]string{"    token: t\n", ""}},
		{config.KindPlainSigner, "", `Token "s" is not declared`, [2]string{"token: t\n", "token: s\n"}},
		{config.KindTimeStampSigner, "DEFAULTTSAPOLICYOID: 1.2.3", "Set key to the alias", [2]string{"    key: tsa\n", ""}},
	}
	for _, kind := range config.Kinds() {
		if !slices.ContainsFunc(tests, func(tt ruleCase) bool { return tt.kind == kind && tt.want == "" }) {
			t.Errorf("no case builds an ACTIVE %s: add one", kind)
		}
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+strings.ReplaceAll(tt.props, "\n", ","), func(t *testing.T) {
			w := fmt.Sprintf("  - name: W\n    id: 1\n    kind: %s\n    token: t\n    key: k\n    properties:\n", tt.kind)
			if !strings.Contains(tt.props, "AUTHTYPE") {
				w += "      AUTHTYPE: NOAUTH\n"
			}
			if tt.kind == config.KindTimeStampSigner {
				w = strings.Replace(w, "key: k\n", "key: tsa\n", 1)
			}
			for _, l := range strings.Split(tt.props, "\n") {
				if l != "" {
					w += "      " + l + "\n"
				}
			}
			if tt.edit[0] != "" {
				w = strings.Replace(w, tt.edit[0], tt.edit[1], 1)
			}
			y := "tokens:\n  - name: t\n    type: soft\n    properties: {KEYSTOREPATH: ks.p12}\nworkers:\n" + tsaWorker + w
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "anchors.pem"), anchors, 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Parse(filepath.Join(dir, "w.yaml"), []byte(y))
			if err != nil {
				t.Fatal(err)
			}
			ps := cfg.Problems()
			switch n := strings.Count(ps.Error(), tt.want); {
			case tt.want == "" && len(ps) > 0:
				t.Fatalf("config reports\n%v\nwant nothing", ps)
			case tt.want != "" && (len(ps) != 1 || n != 1):
				t.Fatalf("config reports\n%v\nwant exactly one problem containing %q", ps, tt.want)
			}
			set := checkBuildAgrees(t, cfg, tok)
			if tt.want != "" {
				return
			}
			for _, w := range set.Workers() {
				if st := w.Status(context.Background()); !st.Active {
					t.Errorf("worker %s without configuration problems is OFFLINE: %v", w.Name(), st.Errors)
				}
			}
		})
	}
}

// TestKeyResolvedWhenSigning checks that what depends on the key is read
// from the token when the worker signs, not when it is built: a worker built
// before its key exists signs once the key is there, without a rebuild.
func TestKeyResolvedWhenSigning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := soft.Create(soft.Options{Path: filepath.Join(t.TempDir(), "ks.p12"), Type: "PKCS12", Name: "t"}, "pin")
	if err != nil {
		t.Fatal(err)
	}
	y := "tokens:\n  - name: t\n    type: soft\n    properties: {KEYSTOREPATH: ks.p12}\nworkers:\n" +
		"  - name: Plain\n    id: 1\n    kind: PlainSigner\n    token: t\n    key: late\n    properties: {AUTHTYPE: NOAUTH}\n"
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "w.yaml"), []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	set := checkBuildAgrees(t, cfg, st)
	w, _ := set.Lookup("Plain")
	if s := w.Status(ctx); s.Active {
		t.Fatal("ACTIVE without its key")
	}
	pub, err := st.GenerateKey(ctx, "late", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-384"})
	if err != nil {
		t.Fatal(err)
	}
	if s := w.Status(ctx); !s.Active {
		t.Fatalf("status %v once the key exists, want ACTIVE", s.Errors)
	}
	resp, err := w.Process(ctx, &Request{Data: strings.NewReader("doc"), Size: 3})
	if err != nil {
		t.Fatal(err)
	}
	// P-384's default is SHA384withECDSA.
	d := crypto.SHA384.New()
	d.Write([]byte("doc"))
	if !verifyECDSA(pub, d.Sum(nil), resp.Data) {
		t.Fatal("the signature is not SHA384withECDSA by the new key")
	}
}

func verifyECDSA(pub crypto.PublicKey, digest, sig []byte) bool {
	k, ok := pub.(*ecdsa.PublicKey)
	return ok && ecdsa.VerifyASN1(k, digest, sig)
}
