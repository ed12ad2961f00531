package sqlite

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/state/statetest"
)

func TestSigningLog(t *testing.T) {
	t.Parallel()
	s, path := openTest(t)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			r := state.SignRecord{Surface: "dsm", Key: "demo/signer-p256", User: "demo", Client: "127.0.0.1",
				DigestAlg: "SHA-256", Hashes: []string{fmt.Sprintf("%064X", i), fmt.Sprintf("%064x", 1000+i)}, Result: "ok"}
			if i%2 == 1 {
				r.Key = "demo/signer-rsa"
			}
			if _, err := s.Record(t.Context(), r); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	tests := []struct {
		name string
		q    state.SignQuery
		want int
	}{
		{"all", state.SignQuery{Limit: 1000}, 50},
		{"default limit", state.SignQuery{}, 50},
		{"by hash, any case", state.SignQuery{Hash: fmt.Sprintf("%064x", 7)}, 1},
		{"by second hash of a batch", state.SignQuery{Hash: fmt.Sprintf("%064x", 1007)}, 1},
		{"by key", state.SignQuery{Key: "demo/signer-rsa"}, 25},
		{"by alias", state.SignQuery{Key: "signer-rsa"}, 25},
		{"by a prefix of an alias", state.SignQuery{Key: "signer"}, 0},
		{"unknown user", state.SignQuery{User: "nobody"}, 0},
		{"paged", state.SignQuery{After: 45}, 5},
	}
	for _, tt := range tests {
		got, err := s.Search(t.Context(), tt.q)
		if err != nil || len(got) != tt.want {
			t.Errorf("%s: %d records, %v; want %d", tt.name, len(got), err, tt.want)
		}
	}
	got, _ := s.Search(t.Context(), state.SignQuery{Hash: fmt.Sprintf("%064x", 7)})
	if len(got) == 1 && (got[0].User != "demo" || len(got[0].Hashes) != 2 || got[0].Time.IsZero()) {
		t.Errorf("record %+v", got[0])
	}
	for _, f := range []string{path, path + "-wal"} {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", f, st.Mode().Perm(), err)
		}
	}
}

func TestSigningLogSearch(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	statetest.SigningLogSearch(t, s)
}
