package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// peerTable is benchsuite -peer-url: the issue 15 comparison with OpenBao
// transit (scripts/peers/openbao starts the peer and creates its key).
// The same signet client bench drives, one after the other in each run,
// OpenBao transit sign, Signet's DSM API (raw signatures) and Signet's
// CAdES worker (a whole CMS per item), first in 1000-item batches with 4
// clients, then one digest per request with 32 clients; the table holds
// the medians of the runs, and the peak RSS of each server.
func (s *suite) peerTable(ctx context.Context, peerURL string, peerPID, runs int) error {
	srv, err := s.startServer(ctx, "peer")
	if err != nil {
		return err
	}
	defer srv.stop()
	peer := &server{pid: peerPID, url: peerURL}
	d := s.httpDur.String()
	batch := []string{"-clientside", "-batch", "1000", "-c", "4", "-d", d}
	single := []string{"-clientside", "-c", "32", "-d", d}
	type column struct {
		name string
		srv  *server
		args []string
	}
	cols := func(load []string) []column {
		return []column{
			{"OpenBao transit", peer, append([]string{"-api", "transit", "-key", "bench"}, load...)},
			{"Signet DSM API (raw signatures)", srv, append([]string{"-api", "dsm", "-user", "bench", "-key", "signer-p256"}, load...)},
			{"Signet CAdES (full CMS per item)", srv, append([]string{"-worker", "CAdESSigner"}, load...)},
		}
	}
	type sample struct{ rate, p99, cpuPer float64 }
	measure := func(c column, items float64) (sample, error) {
		cpu0 := c.srv.cpu()
		res, _, err := s.clientBench(ctx, append([]string{"-url", c.srv.url}, c.args...)...)
		if err != nil {
			return sample{}, fmt.Errorf("%s: %w", c.name, err)
		}
		n := float64(res.Requests) * items
		return sample{res.ItemsPS, res.P99, float64((c.srv.cpu() - cpu0).Microseconds()) / n}, nil
	}
	rows := []struct {
		load  []string
		items float64
		got   [3][]sample
	}{{load: batch, items: 1000}, {load: single, items: 1}}
	for run := 1; run <= runs; run++ {
		for i := range rows {
			cs := cols(rows[i].load)
			for j, c := range cs {
				s.logf("run %d of %d: %s, %s", run, runs, c.name, strings.Join(rows[i].load, " "))
				smp, err := measure(c, rows[i].items)
				if err != nil {
					return err
				}
				rows[i].got[j] = append(rows[i].got[j], smp)
			}
		}
	}
	med := func(xs []sample, f func(sample) float64) float64 {
		v := make([]float64, len(xs))
		for i, x := range xs {
			v[i] = f(x)
		}
		slices.Sort(v)
		if len(v)%2 == 0 {
			return (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		return v[len(v)/2]
	}
	rate := func(x sample) float64 { return x.rate }
	p99 := func(x sample) float64 { return x.p99 }
	cpu := func(x sample) float64 { return x.cpuPer }
	cell := func(v, peer float64, unit string) string {
		return fmt.Sprintf("%s%s (%.2f×)", commas(v), unit, v/peer)
	}
	fmt.Printf("Signet vs OpenBao transit, ECDSA P-256 over SHA-256 digests, same client (signet client bench), medians of %d runs of %s alternating the servers; %s, load average %s.\n\n",
		runs, d, time.Now().UTC().Format("2006-01-02 15:04 UTC"), loadAvg())
	fmt.Println("| case | OpenBao transit | Signet DSM API (raw signatures) | Signet CAdES (full CMS per item) |")
	fmt.Println("|---|---|---|---|")
	names := []string{"1000-item batches, 4 clients: items/s", "1 digest per request, 32 clients: req/s"}
	for i, r := range rows {
		pr := med(r.got[0], rate)
		fmt.Printf("| %s | %s | %s | %s |\n", names[i], commas(pr), cell(med(r.got[1], rate), pr, ""), cell(med(r.got[2], rate), pr, ""))
		what := "signature"
		if i == 1 {
			fmt.Printf("| same: p99 | %.1f ms | %.1f ms | %.1f ms |\n", med(r.got[0], p99), med(r.got[1], p99), med(r.got[2], p99))
			what = "request"
		}
		fmt.Printf("| same: server CPU per %s | %.1f µs | %.1f µs | %.1f µs |\n", what, med(r.got[0], cpu), med(r.got[1], cpu), med(r.got[2], cpu))
	}
	mib := func(v *server) string {
		rss, err := v.peakRSS()
		if err != nil {
			return "?"
		}
		return fmt.Sprintf("%.0f MiB", float64(rss)/(1<<20))
	}
	fmt.Printf("| peak RSS | %s | %s | %s |\n", mib(peer), mib(srv), mib(srv))
	return nil
}

// commas writes a rate with thousands separators and no decimals.
func commas(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
