package server

import (
	"errors"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/web/tlsconf"
	"github.com/signet-project/signet/workers"
)

// Check reports what `signet config check` reports: every problem of the
// configuration (config.Check), and the files that Run would refuse at
// start-up, read by Run's own loaders — the TLS certificate, its key (which
// must be the certificate's) and the client CA bundle — each at the line
// that names it; and the files that would leave a worker OFFLINE at start,
// read by the worker's own reader: a validator's TRUSTANCHORS.
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
	}
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
