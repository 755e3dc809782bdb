package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// newUnpacedOutstanding returns opcancel_unpaced_outstanding_ratio, the
// signal the autoscaler scales on (docs/deploy.md#autoscaling): the
// deliveries held that are not waiting behind their service's rate, against
// --max-outstanding. It is computed when scraped from the gauges it
// summarises, so it is always in step with them and exists from start-up
// (0 until the worker sets --max-outstanding): an autoscaler that reads one
// series per pod (Google's Custom Metrics Stackdriver Adapter) needs it
// exported, where prometheus-adapter could compute it from the three.
func newUnpacedOutstanding(m *Metrics) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "opcancel_unpaced_outstanding_ratio",
		Help: "Deliveries held that are not waiting for their service's rate, against the configured max outstanding: " +
			"(opcancel_jobs_in_flight - sum of opcancel_api_requests_waiting_for_rate - sum of opcancel_jobs_queued of the services with requests waiting for their rate) / opcancel_max_outstanding; " +
			"what the autoscaler scales on.",
	}, m.unpacedOutstandingRatio)
}

// unpacedOutstandingRatio is the value of opcancel_unpaced_outstanding_ratio.
// What waits for a service's rate is its requests waiting for the rate
// and, while there are any, its jobs queued behind them to start: another
// worker would only share the same rate (docs/deploy.md#autoscaling). The
// difference is never negative but for gauges read a moment apart.
func (m *Metrics) unpacedOutstandingRatio() float64 {
	limit := gaugeValue(m.MaxOutstanding)
	if limit <= 0 {
		return 0
	}
	queued := byService(m.JobsQueued)
	paced := 0.0
	for service, n := range byService(m.APIRequestsWaitingForRate) {
		if n > 0 {
			paced += n + queued[service]
		}
	}
	return max(gaugeValue(m.JobsInFlight)-paced, 0) / limit
}

// byService reads each series of a gauge vector labelled by service.
func byService(v *prometheus.GaugeVec) map[string]float64 {
	ch := make(chan prometheus.Metric)
	go func() {
		v.Collect(ch)
		close(ch)
	}()
	out := map[string]float64{}
	for g := range ch {
		var d dto.Metric
		if g.Write(&d) != nil {
			continue
		}
		for _, l := range d.GetLabel() {
			if l.GetName() == "service" {
				out[l.GetValue()] += d.GetGauge().GetValue()
			}
		}
	}
	return out
}

// gaugeValue reads a gauge's current value.
func gaugeValue(g prometheus.Metric) float64 {
	var d dto.Metric
	if g.Write(&d) != nil {
		return 0
	}
	return d.GetGauge().GetValue()
}
