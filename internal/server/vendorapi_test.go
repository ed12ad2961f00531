package server

import (
	"context"
	"crypto"
	"strings"
	"testing"
	"time"

	"github.com/signet-project/signet/tokens"
	tokdsm "github.com/signet-project/signet/tokens/dsm"
	"github.com/signet-project/signet/tokens/guard"
	"github.com/signet-project/signet/web/dsm/dsmtest"
	"github.com/signet-project/signet/web/nethsm/nethsmtest"
	"github.com/signet-project/signet/workers"
)

// remoteFake is a token that says its keys live on another server.
type remoteFake struct{ *nethsmtest.Token }

func (remoteFake) Endpoint() string { return "https://hsm.example" }

var _ tokens.Remote = remoteFake{}

// TestVendorKeys checks which keys the vendor APIs serve: the local
// tokens' keys by token name then alias, an alias once (the first token
// wins), remote tokens left out, a new worker set seen at once, and an
// offline token named, its keys served as soon as it is active again.
func TestVendorKeys(t *testing.T) {
	keys := dsmtest.TestKeys(t)
	tok := func(name string, aliases ...string) tokens.Token {
		m := map[string]crypto.Signer{}
		for _, a := range aliases {
			m[a] = keys["p256"]
		}
		return nethsmtest.NewToken(name, m, nil)
	}
	remoteTok, err := tokdsm.New(tokdsm.Options{Name: "r", URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	// A remote token is left out, though it lists keys, whether or not
	// the key policy guard wraps it.
	guarded := (&guard.Guard{}).Wrap(remoteFake{tok("rg", "v").(*nethsmtest.Token)}, nil)
	set1 := workers.NewSet(nil, map[string]tokens.Token{"b": tok("b", "x", "y"), "a": tok("a", "z", "y"), "r": remoteTok, "rg": guarded})
	set2 := workers.NewSet(nil, map[string]tokens.Token{"c": tok("c", "w")})
	render := func(ks []vendorKey, offline []string) string {
		var parts []string
		for _, k := range ks {
			parts = append(parts, k.tok.Name()+"/"+k.alias)
		}
		for _, name := range offline {
			parts = append(parts, name+" offline")
		}
		return strings.Join(parts, " ")
	}
	c := &vendorKeyCache{ttl: time.Hour}
	ctx := context.Background()
	tests := []struct {
		name string
		set  *workers.Set
		want string
	}{
		{"first set", set1, "a/y a/z b/x"},
		{"cached", set1, "a/y a/z b/x"},
		{"reload", set2, "c/w"},
	}
	for _, tt := range tests {
		if got := render(c.keys(ctx, tt.set)); got != tt.want {
			t.Errorf("%s: keys %q, want %q", tt.name, got, tt.want)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	c.keys(cancelled, set1)
	if got := render(c.keys(ctx, set2)); got != "c/w" {
		t.Errorf("after a cancelled listing: keys %q, want the cached c/w", got)
	}
	// An offline token is named, and its keys are served as soon as it is
	// activated, not a TTL later.
	d := tok("d", "u").(*nethsmtest.Token)
	d.Deactivate(ctx)
	set3 := workers.NewSet(nil, map[string]tokens.Token{"c": tok("c", "w"), "d": d})
	if got := render(c.keys(ctx, set3)); got != "c/w d offline" {
		t.Errorf("with d offline: %q, want c/w and d offline", got)
	}
	d.Activate(ctx, "")
	if got := render(c.keys(ctx, set3)); got != "c/w d/u" {
		t.Errorf("d activated again: %q, want its key served at once", got)
	}
}
