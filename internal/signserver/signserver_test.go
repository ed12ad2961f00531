package signserver

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/signet-project/signet/config"
)

// corpus is testdata/signserver; each case imports some of its files
// together (a worker with the crypto worker it names) and lists exactly the
// properties the import must report as not carried over, as
// "WORKER.PROPERTY" ("WORKER" for a whole worker).
func TestImportCorpus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		files   []string
		skipped []string
		kinds   map[string]string // worker name -> kind
		tokens  map[string]string // token name -> type
	}{
		{
			files:   []string{"keystore-crypto.properties", "cmssigner.properties"},
			skipped: []string{"CryptoTokenP12.DEFAULTKEY", "CMSSigner.SIGNATUREALGORITHM", "CMSSigner.DO_LOGREQUEST_DIGEST", "CMSSigner.LOGREQUEST_DIGESTALGORITHM"},
			kinds:   map[string]string{"CMSSigner": config.KindCMSSigner},
			tokens:  map[string]string{"CryptoTokenP12": config.TokenSoft},
		},
		{
			files:   []string{"keystore-crypto.properties", "cadessigner.properties"},
			skipped: []string{"CryptoTokenP12.DEFAULTKEY"},
			kinds:   map[string]string{"CAdESSigner": config.KindCAdESSigner},
			tokens:  map[string]string{"CryptoTokenP12": config.TokenSoft},
		},
		{
			files:   []string{"keystore-crypto.properties", "plainsigner.properties"},
			skipped: []string{"CryptoTokenP12.DEFAULTKEY"},
			kinds:   map[string]string{"PlainSigner": config.KindPlainSigner},
			tokens:  map[string]string{"CryptoTokenP12": config.TokenSoft},
		},
		{
			files:   []string{"keystore-crypto.properties", "timestamp.properties"},
			skipped: []string{"CryptoTokenP12.DEFAULTKEY", "TimeStampSigner.TIMESOURCE"},
			kinds:   map[string]string{"TimeStampSigner": config.KindTimeStampSigner},
			tokens:  map[string]string{"CryptoTokenP12": config.TokenSoft},
		},
		{
			files:   []string{"keystore-crypto.properties", "pdfsigner.properties"},
			skipped: []string{"CryptoTokenP12.DEFAULTKEY", "PDFSigner.EMBED_CRL", "PDFSigner.REJECT_PERMISSIONS"},
			kinds:   map[string]string{"PDFSigner": config.KindPDFSigner},
			tokens:  map[string]string{"CryptoTokenP12": config.TokenSoft},
		},
		{
			files:   []string{"pkcs11-crypto.properties"},
			skipped: []string{"CryptoTokenP11.ATTRIBUTES", "CryptoTokenP11.DEFAULTKEY"},
			tokens:  map[string]string{"CryptoTokenP11": config.TokenPKCS11},
		},
		{
			files:   []string{"dump-legacy.properties"},
			skipped: []string{"GLOB.TIMEMONITOR_ENABLED", "XAdESSigner"},
			kinds:   map[string]string{"LegacyCMS": config.KindCMSSigner},
			tokens:  map[string]string{"LegacyCMSToken": config.TokenSoft},
		},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.files, "+"), func(t *testing.T) {
			t.Parallel()
			res := importFiles(t, tc.files...)
			if len(res.Problems) > 0 {
				t.Fatalf("config check refuses the import:\n%s\n--- YAML:\n%s", res.Problems, res.YAML)
			}
			var got []string
			for _, s := range res.Skipped {
				got = append(got, strings.TrimSuffix(s.Worker+"."+s.Property, "."))
				if s.Reason == "" || s.Pos.Line == 0 && s.Worker != "users" {
					t.Errorf("skip %v has no reason or no line", s)
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.skipped))
			if !slices.Equal(got, want) {
				t.Errorf("skipped:\n got %q\nwant %q", got, want)
			}
			cfg, err := config.Parse("imported.yaml", res.YAML)
			if err != nil {
				t.Fatal(err)
			}
			for name, kind := range tc.kinds {
				w, ok := cfg.Worker(name)
				if !ok || w.Kind != kind || w.ID == 0 || w.Key == "" {
					t.Errorf("worker %s: %+v, want kind %s with an id and a key", name, w, kind)
				}
			}
			for name, typ := range tc.tokens {
				tok, ok := cfg.Token(name)
				if !ok || tok.Type != typ {
					t.Errorf("token %s: %+v, want type %s", name, tok, typ)
				}
			}
			if len(cfg.Workers) != len(tc.kinds) || len(cfg.Tokens) != len(tc.tokens) {
				t.Errorf("%d workers and %d tokens, want %d and %d", len(cfg.Workers), len(cfg.Tokens), len(tc.kinds), len(tc.tokens))
			}

			// Export, then import again: the same YAML, but for the secrets,
			// which export never writes and reports instead.
			out, skips := Export(cfg)
			again, err := Import(File{Name: "exported.properties", R: bytes.NewReader(out)})
			if err != nil {
				t.Fatal(err)
			}
			if len(again.Skipped) != 0 {
				t.Errorf("re-import of the export skipped %v\n%s", again.Skipped, out)
			}
			pins := 0
			for _, tok := range cfg.Tokens {
				if !tok.PIN.IsZero() {
					pins++
				}
			}
			exported := 0
			for _, s := range skips {
				if s.Property == "KEYSTOREPASSWORD" || s.Property == "PIN" {
					exported++
				}
			}
			if exported != pins {
				t.Errorf("export reports %d secrets, the configuration has %d pins: %v", exported, pins, skips)
			}
			if a, b := withoutPins(res.YAML), withoutPins(again.YAML); a != b {
				t.Errorf("export then import changed the YAML:\n%s\n--- after:\n%s\n--- export:\n%s", a, b, out)
			}
		})
	}
}

// withoutPins drops the pin: {env: …} lines of tokens.
func withoutPins(y []byte) string {
	return regexp.MustCompile(`(?m)^ *pin:\n *env: .*\n`).ReplaceAllString(string(y), "")
}

func importFiles(t *testing.T, names ...string) *Result {
	t.Helper()
	var files []File
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "signserver", n))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, File{Name: n, R: bytes.NewReader(b)})
	}
	res, err := Import(files...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// The secrets of SignServer files never reach the YAML: the pin comes from
// an environment variable, and a note says which.
func TestImportSecrets(t *testing.T) {
	t.Parallel()
	res := importFiles(t, "keystore-crypto.properties", "pkcs11-crypto.properties")
	if bytes.Contains(res.YAML, []byte("foo123")) {
		t.Fatalf("the password reached the YAML:\n%s", res.YAML)
	}
	for _, env := range []string{"SIGNET_PIN_CRYPTOTOKENP12", "SIGNET_PIN_CRYPTOTOKENP11"} {
		if !bytes.Contains(res.YAML, []byte("env: "+env)) {
			t.Errorf("YAML has no pin from %s:\n%s", env, res.YAML)
		}
		if !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, env) }) {
			t.Errorf("no note names %s: %q", env, res.Notes)
		}
	}
	cfg, err := config.Parse("x.yaml", res.YAML)
	if err != nil {
		t.Fatal(err)
	}
	p11, _ := cfg.Token("CryptoTokenP11")
	if got := p11.Properties.String("SHAREDLIBRARYNAME"); got != "/usr/lib/softhsm/libsofthsm2.so" {
		t.Errorf("SHAREDLIBRARYNAME = %q, want SoftHSM's module path", got)
	}
}

// TestImportSharedSlot: two crypto workers on one PKCS#11 slot (the same
// library and slot) share one login. With different PINs one of the two
// cannot activate (a slot has one user PIN; Signet refuses the other), so
// the import warns at the line that set the second's slot, naming the
// first; with the same PIN it notes that they are one login. Neither is a
// problem config check would report.
func TestImportSharedSlot(t *testing.T) {
	t.Parallel()
	// crypto is a PKCS#11 crypto worker of seven lines, its slot on the
	// sixth (and seventh, for a label).
	crypto := func(gen int, name, slot, pin string) string {
		w := fmt.Sprintf("WORKERGENID%d.", gen)
		slotLines := w + "SLOT=" + slot + "\n"
		if label, ok := strings.CutPrefix(slot, "label:"); ok {
			slotLines = w + "SLOTLABELVALUE=" + label + "\n" + w + "SLOTLABELTYPE=SLOT_LABEL\n"
		}
		return w + "TYPE=CRYPTO_WORKER\n" +
			w + "IMPLEMENTATION_CLASS=org.signserver.server.signers.CryptoWorker\n" +
			w + "CRYPTOTOKEN_IMPLEMENTATION_CLASS=org.signserver.server.cryptotokens.PKCS11CryptoToken\n" +
			w + "NAME=" + name + "\n" +
			w + "SHAREDLIBRARYNAME=SoftHSM\n" +
			slotLines +
			w + "PIN=" + pin + "\n"
	}
	cases := []struct {
		name          string
		props         string
		warning, note string // "" for none
	}{
		{"two PINs on slot 1", crypto(1, "TokenA", "1", "1111") + crypto(2, "TokenB", "1", "2222"),
			"p.properties:13: crypto token TokenB is on the slot of crypto token TokenA (p.properties:6) with another PIN", ""},
		{"one label twice, one PIN", crypto(1, "TokenA", "label:hsm", "1111") + crypto(2, "TokenB", "label:hsm", "1111"),
			"", "p.properties:14: crypto token TokenB is on the slot of crypto token TokenA (p.properties:6) with the same PIN"},
		{"two slots", crypto(1, "TokenA", "1", "1111") + crypto(2, "TokenB", "2", "2222"), "", ""},
	}
	has := func(lines []string, prefix string) bool {
		return slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, prefix) })
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Import(File{Name: "p.properties", R: strings.NewReader(tc.props)})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Problems) > 0 {
				t.Errorf("problems:\n%s", res.Problems)
			}
			if tc.warning == "" && len(res.Warnings) > 0 || tc.warning != "" && (len(res.Warnings) != 1 || !has(res.Warnings, tc.warning)) {
				t.Errorf("warnings %q, want %q", res.Warnings, tc.warning)
			}
			if tc.note != "" && !has(res.Notes, tc.note) || tc.note == "" && slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, "slot") }) {
				t.Errorf("notes %q, want one starting %q", res.Notes, tc.note)
			}
		})
	}
}

// TestImportProblemPositions: a problem config check finds in the YAML of a
// token or worker is reported at the property file line it comes from, the
// file the user has, with the positions its sentence names.
func TestImportProblemPositions(t *testing.T) {
	t.Parallel()
	in := "WORKERGENID1.TYPE=CRYPTO_WORKER\n" +
		"WORKERGENID1.IMPLEMENTATION_CLASS=org.signserver.server.signers.CryptoWorker\n" +
		"WORKERGENID1.CRYPTOTOKEN_IMPLEMENTATION_CLASS=org.signserver.server.cryptotokens.PKCS11CryptoToken\n" +
		"WORKERGENID1.NAME=NoSlot\n" +
		"WORKERGENID1.SHAREDLIBRARYNAME=/usr/lib/softhsm/libsofthsm2.so\n" +
		"WORKERGENID2.TYPE=PROCESSABLE\n" +
		"WORKERGENID2.IMPLEMENTATION_CLASS=org.signserver.module.cmssigner.CMSSigner\n" +
		"WORKERGENID2.NAME=Signer\n" +
		"WORKERGENID2.CRYPTOTOKEN=NoSlot\n" +
		"WORKERGENID2.DEFAULTKEY=k\n" +
		"WORKERGENID2.AUTHTYPE=NOAUTH\n"
	res, err := Import(File{Name: "p.properties", R: strings.NewReader(in)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range res.Problems {
		got = append(got, p.Error())
	}
	want := []string{
		"p.properties:1: Set SLOTLABELTYPE",
		"p.properties:1: Set SLOTLABELVALUE",
		`p.properties:6: Token "NoSlot" has configuration problems (first at p.properties:1)`,
	}
	if len(got) != len(want) {
		t.Fatalf("problems %q, want %q", got, want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %q, want %q…", got[i], want[i])
		}
	}
}

// A worker naming a crypto token that is not among the files, and a value
// Signet refuses, are reported: the first as a config check problem, the
// second as a skip with the schema's own sentence.
func TestImportProblems(t *testing.T) {
	t.Parallel()
	in := "WORKERGENID1.TYPE=PROCESSABLE\n" +
		"WORKERGENID1.IMPLEMENTATION_CLASS=org.signserver.module.cmssigner.CMSSigner\n" +
		"WORKERGENID1.NAME=Orphan\n" +
		"WORKERGENID1.CRYPTOTOKEN=Missing\n" +
		"WORKERGENID1.DEFAULTKEY=k\n" +
		"WORKERGENID1.DETACHEDSIGNATURE=perhaps\n" +
		"not a worker line\n"
	res, err := Import(File{Name: "p.properties", R: strings.NewReader(in)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) == 0 || !strings.Contains(res.Problems.Error(), "Missing") {
		t.Errorf("problems %q do not name the missing token", res.Problems)
	}
	var got []string
	for _, s := range res.Skipped {
		got = append(got, s.String())
	}
	want := []string{
		`p.properties:6: Orphan.DETACHEDSIGNATURE: DETACHEDSIGNATURE must be true or false, not "perhaps".`,
		"p.properties:7: not: not a worker property: write WORKERGENID<n>.<PROPERTY> or WORKER<id>.<PROPERTY>.",
	}
	if !slices.Equal(got, want) {
		t.Errorf("skipped:\n got %q\nwant %q", got, want)
	}
}

// A file that is not properties syntax is refused with its name and line.
func TestReadPropertiesPosition(t *testing.T) {
	t.Parallel()
	got, err := readProperties("t", strings.NewReader("# c\na=1\nb : 2\n"))
	if err != nil || len(got) != 2 || got[1] != (entry{"b", "2", config.Pos{File: "t", Line: 3}}) {
		t.Errorf("got %+v, %v", got, err)
	}
	if _, err := readProperties("bad", strings.NewReader("ok=1\nx=\\u12\n")); err == nil || !strings.Contains(err.Error(), "bad:2") {
		t.Errorf("short \\u escape: %v, want an error at bad:2", err)
	}
}

// SignServer's AUTHTYPE names an authorizer class: UsernamePasswordAuthorizer
// is Signet's USERNAME_PASSWORD (config check then asks for its users);
// another class is refused with the schema's own sentence.
func TestImportAuthType(t *testing.T) {
	t.Parallel()
	in := "WORKERGENID1.TYPE=PROCESSABLE\n" +
		"WORKERGENID1.IMPLEMENTATION_CLASS=org.signserver.module.cmssigner.CMSSigner\n" +
		"WORKERGENID1.NAME=%s\n" +
		"WORKERGENID1.AUTHTYPE=%s\n"
	res, err := Import(File{Name: "a.properties", R: strings.NewReader(fmt.Sprintf(in, "PW", "org.signserver.server.UsernamePasswordAuthorizer"))})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(res.YAML), "AUTHTYPE: "+config.AuthUsernamePassword) || len(res.Skipped) != 0 {
		t.Errorf("UsernamePasswordAuthorizer: skipped %v\n%s", res.Skipped, res.YAML)
	}
	// Exported back, it is SignServer's class again, not Signet's word,
	// which SignServer would try to load as a class.
	cfg, err := config.Parse("imported.yaml", res.YAML)
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := Export(cfg); !strings.Contains(string(out), ".AUTHTYPE=org.signserver.server.UsernamePasswordAuthorizer\n") {
		t.Errorf("USERNAME_PASSWORD exported as:\n%s", out)
	}
	res, err = Import(File{Name: "b.properties", R: strings.NewReader(fmt.Sprintf(in, "Other", "org.example.MyAuthorizer"))})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Skipped) != 1 || res.Skipped[0].Property != config.PropAuthType || !strings.Contains(res.Skipped[0].Reason, "AUTHTYPE must be one of") {
		t.Errorf("another authorizer class: skipped %v", res.Skipped)
	}
}

// TestImportArchivers: SignServer's database archivers become ARCHIVERS:
// OldDatabaseArchiver, with that archiver's ARCHIVERn.ARCHIVE_OF_TYPE as
// ARCHIVE_OF_TYPE; what Signet cannot archive is skipped with the reason.
func TestImportArchivers(t *testing.T) {
	t.Parallel()
	const head = "WORKERGENID1.TYPE=PROCESSABLE\nWORKERGENID1.IMPLEMENTATION_CLASS=org.signserver.module.cmssigner.CMSSigner\nWORKERGENID1.NAME=W\n"
	tests := []struct {
		name, props string
		yaml        []string // in the imported worker's properties
		skipped     []string
	}{
		{"the old database archiver", "ARCHIVERS=org.signserver.server.archive.olddbarchiver.OldDatabaseArchiver\nARCHIVER0.ARCHIVE_OF_TYPE=REQUEST",
			[]string{"ARCHIVERS: OldDatabaseArchiver", "ARCHIVE_OF_TYPE: REQUEST"}, nil},
		{"the base64 one, second in the list", "ARCHIVERS=org.example.Other, org.signserver.server.archive.base64dbarchiver.Base64DatabaseArchiver\nARCHIVER1.ARCHIVE_OF_TYPE=REQUEST_AND_RESPONSE\nARCHIVER0.ARCHIVE_OF_TYPE=REQUEST",
			[]string{"ARCHIVERS: OldDatabaseArchiver", "ARCHIVE_OF_TYPE: REQUEST_AND_RESPONSE"}, []string{"ARCHIVER0.ARCHIVE_OF_TYPE"}},
		{"the legacy ARCHIVE", "ARCHIVE=TRUE", []string{"ARCHIVERS: OldDatabaseArchiver"}, nil},
		{"ARCHIVE=false", "ARCHIVE=false", nil, []string{"ARCHIVE"}},
		{"another archiver only", "ARCHIVERS=org.example.Other\nARCHIVER0.ARCHIVE_OF_TYPE=REQUEST", nil, []string{"ARCHIVER0.ARCHIVE_OF_TYPE", "ARCHIVERS"}},
		{"a forwarded address", "ARCHIVERS=OldDatabaseArchiver\nARCHIVER0.USE_FORWARDED_ADDRESS=true", []string{"ARCHIVERS: OldDatabaseArchiver"}, []string{"ARCHIVER0.USE_FORWARDED_ADDRESS"}},
	}
	for _, tt := range tests {
		in := head + "WORKERGENID1." + strings.ReplaceAll(tt.props, "\n", "\nWORKERGENID1.") + "\n"
		res, err := Import(File{Name: "a.properties", R: strings.NewReader(in)})
		if err != nil {
			t.Fatal(err)
		}
		for _, y := range tt.yaml {
			if !strings.Contains(string(res.YAML), y) {
				t.Errorf("%s: the YAML lacks %q:\n%s", tt.name, y, res.YAML)
			}
		}
		if strings.Contains(string(res.YAML), "ARCHIVE_OF_TYPE") != slices.ContainsFunc(tt.yaml, func(y string) bool { return strings.HasPrefix(y, "ARCHIVE_OF_TYPE") }) {
			t.Errorf("%s: ARCHIVE_OF_TYPE imported or not as it should:\n%s", tt.name, res.YAML)
		}
		var skipped []string
		for _, s := range res.Skipped {
			skipped = append(skipped, s.Property)
		}
		slices.Sort(skipped)
		if !slices.Equal(skipped, tt.skipped) {
			t.Errorf("%s: skipped %v, want %v", tt.name, res.Skipped, tt.skipped)
		}
		cfg, err := config.Parse("imported.yaml", res.YAML)
		if err != nil {
			t.Fatal(err)
		}
		if ps := cfg.Problems(); strings.Contains(ps.Error(), "ARCHIVE") { // the worker has no token: that is not the archiver's
			t.Errorf("%s: config check refuses the archiving imported: %v", tt.name, ps)
		}
		// Exported, SignServer's names come back, and import again as they were.
		out, _ := Export(cfg)
		again, err := Import(File{Name: "exported.properties", R: bytes.NewReader(out)})
		if err != nil || len(again.Skipped) != 0 || withoutPins(again.YAML) != withoutPins(res.YAML) {
			t.Errorf("%s: export then import: skipped %v, %v\n%s\n--- export:\n%s", tt.name, again.Skipped, err, again.YAML, out)
		}
	}
}

// TestReadPropertiesTooLarge: a file over the limit is refused, not cut at
// the limit, which would import its last property with half its value.
func TestReadPropertiesTooLarge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		size    int
		wantErr bool
	}{
		{"at the limit", maxFileSize, false},
		{"over the limit", maxFileSize + 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const head = "WORKERGENID1.NAME="
			data := head + strings.Repeat("x", tt.size-len(head))
			got, err := readProperties("big", strings.NewReader(data))
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "larger than") {
					t.Errorf("err = %v, want the file refused as too large (read %d entries)", err, len(got))
				}
				return
			}
			if err != nil || len(got) != 1 || len(got[0].value) != tt.size-len(head) {
				t.Errorf("got %d entries, %v", len(got), err)
			}
		})
	}
}

// TestImportSecretEnvNames: two crypto tokens whose names differ only in
// characters an environment variable name cannot hold (Crypto-A, Crypto_A)
// read their pins from two variables, not one shared by both secrets.
func TestImportSecretEnvNames(t *testing.T) {
	t.Parallel()
	token := func(n int, name string) string {
		return fmt.Sprintf("WORKERGENID%[1]d.TYPE=CRYPTO_WORKER\nWORKERGENID%[1]d.IMPLEMENTATION_CLASS=org.signserver.server.signers.CryptoWorker\n"+
			"WORKERGENID%[1]d.CRYPTOTOKEN_IMPLEMENTATION_CLASS=org.signserver.server.cryptotokens.KeystoreCryptoToken\n"+
			"WORKERGENID%[1]d.NAME=%[2]s\nWORKERGENID%[1]d.KEYSTOREPATH=/etc/ks%[1]d.p12\nWORKERGENID%[1]d.KEYSTOREPASSWORD=secret%[1]d\n", n, name)
	}
	res, err := Import(File{Name: "a.properties", R: strings.NewReader(token(1, "Crypto-A") + token(2, "Crypto_A"))})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("x.yaml", res.YAML)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := cfg.Token("Crypto-A")
	b, _ := cfg.Token("Crypto_A")
	if a.PIN.Env == "" || a.PIN.Env == b.PIN.Env {
		t.Errorf("pins from %q and %q, want two variables:\n%s", a.PIN.Env, b.PIN.Env, res.YAML)
	}
	for _, env := range []string{a.PIN.Env, b.PIN.Env} {
		if !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, env+";") }) {
			t.Errorf("no note names %s: %q", env, res.Notes)
		}
	}
}

// TestExportListsWhatIsNotProperties: what a Signet configuration holds
// outside the properties and SignServer keeps elsewhere (a worker's
// authorized clients and its own users, a token's per-key policy) is
// listed as not exported, each at its line, and never dropped without a
// word.
func TestExportListsWhatIsNotProperties(t *testing.T) {
	t.Parallel()
	const hash = "$2a$10$f5lm3lnyJzc8mvscO06ac.BDwj1sFXMNFT.MkLgkDru8fSLTOgmh"
	tests := []struct {
		name, yaml string
		line       int    // of the one skip
		property   string // its Property
		says       string // in its reason
	}{
		{"authorized client",
			"workers:\n  - name: W\n    kind: CMSSigner\n    properties: {AUTHTYPE: CLIENTCERT}\n    authorizedClients:\n      - {matchSubjectWithType: CERTIFICATE_SERIALNO, matchSubjectWithValue: 0A1B, matchIssuerWithValue: 'CN=Issuer,O=X'}\n",
			6, config.FieldAuthorizedClients, "authorizedclients -worker W -add -matchSubjectWithType CERTIFICATE_SERIALNO -matchSubjectWithValue 0A1B -matchIssuerWithType ISSUER_DN_BCSTYLE -matchIssuerWithValue 'CN=Issuer,O=X'"},
		{"worker user",
			"workers:\n  - name: W\n    kind: CMSSigner\n    properties: {AUTHTYPE: USERNAME_PASSWORD}\n    users:\n      - {name: alice, passwordHash: '" + hash + "'}\n",
			6, "users", "alice"},
		{"key policy",
			"tokens:\n  - name: t\n    type: soft\n    properties: {KEYSTOREPATH: /ks.p12}\n    keys:\n      k: {KEYUSAGELIMIT: 10}\n",
			6, "keys", "KEYUSAGELIMIT"},
		// A key declared without a policy loses nothing.
		{"key without a policy",
			"tokens:\n  - name: t\n    type: soft\n    properties: {KEYSTOREPATH: /ks.p12}\n    keys:\n      k: {}\n",
			0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Parse("signet.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			_, skipped := Export(cfg)
			if tt.line == 0 {
				if len(skipped) != 0 {
					t.Fatalf("skipped %q, want none", skipped)
				}
				return
			}
			if len(skipped) != 1 || skipped[0].Pos.Line != tt.line || skipped[0].Property != tt.property || !strings.Contains(skipped[0].Reason, tt.says) {
				t.Fatalf("skipped %q, want one at line %d, %s, saying %q", skipped, tt.line, tt.property, tt.says)
			}
		})
	}
}

// TestImportNothing: files from which nothing is imported (an empty file,
// a global configuration, workers of kinds Signet does not have) are a
// problem, naming the file to give, where an empty YAML was written with
// exit status 0 as a clean import.
func TestImportNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		files   []File
		says    string
		skipped int
	}{
		{"empty", []File{{Name: "a.properties", R: strings.NewReader("# nothing\n")}},
			"Nothing was imported: a.properties holds no SignServer worker or crypto worker that Signet has (WORKERGENID<n>.<PROPERTY> or WORKER<id>.<PROPERTY> lines); give the file that signserver dumpproperties wrote.", 0},
		{"a worker kind Signet has not", []File{{Name: "a.properties", R: strings.NewReader("GLOB.WORKER1.CLASSPATH=x\n")}, {Name: "b.properties", R: strings.NewReader("")}},
			"Nothing was imported: a.properties and b.properties hold no SignServer worker", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Import(tc.files...)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Problems) != 1 || !strings.HasPrefix(res.Problems[0].Msg, tc.says) || len(res.Skipped) != tc.skipped {
				t.Errorf("problems %q, %d skipped; want %q and %d skipped", res.Problems, len(res.Skipped), tc.says, tc.skipped)
			}
		})
	}
}
