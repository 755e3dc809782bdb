package worker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

// requestTimes returns the offsets from start of the fake's requests of kind.
func requestTimes(h *harness, name, kind string, start time.Time) []time.Duration {
	var out []time.Duration
	for _, r := range h.fake.RequestsFor(name) {
		if r.Kind == kind {
			out = append(out, r.Time.Sub(start))
		}
	}
	return out
}

func TestRetryInfoIsHonoured(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, DefaultConfig(), lrotest.Options{}, "")
		h.fake.Set("operations/r", lrotest.Script{Cancel: []lrotest.Answer{
			lrotest.Unavailable(7 * time.Second),
			lrotest.Exhausted(3*time.Second, "20"), // RetryInfo wins over Retry-After
			{Status: 429, RetryAfter: "11", Body: []byte("slow down")},
			{},
		}})
		start := time.Now()
		if got := h.w.Handle(context.Background(), h.delivery("m", "operations/r", nil)); got != Cancelled {
			t.Fatalf("outcome = %s", got)
		}
		at := requestTimes(h, "operations/r", "cancel", start)
		if len(at) != 4 {
			t.Fatalf("cancels at %v, want 4", at)
		}
		for i, min := range []time.Duration{7 * time.Second, 3 * time.Second, 11 * time.Second} {
			gap := at[i+1] - at[i]
			// Never sooner than the hint; full jitter over the exponential
			// ceiling (0.5s, 1s, 2s here) may add no more than the ceiling
			// when it exceeds the hint, which it does not here.
			if gap != min {
				t.Errorf("retry %d came after %v, want exactly the hinted %v", i+1, gap, min)
			}
		}
		if got := testutilCounter(h.m.Retries.WithLabelValues(vault, "RESOURCE_EXHAUSTED")); got != 2 {
			t.Errorf("retries{RESOURCE_EXHAUSTED} = %v, want 2", got)
		}
	})
}

func TestBackoffIsFullJitterUnderAnExponentialCeiling(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.RetryBudget = 10 * time.Minute
		h := newHarness(t, cfg, lrotest.Options{}, "")
		// INTERNAL is transient but not an overload signal: the adaptive
		// throttle stays out of the way and the gaps are the backoff alone.
		answers := make([]lrotest.Answer, 12)
		for i := range 11 {
			answers[i] = lrotest.Err(lro.Internal, "backend error")
		}
		h.fake.Set("operations/b", lrotest.Script{Cancel: answers})
		start := time.Now()
		if got := h.w.Handle(context.Background(), h.delivery("m", "operations/b", nil)); got != Cancelled {
			t.Fatalf("outcome = %s", got)
		}
		at := requestTimes(h, "operations/b", "cancel", start)
		if len(at) != 12 {
			t.Fatalf("%d cancels, want 12", len(at))
		}
		var total time.Duration
		for i := 1; i < len(at); i++ {
			ceiling := min(30*time.Second, 500*time.Millisecond<<(i-1))
			if gap := at[i] - at[i-1]; gap < 0 || gap > ceiling {
				t.Errorf("retry %d after %v, want within [0, %v]", i, gap, ceiling)
			}
			total += at[i] - at[i-1]
		}
		if total == 0 {
			t.Error("no backoff at all")
		}
	})
}

func TestBackoffDistribution(t *testing.T) {
	t.Parallel()
	w := &Worker{cfg: DefaultConfig()}
	const n = 4000
	var sum time.Duration
	for range n {
		d := w.backoff(3, 0) // ceiling 4s
		if d < 0 || d > 4*time.Second {
			t.Fatalf("backoff(3) = %v, outside [0, 4s]", d)
		}
		sum += d
	}
	// Full jitter: uniform over [0, 4s], mean 2s. A mean far from it means
	// the delay is not spread over the whole range.
	if mean := sum / n; mean < 1800*time.Millisecond || mean > 2200*time.Millisecond {
		t.Errorf("mean backoff = %v, want about 2s", mean)
	}
	if d := w.backoff(3, 9*time.Second); d != 9*time.Second {
		t.Errorf("backoff with a 9s hint = %v, want 9s", d)
	}
	if d := w.backoff(100, 0); d > 30*time.Second {
		t.Errorf("backoff(100) = %v, over the 30s cap", d)
	}
}

func TestRetryBudget(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.RetryBudget = 2 * time.Minute
		h := newHarness(t, cfg, lrotest.Options{}, "")
		h.fake.Set("operations/x", lrotest.Script{Cancel: []lrotest.Answer{lrotest.Unavailable(50 * time.Second)}})
		start := time.Now()
		if got := h.w.Handle(context.Background(), h.delivery("m", "operations/x", nil)); got != RetryExhausted {
			t.Fatalf("outcome = %s", got)
		}
		// Attempts at 0, 50s, 100s; a fourth would be at 150s, past the budget,
		// so the delivery is nacked at once rather than after a useless wait.
		if d := time.Since(start); d != 100*time.Second {
			t.Errorf("gave up after %v, want 100s", d)
		}
		if got := testutilCounter(h.m.Retries.WithLabelValues(vault, "UNAVAILABLE")); got != 2 {
			t.Errorf("retries = %v, want 2", got)
		}

		// A zero budget: no retry at all.
		cfg.RetryBudget = 0
		h0 := newHarness(t, cfg, lrotest.Options{}, "")
		h0.fake.Set("operations/x", lrotest.Script{Cancel: []lrotest.Answer{lrotest.Unavailable(0)}})
		if got := h0.w.Handle(context.Background(), h0.delivery("m", "operations/x", nil)); got != RetryExhausted {
			t.Fatalf("outcome = %s", got)
		}
		if st := h0.fake.Op("operations/x"); st.Cancels != 1 {
			t.Errorf("cancels with a zero budget = %d, want 1", st.Cancels)
		}
	})
}

func TestPollScheduleAndVerifyTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, DefaultConfig(), lrotest.Options{}, "")
		h.fake.Set("operations/v", lrotest.Script{DoneAfterPolls: lrotest.Never})
		start := time.Now()
		if got := h.w.Handle(context.Background(), h.delivery("m", "operations/v", nil)); got != Unverified {
			t.Fatalf("outcome = %s", got)
		}
		if d := time.Since(start); d != 5*time.Minute {
			t.Errorf("unverified after %v, want the 5m verify timeout", d)
		}
		at := requestTimes(h, "operations/v", "get", start)
		// 1s, doubling, capped at 30s, each ±20 %; the last poll at the deadline.
		interval := time.Second
		prev := time.Duration(0)
		for i, a := range at {
			gap := a - prev
			last := i == len(at)-1
			lo, hi := time.Duration(float64(interval)*0.8), time.Duration(float64(interval)*1.2)
			if !last && (gap < lo || gap > hi) {
				t.Errorf("poll %d after %v, want within [%v, %v]", i+1, gap, lo, hi)
			}
			if last && (a != 5*time.Minute || gap > hi) {
				t.Errorf("last poll at %v (gap %v), want at 5m", a, gap)
			}
			prev = a
			interval = min(2*interval, 30*time.Second)
		}
		if len(at) < 12 || len(at) > 16 {
			t.Errorf("%d polls in 5m, want 12 to 16", len(at))
		}
		e, _ := h.outcomeLog("m")
		if p := e.ContextMap()["polls"]; p != int64(len(at)) {
			t.Errorf("logged polls = %v, want %d", p, len(at))
		}
	})
}

func TestPerServiceVerifyTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, DefaultConfig(), lrotest.Options{}, lrotest.ServicesYAML(fakeEndpoints, map[string]string{amapi: "verifyTimeout: 20s"}))
		h.fake.Set(dev+"v", lrotest.Script{DoneAfterPolls: lrotest.Never})
		start := time.Now()
		if got := h.w.Handle(context.Background(), h.delivery("m", dev+"v", nil)); got != Unverified {
			t.Fatalf("outcome = %s", got)
		}
		if d := time.Since(start); d != 20*time.Second {
			t.Errorf("unverified after %v, want the service's 20s", d)
		}
	})
}

func TestVerificationSurvivesTransientPolls(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, DefaultConfig(), lrotest.Options{}, "")
		h.fake.Set("operations/t", lrotest.Script{Get: []lrotest.Answer{lrotest.Unavailable(20 * time.Second), {Reset: true}}})
		start := time.Now()
		if got := h.w.Handle(context.Background(), h.delivery("m", "operations/t", nil)); got != Cancelled {
			t.Fatalf("outcome = %s", got)
		}
		at := requestTimes(h, "operations/t", "get", start)
		if len(at) != 3 || at[1]-at[0] < 20*time.Second {
			t.Errorf("polls at %v: want 3, the second one at least 20s (RetryInfo) after the first", at)
		}
		// A poll answered NOT_FOUND ends verification at once.
		h.fake.Set("operations/gone", lrotest.Script{Get: []lrotest.Answer{lrotest.Err(lro.NotFound, "gone")}})
		if got := h.w.Handle(context.Background(), h.delivery("m2", "operations/gone", nil)); got != Unverified {
			t.Errorf("outcome = %s, want unverified", got)
		}
		if e, _ := h.outcomeLog("m2"); e.ContextMap()["code"] != "NOT_FOUND" || e.ContextMap()["polls"] != int64(1) {
			t.Errorf("log = %v", e.ContextMap())
		}
	})
}

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
			t.Errorf("peak requests in flight = %d, want exactly --concurrency 4", peak)
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

func TestMaxOutstandingBound(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.MaxOutstanding = 5
		h := newHarness(t, cfg, lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{DoneAfterPolls: 5} }}, "")
		var wg sync.WaitGroup
		var mu sync.Mutex
		peak := 0.0
		for i := range 30 {
			wg.Go(func() {
				h.w.Handle(context.Background(), h.delivery(fmt.Sprint(i), fmt.Sprintf("operations/o%d", i), nil))
			})
		}
		for range 200 {
			time.Sleep(time.Second)
			mu.Lock()
			peak = max(peak, testutilCounter(h.m.JobsInFlight))
			mu.Unlock()
		}
		wg.Wait()
		if peak != 5 {
			t.Errorf("peak jobs held = %v, want --max-outstanding 5", peak)
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

func TestRunShutdown(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.ShutdownTimeout = 10 * time.Second
		h := newHarness(t, cfg, lrotest.Options{}, "")
		h.fake.Set("operations/quick", lrotest.Script{DoneAfterPolls: 2}) // done at about 7s
		h.fake.Set("operations/never", lrotest.Script{DoneAfterPolls: lrotest.Never})
		src := &memSource{deliveries: []Delivery{
			h.delivery("quick", "operations/quick", nil),
			h.delivery("never", "operations/never", nil),
		}}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error)
		go func() { errc <- h.w.Run(ctx, src) }()
		time.Sleep(time.Second)
		cancel()
		stop := time.Now()
		if err := <-errc; err != nil {
			t.Fatalf("Run = %v", err)
		}
		if d := time.Since(stop); d != 10*time.Second {
			t.Errorf("Run returned %v after shutdown began, want the 10s shutdown timeout", d)
		}
		if got := h.settled.get("quick"); len(got) != 1 || got[0] != "ack" {
			t.Errorf("quick = %v, want it to finish (ack) during the drain", got)
		}
		if got := h.settled.get("never"); len(got) != 1 || got[0] != "nack" {
			t.Errorf("never = %v, want nack (interrupted)", got)
		}
		if h.jobs(vault, Interrupted) != 1 || h.jobs(vault, Cancelled) != 1 {
			t.Errorf("interrupted %v, cancelled %v", h.jobs(vault, Interrupted), h.jobs(vault, Cancelled))
		}
	})
}
