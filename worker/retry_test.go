package worker

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

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
		if got := testutil.ToFloat64(h.m.Retries.WithLabelValues(vault, "RESOURCE_EXHAUSTED")); got != 2 {
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
		// Attempts at 0, 50s, 100s; the server asks for a fourth no sooner
		// than 150s, past the budget: the delivery waits until the budget's
		// end and is nacked then, so that it does not come back sooner than
		// the server asked.
		if d := time.Since(start); d != 120*time.Second {
			t.Errorf("gave up after %v, want the budget's end, 120s", d)
		}
		if n := len(h.fake.RequestsFor("operations/x")); n != 3 {
			t.Errorf("%d cancels, want 3", n)
		}
		if got := testutil.ToFloat64(h.m.Retries.WithLabelValues(vault, "UNAVAILABLE")); got != 2 {
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

// TestQuotaIn403IsRetriedAndSlowsDown: Google APIs answer a quota error
// as a 403: the older APIs with errors[].reason userRateLimitExceeded,
// today's Workspace APIs with that and a google.rpc.ErrorInfo reason
// RATE_LIMIT_EXCEEDED, others with an ErrorInfo RESOURCE_QUOTA_EXCEEDED.
// Each is a quota, not a refusal: retried (not acked as denied), counted
// and throttled as RESOURCE_EXHAUSTED, and its reason is in the log's
// detail and the event.
func TestQuotaIn403IsRetriedAndSlowsDown(t *testing.T) {
	t.Parallel()
	errorInfo := func(reason string) string {
		return `{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"` + reason + `","domain":"googleapis.com","metadata":{"service":"vault.googleapis.com","quota_limit":"DefaultPerMinutePerUser"}}`
	}
	legacy := `{"message":"User Rate Limit Exceeded","domain":"usageLimits","reason":"userRateLimitExceeded"}`
	forms := []struct {
		name, errors, details, reason string
	}{
		{"legacy errors[]", legacy, "", "userRateLimitExceeded"},
		{"today's Workspace form", legacy, errorInfo("RATE_LIMIT_EXCEEDED"), "RATE_LIMIT_EXCEEDED"},
		{"ErrorInfo RESOURCE_QUOTA_EXCEEDED", "", errorInfo("RESOURCE_QUOTA_EXCEEDED"), "RESOURCE_QUOTA_EXCEEDED"},
	}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				quota := lrotest.Answer{Status: 403, Body: []byte(`{"error":{"code":403,"message":"Quota exceeded for quota metric 'Queries'.","status":"PERMISSION_DENIED",` +
					`"errors":[` + f.errors + `],"details":[` + f.details + `]}}`)}
				h := newHarness(t, DefaultConfig(), lrotest.Options{}, "")
				const n = 5
				var wg sync.WaitGroup
				for i := range n {
					h.fake.Set(fmt.Sprintf("operations/q%d", i), lrotest.Script{Cancel: []lrotest.Answer{quota, {}}})
					wg.Go(func() {
						h.w.Handle(context.Background(), h.delivery(fmt.Sprint(i), fmt.Sprintf("operations/q%d", i), nil))
					})
				}
				synctest.Wait() // every first cancel has been answered
				if got := testutil.ToFloat64(h.m.ThrottleAllowedRate.WithLabelValues(vault, vaultAt)); math.IsInf(got, 1) {
					t.Errorf("allowed rate after %d quota answers = %v, want the throttle to hold it down", n, got)
				}
				wg.Wait()
				if got := h.jobs(vault, Cancelled); got != n {
					t.Errorf("cancelled = %v, want %d (denied: %v)", got, n, h.jobs(vault, Denied))
				}
				if got := testutil.ToFloat64(h.m.Retries.WithLabelValues(vault, "RESOURCE_EXHAUSTED")); got != n {
					t.Errorf("retries{RESOURCE_EXHAUSTED} = %v, want %d", got, n)
				}

				// When the quota outlasts the budget, the reason is in the detail and the event.
				cfg := DefaultConfig()
				cfg.RetryBudget = 0
				h0 := newHarness(t, cfg, lrotest.Options{}, "")
				h0.fake.Set("operations/q", lrotest.Script{Cancel: []lrotest.Answer{quota}})
				if got := h0.w.Handle(context.Background(), h0.delivery("m", "operations/q", nil)); got != RetryExhausted {
					t.Fatalf("outcome = %s, want retry_exhausted", got)
				}
				e, _ := h0.outcomeLog("m")
				if d := toString(e.ContextMap()["detail"]); e.ContextMap()["code"] != "RESOURCE_EXHAUSTED" || !strings.Contains(d, "reason "+f.reason) {
					t.Errorf("log code %v, detail %q; want RESOURCE_EXHAUSTED and the reason %s", e.ContextMap()["code"], d, f.reason)
				}
			})
		})
	}
}

// TestWaitingInLineSpendsNoRetryBudget: in a paced backlog (400 jobs at 5
// requests/s, a line of over a minute), a quarter of the jobs get a 503
// twice before their cancel is accepted, with a 30 s budget. Waiting in
// line for the pace is not retrying: every job is cancelled, none ends
// retry_exhausted after one attempt for having waited ("attempts 1,
// durationSeconds 120").
func TestWaitingInLineSpendsNoRetryBudget(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.RetryBudget = 30 * time.Second
		h := newHarness(t, cfg, lrotest.Options{DontRecord: true}, lrotest.ServicesYAML(fakeEndpoints, map[string]string{vault: "rate: 5"}))
		const n = 400
		var wg sync.WaitGroup
		for i := range n {
			name := fmt.Sprintf("operations/o%d", i)
			script := lrotest.Script{}
			if i%4 == 0 {
				script.Cancel = []lrotest.Answer{lrotest.Unavailable(time.Second), lrotest.Unavailable(time.Second), {}}
			}
			h.fake.Set(name, script)
			wg.Go(func() { h.w.Handle(context.Background(), h.delivery(fmt.Sprint(i), name, nil)) })
			// In the order of i: goroutines started at once join the line
			// in any order, and a run of failing jobs at its head is an API
			// that fails most requests, whose wait rightly counts
			// (docs/design.md#retries).
			synctest.Wait()
		}
		wg.Wait()
		if got := h.jobs(vault, RetryExhausted); got != 0 {
			e, _ := h.outcomeLog(firstWith(h, RetryExhausted))
			t.Errorf("retry_exhausted = %v, want 0; for example: %v", got, e.ContextMap())
		}
		if got := h.jobs(vault, Cancelled); got != n {
			t.Errorf("cancelled = %v, want %d", got, n)
		}
		// The retried jobs waited far longer than the budget in all.
		e, _ := h.outcomeLog(fmt.Sprint(n - 4))
		if d, _ := e.ContextMap()["durationSeconds"].(float64); e.ContextMap()["attempts"] != int64(3) || d < 60 {
			t.Errorf("the last retried job: attempts %v over %vs, want 3 over more than a minute in line", e.ContextMap()["attempts"], d)
		}
	})
}

// firstWith returns the message ID of the first outcome log line of o.
func firstWith(h *harness, o Outcome) string {
	for _, e := range h.logs.All() {
		if e.ContextMap()["outcome"] == string(o) {
			return toString(e.ContextMap()["messageId"])
		}
	}
	return ""
}
