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

func TestConcurrencyBound(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Concurrency = 4
		h := newHarness(t, cfg, lrotest.Options{Latency: time.Second, Default: func(string) *lrotest.Script { return &lrotest.Script{} }}, "")
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				h.w.Handle(context.Background(), h.delivery(fmt.Sprint(i), fmt.Sprintf("operations/o%d", i), nil))
			})
		}
		wg.Wait()
		peak, calls, _ := h.ops.stats()
		if peak != 4 {
			t.Errorf("peak requests in flight = %d, want exactly Concurrency 4", peak)
		}
		if calls != 200 {
			t.Errorf("requests = %d, want 200", calls)
		}
		if h.jobs(vault, Cancelled) != 100 {
			t.Errorf("cancelled = %v", h.jobs(vault, Cancelled))
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
