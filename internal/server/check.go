package server

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/tsp"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/pkcs11"
	"github.com/signet-project/signet/tokens/soft"
	"github.com/signet-project/signet/web/tlsconf"
	"github.com/signet-project/signet/workers"
)

// Check reports what `signet config check` reports: every problem of the
// configuration (config.Check), and the files that Run would refuse at
// start-up, read by Run's own loaders — the TLS certificate, its key (which
// must be the certificate's) and the client CA bundle — each at the line
// that names it; and the files that would leave a worker OFFLINE at start,
// read by the worker's own reader: a validator's TRUSTANCHORS, a
// TimeStampSigner's certificate in a keystore file.
func Check(paths ...string) config.Problems {
	cfg, err := config.Load(paths...)
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			return ps
		}
		return config.Problems{{Msg: err.Error()}}
	}
	ps := cfg.Problems()
	for _, c := range FileChecks() {
		ps = append(ps, c(cfg)...)
	}
	return ps
}

// FileChecks are the checks of what a configuration's files name that
// config cannot read itself: `signet config check` runs them, and so do an
// edit through the admin API or UI (config.Apply), a cluster node's
// included, and `signet config push`, so that all refuse the same.
func FileChecks() []config.FileCheck {
	return []config.FileCheck{
		func(cfg *config.Config) config.Problems { return tlsProblems(cfg.Server.TLS) },
		func(cfg *config.Config) config.Problems { return anchorProblems(cfg.Workers) },
		tsaCertProblems,
		stateFileProblems,
		tokenProblems,
		secretFileProblems,
		keyProblems,
	}
}

// keyProblems are the workers whose key the server would not find in its
// token, or could not use there (a SIGNATUREALGORITHM that does not fit
// it; a TSA's certificate is tsaCertProblems'), each at its worker:
// they would be OFFLINE at start. The workers are built as the server
// builds them (workers.Build) and asked the part of their status that
// depends on the key alone (workers.KeyChecked). Only soft tokens whose
// keystore files config check reads and whose configured PIN activates
// them are opened (tokenProblems reports the others): an HSM's or a remote
// token's keys are not looked at, nor a disabled worker's.
func keyProblems(cfg *config.Config) config.Problems {
	ctx := context.Background()
	opened := map[string]bool{}
	open := func(ctx context.Context, tc config.Token) (tokens.Token, error) {
		tok := openKeystore(ctx, cfg, tc.Name)
		if tok == nil {
			return nil, errNotOpened
		}
		opened[tc.Name] = true
		return tok, nil
	}
	// An archive, so that a worker with ARCHIVERS is built as the
	// server, which keeps one, builds it; nothing is signed here.
	set := workers.Build(ctx, cfg, workers.BuildOptions{Open: open, Archive: &state.MemoryArchive{}, Logger: slog.New(slog.DiscardHandler)})
	var ps config.Problems
	for _, wc := range cfg.Workers {
		if len(wc.Problems) > 0 || !opened[wc.Token] || wc.Properties.Bool(config.PropDisabled) {
			continue
		}
		w, err := set.Lookup(wc.Name)
		kc, ok := w.(workers.KeyChecked)
		if err != nil || !ok {
			continue
		}
		if p := kc.KeyProblem(ctx); p != "" {
			p = strings.TrimPrefix(p, "Worker "+wc.Name+" is misconfigured: ") // named once
			ps = append(ps, config.Problem{Pos: wc.Pos, Msg: "Worker " + wc.Name + " would be OFFLINE: " + p})
		}
	}
	return ps
}

// errNotOpened is keyProblems' opener's answer for a token it leaves
// closed.
var errNotOpened = errors.New("not opened by config check")

// secretFileProblems are the secret files, other than token pins
// (tokenProblems), that the server reads when it needs them, each at the
// line that names it: a user's passwordHash file that cannot be read or
// holds no bcrypt hash (User.HashError, by which the server refuses every
// password of the user), and the TSA_PASSWORD file of a worker that
// time-stamps at a TSA_URL with a TSA_USERNAME (the worker is OFFLINE,
// "TSA_PASSWORD cannot be read"). A secret in an environment variable is
// the server's environment, which config check does not see.
func secretFileProblems(cfg *config.Config) config.Problems {
	var ps config.Problems
	for _, u := range cfg.Users {
		if u.PasswordHashFrom.File == "" {
			continue
		}
		fix := "; fix the passwordHash file or the path."
		if _, err := u.Hash(); err == nil {
			fix = "." // the file holds no bcrypt hash: the sentence says what to write
		}
		if err := u.HashError(); err != nil {
			ps = append(ps, config.Problem{Pos: u.Pos, Msg: "User " + u.Name + " could not log in with a password: " + strings.TrimSuffix(err.Error(), ".") + fix})
		}
	}
	for _, w := range cfg.Workers {
		p := w.Properties
		pw := p.Secret(config.PropTSAPassword)
		if len(w.Problems) > 0 || pw.File == "" || !p.IsSet(config.PropTSAURL) || !p.IsSet(config.PropTSAUsername) {
			continue
		}
		if lvl := p.String(config.PropSignatureLevel); lvl != config.LevelBaselineT && lvl != config.LevelBaselineLT {
			continue
		}
		if _, err := pw.Resolve(); err != nil {
			ps = append(ps, config.Problem{Pos: p.Pos(config.PropTSAPassword), Msg: "Worker " + w.Name + " would be OFFLINE: TSA_PASSWORD cannot be read: " + err.Error() + "; fix the file or the path."})
		}
	}
	return ps
}

// tokenProblems are the tokens the server's opener refuses, or opens
// OFFLINE, each at its token: the token, and every worker on it, would be
// OFFLINE. The opener contacts no HSM; it refuses what the token packages
// check of their settings (a PKCS#11 slot number that is not a number, a
// NetHSM key ID, a URL with credentials or a query), a CA bundle it
// cannot read, and a PKCS#11 module file that is not there (retried, but
// OFFLINE until it is installed). A soft token whose keystore files cannot
// be read is refused at its KEYSTOREPATH, as a TRUSTANCHORS file is: the
// server starts it OFFLINE ("keystore unreadable") and no PIN activates
// it. A cluster's database keystore is the database's, not read here.
func tokenProblems(cfg *config.Config) config.Problems {
	var ps config.Problems
	for _, tc := range cfg.Tokens {
		if len(tc.Problems) > 0 || (tc.Type == config.TokenSoft && strings.EqualFold(tc.Properties.String(config.PropKeystoreType), config.KeystoreDatabase)) {
			continue
		}
		tok, err := tokenOpener(nil, nil)(context.Background(), tc)
		if p, ok := tok.(*pkcs11.Token); ok && err == nil {
			if err = p.ConfigError(); err == nil {
				err = p.ModuleError()
			}
		}
		if s, ok := tok.(*soft.Token); ok && err == nil {
			if err := s.KeystoreError(); err != nil {
				ps = append(ps, config.Problem{Pos: tc.Properties.Pos(config.PropKeystorePath),
					Msg: "Token " + tc.Name + " would be OFFLINE: " + err.Error() + "; fix KEYSTOREPATH, or put the keystore there."})
				continue
			}
		}
		if err == nil {
			if err := pinProblem(tok, tc); err != nil {
				ps = append(ps, config.Problem{Pos: tc.PINPos,
					Msg: "Token " + tc.Name + " would be OFFLINE: " + strings.TrimSuffix(err.Error(), ".") + "; fix the pin file or the path."})
				continue
			}
		}
		if err != nil {
			ps = append(ps, config.Problem{Pos: tc.Pos, Msg: "Token " + tc.Name + " would be OFFLINE: " + strings.TrimSuffix(err.Error(), ".") + "."})
		}
	}
	return ps
}

// pinProblem is why the server would leave tok, opened from tc, not
// activated at start (workers.Activate, the server's own activation): a pin
// file that cannot be read, for every token; and, for a soft token, whose
// keystore is a file read here, a pin it refuses. An HSM is not contacted,
// and a pin in an environment variable is the server's environment, which
// config check does not see.
func pinProblem(tok tokens.Token, tc config.Token) error {
	if tc.PIN.File == "" {
		return nil
	}
	if _, ok := tok.(*soft.Token); !ok {
		_, err := workers.ConfiguredPIN(tc)
		return err
	}
	return workers.Activate(context.Background(), tok, tc)
}

// stateFileProblems are the files of the run-time state that Run would
// refuse to start on, read by its own readers, each at the line that names
// it: a cluster node's sealKey and PostgreSQL url file (see cluster.Open),
// and server auditKey when the file is there (openState creates a missing
// one). A url in an environment variable is the server's environment,
// which config check does not see.
func stateFileProblems(cfg *config.Config) config.Problems {
	var ps config.Problems
	add := func(pos config.Pos, err error) {
		ps = append(ps, config.Problem{Pos: pos, Msg: "The server cannot start: " + strings.TrimSuffix(err.Error(), ".") + "; fix the file or the path."})
	}
	if pg := cfg.State.Postgres; pg != nil {
		if pg.URL.File != "" {
			if _, err := pg.URL.Resolve(); err != nil {
				add(pg.URLPos, err)
			}
		}
		if pg.SealKey != "" {
			if _, err := state.OpenSeal(pg.SealKey, false); err != nil {
				add(pg.SealKeyPos, err)
			}
		}
	} else if k := cfg.Server.AuditKey; k != "" {
		if _, err := os.Stat(k); !errors.Is(err, fs.ErrNotExist) {
			if _, err := state.OpenSeal(k, false); err != nil {
				add(cfg.Server.AuditKeyPos, err)
			}
		}
	}
	return ps
}

// tsaCertProblems are the TimeStampSigners whose certificate the server
// would hold against them, each at its worker: one without the critical
// timeStamping extended key usage (tsp.CheckTimeStampingEKU, the rule the
// worker applies) starts OFFLINE, so config check must refuse it too. Only
// keystore files are read, through the server's own opener with the
// token's configured PIN: an HSM's certificates, a cluster's database
// keystore and a token activated by hand are seen when the server runs,
// and a keystore that cannot be read is left to the server to report.
func tsaCertProblems(cfg *config.Config) config.Problems {
	var ps config.Problems
	open := map[string]tokens.Token{} // by token name; nil: not readable here
	ctx := context.Background()
	for _, w := range cfg.Workers {
		if w.Kind != config.KindTimeStampSigner || w.Key == "" || len(w.Problems) > 0 {
			continue
		}
		tok, seen := open[w.Token]
		if !seen {
			tok = openKeystore(ctx, cfg, w.Token)
			open[w.Token] = tok
		}
		if tok == nil {
			continue
		}
		chain, err := tok.Chain(ctx, w.Key)
		if err != nil || len(chain) == 0 {
			continue
		}
		if err := tsp.CheckTimeStampingEKU(chain[0]); err != nil {
			ps = append(ps, config.Problem{Pos: w.Pos, Msg: "Worker " + w.Name + " would be OFFLINE: " + strings.TrimSuffix(err.Error(), ".") + "."})
		}
	}
	return ps
}

// openKeystore opens the soft token named name from its keystore files and
// activates it as the server does at start (workers.Activate), or returns
// nil when it is another kind of token, a cluster's database keystore, or
// would not be active (no PIN configured for an encrypted keystore, or one
// that cannot be read or does not activate it: tokenProblems says why).
func openKeystore(ctx context.Context, cfg *config.Config, name string) tokens.Token {
	tc, ok := cfg.Token(name)
	if !ok || tc.Type != config.TokenSoft || len(tc.Problems) > 0 || strings.EqualFold(tc.Properties.String(config.PropKeystoreType), config.KeystoreDatabase) {
		return nil
	}
	tok, err := tokenOpener(nil, nil)(ctx, tc)
	if err != nil || workers.Activate(ctx, tok, tc) != nil || tok.Status(ctx).State != tokens.Active {
		return nil
	}
	return tok
}

// anchorProblems are the TRUSTANCHORS files of validators that do not
// read as trusted roots, at the line that names each: the server starts, but
// the validator is OFFLINE, so config check must refuse them too.
func anchorProblems(ws []config.Worker) config.Problems {
	var ps config.Problems
	for _, w := range ws {
		path := w.Properties.String(config.PropTrustAnchors)
		if path == "" || (w.Kind != config.KindCMSValidator && w.Kind != config.KindPDFValidator) {
			continue
		}
		if _, err := workers.ReadCertificates(path); err != nil {
			ps = append(ps, config.Problem{Pos: w.Properties.Pos(config.PropTrustAnchors), Msg: "Worker " + w.Name + " would be OFFLINE: TRUSTANCHORS: " + err.Error() + "; fix the file or the path."})
		}
	}
	return ps
}

// tlsProblems are the problems of the TLS files t names (nil: none).
func tlsProblems(t *config.TLS) config.Problems {
	if t == nil {
		return nil
	}
	err := tlsconf.Check(tlsFiles(t))
	var fe *tlsconf.FileError
	if !errors.As(err, &fe) {
		return nil
	}
	pos := map[string]config.Pos{tlsconf.FileCert: t.CertPos, tlsconf.FileKey: t.KeyPos, tlsconf.FileClientCAs: t.ClientCAsPos}[fe.Which]
	return config.Problems{{Pos: pos, Msg: "The server cannot start: " + fe.Error() + "; fix the file or the path."}}
}

// tlsFiles are the files of t as tlsconf reads them.
func tlsFiles(t *config.TLS) tlsconf.Files {
	return tlsconf.Files{Cert: t.Cert, Key: t.Key, ClientCAs: t.ClientCAs}
}
