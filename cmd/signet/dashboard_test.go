package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The Grafana dashboard in docs/ is built on what /metrics exports: every
// metric its queries name is served by a server whose key has a usage
// limit, after a signature and a refused request; and the gauges an
// operator alerts on are there with the worker's values.
func TestGrafanaDashboardMetrics(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/grafana-signet.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	cfgFile, _ := writeUsageConfig(t, 100)
	s := startServer(t, "--config", cfgFile)
	if code, out := s.postRaw(t, "Limited", bytes.NewReader([]byte("a document")), map[string]string{"USING_BATCHSIGNING": "false"}); code != 200 {
		t.Fatalf("sign: %d %s", code, out)
	}
	if code, _ := s.postRaw(t, "NoSuchWorker", bytes.NewReader([]byte("x")), nil); code != 404 {
		t.Fatalf("unknown worker: %d, want 404", code)
	}
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	metrics := string(body)

	names := regexp.MustCompile(`signet_[a-z_]+`)
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			for _, n := range names.FindAllString(q.Expr, -1) {
				if !strings.Contains(metrics, "\n"+n+"{") && !strings.Contains(metrics, "\n"+n+" ") {
					t.Errorf("panel %q queries %s, which /metrics does not export", p.Title, n)
				}
			}
		}
	}
	for _, want := range []string{
		`signet_worker_up{kind="CAdESSigner",worker="Limited"} 1`,
		`signet_key_usage_remaining{key="p256",token="u",worker="Limited"} 99`,
		`signet_signer_certificate_expiry_seconds{key="p256",token="u",worker="Limited"} `,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
