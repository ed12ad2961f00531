package server

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/soft"
	"github.com/signet-project/signet/web/auth"
	"github.com/signet-project/signet/workers"
)

// TestCheckTrustAnchors: config check reports a validator's TRUSTANCHORS
// file that the server cannot read as roots (the validator would be
// OFFLINE), at the line that names it, as it reports the TLS files; an
// edit through the admin API that makes it so is refused, and nothing is
// written.
func TestCheckTrustAnchors(t *testing.T) {
	t.Parallel()
	ca, err := demo.NewCA("Check CA")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		kind    string
		anchors []byte // nil: the file is missing
		says    string // "": no problem
	}{
		{"a readable CA", "CMSValidator", demo.PEM(ca.Cert), ""},
		{"a missing file", "CMSValidator", nil, "the trust anchors cannot be read"},
		{"a missing file of a PDFValidator", "PDFValidator", nil, "the trust anchors cannot be read"},
		{"a file without certificates", "PDFValidator", []byte("hello"), "holds no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tt.anchors != nil {
				if err := os.WriteFile(filepath.Join(dir, "roots.pem"), tt.anchors, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			y := "workers:\n  - name: V\n    kind: " + tt.kind + "\n    properties:\n      AUTHTYPE: NOAUTH\n      TRUSTANCHORS: roots.pem\n"
			checkFile(t, filepath.Join(dir, "signet.yaml"), y, 6, tt.says)
		})
		// The same change made through the admin API (config.Apply with
		// the server's file checks) to a validator whose anchors read.
		t.Run(tt.name+", edited", func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "good.pem"), demo.PEM(ca.Cert), 0o600); err != nil {
				t.Fatal(err)
			}
			if tt.anchors != nil {
				if err := os.WriteFile(filepath.Join(dir, "roots.pem"), tt.anchors, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			y := "workers:\n  - name: V\n    kind: " + tt.kind + "\n    properties:\n      AUTHTYPE: NOAUTH\n      TRUSTANCHORS: good.pem\n"
			cfg := filepath.Join(dir, "signet.yaml")
			if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
				t.Fatal(err)
			}
			err := config.Apply([]string{cfg}, cfg, config.SetProperty("V", config.PropTrustAnchors, "roots.pem"), FileChecks()...)
			var refused *config.Refused
			switch after, _ := os.ReadFile(cfg); {
			case tt.says == "" && err != nil:
				t.Fatalf("a good change refused: %v", err)
			case tt.says != "" && (!errors.As(err, &refused) || !strings.Contains(refused.Problems[0].Msg, tt.says)):
				t.Fatalf("edit: %v, want it refused saying %q", err, tt.says)
			case tt.says != "" && string(after) != y:
				t.Fatalf("a refused change was written:\n%s", after)
			}
		})
	}
}

// TestCheckTimeStampingCertificate: config check reports a TimeStampSigner
// whose certificate, in a keystore file it can read with the token's PIN,
// lacks the critical timeStamping extended key usage: the server starts it
// OFFLINE (tsp.CheckTimeStampingEKU), so config check refuses it too, at
// the worker; an edit through the admin API that makes it so is refused.
func TestCheckTimeStampingCertificate(t *testing.T) {
	t.Parallel()
	files, _, err := demo.Bootstrap(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(files.Config)
	if err != nil {
		t.Fatal(err)
	}
	y := string(orig)
	i := strings.Index(y, "  - name: TimeStampSigner\n")
	if i < 0 || !strings.Contains(y[i:], "    key: tsa-p256\n") {
		t.Fatal("the demo configuration has no TimeStampSigner with key tsa-p256")
	}
	line := strings.Count(y[:i], "\n") + 1
	tests := []struct {
		name, key, says string // says "": no problem
	}{
		{"the demo TSA key", "tsa-p256", ""},
		{"a document signing key", "signer-p256", "would be OFFLINE: the TSA certificate \"Signet Demo Signer signer-p256\" has no extended key usage extension"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edited := y[:i] + strings.Replace(y[i:], "    key: tsa-p256\n", "    key: "+tt.key+"\n", 1)
			checkFile(t, filepath.Join(files.Dir, "check-"+tt.key+".yaml"), edited, line, tt.says)
		})
	}
	t.Run("edited", func(t *testing.T) {
		nw := config.NewWorker{Name: "TSA2", Kind: config.KindTimeStampSigner, Token: "demo", Key: "signer-p256", ID: 90,
			Properties: map[string]string{config.PropAuthType: "NOAUTH", config.PropDefaultTSAPolicyOID: "1.2.3.4.1"}}
		err := config.Apply([]string{files.Config}, files.Config, config.AddWorker(nw), FileChecks()...)
		var refused *config.Refused
		if !errors.As(err, &refused) || !strings.Contains(refused.Problems[0].Msg, "no extended key usage") {
			t.Fatalf("edit: %v, want it refused for the certificate", err)
		}
		if after, _ := os.ReadFile(files.Config); string(after) != y {
			t.Fatalf("a refused change was written")
		}
	})
}

// TestCheckStateFiles: config check reports the state files that signet
// serve refuses to start on, read by its own reader (state.OpenSeal, the
// secret's Resolve), at the line that names each: server auditKey when the
// file is there but is no key (a missing one is created at start), and a
// cluster node's sealKey and PostgreSQL url file, which must be there. A
// url in an environment variable is the server's environment, not looked
// at.
func TestCheckStateFiles(t *testing.T) {
	t.Parallel()
	const goodKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
	tests := []struct {
		name  string
		yaml  string // DIR stands for the test's folder
		files map[string]string
		line  int    // of the one problem; 0: none
		says  string // in the problem
	}{
		{"audit key to be created", "server:\n  auditKey: DIR/new/audit.key\n", nil, 0, ""},
		{"good audit key", "server:\n  auditKey: DIR/audit.key\n", map[string]string{"audit.key": goodKey}, 0, ""},
		{"audit key not hex", "server:\n  auditKey: DIR/audit.key\n", map[string]string{"audit.key": "zz\n"}, 2, "not 16 or more bytes in hex"},
		{"audit key a folder", "server:\n  listen: 127.0.0.1:0\n  auditKey: DIR\n", nil, 3, "is a directory"},
		{"good seal key", "state:\n  postgres:\n    url: {env: SIGNET_TEST_UNSET_URL}\n    sealKey: DIR/seal.key\n", map[string]string{"seal.key": goodKey}, 0, ""},
		{"missing seal key", "state:\n  postgres:\n    url: {env: SIGNET_TEST_UNSET_URL}\n    sealKey: DIR/seal.key\n", nil, 4, "no such file"},
		{"seal key not hex", "state:\n  postgres:\n    url: {env: SIGNET_TEST_UNSET_URL}\n    sealKey: DIR/seal.key\n", map[string]string{"seal.key": "x"}, 4, "not 16 or more bytes in hex"},
		{"url file", "state:\n  postgres:\n    url: {file: DIR/url}\n", map[string]string{"url": "postgres://u:p@127.0.0.1:1/db\n"}, 0, ""},
		{"missing url file", "state:\n  postgres:\n    url: {file: DIR/url}\n", nil, 3, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filesIn(t, tt.files)
			checkFile(t, filepath.Join(dir, "signet.yaml"), strings.ReplaceAll(tt.yaml, "DIR", dir), tt.line, tt.says, "cannot start")
		})
	}
}

// TestCheckTokenSettings: config check reports the token settings that
// the server's opener refuses (the token, and its workers, would be
// OFFLINE), at the token: a PKCS#11 slot number that is not a number or
// a module file that is not there (a bare name is the loader's to find),
// NetHSM key IDs the NetHSM cannot have, a URL with credentials or a query,
// a CA bundle that cannot be read. Nothing is contacted.
func TestCheckTokenSettings(t *testing.T) {
	t.Parallel()
	const (
		pkcs11 = "    type: pkcs11\n    properties:\n      SHAREDLIBRARYNAME: DIR/libmodule.so\n"
		nethsm = "    type: nethsm\n    properties:\n      USER: operator\n"
		dsm    = "    type: dsm\n    properties:\n"
	)
	tests := []struct {
		name, token string
		says        string // "": no problem
	}{
		{"slot number", pkcs11 + "      SLOTLABELTYPE: SLOT_NUMBER\n      SLOTLABELVALUE: 0\n", ""},
		{"slot label", pkcs11 + "      SLOTLABELTYPE: SLOT_LABEL\n      SLOTLABELVALUE: first\n", ""},
		{"slot number not a number", pkcs11 + "      SLOTLABELTYPE: SLOT_NUMBER\n      SLOTLABELVALUE: first\n", "must be a number"},
		{"slot index below 0", pkcs11 + "      SLOTLABELTYPE: slot_index\n      SLOTLABELVALUE: -1\n", "must be a number"},
		// A module file that is not there kept the token OFFLINE ("PKCS#11
		// module … cannot be read") after config check passed it.
		{"module missing", strings.Replace(pkcs11, "libmodule.so", "missing.so", 1) + "      SLOTLABELTYPE: SLOT_LABEL\n      SLOTLABELVALUE: first\n", "PKCS#11 module DIR/missing.so cannot be read"},
		{"module in the loader's path", strings.Replace(pkcs11, "DIR/libmodule.so", "libmodule.so", 1) + "      SLOTLABELTYPE: SLOT_LABEL\n      SLOTLABELVALUE: first\n", ""},
		{"NetHSM", nethsm + "      URL: https://nethsm.example:8443\n      KEYIDS: signing, tsa.key\n", ""},
		{"NetHSM key ID with a space", nethsm + "      URL: https://nethsm.example:8443\n      KEYIDS: signing, my key\n", "not a NetHSM key ID"},
		{"NetHSM URL with credentials", nethsm + "      URL: https://operator:secret@nethsm.example:8443\n", "no credentials"},
		{"DSM URL with a query", dsm + "      URL: https://dsm.example/?account=x\n", "query"},
		{"DSM CA bundle missing", dsm + "      URL: https://dsm.example\n      CABUNDLE: DIR/missing.pem\n", "read CA bundle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "libmodule.so"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			y := "tokens:\n  - name: hsm\n" + strings.ReplaceAll(tt.token, "DIR", dir)
			checkFile(t, filepath.Join(dir, "signet.yaml"), y, 2, strings.ReplaceAll(tt.says, "DIR", dir), "OFFLINE")
		})
	}
}

// checkFile writes the configuration y to path and holds what Check
// reports on it to nothing (says "") or to one problem at line that says
// says and each of also.
func checkFile(t *testing.T, path, y string, line int, says string, also ...string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	ps := Check(path)
	if says == "" {
		if len(ps) != 0 {
			t.Fatalf("problems of a good configuration: %v", ps)
		}
		return
	}
	if len(ps) != 1 || ps[0].Pos.Line != line || !strings.Contains(ps[0].Msg, says) {
		t.Fatalf("problems %v, want one at line %d saying %q", ps, line, says)
	}
	for _, a := range also {
		if !strings.Contains(ps[0].Msg, a) {
			t.Fatalf("problem %v does not say %q", ps[0], a)
		}
	}
}

// TestCheckSoftKeystore: a soft token whose keystore cannot be read is
// refused at its KEYSTOREPATH line, exactly when the server's opener starts
// it OFFLINE with "keystore unreadable" (with a PIN or without: no PIN
// activates it); a keystore folder that is there, empty or not, passes.
func TestCheckSoftKeystore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, props string
		pin         bool
		unreadable  bool
	}{
		{"missing file with a PIN", "KEYSTOREPATH: DIR/missing.p12, KEYSTORETYPE: PKCS12", true, true},
		{"missing folder without a PIN", "KEYSTOREPATH: DIR/missing, KEYSTORETYPE: PEM", false, true},
		{"missing relative path", "KEYSTOREPATH: missing, KEYSTORETYPE: PKCS12", true, true},
		{"empty folder", "KEYSTOREPATH: DIR/keystore, KEYSTORETYPE: PKCS12", true, false},
		{"relative folder", "KEYSTOREPATH: keystore, KEYSTORETYPE: PEM", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "keystore"), 0o700); err != nil {
				t.Fatal(err)
			}
			y := "tokens:\n  - name: t\n    type: soft\n    properties: {" + strings.ReplaceAll(tt.props, "DIR", dir) + "}\n"
			if tt.pin {
				y += "    pin: {env: SIGNET_TEST_UNSET_PIN}\n"
			}
			path := filepath.Join(dir, "signet.yaml")
			says := ""
			if tt.unreadable {
				says = "Token t would be OFFLINE: keystore unreadable"
			}
			checkFile(t, path, y, 4, says, "fix KEYSTOREPATH")

			// What the server would do with it: the same token OFFLINE.
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := tokenOpener(nil, nil)(t.Context(), cfg.Tokens[0])
			if err != nil {
				t.Fatal(err)
			}
			if st := tok.Status(t.Context()); strings.HasPrefix(st.Reason, "keystore unreadable") != tt.unreadable {
				t.Errorf("the server's token is %v (%s); config check refuses it: %v", st.State, st.Reason, tt.unreadable)
			}
		})
	}
}

// TestCheckTokenPIN: config check refuses a token's pin file that the
// server's activation (workers.Activate) cannot use, at the pin line: one
// that cannot be read or is empty, for every token type, and, for a soft
// token whose keystore it opens, one the keystore refuses. Each passed
// check, and the token with all its workers was OFFLINE ("not activated")
// at start. A pin in an environment variable is the server's environment,
// and an HSM is not contacted.
func TestCheckTokenPIN(t *testing.T) {
	t.Parallel()
	files, _, err := demo.Bootstrap(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const (
		soft   = "    type: soft\n    properties: {KEYSTOREPATH: KS, KEYSTORETYPE: PKCS12}\n"
		pkcs11 = "    type: pkcs11\n    properties: {SHAREDLIBRARYNAME: libsofthsm2.so, SLOTLABELTYPE: SLOT_LABEL, SLOTLABELVALUE: t}\n"
	)
	tests := []struct {
		name, token, pin string
		file             *string // the pin file's contents; nil: no file
		says             string  // "": no problem
	}{
		{"the keystore's pin", soft, "{file: PIN}", nil, ""},
		{"a missing pin file", soft, "{file: DIR/missing.pin}", nil, "its pin cannot be read"},
		{"an empty pin file", soft, "{file: DIR/test.pin}", ptr("\n"), "is empty"},
		{"a wrong pin", soft, "{file: DIR/test.pin}", ptr("not-the-pin\n"), "wrong PIN"},
		{"a pin in the environment", soft, "{env: SIGNET_TEST_UNSET_PIN}", nil, ""},
		{"an HSM's pin file", pkcs11, "{file: DIR/test.pin}", ptr("1234\n"), ""},
		{"an HSM's missing pin file", pkcs11, "{file: DIR/missing.pin}", nil, "its pin cannot be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tt.file != nil {
				if err := os.WriteFile(filepath.Join(dir, "test.pin"), []byte(*tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r := strings.NewReplacer("KS", files.Keystore, "PIN", files.PIN, "DIR", dir)
			y := "tokens:\n  - name: t\n" + r.Replace(tt.token) + "    pin: " + r.Replace(tt.pin) + "\n"
			path := filepath.Join(dir, "signet.yaml")
			checkFile(t, path, y, 5, tt.says, "Token t would be OFFLINE")
			if tt.token != soft || strings.Contains(tt.pin, "env") {
				return
			}
			// What the server does with it: the token active exactly
			// when config check passes it.
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			set := workers.Build(t.Context(), cfg, workers.BuildOptions{Open: tokenOpener(nil, nil), Logger: slog.New(slog.DiscardHandler)})
			if active := set.Tokens()["t"].Status(t.Context()).State == tokens.Active; active != (tt.says == "") {
				t.Errorf("the server's token is active: %v; config check passes it: %v", active, tt.says == "")
			}
		})
	}
}

func ptr(s string) *string { return &s }

// TestCheckSecretFiles: config check refuses the secret files the server
// reads when it needs them and could not use, at the line that names each:
// a user's passwordHash file that cannot be read or holds no bcrypt hash
// (the server refused every password of the user, so an admin locked
// themselves out with a configuration check passed), and the TSA_PASSWORD
// file of a B-T signer at a TSA_URL (the worker was OFFLINE). Secrets in
// environment variables are the server's environment and pass.
func TestCheckSecretFiles(t *testing.T) {
	t.Parallel()
	hash, err := auth.HashPassword("secret")
	if err != nil {
		t.Fatal(err)
	}
	const (
		user = "users:\n  - name: admin\n    roles: [admin]\n    passwordHash: @HASH@\n"
		tsa  = "workers:\n  - name: PT\n    kind: PDFSigner\n    token: t\n    key: k\n    properties:\n      AUTHTYPE: NOAUTH\n      SIGNATURE_LEVEL: @LVL@\n      TSA_URL: https://tsa.example\n      TSA_USERNAME: signet\n      TSA_PASSWORD: @PW@\n" +
			"tokens:\n  - name: t\n    type: soft\n    properties:\n      KEYSTOREPATH: @DIR@/ks\n      KEYSTORETYPE: PEM\n"
	)
	tests := []struct {
		name, yaml string
		files      map[string]string
		line       int    // of the one problem; 0: none
		says       string // in it
	}{
		{"hash file", strings.Replace(user, "@HASH@", "{file: @DIR@/hash}", 1), map[string]string{"hash": hash + "\n"}, 0, ""},
		{"missing hash file", strings.Replace(user, "@HASH@", "{file: @DIR@/hash}", 1), nil, 2, "could not log in with a password: read secret file"},
		{"hash file holds a password", strings.Replace(user, "@HASH@", "{file: @DIR@/hash}", 1), map[string]string{"hash": "secret\n"}, 2, "is not a bcrypt hash"},
		{"hash in the environment", strings.Replace(user, "@HASH@", "{env: SIGNET_TEST_UNSET_HASH}", 1), nil, 0, ""},
		{"TSA password file", strings.NewReplacer("@LVL@", "BASELINE-T", "@PW@", "{file: @DIR@/pw}").Replace(tsa), map[string]string{"pw": "pw\n"}, 0, ""},
		{"missing TSA password file", strings.NewReplacer("@LVL@", "BASELINE-T", "@PW@", "{file: @DIR@/pw}").Replace(tsa), nil, 11, "Worker PT would be OFFLINE: TSA_PASSWORD cannot be read"},
		{"missing TSA password file at B-LT", strings.NewReplacer("@LVL@", "BASELINE-LT", "@PW@", "{file: @DIR@/pw}").Replace(tsa), nil, 11, "TSA_PASSWORD cannot be read"},
		{"TSA password in the environment", strings.NewReplacer("@LVL@", "BASELINE-T", "@PW@", "{env: SIGNET_TEST_UNSET_PW}").Replace(tsa), nil, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filesIn(t, tt.files)
			if strings.Contains(tt.yaml, "@DIR@/ks") {
				// The worker's key, in a PEM keystore, which the server
				// activates without a PIN.
				ks, err := soft.Create(soft.Options{Path: filepath.Join(dir, "ks"), Type: soft.TypePEM, Name: "t"}, "")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := ks.GenerateKey(t.Context(), "k", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"}); err != nil {
					t.Fatal(err)
				}
			}
			checkFile(t, filepath.Join(dir, "signet.yaml"), strings.ReplaceAll(tt.yaml, "@DIR@", dir), tt.line, tt.says)
		})
	}
}

// filesIn writes files (name to contents) into a new temporary folder,
// which it returns.
func filesIn(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestCheckWorkerKey: a worker whose key the server would not find in its
// soft keystore, or whose SIGNATUREALGORITHM does not fit the key, is
// refused at the worker's line, exactly when the server's worker, built
// the same way, is OFFLINE: config check passed a mistyped key alias while
// the server started the worker OFFLINE. A disabled worker, and one whose
// token is activated by hand (no pin), are not looked at.
func TestCheckWorkerKey(t *testing.T) {
	t.Parallel()
	files, _, err := demo.Bootstrap(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const worker = "workers:\n  - name: W\n    kind: KIND\n    token: t\n    key: KEY\n    properties:\n      AUTHTYPE: NOAUTH\nPROPS"
	tests := []struct {
		name, kind, key, props string
		pin                    bool
		says                   string // "": no problem
	}{
		{"a key the keystore holds", "CMSSigner", "signer-p256", "", true, ""},
		{"a key it does not hold", "CMSSigner", "signer-p25", "", true, `Worker W would be OFFLINE: Key "signer-p25" is not in crypto token "t": generate or import it there, or point worker W at another key.`},
		{"a PDF signer's missing key", "PDFSigner", "nope", "", true, `Key "nope" is not in crypto token "t"`},
		{"an algorithm that fits", "PlainSigner", "signer-p256", "      SIGNATUREALGORITHM: SHA256withECDSA\n", true, ""},
		{"an algorithm that does not fit", "PlainSigner", "signer-p256", "      SIGNATUREALGORITHM: SHA256withRSA\n", true, "Worker W would be OFFLINE: SIGNATUREALGORITHM: SHA256withRSA cannot be used with an ECDSA key; use SHAxxxwithECDSA"},
		{"a disabled worker's missing key", "CMSSigner", "nope", "      DISABLED: true\n", true, ""},
		{"a token activated by hand", "CMSSigner", "nope", "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			y := "tokens:\n  - name: t\n    type: soft\n    properties: {KEYSTOREPATH: " + files.Keystore + ", KEYSTORETYPE: PKCS12}\n"
			if tt.pin {
				y += "    pin: {file: " + files.PIN + "}\n"
			}
			y += strings.NewReplacer("KIND", tt.kind, "KEY", tt.key, "PROPS", tt.props).Replace(worker)
			path := filepath.Join(dir, "signet.yaml")
			line := 6 // the worker's
			if tt.pin {
				line = 7
			}
			checkFile(t, path, y, line, tt.says)
			// What the server does with it: the worker ACTIVE exactly
			// when config check passes it (a disabled worker and a token
			// without its PIN aside).
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			set := workers.Build(t.Context(), cfg, workers.BuildOptions{Open: tokenOpener(nil, nil), Logger: slog.New(slog.DiscardHandler)})
			w, err := set.Lookup("W")
			if err != nil {
				t.Fatal(err)
			}
			st := w.Status(t.Context())
			if tt.pin && !strings.Contains(tt.props, "DISABLED") && st.Active != (tt.says == "") {
				t.Errorf("the server's worker is active: %v %v; config check passes it: %v", st.Active, st.Errors, tt.says == "")
			}
		})
	}
}

// TestPEMKeystoreActiveAtStart: a soft token of a PEM keystore, whose keys
// are not encrypted, is active at start without a pin, as config check
// took it to be: the server left it OFFLINE ("not activated") until
// someone activated it by hand with any PIN, so its workers signed nothing
// while config check passed them. A worker on a key it does not hold is
// refused by both.
func TestPEMKeystoreActiveAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ks, err := soft.Create(soft.Options{Path: filepath.Join(dir, "ks"), Type: soft.TypePEM, Name: "t"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.GenerateKey(t.Context(), "k", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		key, says string
	}{
		{"k", ""},
		{"missing", `Key "missing" is not in crypto token "t"`},
	} {
		y := "tokens:\n  - name: t\n    type: soft\n    properties: {KEYSTOREPATH: ks, KEYSTORETYPE: PEM}\n" +
			"workers:\n  - name: W\n    kind: PlainSigner\n    token: t\n    key: " + tt.key + "\n    properties: {AUTHTYPE: NOAUTH}\n"
		path := filepath.Join(dir, "signet-"+tt.key+".yaml")
		checkFile(t, path, y, 6, tt.says)
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		set := workers.Build(t.Context(), cfg, workers.BuildOptions{Open: tokenOpener(nil, nil), Logger: slog.New(slog.DiscardHandler)})
		if st := set.Tokens()["t"].Status(t.Context()); st.State != tokens.Active {
			t.Errorf("key %s: the server's PEM token is %v (%s), want active", tt.key, st.State, st.Reason)
		}
		w, err := set.Lookup("W")
		if err != nil {
			t.Fatal(err)
		}
		if st := w.Status(t.Context()); st.Active != (tt.says == "") {
			t.Errorf("key %s: the server's worker is active: %v %v; config check passes it: %v", tt.key, st.Active, st.Errors, tt.says == "")
		}
	}
}
