package workers

import (
	"context"
	"testing"

	"github.com/signet-project/signet/tokens"
)

// closingToken is a token that records its Close.
type closingToken struct {
	tokens.Token
	closed chan struct{}
}

func newClosingToken() *closingToken { return &closingToken{closed: make(chan struct{})} }

func (t *closingToken) Close() error { close(t.closed); return nil }

func (t *closingToken) isClosed() bool {
	select {
	case <-t.closed:
		return true
	default:
		return false
	}
}

// TestSwapClosesDroppedTokensAfterTheirRequests: a reload closes the tokens
// it no longer uses once the requests that hold them are done, keeps the
// ones it reuses open, and Close closes every token (issue 14: a reload
// never closed the old token, and nothing was closed at shutdown).
func TestSwapClosesDroppedTokensAfterTheirRequests(t *testing.T) {
	t.Parallel()
	kept, dropped := newClosingToken(), newClosingToken()
	reg := NewRegistry(NewSet(nil, map[string]tokens.Token{"kept": kept, "dropped": dropped}))

	held, release := reg.Acquire() // a request in flight on the first set
	reg.Swap(NewSet(nil, map[string]tokens.Token{"kept": kept}))
	if dropped.isClosed() || kept.isClosed() {
		t.Fatal("a token was closed while a request held its set")
	}
	if held.Tokens()["dropped"] != dropped {
		t.Fatal("the request's set changed under it")
	}
	release()
	release() // a second release is harmless
	if !dropped.isClosed() {
		t.Error("the dropped token is still open after its last request")
	}
	if kept.isClosed() {
		t.Error("the token the new set reuses was closed")
	}

	_, release = reg.Acquire()
	reg.Close()
	if kept.isClosed() {
		t.Error("shutdown closed a token while a request held it")
	}
	release()
	if !kept.isClosed() {
		t.Error("shutdown left a token open")
	}
}

// TestRegistryIn: a context that carries the Set its request acquired
// gets that Set even after a reload swapped in another; one without gets
// the Set in force.
func TestRegistryIn(t *testing.T) {
	t.Parallel()
	s1, s2 := NewSet(nil, nil), NewSet(nil, nil)
	reg := NewRegistry(s1)
	held, release := reg.Acquire()
	defer release()
	ctx := WithSet(context.Background(), held)
	reg.Swap(s2)
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want *Set
	}{
		{"the request's own Set", ctx, s1},
		{"no Set in the context", context.Background(), s2},
	} {
		if got := reg.In(tc.ctx); got != tc.want {
			t.Errorf("%s: In returned another Set", tc.name)
		}
	}
	if SetFrom(context.Background()) != nil {
		t.Error("SetFrom of a context without a Set is not nil")
	}
}
