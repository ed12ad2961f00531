// Package cluster runs Signet nodes on one PostgreSQL database: it opens
// the cluster's state from a node's state section, loads the configuration
// in force (the node's own files with the newest version pushed to the
// database), and pushes and pulls versions for `signet config push|pull`.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/state/postgres"
)

// URLEnv is the environment variable the command-line tools read the
// database URL from when --state is not given.
const URLEnv = "SIGNET_DATABASE_URL"

// ErrNoDatabase is OpenURL's error when neither the url nor URLEnv names a
// database: a command line to complete, which the commands answer as a
// usage error.
var ErrNoDatabase = fmt.Errorf("no database given: pass --state postgres://user:password@host:5432/database or set %s", URLEnv)

// Open opens the cluster's state named by a node's state section.
func Open(ctx context.Context, pg *config.Postgres, log *slog.Logger) (*postgres.Store, error) {
	url, err := pg.URL.Resolve()
	if err != nil {
		return nil, fmt.Errorf("the PostgreSQL url of the state section: %w", err)
	}
	opts := postgres.Options{Node: pg.Node, Logger: log}
	if pg.SealKey != "" {
		if opts.Seal, err = state.OpenSeal(pg.SealKey, false); err != nil {
			return nil, fmt.Errorf("%w: give every node the same key file (32 random bytes in hex: openssl rand -hex 32 > FILE)", err)
		}
	}
	return postgres.Open(ctx, url, opts)
}

// OpenURL opens the cluster's state at url for a command-line tool, with
// the audit seal key file sealKey when it is not empty; an empty url is
// read from URLEnv.
func OpenURL(ctx context.Context, url, sealKey string, readOnly bool) (*postgres.Store, error) {
	if url == "" {
		url = os.Getenv(URLEnv)
	}
	if url == "" {
		return nil, ErrNoDatabase
	}
	opts := postgres.Options{ReadOnly: readOnly, Node: "cli"}
	if sealKey != "" {
		var err error
		if opts.Seal, err = state.OpenSeal(sealKey, false); err != nil {
			return nil, err
		}
	}
	return postgres.Open(ctx, url, opts)
}

// DocumentName is the name the configuration version v stands under in
// problems; relative paths in it are relative to the node's working
// folder.
func DocumentName(v int64) string { return fmt.Sprintf("cluster-config-v%d.yaml", v) }

// Load loads a node's configuration files together with the cluster's
// version in force, and returns that version: 0, with the files alone,
// when none was pushed yet.
func Load(ctx context.Context, store *postgres.Store, paths []string) (*config.Config, int64, error) {
	cv, err := store.Config(ctx)
	if errors.Is(err, postgres.ErrNoConfig) {
		cfg, err := config.Load(paths...)
		return cfg, 0, err
	}
	if err != nil {
		return nil, 0, err
	}
	cfg, err := config.LoadWith(paths, config.Document{Name: DocumentName(cv.Version), Data: []byte(cv.YAML)})
	return cfg, cv.Version, err
}

// Push checks data, the configuration file path, as `signet config check`
// does, with checks, the file checks it runs (internal/server's FileChecks,
// which this package cannot import), refuses a server or state section
// (they belong to each node), and stores it as the cluster's next version.
// With problems it stores nothing and returns them. The caller reads the
// file: one it cannot read is a mistake in its command line, found before
// the database is asked.
func Push(ctx context.Context, store *postgres.Store, path string, data []byte, author string, checks []config.FileCheck) (int64, config.Problems, error) {
	if ps := config.CheckShared(path, data, checks...); len(ps) > 0 {
		return 0, ps, nil
	}
	v, err := store.PushConfig(ctx, string(data), author, -1)
	return v, nil, err
}
