package worker

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"opcancel/lro/lrotest"
)

func TestCancelledEventAndLogCarryEverything(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, DefaultConfig(), lrotest.Options{}, "")
		h.fake.Set("operations/abc", lrotest.Script{DoneAfterPolls: 2})
		start := time.Now()
		d := h.delivery("123", "operations/abc", map[string]string{"service": vault, "reason": "incident 4711", "batch": "b1"})
		d.DeliveryAttempt = 1
		h.w.Handle(context.Background(), d)
		ev, attrs, ok := h.sink.byID("123")
		if !ok {
			t.Fatal("no event")
		}
		want := event{
			Name: "operations/abc", Service: vault, Outcome: Cancelled, Code: "OK", Message: "Operation was cancelled.",
			Attempts: 1, Polls: 3, Batch: "b1", Reason: "incident 4711", MessageID: "123", DeliveryAttempt: 1,
			ReceivedAt: start.UTC(), FinishedAt: time.Now().UTC(),
		}
		if diff := cmp.Diff(want, ev); diff != "" {
			t.Errorf("event (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]string{"outcome": "cancelled", "service": vault, "batch": "b1"}, attrs); diff != "" {
			t.Errorf("attributes (-want +got):\n%s", diff)
		}
		e, _ := h.outcomeLog("123")
		f := e.ContextMap()
		if f["attempts"] != int64(1) || f["polls"] != int64(3) || f["batch"] != "b1" || f["reason"] != "incident 4711" {
			t.Errorf("log fields = %v", f)
		}
		if e.Message != "operation cancelled" {
			t.Errorf("log message = %q", e.Message)
		}
	})
}

func TestSecretsNeverLeave(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, DefaultConfig(), lrotest.Options{}, "")
		const secret = "reset-password-hunter2"
		h.fake.Set(dev+"wipe", lrotest.Script{Final: lrotest.Completed,
			Metadata: []byte(`{"@type":"type.googleapis.com/x","password":"` + secret + `"}`),
			Response: []byte(`{"@type":"type.googleapis.com/y","password":"` + secret + `"}`)})
		h.w.Handle(context.Background(), h.delivery("m", dev+"wipe", nil))
		for _, e := range h.logs.All() {
			if strings.Contains(e.Message, secret) || strings.Contains(fmtFields(e.ContextMap()), secret) {
				t.Errorf("secret in log line %v", e.ContextMap())
			}
		}
		h.sink.mu.Lock()
		defer h.sink.mu.Unlock()
		for _, ev := range h.sink.events {
			if strings.Contains(ev.Message, secret) || strings.Contains(ev.Name, secret) {
				t.Errorf("secret in event %+v", ev)
			}
		}
	})
}

func fmtFields(m map[string]any) string {
	var b strings.Builder
	for k, v := range m {
		b.WriteString(k)
		b.WriteString("=")
		b.WriteString(strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(toString(v), "\n", " "), "\t", " ")))
		b.WriteString(" ")
	}
	return b.String()
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

func TestPublishFailureNacks(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, DefaultConfig(), lrotest.Options{}, "")
		h.sink.fail = true
		h.fake.Set("operations/p", lrotest.Script{})
		if got := h.w.Handle(context.Background(), h.delivery("m", "operations/p", nil)); got != Cancelled {
			t.Fatalf("outcome = %s", got)
		}
		if diff := cmp.Diff([]string{"nack"}, h.settled.get("m")); diff != "" {
			t.Errorf("settlement (-want +got):\n%s", diff)
		}
		if n := testutilCounter(h.m.ResultPublishFailures); n != 1 {
			t.Errorf("opcancel_result_publish_failures_total = %v, want 1", n)
		}
	})
}

func TestZeroSeriesFromStartUp(t *testing.T) {
	t.Parallel()
	h := newHarness(t, DefaultConfig(), lrotest.Options{}, "")
	for _, s := range []string{vault, amapi} {
		for _, o := range Outcomes() {
			if _, err := h.m.Jobs.GetMetricWithLabelValues(s, string(o)); err != nil {
				t.Fatal(err)
			}
		}
	}
	n := testutilCollect(h.m.Jobs)
	if want := 2*len(Outcomes()) + 1; n != want {
		t.Errorf("opcancel_jobs_total has %d series at start-up, want %d (every outcome × service, and unknown/invalid)", n, want)
	}
}
