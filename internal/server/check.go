package server

import (
	"errors"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/web/tlsconf"
)

// Check reports what `signet config check` reports: every problem of the
// configuration (config.Check), and the files that Run would refuse at
// start-up, read by Run's own loaders — the TLS certificate, its key (which
// must be the certificate's) and the client CA bundle — each at the line
// that names it.
func Check(paths ...string) config.Problems {
	cfg, err := config.Load(paths...)
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			return ps
		}
		return config.Problems{{Msg: err.Error()}}
	}
	return append(cfg.Problems(), tlsProblems(cfg.Server.TLS)...)
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
