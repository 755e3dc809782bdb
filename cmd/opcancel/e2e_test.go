package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"opcancel/lro"
	"opcancel/lro/lrotest"
	"opcancel/queue/queuetest"
	"opcancel/worker"
)

const (
	vaultHost = "vault.googleapis.com"
	amapiHost = "androidmanagement.googleapis.com"
	devOps    = "enterprises/e1/devices/d1/operations/"
)

// e2eOp is an operation of TestWorkerEndToEnd: the fake host that serves
// it, how it plays, the message that names it, and its outcome.
type e2eOp struct {
	host, name string
	script     *lrotest.Script
	msg        message
	want       worker.Outcome
}

// e2eOps are TestWorkerEndToEnd's operations: every outcome a running
// worker can reach, in the three forms of a message, on both services.
func e2eOps() []e2eOp {
	return []e2eOp{
		{vaultHost, "operations/cancel-json", &lrotest.Script{}, message{data: `{"name":"operations/cancel-json","reason":"incident 4711","batch":"b1"}`}, worker.Cancelled},
		{amapiHost, devOps + "cancel-full", &lrotest.Script{}, message{data: "//" + amapiHost + "/" + devOps + "cancel-full"}, worker.Cancelled},
		{amapiHost, devOps + "cancel-bare", &lrotest.Script{}, message{data: devOps + "cancel-bare", attrs: map[string]string{"service": amapiHost, "batch": "b2"}}, worker.Cancelled},
		{vaultHost, "operations/completed", &lrotest.Script{Final: lrotest.Completed}, message{data: "operations/completed"}, worker.Completed},
		{amapiHost, devOps + "failed", &lrotest.Script{Final: lrotest.Failed}, message{data: `{"name":"//` + amapiHost + "/" + devOps + `failed"}`}, worker.Failed},
		{vaultHost, "operations/no-result", &lrotest.Script{Final: lrotest.NoResult}, message{data: "//" + vaultHost + "/operations/no-result"}, worker.DoneNoResult},
		{vaultHost, "operations/unverified", &lrotest.Script{DoneAfterPolls: lrotest.Never}, message{data: "operations/unverified"}, worker.Unverified},
		{amapiHost, devOps + "precondition", &lrotest.Script{Cancel: []lrotest.Answer{lrotest.Err(lro.FailedPrecondition, "cannot cancel")}, DoneAfterPolls: lrotest.Never}, message{data: devOps + "precondition"}, worker.NotCancellable},
		{vaultHost, "operations/unimplemented", &lrotest.Script{Cancel: []lrotest.Answer{lrotest.HTML404()}}, message{data: "operations/unimplemented"}, worker.Unimplemented},
		{amapiHost, devOps + "missing", nil, message{data: devOps + "missing"}, worker.NotFound},
		{vaultHost, "operations/denied", &lrotest.Script{Cancel: []lrotest.Answer{lrotest.Err(lro.PermissionDenied, "no")}}, message{data: "operations/denied"}, worker.Denied},
		{amapiHost, devOps + "rejected", &lrotest.Script{Cancel: []lrotest.Answer{lrotest.Err(lro.OutOfRange, "no")}}, message{data: devOps + "rejected"}, worker.Rejected},
		{vaultHost, "operations/transient", &lrotest.Script{Cancel: []lrotest.Answer{lrotest.Unavailable(200 * time.Millisecond), lrotest.Exhausted(100*time.Millisecond, "1"), {}}}, message{data: "operations/transient"}, worker.Cancelled},
		{vaultHost, "operations/exhausted", &lrotest.Script{Cancel: []lrotest.Answer{lrotest.Unavailable(0)}}, message{data: "operations/exhausted"}, worker.RetryExhausted},
		{"unknown", "", nil, message{data: "operations/../../admin"}, worker.Invalid},
		{"unknown", "", nil, message{data: "//127.0.0.1:1/operations/x"}, worker.Invalid},
	}
}

// TestWorkerEndToEnd publishes messages of all three forms for both built-in
// services, served by two separate fake hosts, covering every outcome that a
// running worker can reach, and checks them through /metrics, the result
// events and the fakes' request logs.
func TestWorkerEndToEnd(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	l := e2eLimits
	// operations/transient's retries (after 200 ms, then after a quota
	// error's Retry-After of 1 s) fit in the retry budget however long
	// each of its three requests takes, up to the request timeout: with
	// the usual 2 s, a busy machine's slow requests used it up, and the
	// job was nacked before its quota retry.
	l.retryBudget = 200*time.Millisecond + time.Second + 3*l.requestTimeout
	apis := newFakeAPIs(t, lrotest.Options{}, lrotest.Options{}, "verifyTimeout: "+unverifiedAfter(l).String())
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, true)
	ops := e2eOps()
	for _, o := range ops {
		if o.script == nil {
			continue
		}
		fake := apis.vault
		if o.host == amapiHost {
			fake = apis.amapi
		}
		fake.Set(o.name, *o.script)
	}
	// The same operation twice at once: the second is a duplicate.
	apis.amapi.Set(devOps+"twice", lrotest.Script{DoneAfterPolls: 2})
	msgs := []message{{data: devOps + "twice"}, {data: "//" + amapiHost + "/" + devOps + "twice"}}
	for _, o := range ops {
		msgs = append(msgs, o.msg)
	}

	admin, logs, stop := startWorker(t, e, append([]string{"--subscription=" + ps.sub, "--results-topic=" + ps.results,
		"--config=" + apis.config}, l.args()...)...)
	publish(t, e, ps.topic, msgs...)

	// Every acked outcome is in; retry_exhausted keeps coming back.
	acked := len(msgs) - 1
	total := func() float64 {
		m := scrape(t, admin)
		n := 0.0
		for _, o := range worker.Outcomes() {
			if o.Acks() {
				n += max(0, value(m, "opcancel_jobs_total", map[string]string{"outcome": string(o)}))
			}
		}
		return n
	}
	waitFor(t, "every acked outcome", l.job(), func() bool { return total() >= float64(acked) })
	waitFor(t, "a retry_exhausted", l.job(), func() bool {
		return value(scrape(t, admin), "opcancel_jobs_total", map[string]string{"outcome": "retry_exhausted"}) >= 1
	})
	m := scrape(t, admin)
	if err := stop(); err != nil {
		t.Fatalf("worker: %v\n%s", err, logs)
	}
	checkE2EMetrics(t, m, ops, logs)
	checkE2ERequests(t, apis)
	checkE2EEvents(t, e, ps.resultsSub, acked)
	checkE2ELeft(t, e, ps.sub)
}

// unverifiedAfter is the Vault service's verify timeout in
// TestWorkerEndToEnd, after which operations/unverified ends unverified:
// time for two polls (the first after the initial interval, the next after
// twice that, each up to 20 % late), each of which may take the request
// timeout. With 3 s, a busy machine's slow first poll left no time for a
// second, and a slow one could end an operation done at its first poll
// unverified.
func unverifiedAfter(l limits) time.Duration {
	poll := worker.DefaultConfig().PollInitial
	return (poll+2*poll)*6/5 + 2*l.requestTimeout
}

// checkE2EMetrics: each outcome counted on the right service.
func checkE2EMetrics(t *testing.T, m metricFamilies, ops []e2eOp, logs *syncBuffer) {
	t.Helper()
	want := map[string]float64{}
	for _, o := range ops {
		if o.want != worker.RetryExhausted {
			want[o.host+" "+string(o.want)]++
		}
	}
	want[amapiHost+" cancelled"]++ // the first of the two "twice"
	want[amapiHost+" duplicate"]++
	got := map[string]float64{}
	for _, s := range m["opcancel_jobs_total"] {
		if s.Value > 0 && s.Metric["outcome"] != "retry_exhausted" {
			got[string(s.Metric["service"])+" "+string(s.Metric["outcome"])] = float64(s.Value)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("opcancel_jobs_total (-want +got):\n%s\nlogs:\n%s", diff, logs)
	}
	if v := value(m, "opcancel_api_requests_total", map[string]string{"service": vaultHost, "method": "cancel", "code": "UNIMPLEMENTED"}); v != 1 {
		t.Errorf("cancel UNIMPLEMENTED requests = %v, want 1", v)
	}
	if v := value(m, "opcancel_retries_total", map[string]string{"service": vaultHost, "code": "RESOURCE_EXHAUSTED"}); v < 1 {
		t.Errorf("retries{RESOURCE_EXHAUSTED} = %v, want at least 1", v)
	}
}

// checkE2ERequests reads the fakes' request logs: no request for invalid
// messages or the duplicate; no get for UNIMPLEMENTED; the unverified one
// polled until its verify timeout.
func checkE2ERequests(t *testing.T, apis *fakeAPIs) {
	t.Helper()
	if st := apis.amapi.Op(devOps + "twice"); st.Cancels != 1 {
		t.Errorf("%stwice got %d cancels, want 1", devOps, st.Cancels)
	}
	if st := apis.vault.Op("operations/unimplemented"); st.Cancels != 1 || st.Gets != 0 {
		t.Errorf("unimplemented: %+v, want one cancel and no get", st)
	}
	if st := apis.vault.Op("operations/unverified"); st.Gets < 2 {
		t.Errorf("unverified: %+v, want polls", st)
	}
	for _, f := range []*lrotest.Server{apis.vault, apis.amapi} {
		for _, r := range f.Requests() {
			if r.Kind == "unrouted" || strings.Contains(r.Path, "admin") {
				t.Errorf("unexpected request %s %s", r.Method, r.Path)
			}
		}
	}
}

// checkE2EEvents: one result event per acked delivery, with the fields of
// the contract.
func checkE2EEvents(t *testing.T, e *queuetest.Emulator, resultsSub string, acked int) {
	t.Helper()
	events, err := e.Drain(context.Background(), resultsSub)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]map[string]any{}
	for _, ev := range events {
		var fields map[string]any
		if err := json.Unmarshal(ev.Message.Data, &fields); err != nil {
			t.Fatalf("event %q is not JSON: %v", ev.Message.Data, err)
		}
		if ev.Message.Attributes["outcome"] != fields["outcome"] || ev.Message.Attributes["service"] != fields["service"] {
			t.Errorf("event attributes %v do not match %v", ev.Message.Attributes, fields)
		}
		byName[fmt.Sprint(fields["name"], " ", fields["outcome"])] = fields
	}
	if len(events) != acked {
		t.Errorf("%d result events, want %d (one per acked delivery)", len(events), acked)
	}
	ev := byName["operations/cancel-json cancelled"]
	for _, k := range []string{"name", "service", "outcome", "code", "message", "attempts", "polls", "batch", "reason", "messageId", "deliveryAttempt", "receivedAt", "finishedAt"} {
		if _, ok := ev[k]; !ok {
			t.Errorf("event lacks %q: %v", k, ev)
		}
	}
	if ev["batch"] != "b1" || ev["reason"] != "incident 4711" || ev["code"] != "OK" {
		t.Errorf("event = %v", ev)
	}
}

// checkE2ELeft: nothing left unacked but the nacked retry_exhausted
// message, which is deliverable again at once after the worker's nack, or
// within a lease had the nack been lost.
func checkE2ELeft(t *testing.T, e *queuetest.Emulator, sub string) {
	t.Helper()
	var leftData []string
	waitFor(t, "the nacked message", lease, func() bool {
		left, err := e.Pull(context.Background(), sub, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range left {
			leftData = append(leftData, string(l.Message.Data))
		}
		return len(leftData) > 0
	})
	rest, err := e.Drain(context.Background(), sub)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range rest {
		leftData = append(leftData, string(l.Message.Data))
	}
	if diff := cmp.Diff([]string{"operations/exhausted"}, leftData); diff != "" {
		t.Errorf("left in the subscription (-want +got):\n%s", diff)
	}
}
