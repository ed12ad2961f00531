package web

import (
	"net/http"
	"strconv"
	"sync"
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

	// children caches the labelled children of a request's label values:
	// WithLabelValues hashes the labels and takes a lock on every call.
	// The keys are bounded as the labels are (configured worker names,
	// route templates, status codes).
	children sync.Map // childKey → *children
}

type childKey struct {
	worker, endpoint string
	status           int
}

type children struct {
	requests prometheus.Counter
	errors   prometheus.Counter  // nil below 400
	latency  prometheus.Observer // nil without a worker
	// items is made at the first signature, so that a worker whose
	// requests all failed has no items series.
	items     prometheus.Counter
	itemsOnce sync.Once
}

// childrenOf returns the children of one set of label values.
func (m *metrics) childrenOf(k childKey) *children {
	if c, ok := m.children.Load(k); ok {
		return c.(*children)
	}
	code := strconv.Itoa(k.status)
	c := &children{requests: m.requests.WithLabelValues(k.worker, k.endpoint, code)}
	if k.status >= 400 {
		c.errors = m.errors.WithLabelValues(code)
	}
	if k.worker != "" {
		c.latency = m.latency.WithLabelValues(k.worker)
	}
	v, _ := m.children.LoadOrStore(k, c)
	return v.(*children)
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
	c := m.childrenOf(childKey{worker, endpoint, status})
	c.requests.Inc()
	if c.errors != nil {
		c.errors.Inc()
	}
	if worker == "" {
		return
	}
	c.latency.Observe(d.Seconds())
	if status < 400 && items > 0 {
		c.itemsOnce.Do(func() { c.items = m.items.WithLabelValues(worker) })
		c.items.Add(float64(items))
	}
}

// MetricsRegistry returns the registry /metrics serves, so that routes
// mounted on Echo() can add their own collectors.
func (s *Server) MetricsRegistry() prometheus.Registerer { return s.metrics.registry }

// MetricsGatherer returns the registry /metrics serves, so that the admin
// UI draws its charts from the same counters.
func (s *Server) MetricsGatherer() prometheus.Gatherer { return s.metrics.registry }
