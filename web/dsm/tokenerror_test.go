package dsm

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/signet-project/signet/tokens"
)

// A token error is answered with the status and sentence of its cause: a
// signature the signing log could not record is not an offline token,
// although ErrNotRecorded wraps ErrOffline for callers that do not know it.
func TestTokenItemError(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		says   string
	}{
		{fmt.Errorf("guard: %w", tokens.ErrNotRecorded), http.StatusServiceUnavailable, "signing log could not record"},
		{fmt.Errorf("token soft: %w", tokens.ErrOffline), http.StatusServiceUnavailable, "is offline"},
		{tokens.ErrUsageLimit, http.StatusServiceUnavailable, "usage limit"},
		{fmt.Errorf("guard: %w", tokens.ErrNotCounted), http.StatusServiceUnavailable, "usage count could not be stored"},
	} {
		e := tokenItemError(Key{Name: "k"}, tc.err)
		if e.status != tc.status || !strings.Contains(e.msg, tc.says) {
			t.Errorf("%v: %d %q, want %d saying %q", tc.err, e.status, e.msg, tc.status, tc.says)
		}
	}
}
