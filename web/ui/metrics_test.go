package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestSamplerSeries(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricRequests}, []string{"worker", "endpoint", "status"})
	items := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricItems}, []string{"worker"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: metricLatency, Buckets: []float64{0.001, 0.01, 0.1, 1}}, []string{"worker"})
	reg.MustRegister(requests, items, latency)

	s := NewSampler(reg, time.Minute)
	s.Sample()
	// 99 fast requests and one slow failure, 10 signatures.
	for range 99 {
		requests.WithLabelValues("W", "worker", "200").Inc()
		latency.WithLabelValues("W").Observe(0.005)
	}
	requests.WithLabelValues("W", "worker", "503").Inc()
	latency.WithLabelValues("W").Observe(0.5)
	items.WithLabelValues("W").Add(10)

	sr := s.Series()["W"]
	if len(sr.Rate) != 1 || sr.Rate[0] <= 0 {
		t.Fatalf("rate %v: want one positive point", sr.Rate)
	}
	if sr.Errors[0] != 1 {
		t.Errorf("error rate %v%%, want 1%%", sr.Errors[0])
	}
	if sr.P99[0] != 10 {
		t.Errorf("p99 %v ms, want 10 (the bucket of the 99th request)", sr.P99[0])
	}
	if sr.Signatures != 10 {
		t.Errorf("signatures %v, want 10", sr.Signatures)
	}
	if svg := string(spark("Errors", "%", sr.Errors)); !strings.Contains(svg, `role="img"`) || !strings.Contains(svg, "now 1.0 %") {
		t.Errorf("spark: %s", svg)
	}
	if q := quantile(0.99, counters{}, counters{}); q != 0 {
		t.Errorf("quantile without observations = %v", q)
	}
}
