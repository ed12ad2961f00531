package workers

import (
	"context"

	"github.com/signet-project/signet/config"
)

// Disabled reports whether the worker is configured DISABLED=true, so that
// status pages can tell a disabled worker from an offline one.
func (b *base) Disabled() bool { return b.disabled }

// KeyUsage returns the signatures counted for the worker's key and the
// key's KEYUSAGELIMIT (-1 when there is none), as its guard keeps them for
// every surface. counted is false when the key is not counted or not
// reachable now.
func (b *base) KeyUsage(ctx context.Context) (used, limit int64, counted bool) {
	gt, ok := b.tok.(interface {
		Usage(ctx context.Context, alias string) (used, limit int64, counted bool)
	})
	if !ok {
		return 0, -1, false
	}
	return gt.Usage(ctx, b.alias)
}

// Access returns the worker's client authorization.
func (b *base) Access() config.Access { return b.access }
