package state_test

import (
	"errors"
	"strings"
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

func TestMemoryLimitLowered(t *testing.T) {
	t.Parallel()
	statetest.LimitLowered(t, state.NewMemoryCounters())
}

func TestSignQueryCheck(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		q    state.SignQuery
		want string // in the refusal's sentence; "": accepted
	}{
		{"nothing", state.SignQuery{}, ""},
		{"a hash in capitals", state.SignQuery{Hash: "ABCDEF01"}, ""},
		{"a hash that is not hex", state.SignQuery{Hash: "xyz"}, "the hash must be hexadecimal digits"},
		{"a hash of an odd number of digits", state.SignQuery{Hash: "abc"}, "the hash must be hexadecimal digits"},
		{"ok", state.SignQuery{Result: state.ResultOK}, ""},
		{"refused", state.SignQuery{Result: state.ResultRefused}, ""},
		{"an unknown result", state.SignQuery{Result: "failed"}, "the result must be ok or refused"},
		{"a range", state.SignQuery{Since: t0, Until: t0.Add(time.Second)}, ""},
		{"a range that ends first", state.SignQuery{Since: t0.Add(time.Hour), Until: t0}, "the end of the time range must be after its start"},
		{"an empty range", state.SignQuery{Since: t0, Until: t0}, "the end of the time range must be after its start"},
		{"a negative record number", state.SignQuery{After: -1}, "the record number to list after must be 0 or more"},
	}
	for _, tt := range tests {
		err := tt.q.Check()
		if tt.want == "" && err != nil || tt.want != "" && (!errors.Is(err, state.ErrBadQuery) || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Check() = %v, want %q", tt.name, err, tt.want)
		}
	}
}
