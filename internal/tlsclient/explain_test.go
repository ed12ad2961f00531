package tlsclient

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestExplainedNamesTheFix: a client that does not trust the server's CA,
// or finds nothing listening, prints an error that says what to do (pass
// the CA, start the server or give its address), not Go's error alone; an
// error that it has no fix for is left as it is.
func TestExplainedNamesTheFix(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer plain.Close()

	tests := []struct {
		name, url string
		want      string // in the error; "" for no error
	}{
		{"CA not trusted", srv.URL, "--cacert FILE or $SIGNET_CACERT"},
		{"nothing listens", refused, "start it (make run)"},
		{"answered", plain.URL, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := &http.Client{Transport: Explained(&http.Transport{})}
			resp, err := hc.Get(tt.url)
			if err == nil {
				resp.Body.Close()
			}
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("GET %s: %v, want an answer", tt.url, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("GET %s: %v, want an error naming %q", tt.url, err, tt.want)
			}
		})
	}
	if err := errors.New("other"); Explain(err) != err {
		t.Errorf("Explain changed an error it has no fix for: %v", Explain(err))
	}
}
