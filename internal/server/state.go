package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/cluster"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/state/sqlite"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/guard"
	"github.com/signet-project/signet/tokens/soft"
	"github.com/signet-project/signet/web"
	"github.com/signet-project/signet/workers"
)

// StateFile is the name of the state database in the data folder.
const StateFile = "state.db"

// AuditKeyFile returns the file of the key that seals the audit log's head:
// server.auditKey, or DATA.audit-key beside the data folder (outside it, so
// that restoring the data folder does not restore the sealed head).
func AuditKeyFile(configured, dataDir string) string {
	if configured != "" {
		return configured
	}
	return filepath.Clean(dataDir) + ".audit-key"
}

// openState opens the run-time state: the audit log (sealed with a key
// outside the state), the key usage counters and the signing log, and the
// key guard over them, which every signature goes through. It runs before
// the workers are built.
//
// Without a state postgres section the state is in the data folder, which
// this process takes (a second server on it refuses to start, naming the
// PID); a state database older than its sealed audit head (a copy put back,
// which would also roll the usage counters back) is refused. With one (the
// node's own files) the node joins the cluster on that database instead,
// and the configuration it runs is its files with the cluster's version in
// force (see cluster).
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
		a.onClose(node.Close)
		if err := node.Store.CheckSealedHead(a.ctx); err != nil {
			if ce := (*state.ChainError)(nil); !errors.As(err, &ce) {
				return err
			}
			return fmt.Errorf("the cluster's database does not hold the audit head this node sealed (%w): an older copy of it was put back, which would also roll back the key usage counters; run signet admin audit verify, and restore the right copy", err)
		}
		a.usage, a.audit, a.signlog, a.archive = node.Store, node.Store, node.Store, node.Store
		a.guard = &guard.Guard{Counters: node.Store, Log: node.Store, Logger: a.log}
	} else {
		if !a.locked { // Run locks the folder before it writes the demo files
			unlock, err := state.Lock(a.dataDir)
			if err != nil {
				return err
			}
			a.onClose(unlock)
			a.locked = true
		}
		store, err := sqlite.Open(a.ctx, filepath.Join(a.dataDir, StateFile))
		if err != nil {
			return err
		}
		a.onClose(store.Close)
		a.local = store
		seal, err := state.OpenSeal(AuditKeyFile(cfg.Server.AuditKey, a.dataDir), true)
		if err != nil {
			return err
		}
		resealed, err := state.SealTail(a.ctx, store, seal)
		if err != nil {
			return err
		}
		if _, err := state.CheckHead(a.ctx, store, seal); err != nil && !errors.Is(err, state.ErrNoHead) {
			var ce *state.ChainError
			if errors.As(err, &ce) && ce.Seq > 0 {
				return fmt.Errorf("the state database does not end where its sealed audit head says (%w): it was cut or an older copy was put back, which would also roll back the key usage counters; run signet admin audit verify, and restore the right copy (if you deleted the data folder on purpose, for a fresh start, delete %s too)", err, seal.HeadFile())
			}
			return err
		}
		a.usage, a.signlog, a.archive = store, store, store
		a.audit = state.NewSealed(store, seal)
		a.guard = &guard.Guard{Counters: store, Log: store, Logger: a.log}
		if resealed > 0 {
			a.log.Warn("the last audit record was committed but its head not sealed (the server was stopped in between): sealed now", "seq", resealed)
			a.record(a.ctx, "audit.reseal", "ok", map[string]string{"seq": strconv.FormatInt(resealed, 10)})
		}
	}
	a.record(a.ctx, "server.start", "ok", map[string]string{"config": strings.Join(a.paths, ",")})
	a.onClose(func() error {
		a.record(context.WithoutCancel(a.ctx), "server.stop", "ok", nil)
		return nil
	})
	return nil
}

// localStatus is the health check's state of a server whose state is in
// the data folder: degraded while the state database cannot be written (a
// full disk, a read-only folder), as a cluster node is while its database
// does not answer: a key with a usage limit signs nothing unrecorded, so
// its workers answer 503 until the database takes writes again; a key
// without one whose use is counted signs on until its lease of counts is
// spent (TestStateDiskFullUnderLoad), then answers 503 too.
func (a *app) localStatus() web.NodeStatus {
	var st web.NodeStatus
	if err := a.local.Health(); err != nil {
		st.Problems = []string{fmt.Sprintf("Degraded: %v; workers with a key usage limit are offline until it can be written again, and the others stop once their key's use can no longer be counted (unless %s is true).", err, config.PropDisableKeyUsageCounter)}
	}
	return st
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
// (the node's files with it) and swaps them in. It returns the settings
// that wait for a restart, as its record names them: a reload's answer.
func (a *app) applyCluster(cfg *config.Config, v int64) (restartNeeded []string) {
	set := a.build(cfg)
	names, details := a.restartPending(cfg, map[string]string{"version": strconv.FormatInt(v, 10), "workers": strconv.Itoa(len(set.Workers()))})
	a.record(a.ctx, "config.apply", "ok", details)
	a.log.Info("cluster configuration in force", "version", v, "workers", len(set.Workers()), "problems", len(cfg.Problems()), "offline", len(set.Offline()))
	return names
}

// applyVersion is applyCluster as the node applies the versions it
// hears of, where no one asks for the settings.
func (a *app) applyVersion(cfg *config.Config, v int64) { a.applyCluster(cfg, v) }

// keyChanged reads a key of a database keystore again after another node
// generated it, stored its chain or removed it, so that a removed key stops
// signing on this node too. Its error is the one that the cluster's watch
// tries again (the database failing under it).
//
// It runs under buildMu, as keysMissed does: a reload building a new token
// meanwhile could otherwise read the keystore before the change, while the
// change reached the token it replaces, and the new one would sign on with
// a key another node removed.
func (a *app) keyChanged(token, alias string) error {
	a.buildMu.Lock()
	defer a.buildMu.Unlock()
	tok, ok := tokens.Unwrap(a.reg.Current().Tokens()[token]).(interface {
		Sync(ctx context.Context, alias string) error
	})
	if !ok {
		return nil
	}
	err := tok.Sync(a.ctx, alias)
	if err != nil {
		a.log.Error("key changed through another node", "token", token, "alias", alias, "error", err)
	}
	return err
}

// keysMissed reads every key of the database keystores again after the
// node's watch of the cluster (re)connected: the changes made through
// other nodes while it was not listening reached no one.
func (a *app) keysMissed() error {
	a.buildMu.Lock()
	defer a.buildMu.Unlock()
	var errs []error
	for name, t := range a.reg.Current().Tokens() {
		tok, ok := tokens.Unwrap(t).(interface {
			SyncAll(ctx context.Context) error
		})
		if !ok {
			continue
		}
		if err := tok.SyncAll(a.ctx); err != nil {
			a.log.Error("keys read again after the cluster watch reconnected", "token", name, "error", err)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// keystore returns the database keystore of the soft token named token,
// nil outside a cluster.
func (a *app) keystore(token string) soft.Store {
	if a.node == nil {
		return nil
	}
	return a.node.Keystore(token)
}

// ArchivePurgeEvery is how often the archive is purged of the items older
// than their worker's ARCHIVE_RETENTION.
const ArchivePurgeEvery = time.Hour

// purgeArchive purges the archive at every tick, as of the tick's time,
// until ctx ends. What it deletes is written to the audit log; a failure to
// the server log (the next tick tries again).
func (a *app) purgeArchive(ctx context.Context, tick <-chan time.Time) {
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			return
		case now = <-tick:
		}
		set, release := a.reg.Acquire()
		n, err := workers.PurgeArchive(ctx, set, now)
		release()
		if n > 0 {
			a.record(ctx, "archive.purge", "ok", map[string]string{"items": strconv.FormatInt(n, 10)})
		}
		if err != nil {
			a.log.Error("archive purge failed", "items", n, "error", err)
			continue
		}
		a.log.Info("archive purged", "items", n)
	}
}
