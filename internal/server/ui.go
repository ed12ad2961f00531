package server

import (
	"github.com/signet-project/signet/web/ui"

	adminapi "github.com/signet-project/signet/web/admin"
)

// mountUI adds the admin web UI under /admin/ to a.srv: it acts through
// the admin API handler h and signs "Try it" files through the server's own
// worker endpoints.
func (a *app) mountUI(h *adminapi.Handler) error {
	sampler := ui.NewSampler(a.srv.MetricsGatherer(), 0)
	go sampler.Run(a.ctx)
	u, err := ui.New(ui.Options{
		Admin:        h,
		Authenticate: a.adminAccess,
		// The throttle of every other surface: failures on the admin API
		// and the login form count together, and a lock-out on one holds
		// on the other.
		Throttle: a.throttle,
		Stamp:    a.auth.Stamp,
		Workers:  a.srv.Handler(),
		Metrics:  sampler,
		Audit:    a.audit,
		Logger:   a.log,
		Now:      a.now,
	})
	if err != nil {
		return err
	}
	u.Register(a.srv.Echo())
	return nil
}
