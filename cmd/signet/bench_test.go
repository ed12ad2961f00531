package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-project/signet/internal/loadgen"
)

// runBenchJSON runs signet client bench -json with args against s and
// decodes its result.
func runBenchJSON(t *testing.T, s *server, args ...string) (loadgen.BenchResult, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	all := append(append([]string{"client", "bench", "-url", s.url, "-json", "-progress", "0"}, s.tlsArgs()...), args...)
	err := run(t.Context(), all, &stdout, &stderr)
	var res loadgen.BenchResult
	if jerr := json.Unmarshal(stdout.Bytes(), &res); jerr != nil {
		t.Fatalf("client bench printed no JSON (%v): %q %s", err, stdout.String(), stderr.String())
	}
	return res, stderr.String(), err
}

// TestClientBench drives the demo server with signet client bench in each
// mode and checks the counts it reports.
func TestClientBench(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	big := filepath.Join(t.TempDir(), "doc.bin")
	if err := os.WriteFile(big, bytes.Repeat([]byte("signet "), 100_000), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		args      []string
		requests  int64
		itemsEach int64
	}{
		{"single documents", []string{"-n", "20", "-c", "4", "-size", "1024"}, 20, 1},
		{"single client-side digests", []string{"-n", "9", "-c", "2", "-clientside"}, 9, 1},
		{"batches of digests", []string{"-n", "3", "-c", "2", "-batch", "50", "-clientside"}, 3, 50},
		{"batches of documents", []string{"-n", "2", "-c", "1", "-batch", "10", "-size", "100"}, 2, 10},
		{"streamed file, no keep-alive", []string{"-n", "2", "-c", "1", "-file", big, "-keepalive=false"}, 2, 1},
		{"attached CMS", []string{"-n", "5", "-worker", "CMSSigner", "-size", "10"}, 5, 1},
		{"a duration", []string{"-d", "300ms", "-c", "2"}, -1, 1},
		{"REST documents", []string{"-rest", "-n", "6", "-c", "2", "-size", "300"}, 6, 1},
		{"REST client-side digests", []string{"-rest", "-n", "4", "-clientside"}, 4, 1},
		{"REST batches", []string{"-rest", "-n", "2", "-batch", "20", "-clientside"}, 2, 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, stderr, err := runBenchJSON(t, s, c.args...)
			if err != nil {
				t.Fatalf("%v: %+v %s", err, res, stderr)
			}
			if len(res.Errors) != 0 {
				t.Fatalf("errors %v %v", res.Errors, res.Sample)
			}
			if c.requests >= 0 && res.Requests != c.requests {
				t.Fatalf("%d requests, want %d", res.Requests, c.requests)
			}
			if res.Requests == 0 {
				t.Fatal("no request succeeded")
			}
			if res.Items != res.Requests*c.itemsEach {
				t.Fatalf("%d items for %d requests of %d", res.Items, res.Requests, c.itemsEach)
			}
			if res.ItemsPS <= 0 || res.P50 <= 0 || res.P50 > res.P99 || res.P99 > res.Max {
				t.Fatalf("implausible figures: %+v", res)
			}
		})
	}
}

// TestClientBenchErrors checks that failed requests are counted by status
// with the server's sentence, and make the command exit 1.
func TestClientBenchErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	cases := []struct {
		name   string
		args   []string
		status string
		says   string
	}{
		{"unknown worker", []string{"-worker", "NoSuchWorker", "-n", "7", "-c", "3"}, "404", "NoSuchWorker"},
		{"digest of the wrong length", []string{"-n", "4", "-clientside", "-digest", "SHA-256", "-meta", "CLIENTSIDE_HASHDIGESTALGORITHM=SHA-512"}, "400", "SHA-512"},
		{"batch on a worker without batch signing", []string{"-worker", "CMSSigner", "-batch", "5", "-n", "2"}, "400", "BATCHSIGNING"},
		{"unknown worker through REST", []string{"-rest", "-worker", "NoSuchWorker", "-n", "2"}, "404", "NoSuchWorker"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, _, err := runBenchJSON(t, s, c.args...)
			var ee exitError
			if !errors.As(err, &ee) || ee.code != 1 {
				t.Fatalf("exit %v, want 1", err)
			}
			if res.Requests != 0 || res.Errors[c.status] == 0 || len(res.Errors) != 1 {
				t.Fatalf("requests %d, errors %v; want only status %s", res.Requests, res.Errors, c.status)
			}
			if !strings.Contains(res.Sample[c.status], c.says) {
				t.Fatalf("sample %q does not say %q", res.Sample[c.status], c.says)
			}
		})
	}
	// The table output lists the errors too, and a connection refused is a
	// transport error.
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"client", "bench", "-url", "http://127.0.0.1:1", "-n", "3", "-progress", "0"}, &stdout, &stderr)
	if err == nil || !strings.Contains(stdout.String(), "errors    transport: 3") {
		t.Fatalf("exit %v, output %q", err, stdout.String())
	}
}

// TestClientBenchFlags checks that impossible flag combinations exit 2 with
// a sentence naming the flag, before any request.
func TestClientBenchFlags(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		says string
	}{
		{[]string{"-c", "0"}, "-c must be at least 1"},
		{[]string{"-batch", "-1"}, "-batch"},
		{[]string{"-size", "-5"}, "-size"},
		{[]string{"-n", "-1"}, "-n"},
		{[]string{"-d", "0"}, "-d"},
		{[]string{"-file", "x", "-batch", "3"}, "-file"},
		{[]string{"-file", "x", "-clientside"}, "-clientside"},
		{[]string{"-file", "x", "-rest"}, "-rest"},
		{[]string{"-digest", "MD5"}, "-digest"},
		{[]string{"-meta", "NOEQUALS"}, "KEY=VALUE"},
		{[]string{"extra"}, "no arguments"},
		{[]string{"-nosuchflag"}, "nosuchflag"},
		{[]string{"-file", "/no/such/file"}, "no such file"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), append([]string{"client", "bench", "-url", "http://127.0.0.1:1"}, c.args...), &stdout, &stderr)
			if ee, ok := err.(exitError); !ok || ee.code != 2 {
				t.Fatalf("exit %v, want 2", err)
			}
			if msg := stderr.String() + err.Error(); !strings.Contains(msg, c.says) {
				t.Fatalf("error %q / %q does not say %q", err, stderr.String(), c.says)
			}
			if stdout.Len() != 0 {
				t.Fatalf("printed %q", stdout.String())
			}
		})
	}
}

// TestClientBenchProgress checks the plain progress line on stderr when
// stdout is not a terminal.
func TestClientBenchProgress(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), append([]string{"client", "bench", "-url", s.url, "-d", "350ms", "-c", "2", "-progress", "100ms"}, s.tlsArgs()...), &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "bench: ") || !strings.Contains(stderr.String(), "items/s") {
		t.Fatalf("no progress line on stderr: %q", stderr.String())
	}
	for _, want := range []string{"requests  ", "latency   p50 ", "errors    none"} {
		if !strings.Contains(stdout.String(), want) {
			t.Fatalf("the table lacks %q:\n%s", want, stdout.String())
		}
	}
}

// TestClientBenchInterrupted checks that an interrupted run (^C) still
// reports what it measured, without counting the cut requests as errors.
func TestClientBenchInterrupted(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, append([]string{"client", "bench", "-url", s.url, "-n", "100000000", "-c", "4", "-json", "-progress", "0"}, s.tlsArgs()...), &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	var res loadgen.BenchResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("no JSON after an interruption: %q", stdout.String())
	}
	if res.Requests == 0 || len(res.Errors) != 0 || !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("requests %d, errors %v, stderr %q", res.Requests, res.Errors, stderr.String())
	}
}

// TestClientBenchAPIs drives the DSM and NetHSM APIs with signet client
// bench -api, whose every answer must hold a signature per item.
func TestClientBenchAPIs(t *testing.T) {
	t.Parallel()
	a, _ := demoWithLimitedUser(t)
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte(vendorPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		args      []string
		requests  int64
		itemsEach int64
		status    string // of the failures, "" for none
	}{
		{"DSM batches", []string{"-api", "dsm", "-user", "demo", "-batch", "50", "-n", "3", "-c", "2"}, 3, 50, ""},
		{"DSM single", []string{"-api", "dsm", "-user", "demo", "-n", "4", "-c", "2"}, 4, 1, ""},
		{"NetHSM", []string{"-api", "nethsm", "-user", "operator", "-n", "5", "-c", "2"}, 5, 1, ""},
		{"NetHSM, a key the user may not use", []string{"-api", "nethsm", "-user", "limited", "-n", "2"}, 0, 1, "403"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, stderr, err := runBenchJSON(t, a.server, append(c.args, "-password-file", pw)...)
			if c.status != "" {
				if res.Errors[c.status] == 0 || err == nil {
					t.Fatalf("errors %v (%v), want %s", res.Errors, err, c.status)
				}
				return
			}
			if err != nil || len(res.Errors) != 0 {
				t.Fatalf("%v: %v %v %s", err, res.Errors, res.Sample, stderr)
			}
			if res.Requests != c.requests || res.Items != c.requests*c.itemsEach {
				t.Fatalf("%d requests, %d items; want %d of %d", res.Requests, res.Items, c.requests, c.itemsEach)
			}
		})
	}
}
