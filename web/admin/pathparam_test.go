package admin

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/soft"
	"github.com/signet-project/signet/workers"
)

// TestNamesInPath: a worker or token name in the path is read
// percent-decoded once, however it is encoded, as the signing endpoints
// read it: an encoded '/' or lower-case hex was taken as sent (404 for a
// worker that exists, which the web UI, escaping the name, could not
// show), and a name with a '%' of its own is not decoded twice.
func TestNamesInPath(t *testing.T) {
	t.Parallel()
	tok, err := soft.Create(soft.Options{Path: filepath.Join(t.TempDir(), "ks"), Type: soft.TypePEM, Name: "hsm/1"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.GenerateKey(context.Background(), "k", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"}); err != nil {
		t.Fatal(err)
	}
	ws := []workers.Worker{
		&fakeWorker{name: "Dept/Signer", id: 1, tok: "hsm/1", alias: "k", t: tok},
		&fakeWorker{name: "Bücher", id: 2, tok: "hsm/1", alias: "k", t: tok},
		&fakeWorker{name: "x%41", id: 3, tok: "hsm/1", alias: "k", t: tok},
	}
	h := New(Options{
		Workers:      &source{workers.NewSet(ws, map[string]tokens.Token{"hsm/1": tok})},
		Authenticate: func(user, pass string) Decision { return Allowed },
		Roles:        func(string) []string { return []string{"admin"} },
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	e := echo.New()
	h.Register(e)
	for _, path := range []string{
		"/workers/Dept%2FSigner", "/workers/B%c3%bccher", "/workers/B%C3%BCcher", "/workers/x%2541",
		"/tokens/hsm%2F1", "/tokens/hsm%2f1/keys", "/tokens/hsm%2F1/keys/k", "/tokens/hsm%2F1/keys/k/chain",
	} {
		r := httptest.NewRequest(http.MethodGet, BasePath+path, nil)
		r.SetBasicAuth("admin", "x")
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, w.Code, w.Body)
		}
	}
}

// TestGenerateKeyAnswersTheKey: a key generated on a token whose name,
// decoded from the path, holds a '%' escape of its own is answered whole
// (its workers, its public key), as GET of the key answers it. The
// handler read the key back by setting the path's parameters to the
// decoded name and reading them again, decoded a second time: "a/%41"
// became "a/A", no token, and the answer fell back to a key without its
// workers.
func TestGenerateKeyAnswersTheKey(t *testing.T) {
	t.Parallel()
	const name = "a/%41" // sent as a%2F%2541
	tok, err := soft.Create(soft.Options{Path: filepath.Join(t.TempDir(), "ks"), Type: soft.TypePEM, Name: name}, "")
	if err != nil {
		t.Fatal(err)
	}
	ws := []workers.Worker{&fakeWorker{name: "W", id: 1, tok: name, alias: "new", t: tok}}
	h := New(Options{Workers: &source{workers.NewSet(ws, map[string]tokens.Token{name: tok})}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	code, _, body := h.Do(context.Background(), Caller{User: "admin"}, http.MethodPost, "/tokens/a%2F%2541/keys", echo.MIMEApplicationJSON, []byte(`{"alias":"new","algorithm":"ECDSA"}`))
	var k Key
	if err := json.Unmarshal(body, &k); err != nil || code != http.StatusCreated {
		t.Fatalf("%d %s", code, body)
	}
	if len(k.Workers) != 1 || k.Workers[0] != "W" || k.PublicKey == "" {
		t.Errorf("answer %s, want the key with its worker W", body)
	}
}
