package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/state/sqlite"
)

// StateFile is the name of the state database in the data folder.
const StateFile = "state.db"

// openState opens the run-time state (audit log, key usage counters) in the
// data folder and sets a.usage and a.audit. It runs before the workers are
// built.
func (a *app) openState() error {
	if err := os.MkdirAll(a.dataDir, 0o700); err != nil {
		return fmt.Errorf("create the data folder: %w", err)
	}
	store, err := sqlite.Open(a.ctx, filepath.Join(a.dataDir, StateFile))
	if err != nil {
		return err
	}
	a.usage, a.audit = store, store
	a.onClose(store.Close)
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
