package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const dir = "../testdata/config/"

// want is a problem a sample file expects: a part of its message at a line.
type want struct {
	pos Pos
	msg string
}

var wantComment = regexp.MustCompile(`# want((?: "(?:[^"\\]|\\.)*")+)\s*$`)
var wantString = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)

// wantsOf reads the `# want "..."` comments of a sample file.
func wantsOf(t *testing.T, file string) []want {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var ws []want
	for i, line := range strings.Split(string(data), "\n") {
		m := wantComment.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		for _, s := range wantString.FindAllStringSubmatch(m[1], -1) {
			msg, err := strconv.Unquote(`"` + s[1] + `"`)
			if err != nil {
				t.Fatalf("%s:%d: bad want string: %v", file, i+1, err)
			}
			ws = append(ws, want{Pos{file, i + 1}, msg})
		}
	}
	return ws
}

// matchWants checks that every want is found and every problem is wanted.
func matchWants(t *testing.T, got Problems, wants []want) {
	t.Helper()
	used := make([]bool, len(got))
	for _, w := range wants {
		found := false
		for i, p := range got {
			if p.Pos == w.pos && strings.Contains(p.Msg, w.msg) {
				used[i], found = true, true
			}
		}
		if !found {
			t.Errorf("%s: missing problem %q", w.pos, w.msg)
		}
	}
	for i, p := range got {
		if !used[i] {
			t.Errorf("unexpected problem: %s", p.Error())
		}
	}
}

// TestSampleFiles checks the problems of the sample files against their
// `# want` comments: what, and at which file:line.
func TestSampleFiles(t *testing.T) {
	tests := []struct {
		name       string
		files      []string
		structural bool // Load refuses the configuration
	}{
		{"per-worker and per-token problems", []string{"tokens.yaml", "tokens-bad.yaml", "workers-bad.yaml"}, false},
		{"syntax error", []string{"syntax.yaml"}, true},
		{"structure", []string{"structure.yaml"}, true},
		{"not a list", []string{"not-a-list.yaml"}, true},
		{"duplicates across files", []string{"dup-a.yaml", "dup-b.yaml"}, true},
		{"missing file", []string{"tokens.yaml", "no-such-file.yaml"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var paths []string
			var wants []want
			for _, f := range tt.files {
				p := dir + f
				paths = append(paths, p)
				if _, err := os.Stat(p); err == nil {
					wants = append(wants, wantsOf(t, p)...)
				} else {
					wants = append(wants, want{Pos{File: p}, "The file cannot be read (no such file or directory)"})
				}
			}
			matchWants(t, Check(paths...), wants)

			cfg, err := Load(paths...)
			if !tt.structural {
				if err != nil {
					t.Fatalf("Load refused the configuration: %v", err)
				}
				// The problems are the workers' and tokens', not the load's.
				matchWants(t, cfg.Problems(), wants)
				return
			}
			var ps Problems
			if !errors.As(err, &ps) || cfg != nil {
				t.Fatalf("Load = %v, %v; want nil and Problems", cfg, err)
			}
			matchWants(t, ps, wants)
			for _, line := range strings.Split(err.Error(), "\n") {
				if !regexp.MustCompile(`^\.\./testdata/config/[a-z-]+\.yaml(:\d+)?: [A-Z].*[.?]$`).MatchString(line) {
					t.Errorf("error line %q is not \"file:line: Sentence.\"", line)
				}
			}
		})
	}
}

// TestProblemsStayWithTheirWorker checks that a worker's problems are in its
// own Problems, and that workers without problems have none.
func TestProblemsStayWithTheirWorker(t *testing.T) {
	cfg, err := Load(dir+"tokens.yaml", dir+"tokens-bad.yaml", dir+"workers-bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range cfg.Workers {
		if len(w.Problems) == 0 {
			t.Errorf("worker %s has no problems; every worker in workers-bad.yaml has some", w.Name)
		}
		for _, p := range w.Problems {
			if p.Pos.File != dir+"workers-bad.yaml" {
				t.Errorf("worker %s has a problem in another file: %s", w.Name, p.Error())
			}
		}
	}
	for _, tok := range cfg.Tokens {
		if tok.Pos.File == dir+"tokens.yaml" && len(tok.Problems) > 0 {
			t.Errorf("good token %s has problems: %v", tok.Name, tok.Problems)
		}
	}
}

// TestSecretsNeverInMessages checks that values written where a secret
// belongs never appear in a problem.
func TestSecretsNeverInMessages(t *testing.T) {
	ps := Check(dir+"tokens.yaml", dir+"tokens-bad.yaml", dir+"workers-bad.yaml")
	for _, secret := range []string{"1234-super-secret", "s3cret", "hunter2"} {
		if strings.Contains(ps.Error(), secret) {
			t.Errorf("a problem shows the secret %q:\n%s", secret, ps.Error())
		}
	}
}

func TestGoodConfig(t *testing.T) {
	cfg, err := Load(dir+"tokens.yaml", dir+"workers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if ps := cfg.Problems(); len(ps) > 0 {
		t.Fatalf("problems in the good configuration:\n%v", ps)
	}
	absDir, _ := filepath.Abs(dir)
	if want := []string{dir + "tokens.yaml", dir + "workers.yaml"}; !slices.Equal(cfg.Files, want) {
		t.Errorf("Files = %q, want %q", cfg.Files, want)
	}
	if !reflect.DeepEqual(cfg.Server, Server{Listen: "127.0.0.1:8080", MaxUploadSize: 20 << 20}) {
		t.Errorf("Server = %+v", cfg.Server)
	}
	demo, _ := cfg.Token("demo")
	hsm, _ := cfg.Token("hsm")
	dsm, _ := cfg.Token("dsm")
	nethsm, _ := cfg.Token("nethsm")
	cms, _ := cfg.Worker("cmssigner") // any letter case
	cades, _ := cfg.Worker("2")       // by ID
	cadesT, _ := cfg.Worker("CAdESSignerT")
	ext, _ := cfg.Worker("CAdESSignerExternalTSA")
	plain, _ := cfg.Worker("PlainSigner")
	tsa, _ := cfg.Worker("TimeStampSigner")

	checks := []struct {
		what      string
		got, want any
	}{
		{"token type", demo.Type, "soft"},
		{"token line", demo.Pos, Pos{dir + "tokens.yaml", 3}},
		{"relative keystore path", demo.Properties.String("KEYSTOREPATH"), filepath.Join(absDir, "keystore.p12")},
		{"enum in any case", demo.Properties.String("KEYSTORETYPE"), "PKCS12"},
		{"pin from env", demo.PIN, Secret{Env: "SIGNET_DEMO_PIN"}},
		{"relative pin file", hsm.PIN, Secret{File: filepath.Join(absDir, "secrets/hsm.pin")}},
		{"pool size", hsm.Properties.Int("POOLSIZE"), 4},
		{"pool size default", nethsm.Properties.Int("POOLSIZE"), 16},
		{"token timeout", nethsm.Properties.Duration("TIMEOUT"), 5 * time.Second},
		{"token timeout default", dsm.Properties.Duration("TIMEOUT"), 30 * time.Second},
		{"CA bundle path", nethsm.Properties.String("CABUNDLE"), filepath.Join(absDir, "nethsm-ca.pem")},
		{"no pin", dsm.PIN.IsZero(), true},

		{"worker", [...]any{cms.Name, cms.ID, cms.Kind, cms.Token, cms.Key}, [...]any{"CMSSigner", 1, "CMSSigner", "demo", "signer-rsa3072"}},
		{"worker line", cms.Pos, Pos{dir + "workers.yaml", 7}},
		{"bool", cms.Properties.Bool("ALLOW_DETACHEDSIGNATURE_OVERRIDE"), true},
		{"bool default", cms.Properties.Bool("CLIENTSIDEHASHING"), false},
		{"int", cms.Properties.Int("INCLUDE_CERTIFICATE_LEVELS"), 1},
		{"int default", cms.Properties.Int("MAX_BATCH_SIZE"), 1000},
		{"string default", cms.Properties.String("CONTENTOID"), "1.2.840.113549.1.7.1"},
		{"names set", cms.Properties.Names(), []string{"ALLOW_DETACHEDSIGNATURE_OVERRIDE", "AUTHTYPE", "DETACHEDSIGNATURE", "INCLUDE_CERTIFICATE_LEVELS"}},
		{"property line", cms.Properties.Pos("INCLUDE_CERTIFICATE_LEVELS"), Pos{dir + "workers.yaml", 16}},
		{"unset property line", cms.Properties.Pos("BATCHSIGNING"), Pos{}},
		{"is set", [...]bool{cms.Properties.IsSet("DETACHEDSIGNATURE"), cms.Properties.IsSet("BATCHSIGNING")}, [...]bool{true, false}},

		{"list", cades.Properties.List("ACCEPTED_HASH_DIGEST_ALGORITHMS"), []string{"SHA-256", "SHA-384", "SHA-512"}},
		{"anchor", cades.Properties.Int("MAX_BATCH_SIZE"), 500},
		{"merge key", cadesT.Properties.Bool("ALLOW_BATCHSIGNING_OVERRIDE"), true},
		{"merge key overridden", cadesT.Properties.Int("MAX_BATCH_SIZE"), 50},
		{"enum", cadesT.Properties.String("SIGNATURE_LEVEL"), "BASELINE-T"},
		{"enum default", cades.Properties.String("SIGNATURE_LEVEL"), "BASELINE-B"},
		{"key usage limit", cadesT.Properties.Int("KEYUSAGELIMIT"), 100000},
		{"key usage limit default", cades.Properties.Int("KEYUSAGELIMIT"), -1},
		{"duration default", cadesT.Properties.Duration("TSA_TIMEOUT"), 10 * time.Second},
		{"duration", ext.Properties.Duration("TSA_TIMEOUT"), 3 * time.Second},
		{"enum lower case", ext.Properties.String("SIGNATURE_LEVEL"), "BASELINE-T"},
		{"secret property", ext.Properties.Secret("TSA_PASSWORD"), Secret{Env: "SIGNET_TSA_PASSWORD"}},
		{"secret reads as empty string", ext.Properties.String("TSA_PASSWORD"), ""},
		{"secret shown by reference", ext.Properties.Map()["TSA_PASSWORD"], "env:SIGNET_TSA_PASSWORD"},

		{"YAML list", plain.Properties.List("ACCEPTED_HASH_DIGEST_ALGORITHMS"), []string{"SHA256", "SHA3-256"}},
		{"semicolon list", tsa.Properties.List("ACCEPTEDPOLICIES"), []string{"1.2.3.4.1", "1.2.3.4.2"}},
		{"TSA bool default true", tsa.Properties.Bool("INCLUDESTATUSSTRING"), true},
		{"unset int", tsa.Properties.Int("ACCURACYMICROS"), 0},
	}
	for _, c := range checks {
		if !equal(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.what, c.got, c.want)
		}
	}
}

func equal(a, b any) bool {
	if as, ok := a.([]string); ok {
		bs, ok := b.([]string)
		return ok && slices.Equal(as, bs)
	}
	return a == b
}

// TestDemoConfig checks that the embedded default configuration of
// internal/demo is valid.
func TestDemoConfig(t *testing.T) {
	cfg, err := Load("../internal/demo/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if ps := cfg.Problems(); len(ps) > 0 {
		t.Errorf("the default configuration has problems:\n%v", ps)
	}
	if len(cfg.Workers) == 0 || cfg.Server.MaxUploadSize != DefaultMaxUploadSize {
		t.Errorf("workers %d, server %+v", len(cfg.Workers), cfg.Server)
	}
}

// TestRules checks each rule between properties, with NewProperties.
func TestRules(t *testing.T) {
	tests := []struct {
		kind  string
		props map[string]string
		want  string // part of the only problem; "" for none
	}{
		// ACCEPTED_HASH_DIGEST_ALGORITHMS with batch signing and client-side hashing.
		{"CMSSigner", map[string]string{"BATCHSIGNING": "true"}, "BATCHSIGNING=true needs ACCEPTED_HASH_DIGEST_ALGORITHMS"},
		{"CMSSigner", map[string]string{"ALLOW_BATCHSIGNING_OVERRIDE": "true"}, "ALLOW_BATCHSIGNING_OVERRIDE=true needs ACCEPTED_HASH_DIGEST_ALGORITHMS"},
		{"PlainSigner", map[string]string{"CLIENTSIDEHASHING": "true"}, "CLIENTSIDEHASHING=true needs ACCEPTED_HASH_DIGEST_ALGORITHMS"},
		{"CAdESSigner", map[string]string{"ALLOW_CLIENTSIDEHASHING_OVERRIDE": "True"}, "ALLOW_CLIENTSIDEHASHING_OVERRIDE=true needs ACCEPTED_HASH_DIGEST_ALGORITHMS"},
		{"CAdESSigner", map[string]string{"ALLOW_BATCHSIGNING_OVERRIDE": "true", "ACCEPTED_HASH_DIGEST_ALGORITHMS": "SHA-256"}, ""},
		{"CAdESSigner", map[string]string{"BATCHSIGNING": "false", "ALLOW_CLIENTSIDEHASHING_OVERRIDE": "false"}, ""},
		// Client-side hashing makes detached signatures.
		{"CMSSigner", map[string]string{"CLIENTSIDEHASHING": "true", "ACCEPTED_HASH_DIGEST_ALGORITHMS": "SHA-256"}, "set DETACHEDSIGNATURE=true"},
		{"CMSSigner", map[string]string{"CLIENTSIDEHASHING": "true", "DETACHEDSIGNATURE": "true", "ACCEPTED_HASH_DIGEST_ALGORITHMS": "SHA-256"}, ""},
		{"PlainSigner", map[string]string{"CLIENTSIDEHASHING": "true", "ACCEPTED_HASH_DIGEST_ALGORITHMS": "SHA-256"}, ""},
		// Archivers.
		{"CAdESSigner", map[string]string{"ARCHIVERS": "OldDatabaseArchiver", "ARCHIVE_OF_TYPE": "REQUEST_AND_RESPONSE", "ARCHIVE_RETENTION": "2160h"}, ""},
		{"PDFSigner", map[string]string{"ARCHIVERS": "org.signserver.server.archive.olddbarchiver.OldDatabaseArchiver"}, ""},
		{"CAdESSigner", map[string]string{"ARCHIVE_RETENTION": "24h"}, "ARCHIVE_RETENTION has no effect without ARCHIVERS"},
		{"TimeStampSigner", map[string]string{"ARCHIVE_OF_TYPE": "RESPONSE", "DEFAULTTSAPOLICYOID": "1.2.3"}, "ARCHIVE_OF_TYPE has no effect without ARCHIVERS"},
		// Key usage limit and counter.
		{"CMSSigner", map[string]string{"KEYUSAGELIMIT": "5", "DISABLEKEYUSAGECOUNTER": "true"}, "KEYUSAGELIMIT cannot be combined with DISABLEKEYUSAGECOUNTER=true"},
		{"CMSSigner", map[string]string{"KEYUSAGELIMIT": "0", "DISABLEKEYUSAGECOUNTER": "TRUE"}, "cannot be combined"},
		{"CMSSigner", map[string]string{"KEYUSAGELIMIT": "-1", "DISABLEKEYUSAGECOUNTER": "true"}, ""},
		{"CMSSigner", map[string]string{"KEYUSAGELIMIT": "5", "DISABLEKEYUSAGECOUNTER": "false"}, ""},
		// One time-stamp authority.
		{"CAdESSigner", map[string]string{"TSA_URL": "https://tsa.example", "TSA_WORKER": "TSA"}, "TSA_URL and TSA_WORKER cannot both be set"},
		{"CAdESSigner", map[string]string{"SIGNATURE_LEVEL": "BASELINE-T"}, "BASELINE-T needs a time-stamp authority"},
		{"CAdESSigner", map[string]string{"SIGNATURE_LEVEL": "BASELINE-T", "TSA_URL": "https://tsa.example"}, ""},
		{"CAdESSigner", map[string]string{"SIGNATURE_LEVEL": "BASELINE-T", "TSA_WORKER": "TSA"}, ""},
		{"CAdESSigner", map[string]string{"SIGNATURE_LEVEL": "BASELINE-B"}, ""},
		{"CAdESSigner", map[string]string{"TSA_URL": "https://tsa.example", "TSA_USERNAME": "u"}, "TSA_USERNAME needs TSA_PASSWORD"},
		{"CAdESSigner", map[string]string{"TSA_URL": "https://tsa.example", "TSA_USERNAME": "u", "TSA_PASSWORD": "env:TSA_PW"}, ""},
		{"CAdESSigner", map[string]string{"TSA_PASSWORD": "plain"}, "TSA_PASSWORD is a secret"},
		{"CAdESSigner", map[string]string{"INCLUDE_CERTIFICATE_LEVELS": "0"}, "not allowed for a CAdES baseline signature"},
		{"CAdESSigner", map[string]string{"INCLUDE_CERTIFICATE_LEVELS": "1"}, ""},
		// TimeStampSigner.
		{"TimeStampSigner", map[string]string{}, "Set DEFAULTTSAPOLICYOID"},
		{"TimeStampSigner", map[string]string{"DEFAULTTSAPOLICYOID": "1.2.3", "INCLUDE_CERTIFICATE_LEVELS": "0"}, "not supported by TimeStampSigner"},
		{"TimeStampSigner", map[string]string{"DEFAULTTSAPOLICYOID": "1.2.3", "TSA": "CN=TSA", "TSA_FROM_CERT": "true"}, "TSA cannot be combined with TSA_FROM_CERT=true"},
		{"TimeStampSigner", map[string]string{"DEFAULTTSAPOLICYOID": "1.2.3", "TSA": "CN=TSA"}, ""},
		{"CMSSigner", map[string]string{"INCLUDE_CERTIFICATE_LEVELS": "0"}, ""},
		// Properties of other kinds.
		{"PlainSigner", map[string]string{"DETACHEDSIGNATURE": "true"}, "DETACHEDSIGNATURE does not apply to PlainSigner workers (only to CMSSigner, CAdESSigner)"},
		{"CMSSigner", map[string]string{"DEFAULTTSAPOLICYOID": "1.2.3"}, "does not apply to CMSSigner"},
		// Empty values are left out.
		{"CAdESSigner", map[string]string{"TSA_URL": "", "TSA_WORKER": "TSA"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+mapString(tt.props), func(t *testing.T) {
			_, ps := NewProperties(tt.kind, tt.props)
			switch {
			case tt.want == "" && len(ps) > 0:
				t.Errorf("unexpected problems:\n%v", ps)
			case tt.want != "" && (len(ps) != 1 || !strings.Contains(ps[0].Msg, tt.want)):
				t.Errorf("problems:\n%v\nwant one containing %q", ps, tt.want)
			}
			for _, p := range ps {
				if !strings.HasSuffix(p.Msg, ".") && !strings.HasSuffix(p.Msg, "?") {
					t.Errorf("%q is not a sentence", p.Msg)
				}
			}
		})
	}
}

func mapString(m map[string]string) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// TestValues checks value validation per type.
func TestValues(t *testing.T) {
	tests := []struct {
		kind, name, value string
		ok                bool
	}{
		{"CMSSigner", "DETACHEDSIGNATURE", "true", true},
		{"CMSSigner", "DETACHEDSIGNATURE", "FALSE", true},
		{"CMSSigner", "DETACHEDSIGNATURE", "yes", false},
		{"CMSSigner", "DETACHEDSIGNATURE", "1", false},
		{"CMSSigner", "MAX_BATCH_SIZE", "10", true},
		{"CMSSigner", "MAX_BATCH_SIZE", "0", false},
		{"CMSSigner", "MAX_BATCH_SIZE", "1e3", false},
		{"CMSSigner", "KEYUSAGELIMIT", "-1", true},
		{"CMSSigner", "KEYUSAGELIMIT", "-2", false},
		{"CAdESSigner", "TSA_TIMEOUT", "1m30s", true},
		{"CAdESSigner", "TSA_TIMEOUT", "10", false},
		{"CAdESSigner", "TSA_TIMEOUT", "0s", false},
		{"CAdESSigner", "SIGNATURE_LEVEL", "baseline-b", true},
		{"CAdESSigner", "SIGNATURE_LEVEL", "BASELINE-LTA", false},
		{"CMSSigner", "AUTHTYPE", "NOAUTH", true},
		{"CMSSigner", "AUTHTYPE", "PASSWORD", false},
		{"CMSSigner", "CONTENTOID", "1.2.840.113549.1.7.1", true},
		{"CMSSigner", "CONTENTOID", "1.2.840.0113549", false},
		{"CMSSigner", "CONTENTOID", "3.1", false},
		{"CMSSigner", "CONTENTOID", "id-data", false},
		{"CMSSigner", "DIGESTALGORITHM", "SHA3-512", true},
		{"CMSSigner", "DIGESTALGORITHM", "MD5", false},
		{"PlainSigner", "ACCEPTED_HASH_DIGEST_ALGORITHMS", "SHA-256, SHA384 ,sha-512,,SHA3-256", true},
		// Digests formats/cms does not sign with are refused, as the worker would.
		{"PlainSigner", "ACCEPTED_HASH_DIGEST_ALGORITHMS", "SHA-256,SHA1", false},
		{"CMSSigner", "ACCEPTED_HASH_DIGEST_ALGORITHMS", "SHA-224", false},
		{"CMSSigner", "DIGESTALGORITHM", "SHA3-224", false},
		{"CAdESSigner", "TSA_DIGESTALGORITHM", "SHA3-256", false},
		{"CAdESSigner", "TSA_DIGESTALGORITHM", "SHA1", true},
		{"PlainSigner", "ACCEPTED_HASH_DIGEST_ALGORITHMS", "SHA-256,SHA-257", false},
		{"PlainSigner", "SIGNATUREALGORITHM", "SHA256withRSAandMGF1", true},
		{"PlainSigner", "SIGNATUREALGORITHM", "sha384withecdsa", true},
		{"PlainSigner", "SIGNATUREALGORITHM", "SHA3-256withECDSA", true},
		{"PlainSigner", "SIGNATUREALGORITHM", "NONEwithRSA", true},
		{"PlainSigner", "SIGNATUREALGORITHM", "Ed25519", true},
		{"PlainSigner", "SIGNATUREALGORITHM", "SHA256withEd25519", false},
		{"PlainSigner", "SIGNATUREALGORITHM", "RSA", false},
		{"CAdESSigner", "TSA_URL", "http://localhost:8080/tsa", true},
		{"CAdESSigner", "TSA_URL", "localhost:8080", false},
		{"TimeStampSigner", "ACCEPTEDALGORITHMS", "SHA256;SHA384", true},
		{"TimeStampSigner", "ACCEPTEDALGORITHMS", "SHA256;WHIRLPOOL", false},
		{"TimeStampSigner", "ACCURACYMILLIS", "999", true},
		{"TimeStampSigner", "ACCURACYMILLIS", "1000", false},
		{"soft", "KEYSTORETYPE", "pem", true},
		{"soft", "KEYSTORETYPE", "JKS", false},
		{"pkcs11", "SLOTLABELTYPE", "SLOT_INDEX", true},
		{"dsm", "MAXBATCHSIZE", "0", false},
		{"nethsm", "TIMEOUT", "-1s", false},
		// A pool is that many sessions or connections, made at once:
		// 2^63-1 crashed the server at start (crypto11 makes a channel
		// of POOLSIZE+1).
		// Days that fit in a time.Duration: more wrapped round to a
		// negative one, which turned the check off.
		{"CMSSigner", "MINREMAININGCERTVALIDITY", "106751", true},
		{"CMSSigner", "MINREMAININGCERTVALIDITY", "106752", false},
		{"pkcs11", "POOLSIZE", "1024", true},
		{"pkcs11", "POOLSIZE", "1025", false},
		{"pkcs11", "POOLSIZE", "9223372036854775807", false},
		{"nethsm", "POOLSIZE", "100000", false},
		{"dsm", "POOLSIZE", "100000", false},
	}
	required := map[string]map[string]string{
		"TimeStampSigner": {"DEFAULTTSAPOLICYOID": "1.2.3"},
		"soft":            {"KEYSTOREPATH": "ks.p12"},
		"pkcs11":          {"SHAREDLIBRARYNAME": "x.so", "SLOTLABELTYPE": "SLOT_INDEX", "SLOTLABELVALUE": "0"},
		"nethsm":          {"URL": "https://h", "USER": "u"},
		"dsm":             {"URL": "https://h"},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.name+"="+tt.value, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range required[tt.kind] {
				m[k] = v
			}
			m[tt.name] = tt.value
			p, ps := NewProperties(tt.kind, m)
			if ok := len(ps) == 0; ok != tt.ok {
				t.Fatalf("problems %v, want ok=%v", ps, tt.ok)
			}
			if !p.IsSet(tt.name) {
				t.Errorf("IsSet(%s) = false", tt.name)
			}
			if !tt.ok {
				if !strings.HasPrefix(ps[0].Msg, tt.name+" ") || !strings.Contains(ps[0].Msg, ": ") && !strings.Contains(ps[0].Msg, "must") {
					t.Errorf("problem %q does not name the property and the fix", ps[0].Msg)
				}
				// An invalid value reads as the default.
				d, _ := p.def(tt.name)
				if got := p.String(tt.name); got != d.Default {
					t.Errorf("invalid value reads as %q, want the default %q", got, d.Default)
				}
			}
		})
	}
}

// TestDidYouMean checks the hints for unknown property names.
func TestDidYouMean(t *testing.T) {
	tests := []struct{ kind, name, want string }{
		{"CMSSigner", "detachedsignature", "did you mean DETACHEDSIGNATURE?"},
		{"CMSSigner", "Detached_Signature", "did you mean DETACHEDSIGNATURE?"},
		{"CMSSigner", "DETACHEDSIGNATUR", "did you mean DETACHEDSIGNATURE?"},
		{"CMSSigner", "ALLOW_DETACHED_SIGNATURE_OVERRIDE", "did you mean ALLOW_DETACHEDSIGNATURE_OVERRIDE?"},
		{"CMSSigner", "ACCEPTED_HASH_DIGEST_ALGORITHM", "did you mean ACCEPTED_HASH_DIGEST_ALGORITHMS?"},
		{"CMSSigner", "KEYUSAGELIMITS", "did you mean KEYUSAGELIMIT?"},
		{"CMSSigner", "INCLUDE_CERTIFICATE_LEVEL", "did you mean INCLUDE_CERTIFICATE_LEVELS?"},
		{"CMSSigner", "BATCH_SIGNING", "did you mean BATCHSIGNING?"},
		{"TimeStampSigner", "DEFAULTTIMESTAMPPOLICY", "did you mean DEFAULTTSAPOLICYOID?"},
		{"CMSSigner", "DEFAULTKEY", "did you mean the worker's key field?"},
		{"CMSSigner", "FOO", "Unknown worker property FOO: remove it or check its spelling"},
		{"soft", "KEYSTORE_PATH", "Unknown soft token property KEYSTORE_PATH: did you mean KEYSTOREPATH?"},
		{"soft", "KEYSTOREPASSWORD", "did you mean the token's pin"},
		{"pkcs11", "SLOT_LABEL_TYPE", "did you mean SLOTLABELTYPE?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := NewProperties(tt.kind, map[string]string{tt.name: "x"})
			var hit bool
			for _, p := range ps {
				hit = hit || strings.Contains(p.Msg, tt.want)
			}
			if !hit {
				t.Errorf("problems %v, want one containing %q", ps, tt.want)
			}
		})
	}
}

// TestDefaults checks that every declared default is valid and is what the
// typed accessors read when the property is not set, also from the zero
// Properties.
func TestDefaults(t *testing.T) {
	empty, _ := NewProperties("CAdESSigner", nil)
	var zero Properties
	for _, p := range Schema() {
		if p.Default == "" {
			continue
		}
		if msg := p.validate(KindCAdESSigner, p.Default); msg != "" {
			t.Errorf("%s: default is invalid: %s", p.Name, msg)
		}
		for _, props := range []Properties{empty, zero} {
			if got := props.String(p.Name); got != p.Default {
				t.Errorf("%s: String = %q, want default %q", p.Name, got, p.Default)
			}
			if props.IsSet(p.Name) {
				t.Errorf("%s: IsSet without a value", p.Name)
			}
		}
	}
	named := []struct {
		what      string
		got, want any
	}{
		{"MAX_BATCH_SIZE", empty.Int("MAX_BATCH_SIZE"), 1000},
		{"KEYUSAGELIMIT", zero.Int("KEYUSAGELIMIT"), -1},
		{"TSA_TIMEOUT", empty.Duration("TSA_TIMEOUT"), 10 * time.Second},
		{"DETACHEDSIGNATURE", zero.Bool("DETACHEDSIGNATURE"), false},
		{"SIGNATURE_LEVEL", empty.String("SIGNATURE_LEVEL"), "BASELINE-B"},
		{"TSA_DIGESTALGORITHM", empty.String("TSA_DIGESTALGORITHM"), "SHA-256"},
		{"INCLUDE_CERTIFICATE_LEVELS unset", empty.IsSet("INCLUDE_CERTIFICATE_LEVELS"), false},
		{"ACCEPTED_HASH_DIGEST_ALGORITHMS", len(empty.List("ACCEPTED_HASH_DIGEST_ALGORITHMS")), 0},
	}
	for _, n := range named {
		if n.got != n.want {
			t.Errorf("%s: got %v, want %v", n.what, n.got, n.want)
		}
	}
	// A name the schema does not declare is a programming error: in tests
	// reading it panics, so that a misspelt name cannot read as zero.
	for _, read := range []func(){
		func() { empty.String("NO_SUCH_PROPERTY") },
		func() { zero.Int("KEYUSAGELIMITS") },
		func() { empty.List("TSA_WORKERS") },
		func() { empty.String(PropKeystorePath) }, // a token property, not a worker's
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("reading an undeclared property did not panic")
				}
			}()
			read()
		}()
	}
}

// TestSchema checks the declarations themselves.
func TestSchema(t *testing.T) {
	tables := map[string][]Property{"worker": Schema()}
	for _, typ := range TokenTypes() {
		tables[typ] = TokenSchema(typ)
		if len(tables[typ]) == 0 {
			t.Errorf("no schema for token type %s", typ)
		}
	}
	for table, props := range tables {
		seen := map[string]bool{}
		for _, p := range props {
			if p.Name != strings.ToUpper(p.Name) || p.Name == "" {
				t.Errorf("%s: %q is not an upper-case name", table, p.Name)
			}
			if seen[p.Name] {
				t.Errorf("%s: %s declared twice", table, p.Name)
			}
			seen[p.Name] = true
			if p.Doc == "" {
				t.Errorf("%s: %s has no Doc", table, p.Name)
			}
			if (p.Type == Enum) != (p.Values != nil) && p.Type != List {
				t.Errorf("%s: %s: Values and Enum go together", table, p.Name)
			}
			for _, k := range p.Kinds {
				if _, ok := lookupKind(k); !ok {
					t.Errorf("%s: %s applies to unknown kind %s", table, p.Name, k)
				}
			}
			if p.OverriddenBy != "" {
				o, ok := LookupProperty(p.OverriddenBy)
				if !ok || o.Type != Bool || !strings.HasPrefix(o.Name, "ALLOW_") || p.MetaKey == "" {
					t.Errorf("%s: %s is overridden by %q, which is not a declared ALLOW_ bool, or has no MetaKey", table, p.Name, p.OverriddenBy)
				}
			}
		}
	}
	for _, name := range []string{"DISABLED", "AUTHTYPE", "SIGNATUREALGORITHM", "DIGESTALGORITHM", "DETACHEDSIGNATURE",
		"ALLOW_DETACHEDSIGNATURE_OVERRIDE", "CLIENTSIDEHASHING", "ALLOW_CLIENTSIDEHASHING_OVERRIDE",
		"ACCEPTED_HASH_DIGEST_ALGORITHMS", "CONTENTOID", "ALLOW_CONTENTOID_OVERRIDE", "INCLUDE_CERTIFICATE_LEVELS",
		"BATCHSIGNING", "ALLOW_BATCHSIGNING_OVERRIDE", "MAX_BATCH_SIZE", "KEYUSAGELIMIT", "DISABLEKEYUSAGECOUNTER",
		"SIGNATURE_LEVEL", "TSA_URL", "TSA_USERNAME", "TSA_PASSWORD", "TSA_WORKER", "TSA_DIGESTALGORITHM", "TSA_TIMEOUT",
		"DEFAULTTSAPOLICYOID", "ACCEPTEDPOLICIES", "ACCEPTEDALGORITHMS", "ACCURACYMICROS", "ACCURACYMILLIS",
		"ACCURACYSECONDS", "ORDERING", "INCLUDESTATUSSTRING", "TSA", "TSA_FROM_CERT"} {
		if _, ok := LookupProperty(name); !ok {
			t.Errorf("%s is not declared", name)
		}
	}
	if p, _ := LookupProperty("TSA_PASSWORD"); !p.Secret {
		t.Error("TSA_PASSWORD is not a secret")
	}
	if TokenSchema("nope") != nil {
		t.Error("schema for an unknown token type")
	}
	// Schema returns a copy: changing it changes nothing for others.
	s := Schema()
	s[0].Default = "changed"
	s[0].Kinds = append(s[0].Kinds, "X")
	if p, _ := LookupProperty(s[0].Name); p.Default == "changed" || p.Kinds != nil {
		t.Error("Schema() shares its table")
	}
}

func TestSecretResolve(t *testing.T) {
	tmp := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("SIGNET_TEST_PIN", "  env-pin-value\n")
	t.Setenv("SIGNET_TEST_EMPTY", "")
	tests := []struct {
		name    string
		s       Secret
		want    string
		errPart string // the error names the variable or file
	}{
		{"env", Secret{Env: "SIGNET_TEST_PIN"}, "env-pin-value", ""},
		{"env unset", Secret{Env: "SIGNET_TEST_UNSET_VARIABLE"}, "", "SIGNET_TEST_UNSET_VARIABLE is not set"},
		{"env empty", Secret{Env: "SIGNET_TEST_EMPTY"}, "", "SIGNET_TEST_EMPTY is empty"},
		{"file trimmed", Secret{File: write("pin", "file-pin-value\n")}, "file-pin-value", ""},
		{"file with spaces inside", Secret{File: write("pw", " pass phrase \r\n")}, "pass phrase", ""},
		{"file missing", Secret{File: filepath.Join(tmp, "missing.pin")}, "", "missing.pin"},
		{"file empty", Secret{File: write("empty", "\n")}, "", "empty is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.s.Resolve()
			if tt.errPart == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Resolve = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errPart) {
				t.Fatalf("Resolve error %v, want one naming %q", err, tt.errPart)
			}
			if got != "" {
				t.Errorf("Resolve returned %q with an error", got)
			}
		})
	}
	if _, err := (Secret{File: filepath.Join(tmp, "missing.pin")}).Resolve(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file error %v does not wrap fs.ErrNotExist", err)
	}
	if _, err := (Secret{}).Resolve(); !errors.Is(err, ErrNoSecret) {
		t.Errorf("zero Secret: %v, want ErrNoSecret", err)
	}
	if s := (Secret{Env: "X"}).String(); s != "env:X" {
		t.Errorf("String = %q", s)
	}
}

// TestSecretFromConfig resolves a token's pin file relative to its YAML file.
func TestSecretFromConfig(t *testing.T) {
	tmp := t.TempDir()
	if err := os.WriteFile(filepath.Join(tmp, "token.pin"), []byte("1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := "tokens:\n  - name: t\n    type: soft\n    properties: {KEYSTOREPATH: ks.p12}\n    pin: {file: token.pin}\n"
	cfg, err := Parse(filepath.Join(tmp, "signet.yaml"), []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	pin, err := cfg.Tokens[0].PIN.Resolve()
	if err != nil || pin != "1234" {
		t.Errorf("Resolve = %q, %v", pin, err)
	}
	t.Setenv("SIGNET_TEST_TSA_PW", "tsa-secret")
	props, ps := NewProperties("CAdESSigner", map[string]string{"TSA_PASSWORD": "env:SIGNET_TEST_TSA_PW"})
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	if pw, err := props.Secret("TSA_PASSWORD").Resolve(); err != nil || pw != "tsa-secret" {
		t.Errorf("TSA_PASSWORD = %q, %v", pw, err)
	}
}

func TestProblemText(t *testing.T) {
	ps := Problems{
		{Pos{"b.yaml", 3}, "Second."},
		{Pos{"a.yaml", 10}, "Third."},
		{Pos{"b.yaml", 1}, "First."},
		{Pos{}, "No position."},
	}
	sortProblems(ps, []string{"b.yaml", "a.yaml"})
	want := "b.yaml:1: First.\nb.yaml:3: Second.\na.yaml:10: Third.\nNo position."
	if got := ps.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
	if (Problems{}).Err() != nil || (Problems(nil)).Err() != nil {
		t.Error("Err() of no problems is not nil")
	}
	if s := (Pos{File: "x.yaml"}).String(); s != "x.yaml" {
		t.Errorf("Pos without line = %q", s)
	}
	if Check() == nil {
		t.Error("Check() without files reports nothing")
	}
}

// TestParseRelative checks that Parse resolves relative paths against the
// name it is given and that an empty file is an empty configuration.
func TestParse(t *testing.T) {
	cfg, err := Parse("/etc/signet/tokens.yaml", []byte("tokens:\n  - name: t\n    type: soft\n    properties:\n      KEYSTOREPATH: ks/demo.p12\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Tokens[0].Properties.String("KEYSTOREPATH"); got != "/etc/signet/ks/demo.p12" {
		t.Errorf("KEYSTOREPATH = %q", got)
	}
	for _, data := range []string{"", "# nothing\n", "---\n"} {
		cfg, err := Parse("empty.yaml", []byte(data))
		if err != nil || len(cfg.Workers) != 0 || cfg.Server.MaxUploadSize != DefaultMaxUploadSize {
			t.Errorf("Parse(%q) = %+v, %v", data, cfg, err)
		}
	}
	if _, err := Parse("x.yaml", []byte("- a\n- b\n")); err == nil || !strings.Contains(err.Error(), "x.yaml:1: The top level must be a mapping") {
		t.Errorf("list at top level: %v", err)
	}
}

// A worker without id: gets one derived from its name: the same at every
// load, unchanged when other workers come and go, and never one that
// another worker sets.
func TestDerivedIDs(t *testing.T) {
	t.Parallel()
	load := func(yaml string) map[string]int {
		t.Helper()
		c, err := Parse("ids.yaml", []byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]int{}
		for _, w := range c.Workers {
			ids[w.Name] = w.ID
		}
		return ids
	}
	two := load("workers:\n  - {name: Invoices, kind: CMSSigner}\n  - {name: Logs, kind: CMSSigner}\n")
	if two["Invoices"] < derivedIDBase || two["Logs"] < derivedIDBase || two["Invoices"] == two["Logs"] {
		t.Fatalf("derived ids %v", two)
	}
	// Reordered, with a new worker before them: the same ids.
	three := load("workers:\n  - {name: Contracts, kind: CMSSigner}\n  - {name: Logs, kind: CMSSigner}\n  - {name: Invoices, kind: CMSSigner}\n")
	if three["Invoices"] != two["Invoices"] || three["Logs"] != two["Logs"] {
		t.Errorf("ids moved when a worker was added: %v, then %v", two, three)
	}
	// A worker that sets the id Invoices would get keeps it; Invoices moves on.
	taken := load(fmt.Sprintf("workers:\n  - {name: Invoices, kind: CMSSigner}\n  - {name: Fixed, id: %d, kind: CMSSigner}\n", two["Invoices"]))
	if taken["Fixed"] != two["Invoices"] || taken["Invoices"] == two["Invoices"] {
		t.Errorf("an explicit id was not kept first: %v", taken)
	}
}

// TestMultiDocument checks that a file with a second YAML document is
// refused at the line it starts, not cut silently after the first: a
// "---" in the middle of a file would otherwise drop every worker below it.
func TestMultiDocument(t *testing.T) {
	const tokens = "tokens:\n  - name: t\n    type: soft\n    properties:\n      KEYSTOREPATH: ks/demo.p12\n"
	tests := []struct {
		name, data string
		want       string // "" when the file loads
	}{
		{"one document", tokens, ""},
		{"leading marker", "---\n" + tokens, ""},
		{"trailing marker", tokens + "---\n", ""},
		{"trailing end marker", tokens + "...\n", ""},
		{"second document", tokens + "---\nworkers:\n  - name: W\n", "x.yaml:7: The file holds a second YAML document"},
		{"second document of garbage", tokens + "---\nbogus: 1\n", "x.yaml:7: The file holds a second YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(tt.data))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Parse: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Parse = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestTags checks that an explicit YAML tag that would change a value's
// meaning is refused at its line rather than dropped with its text kept:
// !!binary aGk= is not the path "aGk=", and !env NAME is not the text NAME.
func TestTags(t *testing.T) {
	const head = "tokens:\n  - name: t\n    type: soft\n    properties:\n"
	tests := []struct {
		name, value string
		want        string // "" when the file loads
	}{
		{"no tag", "ks/demo.p12", ""},
		{"str", "!!str ks/demo.p12", ""},
		{"str verbatim", "!<tag:yaml.org,2002:str> ks/demo.p12", ""},
		{"binary", "!!binary aGVsbG8=", "x.yaml:5: The YAML tag !!binary is not read"},
		{"custom", "!env KEYSTORE", "x.yaml:5: The YAML tag !env is not read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(head+"      KEYSTOREPATH: "+tt.value+"\n"))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Parse: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Parse = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestMergeKeys: a merge key brings a mapping's keys in; one that names
// anything else is refused rather than merging nothing without a word.
func TestMergeKeys(t *testing.T) {
	const base = "workers:\n  - name: &n W\n    id: 1\n    kind: CMSSigner\n    properties: &d\n      AUTHTYPE: NOAUTH\n  - name: V\n    id: 2\n    kind: CMSSigner\n    properties:\n      <<: %s\n"
	tests := []struct {
		name, merge string
		want        string // a problem; "" for none about the merge
	}{
		{"mapping", "*d", ""},
		{"list of mappings", "[*d]", ""},
		{"scalar", "*n", "x.yaml:11: A merge key (<<) takes a mapping"},
		{"list with a scalar", "[*d, *n]", "x.yaml:11: A merge key (<<) takes a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("x.yaml", []byte(fmt.Sprintf(base, tt.merge)))
			if err != nil {
				t.Fatal(err)
			}
			ps := cfg.Problems()
			got := ""
			for _, p := range ps {
				if strings.Contains(p.Msg, "merge key") {
					got = p.Error()
				}
			}
			if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("problems %v, want %q", ps, tt.want)
			}
		})
	}
}

// TestListenAddresses: listen and healthListen follow one rule, the one
// net.Listen applies: a port of 0 to 65535. A health port the server cannot
// listen on is refused by config check, not at start.
func TestListenAddresses(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8081", true},
		{":0", true},
		{"[::1]:65535", true},
		{"127.0.0.1:65536", false},
		{"127.0.0.1:99999", false},
		{"127.0.0.1:-1", false},
		{"127.0.0.1", false},
	}
	for _, tt := range tests {
		for _, key := range []string{"listen", "healthListen"} {
			_, err := Parse("x.yaml", []byte("server:\n  "+key+": \""+tt.addr+"\"\n"))
			if (err == nil) != tt.ok {
				t.Errorf("%s %q: %v, want ok=%v", key, tt.addr, err, tt.ok)
			}
		}
	}
}

// TestHealthListenOwnPort: a health address on the listen address's port
// is refused by config check, as the server refuses it (address in use).
func TestHealthListenOwnPort(t *testing.T) {
	tests := []struct {
		listen, health string
		ok             bool
	}{
		{"127.0.0.1:8080", "127.0.0.1:8081", true},
		{"127.0.0.1:8080", "127.0.0.2:8080", true},
		{":0", ":0", true},
		{"127.0.0.1:8080", "127.0.0.1:8080", false},
		{":8080", "127.0.0.1:8080", false},
		{"127.0.0.1:8080", "0.0.0.0:8080", false},
		// One address written two ways is one address to net.Listen
		// (localhost is 127.0.0.1 to it, whatever else /etc/hosts names):
		// config check said OK, and the server failed to start.
		{"localhost:8080", "127.0.0.1:8080", false},
		{"127.0.0.1:8080", "LocalHost:8080", false},
		{"127.0.0.1:8080", "[::ffff:127.0.0.1]:8080", false},
		{"[::1]:8080", "[0:0:0:0:0:0:0:1]:8080", false},
		{"[::1]:8080", "[::0]:8080", false},
		{"127.0.0.1:8080", "[::ffff:0.0.0.0]:8080", false},
		{"signet.example:8080", "SIGNET.example:8080", false},
		{"[::1]:8080", "localhost:8080", true},
		{"localhost:8080", "127.0.0.2:8080", true},
		// Without server listen, the address is signet serve --listen's,
		// which the configuration does not know (the README's cluster
		// nodes, make run LISTEN=): DefaultListen's port is no mistake.
		{"", "127.0.0.1:8081", true},
		{"", "127.0.0.1:8080", true},
		{"", ":8080", true},
	}
	for _, tt := range tests {
		y, at := "server:\n  listen: \""+tt.listen+"\"\n", "x.yaml:3: "
		if tt.listen == "" {
			y, at = "server:\n", "x.yaml:2: "
		}
		_, err := Parse("x.yaml", []byte(y+"  healthListen: \""+tt.health+"\"\n"))
		if (err == nil) != tt.ok || err != nil && !strings.Contains(err.Error(), at+"The server healthListen address") {
			t.Errorf("listen %s, healthListen %s: %v, want ok=%v", tt.listen, tt.health, err, tt.ok)
		}
	}
}

// TestTrustedProxiesIPv4Mapped: a proxy written as an IPv4-mapped IPv6
// address (as ss and netstat show an IPv4 peer of a dual-stack socket) is
// that IPv4 address, and a mapped range is its IPv4 range. The bare
// "::ffff:10.0.0.5" was read as the IPv6 range ::/32 (the /32 meant for
// IPv4 applied to IPv6): the proxy was not trusted, and ::1 and the rest of
// ::/32 were, free to say what X-Forwarded-For and X-Forwarded-Proto they
// liked. A mapped range shorter than /96 has no IPv4 meaning and is refused.
func TestTrustedProxiesIPv4Mapped(t *testing.T) {
	tests := []struct {
		proxy      string
		trusts     []string
		trustsNot  []string
		refusalHas string
	}{
		{"10.0.0.5", []string{"10.0.0.5"}, []string{"10.0.0.6", "::1"}, ""},
		{"::ffff:10.0.0.5", []string{"10.0.0.5"}, []string{"10.0.0.6", "::1", "::"}, ""},
		{"::ffff:10.0.0.0/104", []string{"10.0.0.5", "10.255.0.1"}, []string{"11.0.0.1", "::1"}, ""},
		{"::ffff:10.0.0.5/128", []string{"10.0.0.5"}, []string{"10.0.0.6", "::1"}, ""},
		{"2001:db8::1", []string{"2001:db8::1"}, []string{"2001:db8::2", "::1"}, ""},
		{"2001:db8::/32", []string{"2001:db8::2"}, []string{"2001:db9::1", "10.0.0.5"}, ""},
		{"::ffff:10.0.0.0/8", nil, nil, "10.0.0.0/8"},
	}
	for _, tt := range tests {
		cfg, err := Parse("x.yaml", []byte("server:\n  trustedProxies: [\""+tt.proxy+"\"]\n"))
		if tt.refusalHas != "" {
			if err == nil || !strings.Contains(err.Error(), "x.yaml:2: ") || !strings.Contains(err.Error(), tt.refusalHas) {
				t.Errorf("%s: %v, want a refusal naming %s", tt.proxy, err, tt.refusalHas)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.proxy, err)
			continue
		}
		if len(cfg.Server.TrustedProxies) != 1 {
			t.Errorf("%s: %v, want one range", tt.proxy, cfg.Server.TrustedProxies)
			continue
		}
		n := cfg.Server.TrustedProxies[0]
		for _, a := range tt.trusts {
			if !n.Contains(net.ParseIP(a)) {
				t.Errorf("%s: read as %s, which does not hold %s", tt.proxy, n, a)
			}
		}
		for _, a := range tt.trustsNot {
			if n.Contains(net.ParseIP(a)) {
				t.Errorf("%s: read as %s, which holds %s", tt.proxy, n, a)
			}
		}
	}
}

// TestTSADigestAcceptedByTSAWorker: a B-T signer's TSA_DIGESTALGORITHM
// must be one its TSA_WORKER accepts (ACCEPTEDALGORITHMS, or the TSA's
// default), else every time-stamp is refused after the signer's key signed.
func TestTSADigestAcceptedByTSAWorker(t *testing.T) {
	tests := []struct {
		name         string
		tsaProps, bt string
		want         string // part of the only problem; "" for none
	}{
		{"default digest, default accepted", "", "", ""},
		{"SHA-1, default accepted", "", "TSA_DIGESTALGORITHM: SHA1", "TSA_DIGESTALGORITHM SHA1 is not accepted by time-stamp worker TSA"},
		{"SHA-1 listed", "ACCEPTEDALGORITHMS: SHA1;SHA256", "TSA_DIGESTALGORITHM: SHA-1", ""},
		{"default digest not listed", "ACCEPTEDALGORITHMS: SHA384;SHA512", "", "TSA_DIGESTALGORITHM SHA-256 is not accepted by time-stamp worker TSA"},
		{"listed in another spelling", "ACCEPTEDALGORITHMS: sha-384", "TSA_DIGESTALGORITHM: SHA384", ""},
		{"not time-stamped", "ACCEPTEDALGORITHMS: SHA512", "SIGNATURE_LEVEL: BASELINE-B", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := "tokens:\n  - name: t\n    type: soft\n    properties: {KEYSTOREPATH: ks.p12}\nworkers:\n" +
				"  - name: TSA\n    id: 9\n    kind: TimeStampSigner\n    token: t\n    key: tsa\n    properties:\n      AUTHTYPE: NOAUTH\n      DEFAULTTSAPOLICYOID: 1.2.3.4\n"
			if tt.tsaProps != "" {
				y += "      " + tt.tsaProps + "\n"
			}
			y += "  - name: BT\n    id: 1\n    kind: CAdESSigner\n    token: t\n    key: k\n    properties:\n      AUTHTYPE: NOAUTH\n      TSA_WORKER: TSA\n"
			if !strings.Contains(tt.bt, "SIGNATURE_LEVEL") {
				y += "      SIGNATURE_LEVEL: BASELINE-T\n"
			}
			if tt.bt != "" {
				y += "      " + tt.bt + "\n"
			}
			cfg, err := Parse(filepath.Join(t.TempDir(), "w.yaml"), []byte(y))
			if err != nil {
				t.Fatal(err)
			}
			ps := cfg.Problems()
			switch {
			case tt.want == "" && len(ps) > 0:
				t.Fatalf("problems\n%v\nwant none", ps)
			case tt.want != "" && (len(ps) != 1 || !strings.Contains(ps[0].Msg, tt.want)):
				t.Fatalf("problems\n%v\nwant one saying %q", ps, tt.want)
			}
		})
	}
}
