package admin

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// gauges is a prometheus.Collector of what an operator alerts on: each
// worker's status, its signer certificate's time to expiry and its key's
// signatures left. It reads the worker set in force at each scrape through
// workerStatus, the same code GET /workers answers with, so /metrics, the
// admin API and the admin UI never disagree. Nothing is computed on the
// signing path.
type gauges struct {
	h   *Handler
	now func() time.Time

	up, status, expiry, used, limit, left *prometheus.Desc
}

// Collector returns the status gauges, for the server's /metrics registry.
func (h *Handler) Collector() prometheus.Collector {
	return &gauges{
		h:   h,
		now: time.Now,
		up: prometheus.NewDesc("signet_worker_up",
			"1 when the worker is ACTIVE (it signs), 0 when it is OFFLINE or DISABLED.", []string{"worker", "kind"}, nil),
		status: prometheus.NewDesc("signet_worker_status",
			"1 for the worker's status (ACTIVE, OFFLINE or DISABLED), 0 for the other two.", []string{"worker", "status"}, nil),
		expiry: prometheus.NewDesc("signet_signer_certificate_expiry_seconds",
			"Seconds until the worker's signer certificate expires; negative once it has expired.", []string{"worker", "token", "key"}, nil),
		used: prometheus.NewDesc("signet_key_usage_signatures",
			"Signatures counted for the worker's key (KEYUSAGELIMIT counts them per key).", []string{"worker", "token", "key"}, nil),
		limit: prometheus.NewDesc("signet_key_usage_limit",
			"The key's KEYUSAGELIMIT; absent when the key has no limit.", []string{"worker", "token", "key"}, nil),
		left: prometheus.NewDesc("signet_key_usage_remaining",
			"Signatures the key may still make before KEYUSAGELIMIT stops it; absent when the key has no limit.", []string{"worker", "token", "key"}, nil),
	}
}

// Describe sends the descriptors of every gauge.
func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{g.up, g.status, g.expiry, g.used, g.limit, g.left} {
		ch <- d
	}
}

// Collect reads every worker's status now.
func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	set, release := g.h.acquire() // no request holds it for a scrape
	defer release()
	now := g.now()
	for _, w := range set.Workers() {
		ws := workerStatus(ctx, set, w)
		up := 0.0
		if ws.Status == "ACTIVE" {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(g.up, prometheus.GaugeValue, up, ws.Name, ws.Kind)
		for _, s := range []string{"ACTIVE", "OFFLINE", "DISABLED"} {
			v := 0.0
			if ws.Status == s {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(g.status, prometheus.GaugeValue, v, ws.Name, s)
		}
		if ws.Certificate != nil {
			ch <- prometheus.MustNewConstMetric(g.expiry, prometheus.GaugeValue, ws.Certificate.NotAfter.Sub(now).Seconds(), ws.Name, ws.Token, ws.Key)
		}
		if u := ws.KeyUsage; u != nil {
			ch <- prometheus.MustNewConstMetric(g.used, prometheus.GaugeValue, float64(u.Used), ws.Name, ws.Token, ws.Key)
			if u.Limit >= 0 {
				ch <- prometheus.MustNewConstMetric(g.limit, prometheus.GaugeValue, float64(u.Limit), ws.Name, ws.Token, ws.Key)
				ch <- prometheus.MustNewConstMetric(g.left, prometheus.GaugeValue, float64(max(u.Limit-u.Used, 0)), ws.Name, ws.Token, ws.Key)
			}
		}
	}
}
