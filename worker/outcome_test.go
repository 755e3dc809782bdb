package worker

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zapcore"

	"opcancel/lro"
	"opcancel/lro/lrotest"
	"opcancel/request"
)

const (
	vault = "vault.googleapis.com"
	amapi = "androidmanagement.googleapis.com"
	dev   = "enterprises/e1/devices/d1/operations/"
)

// TestEveryOutcome drives one delivery per outcome of
// docs/contract.md#outcomes through the pipeline against the fake API and
// checks what a user sees: the outcome, ack or nack, the counter, the log
// line and the exact requests sent.
func TestEveryOutcome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		data     string
		attrs    map[string]string
		script   *lrotest.Script // nil: the operation does not exist
		service  string          // the metrics label
		want     Outcome
		code     string
		settle   string
		requests []string // "POST path" / "GET path"; for unverified, the GETs are checked separately
		level    zapcore.Level
	}{
		{
			name: "cancelled", data: `{"name":"operations/c1","reason":"incident 4711","batch":"b1"}`,
			script: &lrotest.Script{}, service: vault, want: Cancelled, code: "OK", settle: "ack",
			requests: []string{"POST /v1/operations/c1:cancel", "GET /v1/operations/c1"},
		},
		{
			name: "completed", data: "//" + amapi + "/" + dev + "c2",
			script: &lrotest.Script{Final: lrotest.Completed, DoneAfterPolls: 1}, service: amapi, want: Completed, code: "OK", settle: "ack",
			requests: []string{"POST /v1/" + dev + "c2:cancel", "GET /v1/" + dev + "c2", "GET /v1/" + dev + "c2"},
		},
		{
			name: "failed", data: "operations/c3\n",
			script: &lrotest.Script{Final: lrotest.Failed}, service: vault, want: Failed, code: "OK", settle: "ack",
			requests: []string{"POST /v1/operations/c3:cancel", "GET /v1/operations/c3"},
		},
		{
			name: "done_no_result", data: dev + "c4", attrs: map[string]string{"service": amapi},
			script: &lrotest.Script{Final: lrotest.NoResult}, service: amapi, want: DoneNoResult, code: "OK", settle: "ack",
			requests: []string{"POST /v1/" + dev + "c4:cancel", "GET /v1/" + dev + "c4"},
		},
		{
			name: "unverified", data: "operations/c5",
			script: &lrotest.Script{DoneAfterPolls: lrotest.Never}, service: vault, want: Unverified, code: "OK", settle: "ack",
			requests: []string{"POST /v1/operations/c5:cancel"},
		},
		{
			name: "not_cancellable", data: "operations/c6",
			script:  &lrotest.Script{Cancel: []lrotest.Answer{lrotest.Err(lro.FailedPrecondition, "Operation cannot be cancelled.")}, DoneAfterPolls: lrotest.Never},
			service: vault, want: NotCancellable, code: "FAILED_PRECONDITION", settle: "ack",
			requests: []string{"POST /v1/operations/c6:cancel", "GET /v1/operations/c6"},
		},
		{
			name: "failed_precondition on a done operation gives its final state", data: "operations/c7",
			script:  &lrotest.Script{AlreadyDone: true, Final: lrotest.Completed},
			service: vault, want: Completed, code: "OK", settle: "ack",
			requests: []string{"POST /v1/operations/c7:cancel", "GET /v1/operations/c7"},
		},
		{
			// The cancel reached Google (FAILED_PRECONDITION is its answer); a
			// get it does not serve cannot tell the operation's state, and the
			// cancel was refused.
			name: "failed_precondition, then a get answered UNIMPLEMENTED", data: "operations/c7u",
			script: &lrotest.Script{Cancel: []lrotest.Answer{lrotest.Err(lro.FailedPrecondition, "Operation cannot be cancelled.")},
				Get: []lrotest.Answer{lrotest.Err(lro.Unimplemented, "Method not implemented.")}},
			service: vault, want: NotCancellable, code: "UNIMPLEMENTED", settle: "ack",
			requests: []string{"POST /v1/operations/c7u:cancel", "GET /v1/operations/c7u"},
		},
		{
			// A get answered by something that is not Google's says nothing:
			// it is retried, and Google's answer to the next decides.
			name: "failed_precondition, then a get answered by a 404 that is not Google's", data: "operations/c7n",
			script: &lrotest.Script{Cancel: []lrotest.Answer{lrotest.Err(lro.FailedPrecondition, "Operation cannot be cancelled.")},
				Get: []lrotest.Answer{{Status: 404, Body: []byte("404 page not found"), ContentType: "text/plain"}}, DoneAfterPolls: lrotest.Never},
			service: vault, want: NotCancellable, code: "FAILED_PRECONDITION", settle: "ack",
			requests: []string{"POST /v1/operations/c7n:cancel", "GET /v1/operations/c7n", "GET /v1/operations/c7n"},
		},
		{
			name: "unimplemented", data: "operations/c8",
			script:  &lrotest.Script{Cancel: []lrotest.Answer{lrotest.Err(lro.Unimplemented, "Method not implemented.")}},
			service: vault, want: Unimplemented, code: "UNIMPLEMENTED", settle: "ack",
			requests: []string{"POST /v1/operations/c8:cancel"},
		},
		{
			name: "unimplemented from an HTML 404", data: "operations/c9",
			script:  &lrotest.Script{Cancel: []lrotest.Answer{lrotest.HTML404()}},
			service: vault, want: Unimplemented, code: "UNIMPLEMENTED", settle: "ack",
			requests: []string{"POST /v1/operations/c9:cancel"},
		},
		{
			name: "not_found", data: "operations/missing",
			service: vault, want: NotFound, code: "NOT_FOUND", settle: "ack",
			requests: []string{"POST /v1/operations/missing:cancel"},
		},
		{
			name: "denied", data: "operations/c10",
			script:  &lrotest.Script{Cancel: []lrotest.Answer{lrotest.Err(lro.PermissionDenied, "The caller does not have permission.")}},
			service: vault, want: Denied, code: "PERMISSION_DENIED", settle: "ack", level: zapcore.WarnLevel,
			requests: []string{"POST /v1/operations/c10:cancel"},
		},
		{
			name: "rejected", data: "operations/c11",
			script:  &lrotest.Script{Cancel: []lrotest.Answer{lrotest.Err(lro.InvalidArgument, "Bad name.")}},
			service: vault, want: Rejected, code: "INVALID_ARGUMENT", settle: "ack", level: zapcore.WarnLevel,
			requests: []string{"POST /v1/operations/c11:cancel"},
		},
		{
			name: "invalid", data: "operations/../admin",
			service: "unknown", want: Invalid, code: "INVALID_ARGUMENT", settle: "ack", level: zapcore.WarnLevel,
		},
		{
			name: "invalid for a configured service", data: `{"name":"operations/x","service":"` + amapi + `"}`,
			service: amapi, want: Invalid, code: "INVALID_ARGUMENT", settle: "ack", level: zapcore.WarnLevel,
		},
		{
			// The attribute a subscription filters on names one service,
			// the data another: nothing is sent to either.
			name: "invalid: the service attribute and field disagree", data: `{"name":"operations/c15","service":"` + vault + `"}`,
			attrs: map[string]string{"service": amapi}, script: &lrotest.Script{},
			service: "unknown", want: Invalid, code: "INVALID_ARGUMENT", settle: "ack", level: zapcore.WarnLevel,
		},
		{
			name: "forbidden", data: "//" + amapi + "/enterprises/e2/devices/d1/operations/c16", script: &lrotest.Script{},
			service: amapi, want: Forbidden, code: "PERMISSION_DENIED", settle: "ack", level: zapcore.WarnLevel,
		},
		{
			name: "retry_exhausted", data: "operations/c12",
			script:  &lrotest.Script{Cancel: []lrotest.Answer{lrotest.Unavailable(50 * time.Second)}},
			service: vault, want: RetryExhausted, code: "UNAVAILABLE", settle: "nack", level: zapcore.WarnLevel,
			// RetryInfo 50s within a 2m budget: attempts at 0s, 50s, 100s.
			requests: []string{"POST /v1/operations/c12:cancel", "POST /v1/operations/c12:cancel", "POST /v1/operations/c12:cancel"},
		},
		{
			// CANCELLED (HTTP 499) says the request was aborted, not that the
			// cancel was refused.
			name: "an aborted request is retried", data: "operations/c14",
			script:  &lrotest.Script{Cancel: []lrotest.Answer{lrotest.Err(lro.Cancelled, "The operation was cancelled."), {}}},
			service: vault, want: Cancelled, code: "OK", settle: "ack",
			requests: []string{"POST /v1/operations/c14:cancel", "POST /v1/operations/c14:cancel", "GET /v1/operations/c14"},
		},
		{
			name: "credentials failing are retried then nacked", data: "operations/c13",
			script:  &lrotest.Script{Cancel: []lrotest.Answer{lrotest.Err(lro.Unauthenticated, "Request had invalid authentication credentials.")}},
			service: vault, want: RetryExhausted, code: "UNAUTHENTICATED", settle: "nack", level: zapcore.WarnLevel,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				// Android Management may cancel the operations of enterprise e1 only.
				h := newHarness(t, DefaultConfig(), lrotest.Options{}, lrotest.ServicesYAML(fakeEndpoints, map[string]string{amapi: `allow: ["enterprises/e1/**"]`}))
				name := opName(tt.data)
				if tt.script != nil {
					h.fake.Set(name, *tt.script)
				}
				got := h.w.Handle(context.Background(), h.delivery("m1", tt.data, tt.attrs))
				if got != tt.want {
					e, _ := h.outcomeLog("m1")
					t.Fatalf("outcome = %s, want %s (log %v)", got, tt.want, e.ContextMap())
				}
				if diff := cmp.Diff([]string{tt.settle}, h.settled.get("m1")); diff != "" {
					t.Errorf("settlement (-want +got):\n%s", diff)
				}
				if n := h.jobs(tt.service, tt.want); n != 1 {
					t.Errorf("opcancel_jobs_total{service=%q,outcome=%q} = %v, want 1", tt.service, tt.want, n)
				}
				if n := h.durations(tt.service, tt.want); n != 1 {
					t.Errorf("opcancel_job_duration_seconds_count{service=%q,outcome=%q} = %v, want 1", tt.service, tt.want, n)
				}
				var sent []string
				for _, r := range h.fake.Requests() {
					if tt.want == Unverified && r.Method == "GET" {
						continue
					}
					sent = append(sent, r.Method+" "+r.Path)
				}
				if tt.requests != nil || tt.want == Invalid || tt.want == Forbidden {
					if diff := cmp.Diff(tt.requests, sent); diff != "" {
						t.Errorf("requests (-want +got):\n%s", diff)
					}
				}
				e, ok := h.outcomeLog("m1")
				if !ok {
					t.Fatal("no outcome log line")
				}
				if e.Level != tt.level {
					t.Errorf("log level = %v, want %v", e.Level, tt.level)
				}
				f := e.ContextMap()
				for _, key := range []string{"service", "name", "outcome", "code", "attempts", "polls", "messageId", "batch", "reason", "durationSeconds"} {
					if _, ok := f[key]; !ok {
						t.Errorf("log line lacks %q: %v", key, f)
					}
				}
				if f["outcome"] != string(tt.want) || f["code"] != tt.code || f["service"] != tt.service || f["messageId"] != "m1" {
					t.Errorf("log fields = %v, want outcome %s, code %s, service %s", f, tt.want, tt.code, tt.service)
				}
				if tt.want != Invalid && f["name"] != name {
					t.Errorf("logged name = %v, want %s", f["name"], name)
				}
				ev, attrs, published := h.sink.byID("m1")
				if published != tt.want.Acks() {
					t.Errorf("result event published = %v, want %v", published, tt.want.Acks())
				}
				if published {
					if ev.Outcome != tt.want || ev.Code != tt.code || ev.Service != tt.service || attrs["outcome"] != string(tt.want) || attrs["service"] != tt.service {
						t.Errorf("event = %+v, attrs %v", ev, attrs)
					}
				}
			})
		})
	}
}

// TestRefusalsSayWhy: a forbidden name's log line and event name the rule
// that refused it, and a message whose service attribute and field disagree
// says which two; neither sends anything, and neither is a duplicate of a
// later, good message for the same operation.
func TestRefusalsSayWhy(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, DefaultConfig(), lrotest.Options{}, lrotest.ServicesYAML(fakeEndpoints, map[string]string{vault: `allow: ["operations/team-a/**"]`}))
		h.fake.Set("operations/team-a/x", lrotest.Script{})
		for _, tt := range []struct {
			id, data string
			attrs    map[string]string
			want     Outcome
			detail   string
		}{
			{"forbidden", "operations/team-b/x", nil, Forbidden,
				`forbidden: name "operations/team-b/x" is outside the allow list of vault.googleapis.com in the services file [operations/team-a/**]`},
			{"disagree", `{"name":"operations/team-a/x","service":"` + vault + `"}`, map[string]string{"service": amapi}, Invalid,
				`undecodable message: the service attribute "androidmanagement.googleapis.com" and the JSON service field "vault.googleapis.com" disagree; name the service once, or the same everywhere`},
			{"allowed", "operations/team-a/x", map[string]string{"service": vault}, Cancelled, "Operation was cancelled."},
		} {
			if got := h.w.Handle(context.Background(), h.delivery(tt.id, tt.data, tt.attrs)); got != tt.want {
				t.Errorf("%s: outcome %s, want %s", tt.id, got, tt.want)
			}
			e, _ := h.outcomeLog(tt.id)
			ev, _, _ := h.sink.byID(tt.id)
			if got := toString(e.ContextMap()["detail"]); got != tt.detail || ev.Message != tt.detail {
				t.Errorf("%s: detail %q, event message %q; want %q", tt.id, got, ev.Message, tt.detail)
			}
		}
		var sent []string
		for _, r := range h.fake.Requests() {
			sent = append(sent, r.Method+" "+r.Path)
		}
		if diff := cmp.Diff([]string{"POST /v1/operations/team-a/x:cancel", "GET /v1/operations/team-a/x"}, sent); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})
}

// opName extracts the operation name a test message carries.
func opName(data string) string {
	r, _ := request.Decode([]byte(data), nil)
	return r.Name
}

func TestDuplicateSendsNothing(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, DefaultConfig(), lrotest.Options{}, "")
		h.fake.Set("operations/dup", lrotest.Script{DoneAfterPolls: 3})
		done := make(chan Outcome)
		go func() { done <- h.w.Handle(context.Background(), h.delivery("first", "operations/dup", nil)) }()
		synctest.Wait() // the first is now waiting between polls
		// The same operation, in another form, while the first is in flight.
		got := h.w.Handle(context.Background(), h.delivery("second", "//"+vault+"/operations/dup", nil))
		if got != Duplicate {
			t.Errorf("second delivery = %s, want duplicate", got)
		}
		if first := <-done; first != Cancelled {
			t.Errorf("first delivery = %s, want cancelled", first)
		}
		if st := h.fake.Op("operations/dup"); st.Cancels != 1 {
			t.Errorf("cancels sent = %d, want 1", st.Cancels)
		}
		if diff := cmp.Diff([]string{"ack"}, h.settled.get("second")); diff != "" {
			t.Errorf("duplicate settlement (-want +got):\n%s", diff)
		}
		if h.jobs(vault, Duplicate) != 1 {
			t.Error("duplicate not counted")
		}
		// Once the first has finished, the same name is processed again.
		if got := h.w.Handle(context.Background(), h.delivery("third", "operations/dup", nil)); got != Cancelled {
			t.Errorf("third delivery = %s, want cancelled", got)
		}
	})
}

func TestInterruptedIsNacked(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, DefaultConfig(), lrotest.Options{}, "")
		h.fake.Set("operations/slow", lrotest.Script{DoneAfterPolls: lrotest.Never})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan Outcome)
		go func() { done <- h.w.Handle(ctx, h.delivery("m", "operations/slow", nil)) }()
		time.Sleep(10 * time.Second)
		cancel()
		if got := <-done; got != Interrupted {
			t.Errorf("outcome = %s, want interrupted", got)
		}
		if diff := cmp.Diff([]string{"nack"}, h.settled.get("m")); diff != "" {
			t.Errorf("settlement (-want +got):\n%s", diff)
		}
		if _, _, ok := h.sink.byID("m"); ok {
			t.Error("an event was published for a nacked delivery")
		}
		if h.jobs(vault, Interrupted) != 1 {
			t.Error("interrupted not counted")
		}
	})
}
