package serve

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus series, on a registry of its own (several servers in one
// test process do not collide); GET /metrics exposes them with promhttp.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec   // by handler and status code
	errors   *prometheus.CounterVec   // by kind (the JSON error's "kind")
	latency  *prometheus.HistogramVec // request duration by handler
	batch    prometheus.Histogram     // images per forward
	images   prometheus.Counter       // images graded
}

func newMetrics(queueDepth func() float64) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "drgrade_http_requests_total",
		Help: "HTTP requests by handler and status code."}, []string{"handler", "code"})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "drgrade_errors_total",
		Help: "Requests answered with an error, by kind (the JSON error's kind)."}, []string{"kind"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "drgrade_http_request_duration_seconds",
		Help:    "Time from the request's arrival to the end of its answer, by handler.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"handler"})
	m.batch = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "drgrade_batch_size",
		Help: "Images per model forward.", Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128}})
	m.images = prometheus.NewCounter(prometheus.CounterOpts{Name: "drgrade_images_graded_total", Help: "Images graded."})
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "drgrade_queue_depth",
		Help: "Images decoded and waiting for the model."}, queueDepth)
	m.reg.MustRegister(m.requests, m.errors, m.latency, m.batch, m.images, queue,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
