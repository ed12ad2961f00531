package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/signet-project/signet/state/postgres/pgtest"
)

// clusterCases measures the HTTP batch and single-request cases with the
// run-time state in PostgreSQL (a cluster node) against the same cases with
// the embedded SQLite state, as a ratio, and counts the node's round trips
// to the database per 1,000 signatures.
func (s *suite) clusterCases(ctx context.Context) {
	type hcase struct {
		name, note string
		args       []string
		batch      float64 // items per request
	}
	d := s.httpDur.String()
	cases := []hcase{
		{"http-batch-p256-postgres", "http-batch-p256 (REST batches of 1000 client-side digests, -c 4) on a node whose state is in PostgreSQL 15 (loopback, fsync off); baseline: the same on the SQLite state, measured just before",
			[]string{"-worker", "CAdESSigner", "-rest", "-batch", "1000", "-clientside", "-c", "4", "-d", d}, 1000},
		{"http-single-p256-postgres", "http-single-p256 (one 1 KiB document per request, -c 32) on PostgreSQL state; baseline: the same on SQLite",
			[]string{"-worker", "CAdESSigner", "-size", "1024", "-c", "32", "-d", d}, 1},
	}
	skip := func(err error) {
		for _, c := range cases {
			s.add(result{name: c.name, unit: "items/s"}, err)
		}
	}
	pg, err := pgtest.Start(ctx)
	if err != nil {
		skip(fmt.Errorf("PostgreSQL: %w", err))
		return
	}
	defer pg.Close()
	url, err := pg.NewDatabase(ctx, "bench")
	if err != nil {
		skip(err)
		return
	}
	os.Setenv("SIGNET_DATABASE_URL", url)
	node := filepath.Join(s.tmp, "node.yaml")
	if err := os.WriteFile(node, []byte("state:\n  postgres:\n    url: {env: SIGNET_DATABASE_URL}\n    node: bench\n"), 0o600); err != nil {
		skip(err)
		return
	}
	lite, err := s.startServer(ctx, "cluster-sqlite")
	if err != nil {
		skip(err)
		return
	}
	base := make([]float64, len(cases))
	for i, c := range cases {
		s.logf("%s: SQLite for %s", c.name, d)
		if res, _, err := s.clientBench(ctx, append([]string{"-url", lite.url}, c.args...)...); err == nil {
			base[i] = res.ItemsPS
		}
	}
	lite.stop()
	srv, err := s.startServer(ctx, "cluster-postgres", "--config", node)
	if err != nil {
		skip(err)
		return
	}
	defer srv.stop()
	for i, c := range cases {
		s.logf("%s: PostgreSQL for %s", c.name, d)
		r := result{name: c.name, unit: "items/s", baseline: base[i], note: c.note}
		trips0, err0 := roundTrips(srv.url)
		res, _, err := s.clientBench(ctx, append([]string{"-url", srv.url}, c.args...)...)
		trips1, err1 := roundTrips(srv.url)
		if res != nil {
			r.value = res.ItemsPS
			r.extra = fmt.Sprintf("p99=%.1fms", res.P99)
			if items := float64(res.Requests) * c.batch; err0 == nil && err1 == nil && items > 0 {
				r.extra += fmt.Sprintf(" db_round_trips_per_1000=%.2f", (trips1-trips0)*1000/items)
			}
		}
		s.add(r, err)
	}
}

// roundTrips reads signet_state_round_trips_total from the node's metrics.
func roundTrips(url string) (float64, error) {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "signet_state_round_trips_total "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no signet_state_round_trips_total in %s/metrics", url)
}
