// Package metrics holds opcancel's Prometheus collectors, as one struct on a
// registry the program creates, the admin HTTP server that exposes them
// with /healthz and /readyz, the opt-in server of Go's profiles, and Serve,
// the serve-then-shut-down of every HTTP server of the binary.
//
// This package is internal to opcancel and is not a public API; the module is v0.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// UnknownService is the service label of messages that name no configured service.
const UnknownService = "unknown"

// Metrics are opcancel's collectors: those of the contract (see
// docs/contract.md#metrics) plus the rate-limit and throttling figures.
// Label values are bounded: configured hosts (or "unknown"), outcomes,
// methods and google.rpc code names; never an operation name or a message ID.
type Metrics struct {
	// Jobs counts deliveries by service and outcome: opcancel_jobs_total.
	Jobs *prometheus.CounterVec
	// JobsFromMemory counts the deliveries of Jobs settled from the memory
	// of outcomes, without a request, by service:
	// opcancel_jobs_from_memory_total.
	JobsFromMemory *prometheus.CounterVec
	// APIRequests counts requests by service, method and answer code:
	// opcancel_api_requests_total.
	APIRequests *prometheus.CounterVec
	// APIRequestDuration observes request latency by service and method.
	APIRequestDuration *prometheus.HistogramVec
	// JobDuration observes receipt-to-outcome time by service and outcome.
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
	// MisdirectedRequests counts requests answered by something that is not
	// recognisably Google's, whatever the HTTP status, by service:
	// opcancel_api_misdirected_requests_total.
	MisdirectedRequests *prometheus.CounterVec
	// ServiceRequestsInFlight is each service's requests holding a slot of its
	// share of the pool (maxConcurrency): being sent and answered, or, one at
	// a time, waiting for the service's pace.
	ServiceRequestsInFlight *prometheus.GaugeVec
	// ServiceMaxConcurrency is each service's share of the pool: the most
	// requests to it in flight at once.
	ServiceMaxConcurrency *prometheus.GaugeVec
	// ServiceConcurrencyWait sums the time requests waited because their
	// service held its whole share of the pool.
	ServiceConcurrencyWait *prometheus.CounterVec
	// APIRequestsQueued is each service's requests waiting to be sent: for
	// the service's turn, its share of the pool, the pool or its pace.
	APIRequestsQueued *prometheus.GaugeVec
	// APIRequestsWaitingForRate is the part of APIRequestsQueued that waits
	// for the service's rate (configured, or lowered by adaptive
	// throttling): all of a service's queued requests while the last one to
	// leave waited for its pace, none otherwise.
	APIRequestsWaitingForRate *prometheus.GaugeVec
	// JobsQueued is each service's jobs that wait to start: held, routed,
	// and behind the service's start line (see docs/design.md#floods-wait-their-turn).
	JobsQueued *prometheus.GaugeVec
	// Panics counts deliveries whose handling panicked (recovered; the
	// delivery was nacked), by service.
	Panics *prometheus.CounterVec
	// MaxOutstanding and Concurrency export the configured bounds, so that
	// dashboards and autoscalers can compare the in-flight gauges with them.
	MaxOutstanding prometheus.Gauge
	Concurrency    prometheus.Gauge
	// UnpacedOutstanding is opcancel_unpaced_outstanding_ratio, computed
	// from JobsInFlight, APIRequestsWaitingForRate and MaxOutstanding when
	// scraped: the autoscaler's signal (see autoscaling.go).
	UnpacedOutstanding prometheus.GaugeFunc
	// BuildInfo is 1, labelled with the version, commit and Go version of
	// the binary: opcancel_build_info.
	BuildInfo *prometheus.GaugeVec
}

// New registers the collectors on reg, with the Go runtime and process
// collectors. A labelled series exists once its user creates it: the worker
// creates every label combination it knows at start-up, at zero.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Jobs: counterVec("opcancel_jobs_total",
			"Deliveries by service and outcome; exactly one outcome per delivery.", "service", "outcome"),
		JobsFromMemory: counterVec("opcancel_jobs_from_memory_total",
			"Deliveries settled from the memory of outcomes (a message acked before, an operation found done before), without a request; also counted in opcancel_jobs_total; by service.", "service"),
		APIRequests: counterVec("opcancel_api_requests_total",
			"API requests by service, method (cancel, get, list) and the google.rpc code of the answer (TRANSPORT: no answer).", "service", "method", "code"),
		APIRequestDuration: histogramVec("opcancel_api_request_duration_seconds",
			"API request latency by service and method.",
			[]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}, "service", "method"),
		JobDuration: histogramVec("opcancel_job_duration_seconds",
			"Time from receipt of a delivery to its outcome, by service and outcome.",
			[]float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}, "service", "outcome"),
		Retries: counterVec("opcancel_retries_total",
			"Transient failures that were retried, by service and code.", "service", "code"),
		JobsInFlight: gauge("opcancel_jobs_in_flight",
			"Deliveries held, including those waiting between verification polls."),
		APIRequestsInFlight: gauge("opcancel_api_requests_in_flight",
			"API requests being sent."),
		ResultPublishFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "opcancel_result_publish_failures_total",
			Help: "Result events that could not be published (the delivery was nacked).",
		}),
		RateLimitWait: counterVec("opcancel_rate_limit_wait_seconds_total",
			"Time requests spent waiting for their service's configured rate, by service.", "service"),
		RateLimitDelayed: counterVec("opcancel_rate_limit_delayed_requests_total",
			"Requests that waited for their service's configured rate, by service.", "service"),
		ThrottleAllowedRate: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "opcancel_throttle_allowed_rate",
			Help: "Requests per second allowed to each service: the configured rate, or lower while the API answers RESOURCE_EXHAUSTED or UNAVAILABLE; +Inf when unlimited.",
		}, []string{"service"}),
		ThrottleDelayed: counterVec("opcancel_throttle_delayed_requests_total",
			"Requests delayed by adaptive throttling, by service.", "service"),
		ThrottleWait: counterVec("opcancel_throttle_wait_seconds_total",
			"Time requests waited for adaptive throttling, by service.", "service"),
		MisdirectedRequests: counterVec("opcancel_api_misdirected_requests_total",
			"API requests answered by something that is not recognisably the Google API, whatever the HTTP status (no Google error body, not the Google front end's own error page, or a 2xx that is not JSON): a wrong endpoint or version, or a proxy, gateway or service mesh; retried and nacked, never acked; by service.", "service"),
		ServiceRequestsInFlight: gaugeVec("opcancel_service_requests_in_flight",
			"API requests holding a slot of their service's share of the pool (maxConcurrency), by service.", "service"),
		ServiceMaxConcurrency: gaugeVec("opcancel_service_max_concurrency",
			"Each service's share of the pool: the most requests to it in flight at once.", "service"),
		ServiceConcurrencyWait: counterVec("opcancel_service_concurrency_wait_seconds_total",
			"Time requests waited because their service held its whole share of the pool, by service.", "service"),
		APIRequestsQueued: gaugeVec("opcancel_api_requests_queued",
			"API requests waiting to be sent (for their service's turn, its share of the pool, the pool or its pace), by service.", "service"),
		APIRequestsWaitingForRate: gaugeVec("opcancel_api_requests_waiting_for_rate",
			"API requests waiting to be sent behind their service's rate (configured, or lowered by adaptive throttling): a service's queued requests while the last one sent waited for its pace, else 0; by service.", "service"),
		JobsQueued: gaugeVec("opcancel_jobs_queued",
			"Jobs held that wait to start: routed to their service, behind the jobs of its start line, holding their message and nothing else; by service.", "service"),
		Panics: counterVec("opcancel_panics_total",
			"Deliveries whose handling panicked: recovered, logged with the stack, and nacked; by service.", "service"),
		MaxOutstanding: gauge("opcancel_max_outstanding",
			"The configured maximum of deliveries held at once (max outstanding)."),
		Concurrency: gauge("opcancel_concurrency",
			"The configured concurrency: the most API requests in flight at once."),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "opcancel_build_info",
			Help: "Always 1: the version, commit and Go version of the running binary.",
		}, []string{"version", "commit", "goversion"}),
	}
	m.UnpacedOutstanding = newUnpacedOutstanding(m)
	reg.MustRegister(
		m.Jobs, m.JobsFromMemory, m.APIRequests, m.APIRequestDuration, m.JobDuration, m.Retries,
		m.JobsInFlight, m.APIRequestsInFlight, m.ResultPublishFailures,
		m.RateLimitWait, m.RateLimitDelayed, m.ThrottleAllowedRate, m.ThrottleDelayed, m.ThrottleWait,
		m.MisdirectedRequests, m.ServiceRequestsInFlight, m.ServiceMaxConcurrency, m.ServiceConcurrencyWait,
		m.APIRequestsQueued, m.APIRequestsWaitingForRate, m.JobsQueued, m.Panics, m.MaxOutstanding, m.Concurrency, m.UnpacedOutstanding, m.BuildInfo,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

func histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
}

func gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
}

func gauge(name, help string) prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
}
