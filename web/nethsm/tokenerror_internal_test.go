package nethsm

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/tokens"
)

// A token error is answered with the status and sentence of its cause: a
// signature the signing log could not record is not a NetHSM that is not
// operational (412), although ErrNotRecorded wraps ErrOffline.
func TestTokenErrorStatus(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		says   string
	}{
		{fmt.Errorf("guard: %w", tokens.ErrNotRecorded), http.StatusServiceUnavailable, "signing log could not record"},
		{fmt.Errorf("token soft: %w", tokens.ErrOffline), http.StatusPreconditionFailed, "is offline"},
		// The state database cannot store the key's count: a 503, not a
		// NetHSM to activate (412), nor a failed token (500).
		{fmt.Errorf("guard: %w", tokens.ErrNotCounted), http.StatusServiceUnavailable, "usage count could not be stored"},
	} {
		rec := httptest.NewRecorder()
		c := echo.New().NewContext(httptest.NewRequest(http.MethodPost, "/", nil), rec)
		if err := tokenError(c, Key{ID: "k"}, tc.err); err != nil {
			t.Fatal(err)
		}
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.says) {
			t.Errorf("%v: %d %s, want %d saying %q", tc.err, rec.Code, rec.Body, tc.status, tc.says)
		}
	}
}
