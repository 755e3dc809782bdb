package worker

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/oauth2"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

// TestConcurrencyBound: --concurrency bounds the requests in flight across
// services, a service's maxConcurrency caps its own, and what a capped
// service leaves is the others': the pool is used whole.
func TestConcurrencyBound(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Concurrency = 8
		h := newHarness(t, cfg, lrotest.Options{Latency: time.Second, Default: func(string) *lrotest.Script { return &lrotest.Script{} }},
			lrotest.ServicesYAML(fakeEndpoints, map[string]string{amapi: "maxConcurrency: 5"}))
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				name := fmt.Sprintf("operations/o%d", i)
				if i%5 != 0 { // 80 for amapi, which keeps going after vault's 20
					name = fmt.Sprintf("%so%d", dev, i)
				}
				h.w.Handle(context.Background(), h.delivery(fmt.Sprint(i), name, nil))
			})
		}
		wg.Wait()
		peak, calls, _ := h.ops.stats()
		if peak != 8 {
			t.Errorf("peak requests in flight = %d, want exactly Concurrency 8", peak)
		}
		if got := h.ops.peakOf(amapi); got != 5 {
			t.Errorf("peak requests to %s = %d, want its maxConcurrency 5", amapi, got)
		}
		if got := h.ops.peakOf(vault); got < 3 {
			t.Errorf("peak requests to %s = %d, want at least the 3 slots %s's cap leaves", vault, got, amapi)
		}
		if got := testutil.ToFloat64(h.m.ServiceMaxConcurrency.WithLabelValues(amapi)); got != 5 {
			t.Errorf("opcancel_service_max_concurrency{%s} = %v, want 5", amapi, got)
		}
		if got := testutil.ToFloat64(h.m.ServiceMaxConcurrency.WithLabelValues(vault)); got != 8 {
			t.Errorf("opcancel_service_max_concurrency{%s} = %v, want the pool, 8", vault, got)
		}
		if calls != 200 {
			t.Errorf("requests = %d, want 200", calls)
		}
		if h.jobs(vault, Cancelled)+h.jobs(amapi, Cancelled) != 100 {
			t.Errorf("cancelled = %v + %v", h.jobs(vault, Cancelled), h.jobs(amapi, Cancelled))
		}
	})
}

// TestOneServiceAloneHasThePool: a service without maxConcurrency, alone,
// uses the whole pool (it had half of it by default before), and two busy
// services share it evenly.
func TestOneServiceAloneHasThePool(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Concurrency = 8
		h := newHarness(t, cfg, lrotest.Options{Latency: time.Second, Default: func(string) *lrotest.Script { return &lrotest.Script{} }}, "")
		run := func(names func(i int) string) {
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Go(func() { h.w.Handle(context.Background(), h.delivery(names(i), names(i), nil)) })
			}
			wg.Wait()
		}
		start := time.Now()
		run(func(i int) string { return fmt.Sprintf("operations/alone%d", i) })
		if got := h.ops.peakOf(vault); got != 8 {
			t.Errorf("peak requests of the one busy service = %d, want the whole pool, 8", got)
		}
		// 80 requests of 1 s on 8 slots, and the wait before each poll.
		if d := time.Since(start); d > 12*time.Second {
			t.Errorf("40 jobs of one service took %v, want about 11 s on the whole pool", d)
		}

		var wg sync.WaitGroup
		for i := range 80 {
			wg.Go(func() {
				name := fmt.Sprintf("operations/both%d", i)
				if i%2 == 1 {
					name = fmt.Sprintf("%sboth%d", dev, i)
				}
				h.w.Handle(context.Background(), h.delivery(name, name, nil))
			})
		}
		// Sample the two services' slots while both are busy.
		busy := 0
		for range 8 {
			time.Sleep(time.Second)
			synctest.Wait()
			v := testutil.ToFloat64(h.m.ServiceRequestsInFlight.WithLabelValues(vault, vaultAt))
			a := testutil.ToFloat64(h.m.ServiceRequestsInFlight.WithLabelValues(amapi, amapiAt))
			vq := testutil.ToFloat64(h.m.APIRequestsQueued.WithLabelValues(vault, vaultAt))
			aq := testutil.ToFloat64(h.m.APIRequestsQueued.WithLabelValues(amapi, amapiAt))
			if vq == 0 || aq == 0 {
				continue // one of them wants no more than it has
			}
			busy++
			if v < 3 || a < 3 {
				t.Errorf("%v: %s holds %v slots (%v waiting), %s %v (%v waiting); want the 8 shared evenly", time.Since(start), vault, v, vq, amapi, a, aq)
			}
		}
		wg.Wait()
		if busy < 4 {
			t.Errorf("both services had requests waiting in %d of 8 samples, want most", busy)
		}
	})
}

func TestSlowVerificationsDoNotBlockNewCancels(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Concurrency = 2
		cfg.MaxOutstanding = 200
		h := newHarness(t, cfg, lrotest.Options{Latency: 10 * time.Millisecond}, "")
		var wg sync.WaitGroup
		for i := range 100 {
			name := fmt.Sprintf("operations/slow%d", i)
			h.fake.Set(name, lrotest.Script{DoneAfterPolls: lrotest.Never})
			wg.Go(func() { h.w.Handle(context.Background(), h.delivery(name, name, nil)) })
		}
		// Let every slow job get its cancel accepted: they now wait between polls.
		time.Sleep(10 * time.Second)
		if got := testutil.ToFloat64(h.m.JobsInFlight); got != 100 {
			t.Fatalf("jobs in flight = %v, want 100 held in verification", got)
		}
		start := time.Now()
		for i := range 10 {
			name := fmt.Sprintf("operations/fast%d", i)
			h.fake.Set(name, lrotest.Script{})
			if got := h.w.Handle(context.Background(), h.delivery(name, name, nil)); got != Cancelled {
				t.Errorf("%s = %s", name, got)
			}
		}
		// Ten sequential jobs of a cancel, a ~1s wait and a get each: about
		// 12s, not the 5 minutes the slow ones hold their deliveries for.
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("10 new cancels took %v while 100 verifications were held", d)
		}
		wg.Wait()
		if h.jobs(vault, Unverified) != 100 {
			t.Errorf("unverified = %v", h.jobs(vault, Unverified))
		}
	})
}

func TestRateLimitIsNeverExceeded(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, DefaultConfig(), lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{} }}, lrotest.ServicesYAML(fakeEndpoints, map[string]string{amapi: "rate: 10"}))
		var wg sync.WaitGroup
		start := time.Now()
		for i := range 100 {
			wg.Go(func() {
				h.w.Handle(context.Background(), h.delivery(fmt.Sprint(i), fmt.Sprintf("%so%d", dev, i), nil))
			})
		}
		// Midway, the requests waiting to be sent wait for the rate, and
		// most jobs wait to start behind them.
		time.Sleep(5 * time.Second)
		synctest.Wait() // the gauges as the line stands, not mid-change
		queued := testutil.ToFloat64(h.m.APIRequestsQueued.WithLabelValues(amapi, amapiAt))
		jobs := testutil.ToFloat64(h.m.JobsQueued.WithLabelValues(amapi, amapiAt))
		if forRate := testutil.ToFloat64(h.m.APIRequestsWaitingForRate.WithLabelValues(amapi, amapiAt)); queued+jobs < 50 || forRate != queued {
			t.Errorf("after 5s: %v requests queued, %v of them waiting for the rate, %v jobs waiting to start; want most jobs waiting, the requests all for the rate", queued, forRate, jobs)
		}
		wg.Wait()
		at := arrivals(h)
		if len(at) != 200 {
			t.Fatalf("%d requests, want 200", len(at))
		}
		if n, from := busiestSecond(at); n > 10 {
			t.Fatalf("%d requests within 1s from %v, want at most 10", n, at[from].Sub(start))
		}
		// And the limit is used: 200 requests at 10/s take about 20s.
		if d := at[len(at)-1].Sub(at[0]); d < 19*time.Second || d > 21*time.Second {
			t.Errorf("200 requests spread over %v, want about 20s at 10/s", d)
		}
		if got := testutil.ToFloat64(h.m.RateLimitDelayed.WithLabelValues(amapi)); got < 150 {
			t.Errorf("rate-limit delayed requests = %v, want most of them", got)
		}
	})
}

// TestRejectedTokensAreRetriedWithinTheRate: an API that answers every
// request 401 gets the retries of the worker, through the service's gate,
// and never more than its rate in any second: the client sends no second
// request of its own.
func TestRejectedTokensAreRetriedWithinTheRate(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const rate = 10
		unauthenticated := lrotest.Err(lro.Unauthenticated, "Request had invalid authentication credentials.")
		tokens := 0
		source := func(context.Context, []string, string) (oauth2.TokenSource, error) {
			tokens++
			return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: fmt.Sprintf("t%d", tokens), TokenType: "Bearer"}), nil
		}
		cfg := DefaultConfig()
		cfg.RetryBudget = 20 * time.Second
		h := newHarnessClient(t, cfg, lrotest.Options{
			Fault: func(*http.Request) *lrotest.Answer { return &unauthenticated },
		}, lrotest.ServicesYAML(lrotest.Endpoints{amapi: fakeEndpoints[amapi]}, map[string]string{amapi: fmt.Sprintf(
			"rate: %d\nallowTokenOutsideGoogle: true\nscopes: [\"https://www.googleapis.com/auth/androidmanagement\"]", rate)}),
			lro.Config{Auth: lro.AuthADC, TokenSource: source})
		made := tokens
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Go(func() {
				h.w.Handle(context.Background(), h.delivery(fmt.Sprint(i), fmt.Sprintf("%so%d", dev, i), nil))
			})
		}
		wg.Wait()
		at := arrivals(h)
		if len(at) < 3*rate {
			t.Fatalf("%d requests, want the 30 cancels and their retries", len(at))
		}
		if n, from := busiestSecond(at); n > rate {
			t.Fatalf("%d requests within 1 s of request %d, want at most the rate, %d", n, from, rate)
		}
		if got := h.jobs(amapi, RetryExhausted); got != 30 {
			t.Errorf("retry_exhausted = %v, want 30", got)
		}
		// Renewals back off from 1 s, doubling: a handful in 20 s, not one
		// a request.
		if got := tokens - made; got < 2 || got > 6 {
			t.Errorf("%d token sources made for %d rejected requests, want a few", got, len(at))
		}
	})
}

// arrivals returns when the fake received each request, in order.
func arrivals(h *harness) []time.Time {
	var at []time.Time
	for _, r := range h.fake.Requests() {
		at = append(at, r.Time)
	}
	return at
}

// busiestSecond returns the most of at (in order) within one second from
// one of them, and which one that is.
func busiestSecond(at []time.Time) (most, from int) {
	for i := range at {
		n := 0
		for _, b := range at[i:] {
			if b.Sub(at[i]) < time.Second {
				n++
			}
		}
		if n > most {
			most, from = n, i
		}
	}
	return most, from
}
