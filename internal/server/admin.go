package server

import (
	"context"

	"github.com/signet-project/signet/config"
	adminapi "github.com/signet-project/signet/web/admin"
)

// mountAdmin adds the admin API under /admin/api/ to a.srv. Its actions
// are written to a.audit, the state database's audit log.
func (a *app) mountAdmin() error {
	h := adminapi.New(adminapi.Options{
		Workers:      a.reg,
		Authenticate: a.adminAccess,
		Reload:       func(context.Context) error { return a.reload() },
		Config:       a.config,
		Audit:        a.audit,
		SigningLog:   a.signlog,
		Logger:       a.log,
	})
	h.Register(a.srv.Echo())
	return a.mountUI(h)
}

// adminAccess decides on the credentials of an admin API request: an
// administrator is allowed; a user of another role with the right password
// is forbidden (403), anyone else denied (401).
func (a *app) adminAccess(user, password string) adminapi.Decision {
	return a.auth.Decide(user, password, config.RoleAdmin)
}
