package worker

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"opcancel/lro/lrotest"
)

// TestAHungServiceDoesNotStallAnother: every request to one service hangs
// until the request timeout, while the other answers in 50 ms. The hung
// service holds only its share of the pool, so the other one's jobs flow
// at the pace of their own share; the hung service's timeouts count as
// overload, so its throttle drops; its jobs end retry_exhausted (nacked).
func TestAHungServiceDoesNotStallAnother(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Concurrency = 8
		h := newHarness(t, cfg, lrotest.Options{
			Latency: 50 * time.Millisecond,
			Default: func(string) *lrotest.Script { return &lrotest.Script{} },
			Fault: func(r *http.Request) *lrotest.Answer {
				if r.Host == "vault.fake" {
					return &lrotest.Answer{Hang: true}
				}
				return nil
			},
		}, "")
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() {
				h.w.Handle(context.Background(), h.delivery(fmt.Sprintf("v%d", i), fmt.Sprintf("operations/o%d", i), nil))
			})
		}
		synctest.Wait() // the hung service has taken what it may
		start := time.Now()
		var healthy sync.WaitGroup
		for i := range 100 {
			healthy.Go(func() {
				h.w.Handle(context.Background(), h.delivery(fmt.Sprintf("a%d", i), fmt.Sprintf("%so%d", dev, i), nil))
			})
		}
		healthy.Wait()
		// 200 requests of 50 ms on amapi's 4 slots, and the wait before each
		// poll: about 3.5 s. Without a share, the hung requests hold every
		// slot for 30 s at a time.
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("100 jobs of the healthy service took %v while the other hung", d)
		}
		if got := h.jobs(amapi, Cancelled); got != 100 {
			t.Errorf("healthy service: cancelled = %v, want 100", got)
		}
		if got := h.ops.peakOf(vault); got != 4 {
			t.Errorf("hung service: peak requests in flight = %d, want its share, 4", got)
		}
		if got := testutilCounter(h.m.ServiceRequestsInFlight.WithLabelValues(vault)); got != 4 {
			t.Errorf("opcancel_service_requests_in_flight{%s} = %v, want 4", vault, got)
		}
		// Of the 36 jobs that wait, the first 8 (its start line, the pool)
		// wait for its share; the others wait to start.
		if got := testutilCounter(h.m.APIRequestsQueued.WithLabelValues(vault)); got != 8 {
			t.Errorf("opcancel_api_requests_queued{%s} = %v, want the 8 jobs of its start line, which wait for its share", vault, got)
		}
		if got := testutilCounter(h.m.JobsQueued.WithLabelValues(vault)); got != 28 {
			t.Errorf("opcancel_jobs_queued{%s} = %v, want the 28 jobs behind its start line", vault, got)
		}
		if got := testutilCounter(h.m.APIRequestsWaitingForRate.WithLabelValues(vault)); got != 0 {
			t.Errorf("opcancel_api_requests_waiting_for_rate{%s} = %v, want 0: they wait for capacity, not a rate", vault, got)
		}

		// The timeouts count as UNAVAILABLE: after two rounds of them (at
		// 30 s and 60 s, four each, five being the least that tells an
		// outage), the hung service is throttled.
		time.Sleep(61*time.Second - time.Since(start))
		if throttling, allowed := h.w.services[vault].throttle.state(); !throttling || allowed > 5 {
			t.Errorf("after its requests timed out: throttling %v at %.1f/s, want the hung service held down", throttling, allowed)
		}
		wg.Wait()
		if got := h.jobs(vault, RetryExhausted); got != 40 {
			t.Errorf("hung service: retry_exhausted = %v, want 40 (nacked, none acked)", got)
		}
		if got := testutilCounter(h.m.ServiceConcurrencyWait.WithLabelValues(vault)); got == 0 {
			t.Error("no time counted as waiting for the hung service's share")
		}
	})
}
