package workers

import "context"

// Disabled reports whether the worker is configured DISABLED=true, so that
// status pages can tell a disabled worker from an offline one.
func (b *base) Disabled() bool { return b.disabled }

// KeyUsage returns the signatures counted for the worker's key and its
// KEYUSAGELIMIT (-1 when there is none). counted is false when this worker
// does not count (no counter, DISABLEKEYUSAGECOUNTER) or its key is not
// reachable now.
func (b *base) KeyUsage(ctx context.Context) (used, limit int64, counted bool) {
	if b.usage == nil || b.noCount || b.tok == nil {
		return 0, b.limit, false
	}
	signer, err := b.tok.Signer(ctx, b.alias)
	if err != nil {
		return 0, b.limit, false
	}
	id, err := b.usageKey(signer.Public())
	if err != nil {
		return 0, b.limit, false
	}
	n, err := b.usage.Count(ctx, id)
	if err != nil {
		return 0, b.limit, false
	}
	return n, b.limit, true
}
