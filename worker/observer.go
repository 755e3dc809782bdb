package worker

import (
	"time"

	"opcancel/lro"
	"opcancel/metrics"
)

// RequestObserver returns the lro.Observer that records every API request in
// m: opcancel_api_requests_total, opcancel_api_request_duration_seconds and
// opcancel_api_requests_in_flight.
func RequestObserver(m *metrics.Metrics) lro.Observer { return requestObserver{m} }

type requestObserver struct{ m *metrics.Metrics }

func (o requestObserver) RequestStarted(service, method string) {
	o.m.APIRequestsInFlight.Inc()
}

func (o requestObserver) RequestFinished(service, method string, code lro.Code, d time.Duration) {
	o.m.APIRequestsInFlight.Dec()
	o.m.APIRequests.WithLabelValues(service, method, code.String()).Inc()
	o.m.APIRequestDuration.WithLabelValues(service, method).Observe(d.Seconds())
}
