package worker

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

// TestAHungServiceGivesBackThePool: every request to one service hangs
// until the request timeout, while the other answers in 50 ms. The hung
// service first has the whole idle pool; once its requests are overdue its
// limit falls to one slot, and those it holds beyond its fair share are
// cut and given to the other, whose jobs then flow on the rest of the pool.
// The cuts count as overload, so the hung service is throttled too; its
// jobs end retry_exhausted (nacked).
func TestAHungServiceGivesBackThePool(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Concurrency = 8
		h := newHarness(t, cfg, lrotest.Options{
			Latency: 50 * time.Millisecond,
			Default: func(string) *lrotest.Script { return &lrotest.Script{} },
			Fault: func(r *http.Request) *lrotest.Answer {
				if r.Host == vaultAt {
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
		synctest.Wait()
		if got := h.ops.peakOf(vault); got != 8 {
			t.Errorf("hung service: %d requests in flight, want the whole idle pool, 8", got)
		}
		start := time.Now()
		var healthy sync.WaitGroup
		for i := range 100 {
			healthy.Go(func() {
				h.w.Handle(context.Background(), h.delivery(fmt.Sprintf("a%d", i), fmt.Sprintf("%so%d", dev, i), nil))
			})
		}
		healthy.Wait()
		// Until the hung requests are overdue, the healthy service waits;
		// then 200 requests of 50 ms on 7 slots, and the wait before each
		// poll: about 1.5 s more. Without the reclaim, the hung requests
		// hold every slot until they time out, 30 s later.
		if d, want := time.Since(start), overdueFloor+3*time.Second; d > want {
			t.Errorf("100 jobs of the healthy service took %v while the other hung, want at most %v", d, want)
		}
		if got := h.jobs(amapi, Cancelled); got != 100 {
			t.Errorf("healthy service: cancelled = %v, want 100", got)
		}
		if got := testutil.ToFloat64(h.m.ServiceRequestsInFlight.WithLabelValues(vault, vaultAt)); got != 1 {
			t.Errorf("hung service: %v requests in flight, want 1, its limit's floor", got)
		}
		if got := testutil.ToFloat64(h.m.EndpointConcurrencyLimit.WithLabelValues(vault, vaultAt)); got != 1 {
			t.Errorf("hung service: opcancel_endpoint_concurrency_limit = %v, want 1", got)
		}
		if got := testutil.ToFloat64(h.m.RequestsReclaimed.WithLabelValues(vault, vaultAt)); got < 7 {
			t.Errorf("hung service: %v requests reclaimed, want the 7 it held beyond its limit at least", got)
		}
		// Of its 40 jobs, 16 have started: the 8 whose first requests took
		// the idle pool, then a start line's worth (8, the pool), whose
		// first requests wait in line with the retries of those cut; the
		// other 24 wait to start, holding their message and nothing else.
		if got := testutil.ToFloat64(h.m.APIRequestsQueued.WithLabelValues(vault, vaultAt)); got < 8 || got > 15 {
			t.Errorf("hung service: opcancel_api_requests_queued = %v, want 8 first requests and up to 7 retries", got)
		}
		if got := testutil.ToFloat64(h.m.JobsQueued.WithLabelValues(vault, vaultAt)); got != 24 {
			t.Errorf("hung service: opcancel_jobs_queued = %v, want the 24 jobs behind its start line", got)
		}
		if got := testutil.ToFloat64(h.m.RequestsReclaimed.WithLabelValues(amapi, amapiAt)); got != 0 {
			t.Errorf("healthy service: %v requests reclaimed, want none", got)
		}
		if throttling, allowed := h.bulkhead(vault, vaultAt).throttle.state(); !throttling || allowed > 5 {
			t.Errorf("after its requests were cut: throttling %v at %.1f/s, want the hung service held down", throttling, allowed)
		}
		wg.Wait()
		if got := h.jobs(vault, RetryExhausted); got != 40 {
			t.Errorf("hung service: retry_exhausted = %v, want 40 (nacked, none acked)", got)
		}
		if got := testutil.ToFloat64(h.m.ServiceConcurrencyWait.WithLabelValues(vault, vaultAt)); got == 0 {
			t.Error("no time counted as waiting for a slot by the hung service")
		}
	})
}

// TestAServiceThatStartsHangingStallsNoOtherForLong: two busy services
// share the pool; then every request to one of them starts to hang. In no
// five seconds does the other complete less than half of its steady rate,
// and its steady rate is then nearly the whole pool's.
func TestAServiceThatStartsHangingStallsNoOtherForLong(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const latency = 50 * time.Millisecond
		cfg := DefaultConfig()
		cfg.Concurrency = 16
		var hanging atomic.Bool
		h := newHarness(t, cfg, lrotest.Options{
			Latency: latency, DontRecord: true,
			Default: func(string) *lrotest.Script { return &lrotest.Script{} },
			Fault: func(r *http.Request) *lrotest.Answer {
				if r.Host == vaultAt && hanging.Load() {
					return &lrotest.Answer{Hang: true}
				}
				return nil
			},
		}, "")
		ctx, stop := context.WithCancel(context.Background())
		var mu sync.Mutex
		var done []time.Time // the healthy service's completions
		feed := func(window int, name func(i int) string, record bool) *sync.WaitGroup {
			var wg sync.WaitGroup
			sem := make(chan struct{}, window) // as Pub/Sub's flow control would
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case sem <- struct{}{}:
					case <-ctx.Done():
						return
					}
					wg.Go(func() {
						defer func() { <-sem }()
						if h.w.Handle(ctx, h.delivery(name(i), name(i), nil)) == Cancelled && record {
							mu.Lock()
							done = append(done, time.Now())
							mu.Unlock()
						}
					})
				}
			})
			return &wg
		}
		healthy := feed(300, func(i int) string { return fmt.Sprintf("%so%d", dev, i) }, true)
		sick := feed(100, func(i int) string { return fmt.Sprintf("operations/o%d", i) }, false)
		time.Sleep(10 * time.Second)
		hanging.Store(true)
		hungAt := time.Now()
		time.Sleep(40 * time.Second)
		stop()
		healthy.Wait()
		sick.Wait()

		in := func(from, to time.Duration) int {
			n := 0
			for _, at := range done {
				if d := at.Sub(hungAt); d >= from && d < to {
					n++
				}
			}
			return n
		}
		bound := float64(cfg.Concurrency) / latency.Seconds() / 2 // jobs/s: a cancel and a get each
		steady := float64(in(20*time.Second, 40*time.Second)) / 20
		if steady < 0.85*bound {
			t.Errorf("healthy service beside the hung one: %.0f jobs/s, want at least 0.85 of the pool's %.0f", steady, bound)
		}
		for from := time.Duration(0); from+5*time.Second <= 40*time.Second; from += time.Second {
			if got := float64(in(from, from+5*time.Second)) / 5; got < steady/2 {
				t.Errorf("%v to %v after the other service started hanging: %.0f jobs/s, less than half the steady %.0f", from, from+5*time.Second, got, steady)
			}
		}
	})
}

// TestOneLocationHangingSlowsNoOther: one API in two locations, each with
// its endpoint. Every request to one location hangs; the throttle, the
// concurrency limit and the failing judgement are the endpoint's, so the
// other location's jobs flow (at the API's rate, or on the rest of the
// pool, or of the service's maxConcurrency) and none of them ends
// retry_exhausted.
func TestOneLocationHangingSlowsNoOther(t *testing.T) {
	t.Parallel()
	const (
		api     = "aiplatform.googleapis.com"
		latency = 50 * time.Millisecond
	)
	for _, tt := range []struct {
		name  string
		extra string
		// slots is what us-east1 may use once europe-west4's requests are
		// cut: the pool, or the service's cap, less europe-west4's one.
		slots int
		rate  float64
	}{
		{name: "the API's rate", extra: "rate: 50", slots: 7, rate: 50},
		{name: "the pool", slots: 7},
		{name: "maxConcurrency", extra: "maxConcurrency: 6", slots: 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				cfg := DefaultConfig()
				cfg.Concurrency = 8
				yaml := fmt.Sprintf("services:\n  - host: %s\n    endpoint: https://global.fake\n    regionalEndpoints: {us-east1: \"https://east.fake\", europe-west4: \"https://eu.fake\"}\n    %s\n", api, tt.extra)
				h := newHarness(t, cfg, lrotest.Options{
					Latency: latency,
					Default: func(string) *lrotest.Script { return &lrotest.Script{} },
					Fault: func(r *http.Request) *lrotest.Answer {
						if r.Host == "eu.fake" {
							return &lrotest.Answer{Hang: true}
						}
						return nil
					},
				}, yaml)
				name := func(loc string, i int) string {
					return fmt.Sprintf("//%s/projects/p/locations/%s/operations/o%d", api, loc, i)
				}
				var wg sync.WaitGroup
				for i := range 20 {
					wg.Go(func() { h.w.Handle(context.Background(), h.delivery(name("eu", i), name("europe-west4", i), nil)) })
				}
				synctest.Wait()
				start := time.Now()
				var east sync.WaitGroup
				for i := range 100 {
					east.Go(func() { h.w.Handle(context.Background(), h.delivery(name("east", i), name("us-east1", i), nil)) })
				}
				east.Wait()
				// Once europe-west4's requests are overdue and cut: 200
				// requests at the rate, or on the slots left, and the waits
				// before the polls (PollInitial, +20 % jitter at most): one
				// for the last jobs, and one for those whose cancels were
				// sent while the slots were still being taken back and
				// whose polls then queue behind the cancels.
				work := 200 * latency / time.Duration(tt.slots)
				if tt.rate > 0 {
					work = max(work, time.Duration(200/tt.rate*float64(time.Second)))
				}
				pollWaits := 2 * cfg.PollInitial * 6 / 5
				if d, want := time.Since(start), overdueFloor+work+pollWaits; d > want {
					t.Errorf("100 jobs in us-east1 took %v while europe-west4 hung, want at most %v", d, want)
				}
				if got := h.jobs(api, Cancelled); got != 100 {
					t.Errorf("cancelled = %v, want the 100 of us-east1", got)
				}
				if h.bulkhead(api, "east.fake").failing(time.Now()) {
					t.Error("us-east1 judged failing")
				}
				if !h.bulkhead(api, "eu.fake").failing(time.Now()) {
					t.Error("europe-west4 not judged failing")
				}
				if throttling, _ := h.bulkhead(api, "east.fake").throttle.state(); throttling {
					t.Error("us-east1 throttled for europe-west4's timeouts")
				}
				wg.Wait()
				// The waits in line for an endpoint that answers nothing spend
				// the retry budget: the jobs end at its end, not after a
				// request timeout each in turn.
				if d, want := time.Since(start), cfg.RetryBudget+2*lro.DefaultRequestTimeout; d > want {
					t.Errorf("the jobs of europe-west4 ended %v after us-east1's began, want within %v", d, want)
				}
				if got := h.jobs(api, RetryExhausted); got != 20 {
					t.Errorf("retry_exhausted = %v, want the 20 of europe-west4 only", got)
				}
				if got := testutil.ToFloat64(h.m.EndpointConcurrencyLimit.WithLabelValues(api, "eu.fake")); got != 1 {
					t.Errorf("opcancel_endpoint_concurrency_limit of europe-west4 = %v, want 1", got)
				}
			})
		})
	}
}
