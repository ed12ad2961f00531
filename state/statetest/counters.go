package statetest

import (
	"errors"
	"testing"

	"github.com/signet-project/signet/state"
)

// LimitLowered checks that a key's limit holds from the first Reserve
// that gives a lower one (KEYUSAGELIMIT lowered by a reload): signatures
// leased or reserved ahead under the higher limit are not granted past
// it. c must not have counted the key "lowered".
func LimitLowered(t *testing.T, c state.Counters) {
	t.Helper()
	ctx := t.Context()
	if _, err := c.Reserve(ctx, "lowered", 1, 1000); err != nil {
		t.Fatal(err)
	}
	const limit = 5
	made := int64(1)
	for ; made <= 2*limit; made++ {
		_, err := c.Reserve(ctx, "lowered", 1, limit)
		if errors.Is(err, state.ErrLimit) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if made != limit {
		t.Fatalf("after the limit was lowered to %d the key made %d signatures in all", limit, made)
	}
	if n, err := c.Count(ctx, "lowered"); err != nil || n != limit {
		t.Fatalf("count after the lowered limit was reached: %d, %v; want %d", n, err, limit)
	}
}
