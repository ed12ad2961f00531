package adminclient

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-project/signet/config"
	adminapi "github.com/signet-project/signet/web/admin"
)

// TestClient checks the client's side of the admin API: credentials sent,
// answers printed as tables or JSON, refusals as *Error with the server's
// sentence, an answer of the wrong shape and a bad URL as errors.
func TestClient(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "admin" || p != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"Wrong user name or password: check the admin credentials."}`))
			return
		}
		switch r.URL.Path {
		case adminapi.BasePath + "/tokens":
			w.Write([]byte(`[{"name":"demo","status":"ACTIVE","keys":[{"alias":"k1"}]}]`))
		case adminapi.BasePath + "/workers":
			w.Write([]byte(`{"not":"a list"}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte("plain text"))
		}
	}))
	defer srv.Close()
	tokens := func(c *Client) error {
		var ts []adminapi.TokenStatus
		return c.Show(t.Context(), http.MethodGet, "/tokens", nil, &ts, func() { c.TokenTable(ts) })
	}
	tests := []struct {
		name     string
		password string
		json     bool
		run      func(c *Client) error
		out      string
		err      string
		status   int
	}{
		{"table", "pw", false, tokens, "demo   ACTIVE  k1", "", 0},
		{"json", "pw", true, tokens, `"name": "demo"`, "", 0},
		{"refused", "wrong", false, tokens, "", "Wrong user name or password: check the admin credentials. (HTTP 401)", 401},
		{"plain-text refusal", "pw", false, func(c *Client) error { _, err := c.Do(t.Context(), http.MethodGet, "/nope", nil); return err }, "", "plain text (HTTP 404)", 404},
		{"wrong shape", "pw", false, func(c *Client) error { return c.Status(t.Context()) }, "", "not what this client expects", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			c := New(srv.URL+"/", "admin", tt.password, &out)
			c.JSON = tt.json
			err := tt.run(c)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
			var ae *Error
			if tt.status != 0 && (!errors.As(err, &ae) || ae.Status != tt.status) {
				t.Errorf("error %#v, want an *Error with status %d", err, tt.status)
			}
			if !strings.Contains(out.String(), tt.out) {
				t.Errorf("printed %q, want %q", out.String(), tt.out)
			}
		})
	}
	c := New("http://bad host", "admin", "pw", new(bytes.Buffer))
	if _, err := c.Do(t.Context(), http.MethodGet, "/tokens", nil); !errors.Is(err, ErrBadURL) {
		t.Errorf("bad URL: %v, want ErrBadURL", err)
	}
}

// TestReadPINAsServer: a PIN file gives signet admin tokens activate the
// PIN the server reads from the same file as a token's {file:} pin.
func TestReadPINAsServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i, content := range []string{"1234\n", "1234", "1234 \n", " 1234\r\n", "\t1234\t\n\n"} {
		f := filepath.Join(dir, fmt.Sprintf("pin%d", i))
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		want, err := config.Secret{File: f}.Resolve()
		if err != nil {
			t.Fatal(err)
		}
		if got, err := ReadPIN(f); err != nil || got != want {
			t.Errorf("PIN file %q: ReadPIN = %q, %v; the server reads %q", content, got, err, want)
		}
	}
}

// TestPasswordFromNamesTheDemoFile: without a password file or
// $SIGNET_ADMIN_PASSWORD, the refusal says where the demo keeps its
// password, beside the two ways to give one.
func TestPasswordFromNamesTheDemoFile(t *testing.T) {
	t.Setenv("SIGNET_ADMIN_PASSWORD", "")
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file, env string
		want, says      string // the password, or what the error says
	}{
		{"none", "", "", "", "signet-data/demo-password"},
		{"environment", "", "from-env", "from-env", ""},
		{"file", file, "from-env", "from-file", ""},
	}
	for _, tt := range tests {
		t.Setenv("SIGNET_ADMIN_PASSWORD", tt.env)
		got, err := PasswordFrom(tt.file)
		switch {
		case tt.says != "" && (err == nil || !strings.Contains(err.Error(), tt.says) || !strings.Contains(err.Error(), "SIGNET_ADMIN_PASSWORD")):
			t.Errorf("%s: %q, %v; want an error naming %s", tt.name, got, err, tt.says)
		case tt.says == "" && (err != nil || got != tt.want):
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}
