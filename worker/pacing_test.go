package worker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"opcancel/lro/lrotest"
)

// TestConcurrencyBound: --concurrency bounds the requests in flight across
// services, and each service holds at most its share of the pool: half of
// it by default, or its maxConcurrency.
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
		if got := h.ops.peakOf(vault); got != 4 {
			t.Errorf("peak requests to %s = %d, want its default share, half the pool: 4", vault, got)
		}
		if got := h.ops.peakOf(amapi); got != 5 {
			t.Errorf("peak requests to %s = %d, want its maxConcurrency 5", amapi, got)
		}
		if got := testutilCounter(h.m.ServiceMaxConcurrency.WithLabelValues(vault)); got != 4 {
			t.Errorf("opcancel_service_max_concurrency{%s} = %v, want 4", vault, got)
		}
		if calls != 200 {
			t.Errorf("requests = %d, want 200", calls)
		}
		if h.jobs(vault, Cancelled)+h.jobs(amapi, Cancelled) != 100 {
			t.Errorf("cancelled = %v + %v", h.jobs(vault, Cancelled), h.jobs(amapi, Cancelled))
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
		if got := testutilCounter(h.m.JobsInFlight); got != 100 {
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
		queued := testutilCounter(h.m.APIRequestsQueued.WithLabelValues(amapi))
		jobs := testutilCounter(h.m.JobsQueued.WithLabelValues(amapi))
		if forRate := testutilCounter(h.m.APIRequestsWaitingForRate.WithLabelValues(amapi)); queued+jobs < 50 || forRate != queued {
			t.Errorf("after 5s: %v requests queued, %v of them waiting for the rate, %v jobs waiting to start; want most jobs waiting, the requests all for the rate", queued, forRate, jobs)
		}
		wg.Wait()
		var at []time.Time
		for _, r := range h.fake.Requests() {
			at = append(at, r.Time)
		}
		if len(at) != 200 {
			t.Fatalf("%d requests, want 200", len(at))
		}
		// No window of one second holds more than 10 requests.
		for i := range at {
			n := 0
			for _, b := range at[i:] {
				if b.Sub(at[i]) < time.Second {
					n++
				}
			}
			if n > 10 {
				t.Fatalf("%d requests within 1s from %v", n, at[i].Sub(start))
			}
		}
		// And the limit is used: 200 requests at 10/s take about 20s.
		if d := at[len(at)-1].Sub(at[0]); d < 19*time.Second || d > 21*time.Second {
			t.Errorf("200 requests spread over %v, want about 20s at 10/s", d)
		}
		if got := testutilCounter(h.m.RateLimitDelayed.WithLabelValues(amapi)); got < 150 {
			t.Errorf("rate-limit delayed requests = %v, want most of them", got)
		}
	})
}
