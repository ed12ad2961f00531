package main

import (
	"context"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/state"
	adminapi "github.com/signet-project/signet/web/admin"
	"github.com/signet-project/signet/workers"
)

// mountAdmin adds the admin API under /admin/api/ to a.srv.
// Without the state database (openState did not set a.audit) admin actions
// are recorded in memory only, and the log says so.
func (a *app) mountAdmin() error {
	audit := a.audit
	if audit == nil {
		a.log.Warn("the audit log of admin actions is kept in memory only and is lost when the server stops")
		audit = state.NewMemory()
	}
	h := adminapi.New(adminapi.Options{
		Workers:      a.reg,
		Authenticate: a.adminAccess,
		Reload:       func(context.Context) error { return a.reload() },
		Refresh:      func(context.Context) error { a.refresh(); return nil },
		Audit:        audit,
		Logger:       a.log,
	})
	h.Register(a.srv.Echo())
	return nil
}

// adminAccess decides on the credentials of an admin API request: an
// administrator is allowed; a user of another role with the right password
// is forbidden (403), anyone else denied (401).
func (a *app) adminAccess(user, password string) adminapi.Decision {
	if _, ok := a.auth.check(user, password, config.RoleAdmin); ok {
		return adminapi.Allowed
	}
	if u, ok := a.config().User(user); ok {
		for _, r := range u.Roles {
			if _, ok := a.auth.check(user, password, r); ok {
				return adminapi.Forbidden
			}
		}
	}
	return adminapi.Denied
}

// refresh rebuilds the workers from the configuration in force, keeping
// the open tokens, so that a token activated or a key or chain changed
// through the admin API is seen without a reload: workers that resolved
// their key's algorithm while it was missing resolve it again.
func (a *app) refresh() {
	a.buildMu.Lock()
	defer a.buildMu.Unlock()
	set := workers.Build(a.ctx, a.config(), a.buildOptions(a.reg.Current()))
	a.reg.Swap(set)
}
