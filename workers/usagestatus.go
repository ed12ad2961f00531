package workers

import (
	"context"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/tokens/guard"
)

// Disabled reports whether the worker is configured DISABLED=true, so that
// status pages can tell a disabled worker from an offline one.
func (b *base) Disabled() bool { return b.disabled }

// KeyUsage returns the signatures counted for the worker's key and the
// key's KEYUSAGELIMIT (-1 when there is none), as its guard keeps them for
// every surface. counted is false when the key is not counted or not
// reachable now.
func (b *base) KeyUsage(ctx context.Context) (used, limit int64, counted bool) {
	gt, ok := b.tok.(*guard.Token)
	if !ok {
		return 0, -1, false
	}
	return gt.Usage(ctx, b.alias)
}

// Access is how a worker authorizes its clients (AUTHTYPE and what it
// needs); the web layer enforces it before the worker sees a request.
type Access struct {
	Type    string // config.AuthNoAuth, AuthClientCert or AuthUsernamePassword
	Clients []config.AuthorizedClient
	Users   []config.WorkerUser
}

// Access returns the worker's client authorization.
func (b *base) Access() Access { return b.access }
