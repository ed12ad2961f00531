package nethsm_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/web/nethsm"
	"github.com/signet-project/signet/web/nethsm/nethsmtest"
)

// TestErrorsAreMessages checks that every answer under /api/v1 that is not
// a success, for unknown paths and methods and a failing handler too, is
// the NetHSM API's JSON {"message": "..."}, even behind a server whose own
// error handler writes text, as Signet's does for other paths.
func TestErrorsAreMessages(t *testing.T) {
	t.Parallel()
	tok := nethsmtest.NewToken("t", nethsmtest.TestKeys(t), nil)
	h := nethsm.New(nethsm.Options{
		Keys: nethsm.KeySourceFunc(func(ctx context.Context) []nethsm.Key {
			if strings.HasSuffix(nethsmPath(ctx), "/boom") {
				panic("a bug")
			}
			return []nethsm.Key{{Token: tok, Alias: "p256"}}
		}),
		Authenticate: func(user, pass string) (nethsm.User, bool) {
			return nethsm.User{Name: user, Role: nethsm.RoleOperator}, user == "operator" && pass == "pass"
		},
	})
	e := echo.New()
	e.Logger.SetOutput(io.Discard) // the panic's stack
	e.HTTPErrorHandler = func(err error, c echo.Context) { c.String(599, "plain text: "+err.Error()) }
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), pathKey{}, c.Request().URL.Path)))
			return next(c)
		}
	})
	h.Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	tests := []struct {
		method, path string
		status       int
		allow        string // the Allow header, when not empty
	}{
		{"GET", "/api/v1/nope", 404, ""},
		{"GET", "/api/v1/", 404, ""},
		{"GET", "/api/v1", 404, ""},
		{"POST", "/api/v1/users/alice", 404, ""},
		{"GET", "/api/v1/keys/p256/nope", 404, ""},
		{"DELETE", "/api/v1/keys", 405, "GET, HEAD, OPTIONS"},
		{"PUT", "/api/v1/keys/p256", 405, "GET, HEAD, OPTIONS"},
		{"GET", "/api/v1/keys/p256/sign", 405, "POST, OPTIONS"},
		{"BREW", "/api/v1/info", 405, "GET, HEAD, OPTIONS"},
		{"OPTIONS", "/api/v1/keys/p256/sign", 204, "POST, OPTIONS"},
		{"HEAD", "/api/v1/info", 200, ""},
		{"GET", "/api/v1/keys/boom", 500, ""},
		{"GET", "/api/v1/keys/p256", 200, ""},
		{"GET", "/api/v1/keys/nokey", 404, ""},
		{"GET", "/api/v1/" + strings.Repeat("x", 5000), 404, ""},
		{"PATCH", "/api/v1/keys/" + strings.Repeat("k", 5000), 405, "GET, HEAD, OPTIONS"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path[:min(len(tc.path), 40)], func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.SetBasicAuth("operator", "pass")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if got := resp.Header.Get("Allow"); tc.allow != "" && got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
			if tc.status < 400 {
				return
			}
			var m struct{ Message string }
			err = json.NewDecoder(resp.Body).Decode(&m)
			if err != nil || m.Message == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("%s body (%v), want JSON {\"message\": ...}", resp.Header.Get("Content-Type"), err)
			}
			if len(m.Message) > 400 {
				t.Errorf("message %.500q repeats the path whole: clienttext.Quote it", m.Message)
			}
		})
	}
}

type pathKey struct{}

func nethsmPath(ctx context.Context) string { s, _ := ctx.Value(pathKey{}).(string); return s }
