// Package metrics holds opcancel's Prometheus collectors, as one struct on a
// registry the program creates, and the admin HTTP server that exposes them
// with /healthz and /readyz.
//
// This package is internal to opcancel and is not a public API; the module is v0.
package metrics

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// UnknownService is the service label of messages that name no configured service.
const UnknownService = "unknown"

// Metrics are the collectors of CONTRACT §7 plus the rate-limit and
// throttling figures. Label values are bounded: configured hosts (or
// "unknown"), outcomes, methods and google.rpc code names; never an operation
// name or a message ID.
type Metrics struct {
	// Jobs counts deliveries by service and outcome: opcancel_jobs_total.
	Jobs *prometheus.CounterVec
	// APIRequests counts requests by service, method and answer code:
	// opcancel_api_requests_total.
	APIRequests *prometheus.CounterVec
	// APIRequestDuration observes request latency by service and method.
	APIRequestDuration *prometheus.HistogramVec
	// JobDuration observes receipt-to-outcome time by outcome.
	JobDuration *prometheus.HistogramVec
	// Retries counts transient failures that were retried, by service and code.
	Retries *prometheus.CounterVec
	// JobsInFlight is the number of deliveries held (including those waiting
	// between verification polls).
	JobsInFlight prometheus.Gauge
	// APIRequestsInFlight is the number of API requests being sent.
	APIRequestsInFlight prometheus.Gauge
	// ResultPublishFailures counts result events that could not be published.
	ResultPublishFailures prometheus.Counter
	// RateLimitWait sums the time requests waited for their service's rate limit.
	RateLimitWait *prometheus.CounterVec
	// RateLimitDelayed counts requests that had to wait for their service's rate limit.
	RateLimitDelayed *prometheus.CounterVec
	// ThrottleAllowedRate is each service's allowed request rate: the
	// configured rate, or lower while adaptive throttling holds it down;
	// +Inf when unlimited.
	ThrottleAllowedRate *prometheus.GaugeVec
	// ThrottleDelayed counts requests delayed by adaptive throttling.
	ThrottleDelayed *prometheus.CounterVec
	// ThrottleWait sums the time requests waited for adaptive throttling.
	ThrottleWait *prometheus.CounterVec
	// MaxOutstanding and Concurrency export the configured bounds, so that
	// dashboards and autoscalers can compare the in-flight gauges with them.
	MaxOutstanding prometheus.Gauge
	Concurrency    prometheus.Gauge
}

// Labels are the label values whose combinations exist from start-up.
type Labels struct {
	// Services are the configured hosts.
	Services []string
	// Outcomes are initialised for every service.
	Outcomes []string
	// UnknownOutcomes are initialised for the "unknown" service.
	UnknownOutcomes []string
}

// New registers the collectors on reg, with every outcome × service pair of
// labels present at zero, plus the Go runtime and process collectors.
func New(reg prometheus.Registerer, labels Labels) *Metrics {
	m := &Metrics{
		Jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opcancel_jobs_total",
			Help: "Deliveries by service and outcome; exactly one outcome per delivery.",
		}, []string{"service", "outcome"}),
		APIRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opcancel_api_requests_total",
			Help: "API requests by service, method (cancel, get, list) and the google.rpc code of the answer (TRANSPORT: no answer).",
		}, []string{"service", "method", "code"}),
		APIRequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "opcancel_api_request_duration_seconds",
			Help:    "API request latency by service and method.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"service", "method"}),
		JobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "opcancel_job_duration_seconds",
			Help:    "Time from receipt of a delivery to its outcome, by outcome.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}, []string{"outcome"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opcancel_retries_total",
			Help: "Transient failures that were retried, by service and code.",
		}, []string{"service", "code"}),
		JobsInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "opcancel_jobs_in_flight",
			Help: "Deliveries held, including those waiting between verification polls.",
		}),
		APIRequestsInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "opcancel_api_requests_in_flight",
			Help: "API requests being sent.",
		}),
		ResultPublishFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "opcancel_result_publish_failures_total",
			Help: "Result events that could not be published (the delivery was nacked).",
		}),
		RateLimitWait: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opcancel_rate_limit_wait_seconds_total",
			Help: "Time requests spent waiting for their service's configured rate, by service.",
		}, []string{"service"}),
		RateLimitDelayed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opcancel_rate_limit_delayed_requests_total",
			Help: "Requests that waited for their service's configured rate, by service.",
		}, []string{"service"}),
		ThrottleAllowedRate: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "opcancel_throttle_allowed_rate",
			Help: "Requests per second allowed to each service: the configured rate, or lower while the API answers RESOURCE_EXHAUSTED or UNAVAILABLE; +Inf when unlimited.",
		}, []string{"service"}),
		ThrottleDelayed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opcancel_throttle_delayed_requests_total",
			Help: "Requests delayed by adaptive throttling, by service.",
		}, []string{"service"}),
		ThrottleWait: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opcancel_throttle_wait_seconds_total",
			Help: "Time requests waited for adaptive throttling, by service.",
		}, []string{"service"}),
		MaxOutstanding: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "opcancel_max_outstanding",
			Help: "The configured maximum of deliveries held at once (max outstanding).",
		}),
		Concurrency: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "opcancel_concurrency",
			Help: "The configured concurrency: the most API requests in flight at once.",
		}),
	}
	reg.MustRegister(
		m.Jobs, m.APIRequests, m.APIRequestDuration, m.JobDuration, m.Retries,
		m.JobsInFlight, m.APIRequestsInFlight, m.ResultPublishFailures,
		m.RateLimitWait, m.RateLimitDelayed, m.ThrottleAllowedRate, m.ThrottleDelayed, m.ThrottleWait,
		m.MaxOutstanding, m.Concurrency,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for _, s := range labels.Services {
		for _, o := range labels.Outcomes {
			m.Jobs.WithLabelValues(s, o)
		}
		m.RateLimitWait.WithLabelValues(s)
		m.RateLimitDelayed.WithLabelValues(s)
		m.ThrottleDelayed.WithLabelValues(s)
		m.ThrottleWait.WithLabelValues(s)
		m.ThrottleAllowedRate.WithLabelValues(s).Set(math.Inf(1))
	}
	for _, o := range labels.UnknownOutcomes {
		m.Jobs.WithLabelValues(UnknownService, o)
	}
	for _, o := range labels.Outcomes {
		m.JobDuration.WithLabelValues(o)
	}
	return m
}
