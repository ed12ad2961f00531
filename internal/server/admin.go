package server

import (
	"context"

	"github.com/signet-project/signet/config"
	adminapi "github.com/signet-project/signet/web/admin"
	"github.com/signet-project/signet/web/auth"
)

// mountAdmin adds the admin API under /admin/api/ to a.srv. Its actions
// are written to a.audit, the state database's audit log.
func (a *app) mountAdmin() error {
	opts := adminapi.Options{
		Workers:      a.reg,
		Authenticate: a.adminAccess,
		Roles: func(user string) []string {
			u, _ := a.config().User(user)
			return u.Roles
		},
		Certificate: a.auth.CertUser,
		Throttle:    a.throttle,
		Reload:      func(context.Context) ([]string, error) { return a.reloadAll() },
		Config:      a.config,
		Audit:       a.audit,
		SigningLog:  a.signlog,
		Archive:     a.archive,
		Logger:      a.log,
		Now:         a.now,
	}
	// Edits are checked as signet config check checks the files; a
	// cluster node's edits of the version in force become its next one.
	opts.EditConfig = func(_ context.Context, _, file string, e config.Edit) error {
		return config.Apply(a.config().Files, file, e, FileChecks()...)
	}
	if a.node != nil {
		opts.EditConfig = func(ctx context.Context, user, file string, e config.Edit) error {
			return a.node.Edit(ctx, user, file, e, FileChecks()...)
		}
	}
	h := adminapi.New(opts)
	h.Register(a.srv.Echo())
	// The status gauges on /metrics come from the same code as GET /workers.
	if err := a.srv.MetricsRegistry().Register(h.Collector()); err != nil {
		return err
	}
	return a.mountUI(h)
}

// adminAccess decides on the credentials of an admin API request or an
// admin UI login: a user with a role of the admin API (admin, operator,
// auditor) is allowed, and the API's role check decides each call; a user
// of other roles with the right password is forbidden (403), anyone else
// denied (401).
func (a *app) adminAccess(user, password string) adminapi.Decision {
	return a.auth.Decide(user, password, auth.AdminRoles()...)
}
