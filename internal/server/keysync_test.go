package server

import (
	"context"
	"crypto"
	"log/slog"
	"testing"

	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/web/nethsm/nethsmtest"
	"github.com/signet-project/signet/workers"
)

// syncToken records whether its app's buildMu was held when a key sync
// reached it.
type syncToken struct {
	*nethsmtest.Token
	a          *app
	underBuild []bool
}

func (t *syncToken) held() bool {
	if t.a.buildMu.TryLock() {
		t.a.buildMu.Unlock()
		return false
	}
	return true
}

func (t *syncToken) Sync(context.Context, string) error {
	t.underBuild = append(t.underBuild, t.held())
	return nil
}

func (t *syncToken) SyncAll(context.Context) error {
	t.underBuild = append(t.underBuild, t.held())
	return nil
}

// TestKeySyncWaitsForBuilds: a key changed through another node, and the
// keys read again after the watch reconnects, reach the tokens under
// buildMu, so that a reload building a token meanwhile either reads the
// keystore after the change or has swapped its token in before the sync:
// the reviewer's race, in which the new token kept a key another node had
// removed.
func TestKeySyncWaitsForBuilds(t *testing.T) {
	t.Parallel()
	a := &app{ctx: context.Background(), log: slog.New(slog.DiscardHandler)}
	tok := &syncToken{Token: nethsmtest.NewToken("db", map[string]crypto.Signer{}, nil), a: a}
	a.reg = workers.NewRegistry(workers.NewSet(nil, map[string]tokens.Token{"db": tok}))
	if err := a.keyChanged("db", "k"); err != nil {
		t.Fatal(err)
	}
	if err := a.keysMissed(); err != nil {
		t.Fatal(err)
	}
	if len(tok.underBuild) != 2 || !tok.underBuild[0] || !tok.underBuild[1] {
		t.Errorf("syncs under buildMu: %v, want [true true]", tok.underBuild)
	}
}
