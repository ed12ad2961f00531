// Package server wires a Signet server together: it loads the
// configuration, opens the run-time state, builds the workers, mounts the
// signing, admin and vendor-compatible HTTP APIs and serves them until the
// context ends, reloading when Options.Reload says so (signet serve wires
// SIGHUP to it) and through the admin API.
//
// It is the one place that knows every part; the parts know only their own
// interfaces (see ARCHITECTURE.md). cmd/signet calls Run.
package server

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/cluster"
	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/state/sqlite"
	"github.com/signet-project/signet/tokens/guard"
	"github.com/signet-project/signet/web"
	adminapi "github.com/signet-project/signet/web/admin"
	"github.com/signet-project/signet/web/auth"
	"github.com/signet-project/signet/web/tlsconf"
	"github.com/signet-project/signet/workers"
)

// app is one running server: its configuration, workers, run-time state and
// HTTP server. The parts that the admin API, the vendor-compatible APIs and
// the state database add hook in through the methods in their own files
// (state.go, admin.go, vendorapi.go), so that serve stays one flow:
// configuration → state → workers → routes → serve.
type app struct {
	ctx     context.Context
	log     *slog.Logger
	paths   []string // configuration files, loaded again on reload
	dataDir string   // run-time state lives here
	locked  bool     // dataDir is locked for this process (state.Lock)
	demo    bool     // started with the embedded default configuration
	files   demo.Files
	opener  workers.TokenOpener
	cfg     atomic.Pointer[config.Config] // the configuration in force
	reg     *workers.Registry
	srv     *web.Server
	closers []func() error
	usage   state.Counters      // set by openState; nil: key usage is not counted
	auth    *auth.Authenticator // HTTP basic users of the admin and vendor APIs
	audit   state.Audit         // set by openState; nil: admin actions are not recorded
	signlog state.SigningLog    // set by openState; nil: signatures are not recorded
	archive state.Archive       // set by openState: what workers with ARCHIVERS keep
	guard   *guard.Guard        // set by openState: the key policy every signature goes through
	tls     *tlsconf.Server     // the TLS certificate and client CA bundle; nil: plain HTTP
	// throttle slows password guessing on every surface, per user and
	// client address.
	throttle *auth.Throttle
	// refused bounds the audit rows of refused clients of the signing
	// and vendor APIs, one bound per API (admin API and UI have their
	// own), keyed as refusalLog looks them up; set once by newApp.
	refused map[string]*auth.RefusalLog
	// now is the server's clock (Options.Now): the tokens' retries and the
	// bounds on refusals' audit rows go by it.
	now     func() time.Time
	buildMu sync.Mutex // serialises builds (start and reload)
	// started is the server section the server started with: what of it
	// only a restart applies, a reload that changes it reports.
	started config.Server
	// startedState is the state section the server started with, which
	// only a restart applies too.
	startedState config.State
	node         *cluster.Node // set by openState in a cluster; nil: the state is in the data folder
	// local is the state in the data folder, set by openState outside a
	// cluster: its health is the node's (localStatus).
	local *sqlite.Store
}

// newApp returns an app for the configuration files paths, with no workers
// built yet.
func newApp(ctx context.Context, log *slog.Logger, paths []string, dataDir string) *app {
	a := &app{ctx: ctx, log: log, paths: paths, dataDir: dataDir, now: time.Now,
		reg: workers.NewRegistry(workers.NewSet(nil, nil)), throttle: auth.NewThrottle(),
		refused: map[string]*auth.RefusalLog{"dsm": {}, "nethsm": {}, "worker": {}}}
	a.opener = TokenOpener(a.keystore)
	a.auth = auth.New(func() []config.User { return a.config().Users })
	a.auth.ClientCAs = a.clientCAs
	// Registered first, so run last: every token is closed once the server
	// has stopped and its requests have finished.
	a.onClose(func() error { a.reg.Close(); return nil })
	return a
}

// config returns the configuration in force.
func (a *app) config() *config.Config { return a.cfg.Load() }

// buildOptions returns the options for building the workers of a
// configuration, with prev the Set being replaced (nil at start).
func (a *app) buildOptions(prev *workers.Set) workers.BuildOptions {
	return workers.BuildOptions{
		Open:     a.opener,
		Previous: prev,
		Guard:    a.guard,
		Archive:  a.archive,
		Logger:   a.log,
	}
}

// build builds the workers of cfg and swaps them in.
func (a *app) build(cfg *config.Config) *workers.Set {
	a.buildMu.Lock()
	defer a.buildMu.Unlock()
	set := workers.Build(a.ctx, cfg, a.buildOptions(a.reg.Current()))
	a.cfg.Store(cfg)
	a.reg.Swap(set)
	// The proxies believed are the configuration's in force too: a proxy
	// removed and reloaded was believed until a restart. (At start the
	// web server is made after the first build, from a.config().)
	if a.srv != nil {
		a.srv.SetTrustedProxies(cfg.Server.TrustedProxies)
	}
	return set
}

// reload loads the configuration files again (a cluster node's with the
// version in force) and swaps in the new workers. A configuration that does
// not load is refused as a whole and the running one stays; the refusal is
// logged and audited here for both, since SIGHUP's caller drops the error.
// It returns the server settings of the configuration now in force that
// wait for a restart (restartNeeded), for the admin API's answer.
func (a *app) reload() ([]string, error) {
	refused := func(err error) ([]string, error) {
		a.log.Error("configuration reload refused; the running configuration stays", "error", err)
		a.record(a.ctx, "config.reload", err.Error(), nil)
		return nil, err
	}
	if a.node != nil {
		var names []string // as the version's config.apply record names them
		if err := a.node.Apply(a.ctx, true, func(cfg *config.Config, v int64) { names = a.applyCluster(cfg, v) }); err != nil {
			return refused(err)
		}
		return names, nil
	}
	cfg, err := config.Load(a.paths...)
	if err != nil {
		return refused(err)
	}
	// The audit key is read at the next start: one that would stop it is
	// refused now, as config check refuses it, not left to that start.
	if ps := stateFileProblems(cfg); len(ps) > 0 {
		return refused(ps)
	}
	set := a.build(cfg)
	names, details := a.restartPending(cfg, map[string]string{"workers": strconv.Itoa(len(set.Workers()))})
	a.record(a.ctx, "config.reload", "ok", details)
	a.log.Info("configuration reloaded", "workers", len(set.Workers()), "problems", len(cfg.Problems()), "offline", len(set.Offline()))
	return names, nil
}

// restartNeeded returns, sorted, the server settings of cfg that differ
// from those the server started with and that only a restart applies
// (config.Server.RestartOnly): the one list of the reload's audit record,
// its log line and the admin API's answer.
func (a *app) restartNeeded(cfg *config.Config) []string {
	a.buildMu.Lock()
	defer a.buildMu.Unlock()
	if a.srv == nil { // not started: a cluster node applies a version before
		return nil
	}
	names := append(a.started.RestartOnly(cfg.Server), a.startedState.RestartOnly(cfg.State)...)
	slices.Sort(names)
	return names
}

// restartPending returns the server settings of cfg that wait for a
// restart (restartNeeded), adds them to details, an audit record's, in the
// admin API's form (adminapi.RestartDetail), and logs them: the reload that
// changed them succeeds without them, and says so. The list it returns is
// the one its record names, for the admin API's answer.
func (a *app) restartPending(cfg *config.Config, details map[string]string) ([]string, map[string]string) {
	names := a.restartNeeded(cfg)
	if len(names) > 0 {
		a.log.Warn("server settings changed in the configuration take effect when the server restarts; the ones it started with stay in force", "settings", strings.Join(names, ", "))
	}
	return names, adminapi.RestartDetail(details, names)
}

// onClose registers f to run when the server stops, last registered first.
func (a *app) onClose(f func() error) { a.closers = append(a.closers, f) }

// close runs the registered closers.
func (a *app) close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}
