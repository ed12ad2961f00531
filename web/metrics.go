package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the Server's Prometheus metrics, on a registry the Server owns
// (never the global default registry, so that two Servers in one process,
// as in tests, do not collide).
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	items    *prometheus.CounterVec
	errors   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signet_requests_total",
			Help: "HTTP requests by worker, endpoint and status code.",
		}, []string{"worker", "endpoint", "status"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signet_items_signed_total",
			Help: "Signatures made, by worker (a batch request counts each item).",
		}, []string{"worker"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signet_errors_total",
			Help: "HTTP requests answered with an error, by status code.",
		}, []string{"status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "signet_request_duration_seconds",
			Help:    "Latency of signing requests by worker.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16), // 1 ms to 33 s
		}, []string{"worker"}),
	}
	m.registry.MustRegister(m.requests, m.items, m.errors, m.latency,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// observe counts one request. worker is empty for requests that reached no
// worker; it is always a configured name, so the label set stays bounded.
func (m *metrics) observe(worker, endpoint string, status, items int, d time.Duration) {
	code := strconv.Itoa(status)
	m.requests.WithLabelValues(worker, endpoint, code).Inc()
	if status >= 400 {
		m.errors.WithLabelValues(code).Inc()
	}
	if worker == "" {
		return
	}
	m.latency.WithLabelValues(worker).Observe(d.Seconds())
	if status < 400 && items > 0 {
		m.items.WithLabelValues(worker).Add(float64(items))
	}
}

// MetricsRegistry returns the registry /metrics serves, so that routes
// mounted on Echo() can add their own collectors.
func (s *Server) MetricsRegistry() prometheus.Registerer { return s.metrics.registry }

// MetricsGatherer returns the registry /metrics serves, so that the admin
// UI draws its charts from the same counters.
func (s *Server) MetricsGatherer() prometheus.Gatherer { return s.metrics.registry }
