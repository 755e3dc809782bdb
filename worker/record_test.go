package worker

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"opcancel/lro"
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
		want := Event{
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
		if n := testutil.ToFloat64(h.m.ResultPublishFailures); n != 1 {
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
	n := testutil.CollectAndCount(h.m.Jobs)
	if want := 2*len(Outcomes()) + 1; n != want {
		t.Errorf("opcancel_jobs_total has %d series at start-up, want %d (every outcome × service, and unknown/invalid)", n, want)
	}
}

// TestInvalidFieldsNeverReachEventsOrLogs: a message rejected for one of its
// fields (a batch over its limit, an attribute that is not UTF-8) ends
// invalid, and that field reaches neither the result event, nor its
// attributes, nor the log line; the fields that passed their checks do.
// Pub/Sub refuses an attribute value over 1024 bytes, failing the whole
// publish request with every event bundled in it.
func TestInvalidFieldsNeverReachEventsOrLogs(t *testing.T) {
	t.Parallel()
	longBatch := strings.Repeat("b", 2000)
	tests := []struct {
		name       string
		data       string
		attrs      map[string]string
		wantBatch  string
		wantReason string
	}{
		{"batch attribute over its limit", "operations/a", map[string]string{"batch": longBatch, "reason": "incident 4711"}, "", "incident 4711"},
		{"batch field over its limit", `{"name":"operations/a","batch":"` + longBatch + `","reason":"incident 4711"}`, nil, "", "incident 4711"},
		{"reason over its limit", "operations/a", map[string]string{"batch": "b1", "reason": strings.Repeat("r", 300)}, "b1", ""},
		{"batch not UTF-8", "operations/a", map[string]string{"batch": "b\xff", "reason": "incident 4711"}, "", "incident 4711"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, DefaultConfig(), lrotest.Options{}, "")
			if got := h.w.Handle(context.Background(), h.delivery("m", tt.data, tt.attrs)); got != Invalid {
				t.Fatalf("outcome = %s, want invalid", got)
			}
			ev, attrs, ok := h.sink.byID("m")
			if !ok {
				t.Fatal("no result event")
			}
			if ev.Batch != tt.wantBatch || ev.Reason != tt.wantReason {
				t.Errorf("event batch %q, reason %q; want %q, %q", clipForTest(ev.Batch), clipForTest(ev.Reason), tt.wantBatch, tt.wantReason)
			}
			wantAttrs := map[string]string{"outcome": "invalid", "service": "unknown"}
			if tt.wantBatch != "" {
				wantAttrs["batch"] = tt.wantBatch
			}
			if diff := cmp.Diff(wantAttrs, attrs); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
			e, _ := h.outcomeLog("m")
			if f := e.ContextMap(); f["batch"] != tt.wantBatch || f["reason"] != tt.wantReason {
				t.Errorf("logged batch %q, reason %q; want %q, %q", clipForTest(toString(f["batch"])), clipForTest(toString(f["reason"])), tt.wantBatch, tt.wantReason)
			}
		})
	}
}

func clipForTest(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}

// TestLongTextIsCut: an API error message of any length (bodies are read up
// to 1 MiB) and a long invalid name reach the log line and the result event
// cut to a few KiB, at a character boundary, and visibly marked as cut.
// Cloud Logging drops entries over 256 KB.
func TestLongTextIsCut(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, DefaultConfig(), lrotest.Options{}, "")
		h.fake.Set("operations/big", lrotest.Script{Cancel: []lrotest.Answer{lrotest.Err(lro.PermissionDenied, strings.Repeat("é", 100_000))}})
		h.w.Handle(context.Background(), h.delivery("api", "operations/big", nil))
		h.w.Handle(context.Background(), h.delivery("name", "operations/"+strings.Repeat("ü", 2000), nil))
		// Quoted in the invalid message's detail, each control byte takes four.
		h.w.Handle(context.Background(), h.delivery("quoted", "//"+strings.Repeat("\x01", 3000), nil))

		for _, tt := range []struct {
			id, field string
			max       int
		}{{"api", "detail", maxDetailBytes}, {"quoted", "detail", maxDetailBytes}, {"name", "name", maxLoggedName}} {
			e, _ := h.outcomeLog(tt.id)
			logged := toString(e.ContextMap()[tt.field])
			ev, _, _ := h.sink.byID(tt.id)
			inEvent := ev.Message
			if tt.field == "name" {
				inEvent = ev.Name
			}
			for where, s := range map[string]string{"log " + tt.field: logged, "event": inEvent} {
				if len(s) > tt.max+len("…[cut: 1048576 bytes in all]") || !utf8.ValidString(s) || !strings.Contains(s, "…[cut: ") {
					t.Errorf("%s of %s: %d bytes, valid UTF-8 %v, ends %q; want at most %d bytes and a cut mark",
						where, tt.id, len(s), utf8.ValidString(s), s[max(0, len(s)-40):], tt.max)
				}
			}
		}
	})
}
