package ui

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Metric names the sampler reads: the ones web exports on /metrics.
const (
	metricRequests = "signet_requests_total"
	metricItems    = "signet_items_signed_total"
	metricLatency  = "signet_request_duration_seconds"
)

// Window is how far back the dashboard's charts reach.
const Window = 15 * time.Minute

// Sampler reads the server's Prometheus counters at a fixed interval and
// keeps the samples of the last Window, from which the dashboard draws each
// worker's request rate, error rate and 99th percentile latency. It reads
// the same registry /metrics serves: a chart and a Prometheus scrape never
// disagree.
type Sampler struct {
	g     prometheus.Gatherer
	every time.Duration
	keep  int

	mu      sync.Mutex
	samples []sample
}

// sample is the counters of every worker at one time.
type sample struct {
	at      time.Time
	workers map[string]counters
}

type counters struct {
	requests, errors, items float64
	count                   float64   // latency observations
	bounds, buckets         []float64 // cumulative histogram
}

// NewSampler samples g every interval (zero: 15 s).
func NewSampler(g prometheus.Gatherer, every time.Duration) *Sampler {
	if every <= 0 {
		every = 15 * time.Second
	}
	return &Sampler{g: g, every: every, keep: int(Window/every) + 1}
}

// Run samples until ctx is done.
func (s *Sampler) Run(ctx context.Context) {
	s.Sample()
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Sample()
		}
	}
}

// Sample takes one sample now.
func (s *Sampler) Sample() {
	cur, err := s.read()
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples = append(s.samples, cur)
	if n := len(s.samples); n > s.keep {
		s.samples = append(s.samples[:0], s.samples[n-s.keep:]...)
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func (s *Sampler) read() (sample, error) {
	fams, err := s.g.Gather()
	if err != nil {
		return sample{}, err
	}
	out := sample{at: time.Now(), workers: map[string]counters{}}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			w := label(m, "worker")
			if w == "" {
				continue
			}
			c := out.workers[w]
			switch f.GetName() {
			case metricRequests:
				v := m.GetCounter().GetValue()
				c.requests += v
				if code, _ := strconv.Atoi(label(m, "status")); code >= 400 {
					c.errors += v
				}
			case metricItems:
				c.items += m.GetCounter().GetValue()
			case metricLatency:
				h := m.GetHistogram()
				c.count = float64(h.GetSampleCount())
				c.bounds, c.buckets = nil, nil
				for _, b := range h.GetBucket() {
					c.bounds = append(c.bounds, b.GetUpperBound())
					c.buckets = append(c.buckets, float64(b.GetCumulativeCount()))
				}
			}
			out.workers[w] = c
		}
	}
	return out, nil
}

// Series is one worker's charts: a value per sampling interval, oldest
// first.
type Series struct {
	Rate   []float64 // requests per second
	Errors []float64 // per cent of requests answered with an error
	P99    []float64 // milliseconds; 0 for an interval without requests
	// Signatures is the signatures made since the server started.
	Signatures float64
}

// Series returns the charts of every worker, with a sample taken now as
// the last point.
func (s *Sampler) Series() map[string]Series {
	now, err := s.read()
	s.mu.Lock()
	all := append([]sample(nil), s.samples...)
	s.mu.Unlock()
	if err == nil {
		all = append(all, now)
	}
	out := map[string]Series{}
	if len(all) == 0 {
		return out
	}
	for w, last := range all[len(all)-1].workers {
		var sr Series
		sr.Signatures = last.items
		for i := 1; i < len(all); i++ {
			a, b := all[i-1].workers[w], all[i].workers[w]
			dt := all[i].at.Sub(all[i-1].at).Seconds()
			dreq, derr := b.requests-a.requests, b.errors-a.errors
			rate, errPct := 0.0, 0.0
			if dt > 0 && dreq > 0 {
				rate = dreq / dt
				errPct = 100 * derr / dreq
			}
			sr.Rate = append(sr.Rate, rate)
			sr.Errors = append(sr.Errors, errPct)
			sr.P99 = append(sr.P99, 1000*quantile(0.99, a, b))
		}
		out[w] = sr
	}
	return out
}

// quantile estimates the q-quantile of the observations between two
// samples from their histogram buckets (the upper bound of the bucket it
// falls in, as Prometheus's histogram_quantile without interpolation).
func quantile(q float64, a, b counters) float64 {
	total := b.count - a.count
	if total <= 0 || len(b.bounds) == 0 {
		return 0
	}
	for i, bound := range b.bounds {
		prev := 0.0
		if i < len(a.buckets) {
			prev = a.buckets[i]
		}
		if b.buckets[i]-prev >= q*total {
			return bound
		}
	}
	return b.bounds[len(b.bounds)-1]
}

// spark draws values as a small SVG line chart, labelled for screen
// readers with what it shows, its last value and its highest.
func spark(what, unit string, values []float64) template.HTML {
	const w, h = 84.0, 28.0
	last, top := 0.0, 0.0
	for _, v := range values {
		top = math.Max(top, v)
	}
	if len(values) > 0 {
		last = values[len(values)-1]
	}
	label := fmt.Sprintf("%s over the last %d minutes: now %s %s, highest %s %s", what, int(Window.Minutes()), num(last), unit, num(top), unit)
	var pts []string
	if len(values) == 1 {
		values = append(values, values[0])
	}
	scale := top
	if scale == 0 {
		scale = 1
	}
	for i, v := range values {
		x := w * float64(i) / float64(max(len(values)-1, 1))
		y := h - 2 - (h-4)*v/scale
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
	}
	line := ""
	if len(pts) > 0 {
		line = fmt.Sprintf(`<polyline fill="none" stroke="#1d4ed8" stroke-width="1.5" points="%s"/>`, strings.Join(pts, " "))
	}
	return template.HTML(fmt.Sprintf(`<svg class="spark" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s"><title>%s</title><line x1="0" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#cbd5e1" stroke-width="1"/>%s</svg><span class="sparkval">%s %s</span>`,
		w, h, w, h, template.HTMLEscapeString(label), template.HTMLEscapeString(label), h-1, w, h-1, line, num(last), template.HTMLEscapeString(unit)))
}

// num prints a chart value briefly.
func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}
