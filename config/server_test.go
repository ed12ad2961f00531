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

// TestRestartOnly: what a reload cannot put in force, named as the YAML
// names it; the TLS files and the trusted proxies a reload applies.
func TestRestartOnly(t *testing.T) {
	t.Parallel()
	const base = "server:\n  listen: 127.0.0.1:8080\n  maxInFlight: 100\n  tls: {cert: /c.pem, key: /k.pem}\n"
	for _, tc := range []struct {
		name, next string
		want       []string
	}{
		{"nothing changed", base, nil},
		{"TLS files and proxies", "server:\n  listen: 127.0.0.1:8080\n  maxInFlight: 100\n  tls: {cert: /c2.pem, key: /k2.pem}\n  trustedProxies: [10.0.0.1]\n", nil},
		{"addresses, limits, sizes", "server:\n  listen: 127.0.0.1:9090\n  healthListen: 127.0.0.1:9091\n  maxInFlight: 50\n  idleTimeout: 1m\n  maxUploadSize: 1GiB\n  tls: {cert: /c.pem, key: /k.pem}\n",
			[]string{"healthListen", "idleTimeout", "listen", "maxInFlight", "maxUploadSize"}},
		{"TLS dropped", "server:\n  listen: 127.0.0.1:8080\n  maxInFlight: 100\n", []string{"tls"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := Parse("a.yaml", []byte(base))
			b, _ := Parse("b.yaml", []byte(tc.next))
			if a == nil || b == nil {
				t.Fatal("a sample does not load")
			}
			if got := a.Server.RestartOnly(b.Server); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("RestartOnly = %q, want %q", got, tc.want)
			}
		})
	}
}
