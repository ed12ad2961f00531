package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/state/postgres"
	"github.com/signet-project/signet/tokens/soft"
	"github.com/signet-project/signet/web"
)

// Node is this Signet process as a node of a cluster: the cluster's state
// and the configuration version it runs.
type Node struct {
	Store   *postgres.Store
	paths   []string // the node's own configuration files
	log     *slog.Logger
	version atomic.Int64
	applyMu sync.Mutex // one configuration applied at a time, in version order
}

// Join opens the cluster's state named by the state section of the node's
// configuration files paths (loaded as local).
func Join(ctx context.Context, local *config.Config, paths []string, log *slog.Logger) (*Node, error) {
	store, err := Open(ctx, local.State.Postgres, log)
	if err != nil {
		return nil, err
	}
	return &Node{Store: store, paths: paths, log: log}, nil
}

// Close closes the cluster's state, giving the unused leases back.
func (n *Node) Close() error { return n.Store.Close() }

// Load loads the node's files with the version in force.
func (n *Node) Load(ctx context.Context) (*config.Config, int64, error) {
	return Load(ctx, n.Store, n.paths)
}

// Version returns the configuration version the node runs (0: none pushed).
func (n *Node) Version() int64 { return n.version.Load() }

// Apply loads the version in force and, when it is newer than the one the
// node runs (or force), calls apply with it and records it as running.
// A configuration that does not load is refused and the running one stays.
func (n *Node) Apply(ctx context.Context, force bool, apply func(*config.Config, int64)) error {
	n.applyMu.Lock()
	defer n.applyMu.Unlock()
	cfg, v, err := n.Load(ctx)
	if err != nil {
		return err
	}
	if v <= n.version.Load() && !force {
		return nil
	}
	apply(cfg, v)
	n.version.Store(v)
	return nil
}

// Watch applies each version pushed to the cluster and calls keyChanged
// for each key of a database keystore changed through any node
// (LISTEN/NOTIFY), and keysMissed each time it (re)connects to the
// database (keys may have changed while it was not listening), until ctx
// ends. What keyChanged and keysMissed could not do because the database
// failed under them (an error wrapping state.ErrUnavailable), and a version
// that could not be read, are tried again once the watch listens again.
func (n *Node) Watch(ctx context.Context, apply func(*config.Config, int64), keyChanged func(token, alias string) error, keysMissed func() error) {
	n.Store.Watch(ctx, postgres.Watchers{
		Config: func(v int64) error {
			if v <= n.version.Load() {
				return nil
			}
			err := n.Apply(ctx, false, apply)
			if err != nil && !errors.Is(err, state.ErrUnavailable) {
				n.log.Error("cluster configuration refused; the running one stays", "version", v, "error", err)
			}
			return err
		},
		Key:  keyChanged,
		Keys: keysMissed,
	})
}

// Status is the node's state for the health check: degraded while the
// database is unreachable.
func (n *Node) Status() web.NodeStatus {
	st := web.NodeStatus{ConfigVersion: n.Version()}
	if err := n.Store.Health(); err != nil {
		st.Problems = []string{fmt.Sprintf("Degraded: %v; workers with a key usage limit are offline until it is back.", err)}
	}
	return st
}

// Edit makes a configuration edit of the admin API or UI as user. An edit
// of the version in force (file is its DocumentName) is checked with the
// node's files, as config.Apply checks a file, and for what config push
// refuses (config.SharedProblems), and pushed as the next version; an edit
// of one of the node's own files is config.Apply.
func (n *Node) Edit(ctx context.Context, user, file string, e config.Edit, checks ...config.FileCheck) error {
	cv, err := n.Store.Config(ctx)
	if err != nil && !errors.Is(err, postgres.ErrNoConfig) {
		return err
	}
	if err != nil || file != DocumentName(cv.Version) {
		return config.Apply(n.paths, file, e, checks...)
	}
	data, err := config.ApplyData(append(slices.Clone(n.paths), file), file, []byte(cv.YAML), e, checks...)
	if err != nil {
		return err
	}
	if ps := config.SharedProblems(file, data); len(ps) > 0 {
		return &config.Refused{Problems: ps} // as config push refuses it
	}
	_, err = n.Store.PushConfig(ctx, string(data), user, cv.Version)
	if errors.Is(err, postgres.ErrConfigChanged) {
		return &config.Refused{Problems: config.Problems{{Pos: config.Pos{File: file}, Msg: "The cluster's configuration changed meanwhile (another version was pushed): make the change again."}}}
	}
	return err
}

// Keystore returns the database keystore of the soft token named token.
func (n *Node) Keystore(token string) soft.Store { return n.Store.Keystore(token) }

// Metrics are the node's Prometheus metrics: the round trips to the
// cluster's database, so that their number per signature can be watched.
func (n *Node) Metrics() []prometheus.Collector {
	return []prometheus.Collector{prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "signet_state_round_trips_total",
		Help: "Round trips to the cluster's PostgreSQL database (queries, batches), health pings aside.",
	}, func() float64 { return float64(n.Store.RoundTrips()) })}
}
