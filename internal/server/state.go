package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/cluster"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/state/sqlite"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/soft"
)

// StateFile is the name of the state database in the data folder.
const StateFile = "state.db"

// openState opens the run-time state (audit log, key usage counters) in the
// data folder and sets a.usage and a.audit. It runs before the workers are
// built.
//
// With a state postgres section in cfg (the node's own files) the node
// joins the cluster on that database instead, and the configuration it
// runs is its files with the cluster's version in force (see cluster).
func (a *app) openState(cfg *config.Config) error {
	if err := os.MkdirAll(a.dataDir, 0o700); err != nil {
		return fmt.Errorf("create the data folder: %w", err)
	}
	if cfg.State.Postgres != nil {
		node, err := cluster.Join(a.ctx, cfg, a.paths, a.log)
		if err != nil {
			return err
		}
		a.node = node
		a.usage, a.audit = node.Store, node.Store
		a.onClose(node.Close)
	} else {
		store, err := sqlite.Open(a.ctx, filepath.Join(a.dataDir, StateFile))
		if err != nil {
			return err
		}
		a.usage, a.audit = store, store
		a.onClose(store.Close)
	}
	a.record(a.ctx, "server.start", "ok", map[string]string{"config": strings.Join(a.paths, ",")})
	a.onClose(func() error {
		a.record(context.WithoutCancel(a.ctx), "server.stop", "ok", nil)
		return nil
	})
	return nil
}

// record appends a system record to the audit log, when there is one. A
// failure is logged: the server keeps serving.
func (a *app) record(ctx context.Context, action, outcome string, details map[string]string) {
	if a.audit == nil {
		return
	}
	if _, err := a.audit.Append(ctx, state.Entry{Actor: "system", Action: action, Target: "server", Outcome: outcome, Details: details}); err != nil {
		a.log.Error("audit log", "action", action, "error", err)
	}
}

// applyCluster builds the workers of the cluster configuration version v
// (the node's files with it) and swaps them in.
func (a *app) applyCluster(cfg *config.Config, v int64) {
	set := a.build(cfg)
	a.record(a.ctx, "config.apply", "ok", map[string]string{"version": strconv.FormatInt(v, 10), "workers": strconv.Itoa(len(set.Workers()))})
	a.log.Info("cluster configuration in force", "version", v, "workers", len(set.Workers()), "problems", len(cfg.Problems()), "offline", len(set.Offline()))
}

// keyChanged reads a key of a database keystore again after another node
// generated it, stored its chain or removed it, so that a removed key stops
// signing on this node too.
func (a *app) keyChanged(token, alias string) {
	t := a.reg.Current().Tokens()[token]
	for {
		u, ok := t.(interface{ Unwrap() tokens.Token }) // a guarded token
		if !ok {
			break
		}
		t = u.Unwrap()
	}
	tok, ok := t.(interface {
		Sync(ctx context.Context, alias string) error
	})
	if !ok {
		return
	}
	if err := tok.Sync(a.ctx, alias); err != nil {
		a.log.Error("key changed through another node", "token", token, "alias", alias, "error", err)
	}
}

// keystore returns the database keystore of the soft token named token,
// nil outside a cluster.
func (a *app) keystore(token string) soft.Store {
	if a.node == nil {
		return nil
	}
	return a.node.Keystore(token)
}
