package state_test

import (
	"errors"
	"testing"
	"time"

	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/state/statetest"
)

func TestMemoryLogSearch(t *testing.T) {
	t.Parallel()
	statetest.SigningLogSearch(t, &state.MemoryLog{})
}

func TestMemoryArchive(t *testing.T) {
	t.Parallel()
	statetest.Archive(t, &state.MemoryArchive{})
}

func TestSignQueryCheck(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		q    state.SignQuery
		ok   bool
	}{
		{"nothing", state.SignQuery{}, true},
		{"a hash in capitals", state.SignQuery{Hash: "ABCDEF01"}, true},
		{"a hash that is not hex", state.SignQuery{Hash: "xyz"}, false},
		{"a hash of an odd number of digits", state.SignQuery{Hash: "abc"}, false},
		{"ok", state.SignQuery{Result: state.ResultOK}, true},
		{"refused", state.SignQuery{Result: state.ResultRefused}, true},
		{"an unknown result", state.SignQuery{Result: "failed"}, false},
		{"a range", state.SignQuery{Since: t0, Until: t0.Add(time.Second)}, true},
		{"a range that ends first", state.SignQuery{Since: t0.Add(time.Hour), Until: t0}, false},
		{"an empty range", state.SignQuery{Since: t0, Until: t0}, false},
		{"a negative record number", state.SignQuery{After: -1}, false},
	}
	for _, tt := range tests {
		err := tt.q.Check()
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, state.ErrBadQuery)) {
			t.Errorf("%s: Check() = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}
