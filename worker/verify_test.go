package worker

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

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

// An API without operations.get for a name: an accepted cancel ends
// unverified at once, and FAILED_PRECONDITION not_cancellable, without a get.
func TestUnreadableOperations(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, DefaultConfig(), lrotest.Options{}, "services:\n  - host: firebasehosting.googleapis.com\n    endpoint: https://hosting.fake\n")
		const accepted, refused = "projects/p/sites/s/customDomains/d/operations/a", "projects/p/sites/s/customDomains/d/operations/b"
		h.fake.Set(accepted, lrotest.Script{})
		h.fake.Set(refused, lrotest.Script{Cancel: []lrotest.Answer{lrotest.Err(lro.FailedPrecondition, "done already")}})
		host := "//firebasehosting.googleapis.com/"
		if got := h.w.Handle(context.Background(), h.delivery("a", host+accepted, nil)); got != Unverified {
			t.Errorf("accepted cancel: outcome %s, want unverified", got)
		}
		if got := h.w.Handle(context.Background(), h.delivery("b", host+refused, nil)); got != NotCancellable {
			t.Errorf("refused cancel: outcome %s, want not_cancellable", got)
		}
		e, _ := h.outcomeLog("a")
		if m := e.ContextMap()["detail"]; m != "the cancel was accepted, but firebasehosting.googleapis.com has no operations.get for this name: it cannot be verified" {
			t.Errorf("detail = %q", m)
		}
		for _, n := range []string{accepted, refused} {
			if st := h.fake.Op(n); st.Cancels != 1 || st.Gets != 0 {
				t.Errorf("%s: %+v, want one cancel and no get", n, st)
			}
		}
	})
}
