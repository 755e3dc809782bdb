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

	"github.com/prometheus/client_golang/prometheus/testutil"

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
		// Sample the accepted requests every second, for the steady rate.
		type sample struct {
			at       time.Time
			accepted int
		}
		var samples []sample
		sampling := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				st := h.fake.Stats()
				samples = append(samples, sample{time.Now(), st.Cancels + st.Gets - st.Throttled})
				select {
				case <-sampling:
					return
				case <-time.After(time.Second):
				}
			}
		}()
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
		close(sampling)
		<-done
		elapsed := time.Since(start)
		st := h.fake.Stats()
		total := st.Cancels + st.Gets
		accepted := total - st.Throttled
		share := float64(st.Throttled) / float64(total)
		// Steady state: between 10 % and 90 % of the accepted requests.
		var lo, hi sample
		for _, s := range samples {
			if lo.at.IsZero() && s.accepted >= accepted/10 {
				lo = s
			}
			if hi.at.IsZero() && s.accepted >= accepted*9/10 {
				hi = s
			}
		}
		goodput := float64(hi.accepted-lo.accepted) / hi.at.Sub(lo.at).Seconds()
		t.Logf("%d requests, %d 429s (%.1f %%), steady goodput %.1f/s, overall %.1f/s over %v", total, st.Throttled, 100*share, goodput, float64(accepted)/elapsed.Seconds(), elapsed)
		if h.jobs(vault, Cancelled) != n {
			t.Errorf("cancelled = %v, want %d: no job lost", h.jobs(vault, Cancelled), n)
		}
		if share > 0.10 {
			t.Errorf("429s are %.1f %% of requests, want at most 10 %%", 100*share)
		}
		if goodput < 85 {
			t.Errorf("goodput %.1f requests/s, want at least 85 %% of the 100/s quota", goodput)
		}
		if d := testutil.ToFloat64(h.m.ThrottleDelayed.WithLabelValues(vault, vaultAt)); d == 0 {
			t.Error("no request counted as delayed by throttling")
		}
	})
}

// TestThrottleRecoversAfterAnOutage: under 503s the allowed rate falls to a
// few per second; 20 s after the API is back it is the configured rate
// again, never above it; every job ends cancelled or nacked for a retry.
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
		}, lrotest.ServicesYAML(fakeEndpoints, map[string]string{amapi: "rate: 40"}))
		th := h.bulkhead(amapi, amapiAt).throttle
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				h.w.Handle(context.Background(), h.delivery(fmt.Sprint(i), fmt.Sprintf("%so%d", dev, i), nil))
			})
		}
		time.Sleep(30 * time.Second)
		throttling, allowed := th.state()
		// Probing near the floor: at 1/s the window holds too few answers to
		// judge, so the rate creeps up until five failures in a row drop it
		// to 1/s again; it never gets far.
		if !throttling || allowed > 15 {
			t.Errorf("after 30s of 503s: throttling %v at %.1f/s, want a few per second at most", throttling, allowed)
		}
		if got := testutil.ToFloat64(h.m.ThrottleAllowedRate.WithLabelValues(amapi, amapiAt)); got != allowed {
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
	// A fifth UNAVAILABLE and a fiftieth RESOURCE_EXHAUSTED: ordinary
	// transient failures, no throttling.
	for i := range 1000 {
		kind := answerOK
		switch {
		case i%5 == 1:
			kind = answerUnavailable
		case i%50 == 3:
			kind = answerExhausted
		}
		th.answered(kind, now.Add(time.Duration(i)*time.Millisecond))
	}
	if throttling, _ := th.state(); throttling {
		t.Error("throttling on random transient failures")
	}
	// Two of the first 21 answers at once RESOURCE_EXHAUSTED, as random
	// quota answers among a burst can be: more than 5 %, but two answers
	// are not a quota; a third is.
	burst := newThrottle(0)
	for i := range 21 {
		kind := answerOK
		if i == 7 || i == 19 {
			kind = answerExhausted
		}
		burst.answered(kind, now)
	}
	if throttling, _ := burst.state(); throttling {
		t.Error("throttling on two RESOURCE_EXHAUSTED among 21 answers")
	}
	burst.answered(answerExhausted, now)
	if throttling, _ := burst.state(); !throttling {
		t.Error("not throttling on three RESOURCE_EXHAUSTED among 22 answers")
	}
	// A quota: 300 accepted per second, the rest RESOURCE_EXHAUSTED.
	now = now.Add(10 * time.Second)
	for i := range 1000 {
		kind := answerExhausted
		if i%10 < 3 {
			kind = answerOK
		}
		th.answered(kind, now.Add(time.Duration(i)*time.Millisecond))
	}
	now = now.Add(time.Second)
	throttling, allowed := th.state()
	if !throttling || allowed < 290 || allowed > 320 {
		t.Errorf("under a 300/s quota: throttling %v at %.1f/s, want just above 300", throttling, allowed)
	}
	// A calm second: +10 %; five calm seconds: slow start; two calm
	// minutes: lifted.
	th.answered(answerOK, now.Add(1500*time.Millisecond))
	_, a1 := th.state()
	th.answered(answerOK, now.Add(2500*time.Millisecond))
	if _, a2 := th.state(); math.Abs(a2-a1*throttleIncrease) > 1e-6 {
		t.Errorf("a calm second later: %.2f/s, want %.2f", a2, a1*throttleIncrease)
	}
	th.answered(answerOK, now.Add(throttleLift+time.Second))
	if throttling, a := th.state(); throttling || !math.IsInf(a, 1) {
		t.Errorf("after two calm minutes: throttling %v at %v/s, want lifted", throttling, a)
	}
	// An outage: everything UNAVAILABLE drops to the floor.
	now = now.Add(throttleLift + 10*time.Second)
	for i := range 100 {
		th.answered(answerUnavailable, now.Add(time.Duration(i)*10*time.Millisecond))
	}
	if _, a := th.state(); a != throttleMinRate {
		t.Errorf("during an outage: %.2f/s, want the floor %v", a, throttleMinRate)
	}
	// The configured rate caps everything.
	capped := newThrottle(50)
	if _, a := capped.state(); a != 50 {
		t.Errorf("configured 50/s allows %v", a)
	}
}

// TestThrottleIgnoresRandomFailures: an API that fails a fifth of its
// requests with UNAVAILABLE (and a few with RESOURCE_EXHAUSTED) at random is
// not throttled; all jobs finish.
func TestThrottleIgnoresRandomFailures(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		h := newHarness(t, DefaultConfig(), lrotest.Options{
			DontRecord: true,
			Default:    func(string) *lrotest.Script { return &lrotest.Script{} },
			Fault: func(*http.Request) *lrotest.Answer {
				switch i := n.Add(1); {
				case i%5 == 0:
					a := lrotest.Unavailable(100 * time.Millisecond)
					return &a
				case i%50 == 7:
					a := lrotest.Exhausted(100*time.Millisecond, "")
					return &a
				}
				return nil
			},
		}, "")
		var wg sync.WaitGroup
		for i := range 1000 {
			wg.Go(func() {
				h.w.Handle(context.Background(), h.delivery(fmt.Sprint(i), fmt.Sprintf("operations/o%d", i), nil))
			})
		}
		wg.Wait()
		if throttling, _ := h.bulkhead(vault, vaultAt).throttle.state(); throttling {
			t.Error("throttled by random failures")
		}
		if h.jobs(vault, Cancelled) != 1000 {
			t.Errorf("cancelled = %v", h.jobs(vault, Cancelled))
		}
	})
}
