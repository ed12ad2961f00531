package dsm

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/signet-project/signet/tokens"
)

// nameToken is a token that has a name only: what a key set reads of it.
type nameToken struct {
	tokens.Token
	name string
}

func (t nameToken) Name() string { return t.name }

// BenchmarkKeys is the key set of a request over 10 served keys, built for
// each request (as it was) and kept from the last one while the source
// lists the same keys (keys).
func BenchmarkKeys(b *testing.B) {
	tok := nameToken{name: "demo"}
	src := func(context.Context) []Key {
		var ks []Key
		for i := range 10 {
			ks = append(ks, Key{Token: tok, Alias: fmt.Sprint("key-", i)})
		}
		return ks
	}
	h := New(Options{Keys: KeySourceFunc(src)})
	b.Run("built", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ks := buildKeys(src(context.Background())); len(ks.list) != 10 {
				b.Fatal(len(ks.list))
			}
		}
	})
	b.Run("kept", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ks := h.keys(context.Background()); len(ks.list) != 10 {
				b.Fatal(len(ks.list))
			}
		}
	})
}

// TestKeysKept: the key set is kept while the source lists the same keys,
// and built again when a key, its token (a reload opens new ones) or its
// users change.
func TestKeysKept(t *testing.T) {
	t.Parallel()
	a, b := &nameToken{name: "demo"}, &nameToken{name: "demo"}
	keys := []Key{{Token: a, Alias: "k"}}
	h := New(Options{Keys: KeySourceFunc(func(context.Context) []Key { return keys })})
	first := h.keys(context.Background())
	if again := h.keys(context.Background()); &again.list[0] != &first.list[0] {
		t.Error("the same keys built a new set")
	}
	for _, change := range []struct {
		name string
		keys []Key
	}{
		{"another token of the same name", []Key{{Token: b, Alias: "k"}}},
		{"another alias", []Key{{Token: b, Alias: "k2"}}},
		{"other users", []Key{{Token: b, Alias: "k2", AllowedUsers: []string{"app"}}}},
		{"a key more", []Key{{Token: b, Alias: "k2", AllowedUsers: []string{"app"}}, {Token: a, Alias: "k"}}},
	} {
		keys = change.keys
		ks := h.keys(context.Background())
		if len(ks.list) != len(keys) || ks.list[len(ks.list)-1].Token != keys[len(keys)-1].Token || ks.list[0].Alias != keys[0].Alias ||
			!slices.Equal(ks.list[0].AllowedUsers, keys[0].AllowedUsers) {
			t.Errorf("%s: the set is %+v, want the keys %+v", change.name, ks.list, keys)
		}
	}
}
