package worker

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"opcancel/lro/lrotest"
)

// TestThrottleRidesAQuotaStorm: an API that admits 100 requests/s and
// answers 429 with RetryInfo beyond; 2,000 jobs are all cancelled, at close
// to the quota, with few 429s.
func TestThrottleRidesAQuotaStorm(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, DefaultConfig(), lrotest.Options{
			Quota: 100, QuotaRetryDelay: time.Second, DontRecord: true,
			Default: func(string) *lrotest.Script { return &lrotest.Script{} },
		}, "")
		const n = 2000
		start := time.Now()
		var wg sync.WaitGroup
		sem := make(chan struct{}, 1000) // as Pub/Sub's flow control would
		for i := range n {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				h.w.Handle(context.Background(), h.delivery(fmt.Sprint(i), fmt.Sprintf("operations/o%d", i), nil))
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		st := h.fake.Stats()
		total := st.Cancels + st.Gets
		accepted := total - st.Throttled
		share := float64(st.Throttled) / float64(total)
		goodput := float64(accepted) / elapsed.Seconds()
		t.Logf("%d requests, %d 429s (%.1f %%), goodput %.1f/s over %v", total, st.Throttled, 100*share, goodput, elapsed)
		if h.jobs(vault, Cancelled) != n {
			t.Errorf("cancelled = %v, want %d: no job lost", h.jobs(vault, Cancelled), n)
		}
		if share > 0.10 {
			t.Errorf("429s are %.1f %% of requests, want at most 10 %%", 100*share)
		}
		if goodput < 85 {
			t.Errorf("goodput %.1f requests/s, want at least 85 %% of the 100/s quota", goodput)
		}
		if d := testutilCounter(h.m.ThrottleDelayed.WithLabelValues(vault)); d == 0 {
			t.Error("no request counted as delayed by throttling")
		}
	})
}

// TestThrottleNeverExceedsTheConfiguredRate and recovers after an outage.
func TestThrottleRecoversAfterAnOutage(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var down atomic.Bool
		down.Store(true)
		h := newHarness(t, DefaultConfig(), lrotest.Options{
			DontRecord: true,
			Default:    func(string) *lrotest.Script { return &lrotest.Script{} },
			Fault: func(*http.Request) *lrotest.Answer {
				if down.Load() {
					a := lrotest.Unavailable(0)
					return &a
				}
				return nil
			},
		}, servicesYAML+"    rate: 40\n")
		th := h.w.services[amapi].throttle
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				h.w.Handle(context.Background(), h.delivery(fmt.Sprint(i), fmt.Sprintf("%so%d", dev, i), nil))
			})
		}
		time.Sleep(30 * time.Second)
		throttling, allowed := th.state()
		if !throttling || allowed > 5 {
			t.Errorf("after 30s of 503s: throttling %v at %.1f/s, want the rate down near the 1/s floor", throttling, allowed)
		}
		if got := testutilCounter(h.m.ThrottleAllowedRate.WithLabelValues(amapi)); got != allowed {
			t.Errorf("opcancel_throttle_allowed_rate = %v, want %v", got, allowed)
		}
		down.Store(false)
		time.Sleep(20 * time.Second)
		if _, allowed := th.state(); allowed != 40 {
			t.Errorf("20s after recovery the allowed rate is %.1f/s, want back at the configured 40/s", allowed)
		}
		wg.Wait()
		// Every job either finished or was nacked for a later retry; none
		// was acked while the API was down.
		got := h.jobs(amapi, Cancelled) + h.jobs(amapi, RetryExhausted)
		if got != 200 {
			t.Errorf("cancelled + retry_exhausted = %v, want 200", got)
		}
		if _, allowed := th.state(); allowed > 40 {
			t.Errorf("allowed rate %v above the configured 40/s", allowed)
		}
	})
}

func TestThrottleUnit(t *testing.T) {
	t.Parallel()
	th := newThrottle(0)
	now := time.Unix(1000, 0)
	if throttling, allowed := th.state(); throttling || !math.IsInf(allowed, 1) {
		t.Fatalf("new throttle: %v %v", throttling, allowed)
	}
	// 200 requests sent in the last second, all answered with an overload:
	// one congestion event, one decrease from the rate sent.
	var epochs []uint64
	for i := range 200 {
		epochs = append(epochs, th.sending(now.Add(time.Duration(i)*4*time.Millisecond)))
	}
	now = now.Add(900 * time.Millisecond)
	for _, e := range epochs {
		th.answered(e, true, now)
	}
	_, allowed := th.state()
	if want := 200 * throttleDecrease; allowed != want {
		t.Errorf("after a burst of 200 overloads: %.1f/s, want %.1f (one decrease)", allowed, want)
	}
	// A request sent at the new limit and rejected: a second decrease.
	e := th.sending(now)
	th.answered(e, true, now)
	if _, a := th.state(); a != allowed*throttleDecrease {
		t.Errorf("after a second event: %.1f/s, want %.1f", a, allowed*throttleDecrease)
	}
	_, allowed = th.state()
	// Half a calm second: +10 %/s; then slow start, doubling per second;
	// after two calm minutes, lifted.
	th.answered(th.sending(now), false, now.Add(500*time.Millisecond))
	want := allowed * math.Pow(throttleIncrease, 0.5)
	if _, a := th.state(); math.Abs(a-want) > 1e-9 {
		t.Errorf("after half a calm second: %.2f/s, want %.2f", a, want)
	}
	th.answered(th.sending(now), false, now.Add(1500*time.Millisecond))
	if _, a := th.state(); math.Abs(a-2*want) > 1e-9 {
		t.Errorf("a calm second later: %.2f/s, want %.2f (slow start)", a, 2*want)
	}
	th.answered(th.sending(now), false, now.Add(throttleLift+time.Second))
	if throttling, a := th.state(); throttling || !math.IsInf(a, 1) {
		t.Errorf("after two calm minutes: throttling %v at %v/s, want lifted", throttling, a)
	}
	// The configured rate caps everything.
	capped := newThrottle(50)
	if _, a := capped.state(); a != 50 {
		t.Errorf("configured 50/s allows %v", a)
	}
}
