package worker

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

// TestMisdirected404sAreNackedAndReported: a wrong version (or endpoint, or
// an ingress) answers every cancel with a 404 that is not Google's. No
// message is acked as unimplemented: each is retried, then nacked; the
// answers are counted per service; and a warning naming the service, its
// endpoint and version is logged once a minute, not once a message.
func TestMisdirected404sAreNackedAndReported(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.RetryBudget = 90 * time.Second
		h := newHarness(t, cfg, lrotest.Options{Fault: func(r *http.Request) *lrotest.Answer {
			return &lrotest.Answer{Status: 404, Body: []byte("default backend - 404"), ContentType: "text/plain"}
		}}, lrotest.ServicesYAML(fakeEndpoints, map[string]string{vault: "version: v9\npatterns: [\"operations/**\"]"}))
		const n = 20
		var wg sync.WaitGroup
		for i := range n {
			h.fake.Set(fmt.Sprintf("operations/m%d", i), lrotest.Script{})
			wg.Go(func() {
				h.w.Handle(context.Background(), h.delivery(fmt.Sprint(i), fmt.Sprintf("operations/m%d", i), nil))
			})
		}
		wg.Wait()
		if got := h.jobs(vault, Unimplemented); got != 0 {
			t.Errorf("unimplemented = %v, want 0: a 404 that is not Google's acks nothing", got)
		}
		if got := h.jobs(vault, RetryExhausted); got != n {
			t.Errorf("retry_exhausted = %v, want %d", got, n)
		}
		for i := range n {
			if diff := cmp.Diff([]string{"nack"}, h.settled.get(fmt.Sprint(i))); diff != "" {
				t.Errorf("message %d settlement (-want +got):\n%s", i, diff)
			}
		}
		cancels := len(h.fake.Requests())
		if got := testutil.ToFloat64(h.m.MisdirectedRequests.WithLabelValues(vault)); got != float64(cancels) {
			t.Errorf("opcancel_api_misdirected_requests_total = %v, want %d (every cancel sent)", got, cancels)
		}
		if got := testutil.ToFloat64(h.m.MisdirectedRequests.WithLabelValues(amapi)); got != 0 {
			t.Errorf("misdirected for %s = %v, want 0", amapi, got)
		}
		warnings := h.logs.FilterMessageSnippet("not recognisably Google's").All()
		// 90 s of retries: a line at the first answer, and one a minute later.
		if len(warnings) != 2 {
			t.Fatalf("%d misdirection warnings in 90s of %d answers, want 2", len(warnings), cancels)
		}
		f := warnings[0].ContextMap()
		if f["service"] != vault || f["endpoint"] != "https://vault.fake" || f["version"] != "v9" {
			t.Errorf("warning fields = %v, want the service, its endpoint and its version", f)
		}
		if total := warnings[0].ContextMap()["answers"].(int64) + warnings[1].ContextMap()["answers"].(int64); total > int64(cancels) || warnings[1].ContextMap()["answers"].(int64) < 1 {
			t.Errorf("answers counted in the warnings: %v and %v, of %d", warnings[0].ContextMap()["answers"], warnings[1].ContextMap()["answers"], cancels)
		}
	})
}

// TestNotGoogleAnswersAckNothing: behind a service mesh, an egress or
// TLS-inspecting proxy, or a gateway, an answer that is not recognisably
// Google's says nothing about the operation, whatever its status: to the
// cancel, to the verification gets after an accepted cancel, or to the get
// after a FAILED_PRECONDITION. Every such job is retried, then nacked
// (retry_exhausted), never acked as denied, rejected, unverified or
// not_cancellable; the answers are counted as misdirected, and the warning
// names the HTTP status.
func TestNotGoogleAnswersAckNothing(t *testing.T) {
	t.Parallel()
	refused := lrotest.Err(lro.FailedPrecondition, "Operation cannot be cancelled.")
	type place struct {
		name string
		// method is the request the proxy answers.
		method string
		script lrotest.Script
	}
	cancel := place{"cancel", http.MethodPost, lrotest.Script{}}
	gets := []place{
		{"verification get", http.MethodGet, lrotest.Script{}},
		{"get after FAILED_PRECONDITION", http.MethodGet, lrotest.Script{Cancel: []lrotest.Answer{refused}}},
	}
	type answerAt struct {
		name   string
		answer lrotest.Answer
		place  place
	}
	var cases []answerAt
	for name, a := range lrotest.NotGoogle() {
		for _, p := range append([]place{cancel}, gets...) {
			cases = append(cases, answerAt{name, a, p})
		}
	}
	// JSON that is not the operation asked for, to a get.
	for name, a := range lrotest.NotTheOperation() {
		for _, p := range gets {
			cases = append(cases, answerAt{name, a, p})
		}
	}
	for _, c := range cases {
		a, p := c.answer, c.place
		t.Run(c.name+" to the "+p.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				cfg := DefaultConfig()
				cfg.RetryBudget = 20 * time.Second
				cfg.VerifyTimeout = time.Minute
				h := newHarness(t, cfg, lrotest.Options{Fault: func(r *http.Request) *lrotest.Answer {
					if r.Method == p.method {
						return &a
					}
					return nil
				}}, "")
				h.fake.Set("operations/x", p.script)
				got := h.w.Handle(context.Background(), h.delivery("m", "operations/x", nil))
				e, _ := h.outcomeLog("m")
				if got != RetryExhausted {
					t.Fatalf("outcome %s (%v), want retry_exhausted: an answer that is not Google's acks nothing", got, e.ContextMap()["detail"])
				}
				if diff := cmp.Diff([]string{"nack"}, h.settled.get("m")); diff != "" {
					t.Errorf("settlement (-want +got):\n%s", diff)
				}
				if got := testutil.ToFloat64(h.m.MisdirectedRequests.WithLabelValues(vault)); got < 1 {
					t.Errorf("opcancel_api_misdirected_requests_total = %v, want every such answer counted", got)
				}
				warnings := h.logs.FilterMessageSnippet("not recognisably Google's").All()
				if len(warnings) != 1 || warnings[0].ContextMap()["status"] != int64(a.Status) {
					t.Errorf("warnings %v, want one naming HTTP status %d", warnings, a.Status)
				}
			})
		})
	}
}
