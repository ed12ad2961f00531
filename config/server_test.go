package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestServerLimits: the server section sets the web server's timeouts and
// caps (issue 14), and refuses values that are not what they say.
func TestServerLimits(t *testing.T) {
	t.Parallel()
	c, err := Parse("signet.yaml", []byte(`server:
  listen: 127.0.0.1:8080
  readHeaderTimeout: 5s
  bodyTimeout: 15s
  readTimeout: 5m
  writeTimeout: 6m
  idleTimeout: 1m
  maxConnections: 500
  maxInFlight: 100
  maxWorkerQueue: 50
  maxRequestMemory: 8MiB
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Server{Listen: "127.0.0.1:8080", MaxUploadSize: DefaultMaxUploadSize,
		ReadHeaderTimeout: 5 * time.Second, BodyTimeout: 15 * time.Second, ReadTimeout: 5 * time.Minute,
		WriteTimeout: 6 * time.Minute, IdleTimeout: time.Minute, MaxConnections: 500, MaxInFlight: 100,
		MaxWorkerQueue: 50, MaxRequestMemory: 8 << 20}
	if !reflect.DeepEqual(c.Server, want) {
		t.Errorf("server %+v, want %+v", c.Server, want)
	}
	for _, tc := range []struct{ line, want string }{
		{"bodyTimeout: 0s", "bodyTimeout must be a positive duration"},
		{"bodyTimeout: soon", "bodyTimeout must be a positive duration"},
		{"maxInFlight: 0", "maxInFlight must be a whole number"},
		{"maxRequestMemory: lots", "maxRequestMemory must be a size"},
		{"maxInflight: 10", "did you mean maxInFlight?"},
	} {
		_, err := Parse("signet.yaml", []byte("server:\n  "+tc.line+"\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.line, err, tc.want)
		}
	}
}
