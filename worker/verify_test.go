package worker

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"opcancel/lro"
	"opcancel/lro/lrotest"

	"github.com/google/go-cmp/cmp"
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

// TestVerificationWithoutAGoogleAnswerAcksNothing: a verification in which
// no answer was Google's (a proxy's page on every poll, then a reset or a
// timeout on the last; or no answer at all) has not seen the operation:
// it ends retry_exhausted and is nacked, never acked unverified. One
// answer of Google's, an operation still running, makes it unverified.
func TestVerificationWithoutAGoogleAnswerAcksNothing(t *testing.T) {
	t.Parallel()
	page := lrotest.NotGoogle()["200 block page of a proxy"]
	tests := []struct {
		name string
		// last answers the poll at the verify timeout; first, when set, the
		// first poll; a proxy's page answers the others.
		first, last *lrotest.Answer
		want        Outcome
		settled     string
	}{
		{"pages, then a reset", nil, &lrotest.Answer{Reset: true}, RetryExhausted, "nack"},
		{"pages, then a timeout", nil, &lrotest.Answer{Hang: true}, RetryExhausted, "nack"},
		{"resets only", &lrotest.Answer{Reset: true}, &lrotest.Answer{Reset: true}, RetryExhausted, "nack"},
		{"running, pages, then a reset", &lrotest.Answer{Body: []byte(`{"name":"operations/x","done":false}`)}, &lrotest.Answer{Reset: true}, Unverified, "ack"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				cfg := DefaultConfig()
				cfg.VerifyTimeout = time.Minute
				var deadline time.Time
				gets := 0
				h := newHarness(t, cfg, lrotest.Options{Fault: func(r *http.Request) *lrotest.Answer {
					if r.Method == http.MethodPost {
						deadline = time.Now().Add(cfg.VerifyTimeout)
						return nil
					}
					gets++
					switch {
					case !time.Now().Before(deadline):
						return tt.last
					case gets == 1 && tt.first != nil:
						return tt.first
					case tt.first != nil && tt.first.Reset:
						return tt.first
					}
					return &page
				}}, "")
				h.fake.Set("operations/x", lrotest.Script{DoneAfterPolls: lrotest.Never})
				got := h.w.Handle(context.Background(), h.delivery("m", "operations/x", nil))
				e, _ := h.outcomeLog("m")
				if got != tt.want {
					t.Errorf("outcome %s (%v), want %s", got, e.ContextMap()["detail"], tt.want)
				}
				if diff := cmp.Diff([]string{tt.settled}, h.settled.get("m")); diff != "" {
					t.Errorf("settlement (-want +got):\n%s", diff)
				}
			})
		})
	}
}
