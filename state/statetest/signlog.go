// Package statetest holds the tests every store of the state package must
// pass the same way: SQLite, PostgreSQL and the in-memory ones run them, so
// that a search means one thing whichever database a server uses.
package statetest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signet-project/signet/state"
)

// t0 is the time of the first record; record i is i minutes later.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Hash returns the test hash of record i (64 hex digits).
func Hash(i int) string { return fmt.Sprintf("%064x", 0xabcdef00+i) }

// signRecords are the records SigningLogSearch writes, in order (IDs 1…).
func signRecords() []state.SignRecord {
	r := func(i int, surface, key, user, client, reqID, result string, hashes ...string) state.SignRecord {
		return state.SignRecord{Time: t0.Add(time.Duration(i) * time.Minute), Surface: surface, Key: key, KeyID: "sha256:" + key,
			User: user, Client: client, RequestID: reqID, DigestAlg: "SHA-256", Hashes: hashes, Result: result}
	}
	return []state.SignRecord{
		r(0, "worker/CAdESSigner", "demo/signer-p256", "", "10.0.0.1", "req-1", "ok", Hash(1)),
		r(1, "worker/CAdESSigner", "demo/signer-p256", "", "10.0.0.2", "req-2", "ok", strings.ToUpper(Hash(2))),
		r(2, "dsm", "demo/signer-rsa3072", "alice", "10.0.0.1", "req-3", "ok", Hash(3), Hash(4), Hash(5)),
		r(3, "nethsm", "hsm/signer-p256", "bob", "10.0.0.3", "req-4", "refused: Key usage limit exceeded.", Hash(6)),
		r(4, "admin/test-sign", "hsm/signer-p256", "admin", "::1", "req-5", "ok", Hash(7)),
		r(5, "worker/CAdESSigner2", "demo/signer", "cert:1a2b/CN=Clients CA", "10.0.0.1", "req-6", "refused: Worker CAdESSigner2 is disabled.", Hash(1)),
		r(6, "worker/TimeStampSigner", "tsa/tsa-key", "alice", "10.0.0.2", "req-7", "ok"),
	}
}

// SigningLogSearch records the test records in log, which must be empty,
// and checks that every kind of search finds exactly the records the one
// definition of state.SignQuery says.
func SigningLogSearch(t *testing.T, log state.SigningLog) {
	t.Helper()
	recs := signRecords()
	for i, r := range recs {
		got, err := log.Record(t.Context(), r)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != int64(i+1) {
			t.Fatalf("record %d got ID %d", i+1, got.ID)
		}
		// Record returns the record as stored, and leaves the caller's alone.
		if want := r.Stored(); !slices.Equal(got.Hashes, want.Hashes) || !got.Time.Equal(want.Time) || got.Time.Location() != time.UTC {
			t.Errorf("record %d came back with hashes %v at %v, want %v at %v UTC", i+1, got.Hashes, got.Time, want.Hashes, want.Time)
		}
		if !slices.Equal(r.Hashes, signRecords()[i].Hashes) {
			t.Errorf("record %d: Record changed the caller's hashes to %v", i+1, r.Hashes)
		}
	}
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	tests := []struct {
		name string
		q    state.SignQuery
		want []int64
	}{
		{"everything", state.SignQuery{}, []int64{1, 2, 3, 4, 5, 6, 7}},
		{"by hash", state.SignQuery{Hash: Hash(7)}, []int64{5}},
		{"by hash in capitals", state.SignQuery{Hash: strings.ToUpper(Hash(7))}, []int64{5}},
		{"by a hash recorded in capitals", state.SignQuery{Hash: Hash(2)}, []int64{2}},
		{"by the third hash of a batch", state.SignQuery{Hash: Hash(5)}, []int64{3}},
		{"by a hash signed twice", state.SignQuery{Hash: Hash(1)}, []int64{1, 6}},
		{"by a hash never signed", state.SignQuery{Hash: Hash(99)}, nil},
		{"by a prefix of a hash", state.SignQuery{Hash: Hash(1)[:10]}, nil},
		{"by token/alias", state.SignQuery{Key: "demo/signer-p256"}, []int64{1, 2}},
		{"by alias in every token", state.SignQuery{Key: "signer-p256"}, []int64{1, 2, 4, 5}},
		{"by an alias that is a prefix of others", state.SignQuery{Key: "signer"}, []int64{6}},
		{"by the end of an alias", state.SignQuery{Key: "p256"}, nil},
		{"by token alone", state.SignQuery{Key: "demo"}, nil},
		{"by worker path", state.SignQuery{Surface: "worker/CAdESSigner"}, []int64{1, 2}},
		{"by worker name", state.SignQuery{Surface: "CAdESSigner"}, []int64{1, 2}},
		{"by key API", state.SignQuery{Surface: "dsm"}, []int64{3}},
		{"by admin test-sign", state.SignQuery{Surface: "test-sign"}, []int64{5}},
		{"by user", state.SignQuery{User: "alice"}, []int64{3, 7}},
		{"by client certificate", state.SignQuery{User: "cert:1a2b/CN=Clients CA"}, []int64{6}},
		{"by a prefix of a user", state.SignQuery{User: "ali"}, nil},
		{"by client address", state.SignQuery{Client: "10.0.0.1"}, []int64{1, 3, 6}},
		{"by IPv6 client address", state.SignQuery{Client: "::1"}, []int64{5}},
		{"by request ID", state.SignQuery{RequestID: "req-4"}, []int64{4}},
		{"signed", state.SignQuery{Result: state.ResultOK}, []int64{1, 2, 3, 5, 7}},
		{"refused", state.SignQuery{Result: state.ResultRefused}, []int64{4, 6}},
		{"since, inclusive", state.SignQuery{Since: at(5)}, []int64{6, 7}},
		{"until, exclusive", state.SignQuery{Until: at(2)}, []int64{1, 2}},
		{"a time range", state.SignQuery{Since: at(1), Until: at(3)}, []int64{2, 3}},
		{"a range in another zone", state.SignQuery{Since: at(1).In(time.FixedZone("CET", 3600)), Until: at(2)}, []int64{2}},
		{"after", state.SignQuery{After: 5}, []int64{6, 7}},
		{"limit", state.SignQuery{Limit: 2}, []int64{1, 2}},
		{"the second page", state.SignQuery{After: 2, Limit: 2}, []int64{3, 4}},
		{"several fields", state.SignQuery{Key: "signer-p256", Client: "10.0.0.2", Result: state.ResultOK}, []int64{2}},
		{"fields that exclude each other", state.SignQuery{User: "alice", Surface: "nethsm"}, nil},
		{"a page of a filter", state.SignQuery{Client: "10.0.0.1", After: 1, Limit: 1}, []int64{3}},
	}
	for _, tt := range tests {
		if err := tt.q.Check(); err != nil {
			t.Errorf("%s: Check: %v", tt.name, err)
		}
		got, err := log.Search(t.Context(), tt.q)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var ids []int64
		for _, r := range got {
			ids = append(ids, r.ID)
		}
		if !slices.Equal(ids, tt.want) {
			t.Errorf("%s: records %v, want %v", tt.name, ids, tt.want)
		}
		var matched []int64
		for i, r := range recs {
			r.ID = int64(i + 1)
			if tt.q.Matches(r) && len(matched) < tt.q.Limited() {
				matched = append(matched, r.ID)
			}
		}
		if !slices.Equal(matched, tt.want) {
			t.Errorf("%s: SignQuery.Matches selects %v, the store %v", tt.name, matched, ids)
		}
	}
	// A record comes back as it was recorded, its hashes in lower case.
	for i := range 2 {
		got, err := log.Search(t.Context(), state.SignQuery{RequestID: recs[i+1].RequestID})
		if err != nil || len(got) != 1 {
			t.Fatalf("request %s: %v, %v", recs[i+1].RequestID, got, err)
		}
		want := recs[i+1]
		want.ID = int64(i + 2)
		want.Hashes = []string{strings.ToLower(want.Hashes[0])}
		if i == 1 {
			want.Hashes = recs[i+1].Hashes
		}
		got[0].Time = got[0].Time.UTC()
		if !reflect.DeepEqual(got[0], want) {
			t.Errorf("record %d reads back as\n%+v, want\n%+v", want.ID, got[0], want)
		}
	}
}
