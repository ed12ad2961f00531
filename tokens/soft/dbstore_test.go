package soft_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"maps"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/soft"
)

// memStore is a soft.Store in memory, standing for the database two
// nodes share.
type memStore struct {
	mu    sync.Mutex
	files map[string][]byte
}

func (m *memStore) List(context.Context) (map[string][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.files), nil
}

func (m *memStore) Get(_ context.Context, alias string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.files[alias]
	return d, ok, nil
}

func (m *memStore) Replace(_ context.Context, alias string, old, data []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d, ok := m.files[alias]; !ok || !bytes.Equal(d, old) {
		return false, nil
	}
	m.files[alias] = data
	return true, nil
}

func (m *memStore) Add(_ context.Context, alias string, data []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.files[alias]; ok {
		return false, nil
	}
	m.files[alias] = data
	return true, nil
}

func (m *memStore) Delete(_ context.Context, alias string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.files, alias)
	return nil
}

// openNode opens and activates a soft token over st, as a node of a
// cluster does over the database's keystore.
func openNode(t *testing.T, st soft.Store) *soft.Token {
	t.Helper()
	tok, err := soft.Open(soft.Options{Name: "db", Type: "PKCS12", Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Activate(context.Background(), pin); err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestStoreSharedByNodes: a key generated and a chain stored through one
// token sign through another token on the same store, as two nodes of a
// cluster on one database.
func TestStoreSharedByNodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := &memStore{files: map[string][]byte{}}
	open := func() *soft.Token { return openNode(t, st) }
	node1, node3 := open(), open()
	if _, err := node3.Signer(ctx, "k"); !errors.Is(err, tokens.ErrKeyNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
	pub, err := node1.GenerateKey(ctx, "k", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"})
	if err != nil {
		t.Fatal(err)
	}
	s3, err := node3.Signer(ctx, "k")
	if err != nil {
		t.Fatalf("key generated on node 1, asked on node 3: %v", err)
	}
	if !s3.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
		t.Fatal("node 3 has another key")
	}
	s1, _ := node1.Signer(ctx, "k")
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "k"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, s1)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	if err := node1.ImportChain(ctx, "k", []*x509.Certificate{cert}); err != nil {
		t.Fatal(err)
	}
	ch, err := node3.Chain(ctx, "k")
	if err != nil || len(ch) != 1 || !ch[0].Equal(cert) {
		t.Fatalf("chain stored on node 1, read on node 3: %v, %v", ch, err)
	}
	checkSigns(t, s3, cert)
	if err := open().Activate(ctx, "wrong pin"); !errors.Is(err, tokens.ErrBadPIN) {
		t.Fatalf("wrong PIN: %v", err)
	}
	if err := node1.RemoveKey(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	// Told of the removal (a cluster node hears it by NOTIFY), node 3
	// stops signing with the key.
	if err := node3.Sync(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := s3.Sign(rand.Reader, make([]byte, 32), crypto.SHA256); !errors.Is(err, tokens.ErrOffline) {
		t.Fatalf("node 3 signs with a key removed through node 1: %v", err)
	}
	if _, err := node3.Signer(ctx, "k"); !errors.Is(err, tokens.ErrKeyNotFound) {
		t.Fatalf("removed key on node 3: %v", err)
	}
	if keys, _ := open().Keys(ctx); len(keys) != 0 {
		t.Fatalf("keys after removal: %v", keys)
	}
}

// TestSyncAllAfterMissedChanges: a node that heard nothing while other
// nodes removed one key and replaced another (its watch of the cluster
// reconnecting) stops signing with both old keys once it reads the store
// again, and signs with the new one.
func TestSyncAllAfterMissedChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := &memStore{files: map[string][]byte{}}
	open := func() *soft.Token { return openNode(t, st) }
	node1, node3 := open(), open()
	spec := tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"}
	for _, alias := range []string{"removed", "replaced", "kept"} {
		if _, err := node1.GenerateKey(ctx, alias, spec); err != nil {
			t.Fatal(err)
		}
	}
	held := map[string]crypto.Signer{}
	for _, alias := range []string{"removed", "replaced", "kept"} {
		s, err := node3.Signer(ctx, alias)
		if err != nil {
			t.Fatal(err)
		}
		held[alias] = s
	}
	if err := node1.RemoveKey(ctx, "removed"); err != nil {
		t.Fatal(err)
	}
	if err := node1.RemoveKey(ctx, "replaced"); err != nil {
		t.Fatal(err)
	}
	newPub, err := node1.GenerateKey(ctx, "replaced", spec)
	if err != nil {
		t.Fatal(err)
	}
	digest := make([]byte, 32)
	if _, err := held["removed"].Sign(rand.Reader, digest, crypto.SHA256); err != nil {
		t.Fatalf("before SyncAll node 3 has not heard of the removal, so it still signs: %v", err)
	}
	if err := node3.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		alias string
		want  error
	}{{"removed", tokens.ErrOffline}, {"replaced", tokens.ErrOffline}, {"kept", nil}} {
		if _, err := held[tc.alias].Sign(rand.Reader, digest, crypto.SHA256); !errors.Is(err, tc.want) {
			t.Errorf("signer of %q held across SyncAll: %v, want %v", tc.alias, err, tc.want)
		}
	}
	if _, err := node3.Signer(ctx, "removed"); !errors.Is(err, tokens.ErrKeyNotFound) {
		t.Errorf("removed key after SyncAll: %v", err)
	}
	s, err := node3.Signer(ctx, "replaced")
	if err != nil || !s.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(newPub) {
		t.Errorf("replaced key after SyncAll: %v, the new key: %v", err, err == nil)
	}
}

// lateStore is a memStore read before another node's key of the same alias
// was committed: Get does not find it, though it is there by the time this
// node stores its own.
type lateStore struct{ *memStore }

func (lateStore) Get(context.Context, string) ([]byte, bool, error) { return nil, false, nil }

// TestGenerateKeyRace: two nodes generating one alias at once: the second
// is refused and the first node's key stays. The second overwrote it (a
// check, then a Put), though the first node's caller already had its
// public key.
func TestGenerateKeyRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := &memStore{files: map[string][]byte{}}
	node1, node2 := openNode(t, st), openNode(t, lateStore{st})
	spec := tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"}
	if _, err := node1.GenerateKey(ctx, "k", spec); err != nil {
		t.Fatal(err)
	}
	first, _, _ := st.Get(ctx, "k")
	if _, err := node2.GenerateKey(ctx, "k", spec); err == nil {
		t.Fatal("the second node generated a key of an alias taken meanwhile")
	}
	if now, _, _ := st.Get(ctx, "k"); string(now) != string(first) {
		t.Fatal("the second node's key replaced the first node's")
	}
}

// TestImportChainAfterRemoval: a chain stored through a node that was not
// yet told of the key's removal through another node is refused, and the
// key stays removed; so is one after the key was made anew under its name,
// and the new key stays. It was stored (an upsert), bringing the removed
// key back to the database and so to every node, or the old key in place
// of the new.
func TestImportChainAfterRemoval(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := &memStore{files: map[string][]byte{}}
	open := func() *soft.Token { return openNode(t, st) }
	node1 := open()
	pub, err := node1.GenerateKey(ctx, "k", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"})
	if err != nil {
		t.Fatal(err)
	}
	node2 := open() // holds k
	s2, err := node2.Signer(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "k"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, s2)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	if err := node1.RemoveKey(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if err := node2.ImportChain(ctx, "k", []*x509.Certificate{cert}); !errors.Is(err, tokens.ErrKeyNotFound) {
		t.Fatalf("chain of a key removed through another node: %v, want tokens.ErrKeyNotFound", err)
	}
	if _, found, _ := st.Get(ctx, "k"); found {
		t.Fatal("the chain brought the removed key back")
	}
	// Removed and made anew under its name: the old key's chain, stored
	// through the node that holds the old key, does not replace the new.
	if _, err := node1.GenerateKey(ctx, "k", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"}); err != nil {
		t.Fatal(err)
	}
	made, _, _ := st.Get(ctx, "k")
	if err := node2.ImportChain(ctx, "k", []*x509.Certificate{cert}); !errors.Is(err, tokens.ErrKeyNotFound) {
		t.Fatalf("chain of a key made anew through another node: %v, want tokens.ErrKeyNotFound", err)
	}
	if now, _, _ := st.Get(ctx, "k"); !bytes.Equal(now, made) {
		t.Fatal("the old key's chain replaced the key made anew")
	}
}
