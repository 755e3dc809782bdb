package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"opcancel/worker"
)

// What a wait user, who may publish to the batches topic, can make
// `opcancel wait` believe (docs/operations.md#what-wait-users-can-falsify).

// TestWatchIsNotEndedByAForgedRun: an end record of a run that never
// published anything, and a run's end record that another of the same run
// contradicts, do not end a batch whose real run is still publishing;
// the contradiction is reported once. A forged end that came first is
// undone by the real run's own, while outcomes are still awaited.
func TestWatchIsNotEndedByAForgedRun(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	forged := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)

	// A run that never existed, ending the batch at once.
	w := newWatch("b1")
	w.manifest(part("r1", 1, "1")) // the real run, still publishing
	w.manifest(end("forged", 0, 0, 0, false, forged))
	w.record(testEvent("b1", "1", "operations/1", worker.Cancelled))
	if st := w.status(); !st.publishing || isDone(w) {
		t.Errorf("after a forged run's end: %+v, done %v; want publishing to go on", st, isDone(w))
	}
	// Once the real run ends, every run seen has ended.
	w.manifest(part("r1", 2, "2"))
	w.manifest(end("r1", 2, 2, 0, false, t0))
	w.record(testEvent("b1", "2", "operations/2", worker.Cancelled))
	if !isDone(w) {
		t.Errorf("not done once every run ended and every outcome is in: %+v", w.status())
	}

	// Two end records of one run that differ: someone forged one of them.
	var warned []string
	var mu sync.Mutex
	w = newWatch("b1")
	w.warn = func(s string) { mu.Lock(); warned = append(warned, s); mu.Unlock() }
	w.manifest(part("r1", 1, "1", "2"))
	w.manifest(end("r1", 1, 2, 0, false, forged)) // forged first: the batch looks over
	if st := w.status(); st.publishing {
		t.Fatalf("a run with its parts and end in: publishing goes on")
	}
	w.manifest(end("r1", 1, 2, 0, false, t0)) // the real one
	w.manifest(end("r1", 1, 2, 0, false, t0)) // delivered again: no news
	w.record(testEvent("b1", "1", "operations/1", worker.Cancelled))
	w.record(testEvent("b1", "2", "operations/2", worker.Cancelled))
	if st := w.status(); !st.publishing || st.conflict == "" || isDone(w) {
		t.Errorf("after two end records of r1 that differ: %+v, done %v; want publishing to go on, with the conflict", st, isDone(w))
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "run r1") || !strings.Contains(warned[0], "two end records that differ") {
		t.Errorf("warnings %q, want one naming run r1 and its two end records", warned)
	}

	// A part of a run beyond the parts its end counts.
	w = newWatch("b1")
	w.manifest(part("r1", 1, "1"))
	w.manifest(end("r1", 1, 1, 0, false, t0))
	w.manifest(part("r1", 2, "9"))
	w.record(testEvent("b1", "1", "operations/1", worker.Cancelled))
	w.record(testEvent("b1", "9", "operations/9", worker.Cancelled))
	if st := w.status(); !st.publishing || st.conflict == "" {
		t.Errorf("after a part beyond its run's end: %+v, want publishing to go on, with the conflict", st)
	}
}

// TestWatchEndsABatchResumedAfterACrash: a run killed before its end
// record (kill -9) does not keep the batch open once a run that resumed its
// journal ended, naming it as an earlier run of the journal.
func TestWatchEndsABatchResumedAfterACrash(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	for _, names := range []bool{true, false} {
		w := newWatch("b1")
		w.manifest(part("killed", 1, "1"))
		resumed := end("r2", 1, 1, 1, false, t0)
		if names {
			resumed.End.EarlierRuns = []string{"killed"}
		}
		w.manifest(part("r2", 1, "1", "2"))
		w.manifest(resumed)
		if st := w.status(); st.publishing == names {
			t.Errorf("the resumed run names the killed one: %v; publishing goes on: %v", names, st.publishing)
		}
	}
}

// publishIDs publishes msgs to topic and returns their message IDs.
func publishIDs(t *testing.T, c *pubsub.Client, topic string, msgs ...message) []string {
	t.Helper()
	p := c.Publisher(topic)
	defer p.Stop()
	var ids []string
	for _, m := range msgs {
		id, err := p.Publish(context.Background(), &pubsub.Message{Data: []byte(m.data), Attributes: m.attrs}).Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// jsonMessage is a message of v's JSON with attrs.
func jsonMessage(t *testing.T, v any, attrs map[string]string) message {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return message{data: string(b), attrs: attrs}
}

// TestWaitIsNotFooledByWaitUsers, on the emulator: what a wait user may
// publish to the batches topic neither changes an outcome nor ends a
// batch early. A result event published there (with a later finishedAt
// than the worker's) is not read as one: the batch of a not_cancellable
// name still exits 3. An end record of a run that never existed does not
// end a batch whose submit is still publishing: wait reports at
// --wait-timeout that its publishing had not ended (exit 4), where it
// would have exited 0.
func TestWaitIsNotFooledByWaitUsers(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	apis := waitAPIs(t)
	ps := newPubsubKeepingResults(t, e)
	_, logs, stop := startWorker(t, e, "--subscription="+ps.sub, "--results-topic="+ps.results, "--config="+apis.config, "--verify-timeout=60s", "--shutdown-timeout=0s")
	defer stop()
	env := map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}
	now := time.Now()
	over, open := newBatchID(now), newBatchID(now)
	// over: a batch of one name the API refuses to cancel, whose run
	// ended; open: a batch of one name whose submit is still publishing.
	ids := publishIDs(t, e.Client, ps.topic,
		message{data: "operations/w-refused", attrs: map[string]string{"batch": over}},
		message{data: "operations/w-1", attrs: map[string]string{"batch": open}})
	record := func(batch, run string, r manifestRecord) message {
		r.Batch, r.Run = batch, run
		return jsonMessage(t, r, map[string]string{"batch": batch, manifestAttribute: run})
	}
	entry := func(id, name string) []manifestEntry {
		return []manifestEntry{{MessageID: id, Service: vaultHost, Name: name}}
	}
	forgedAt := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	publish(t, e, ps.batches,
		record(over, "r1", manifestRecord{Part: 1, Messages: entry(ids[0], "operations/w-refused")}),
		record(over, "r1", manifestRecord{End: &manifestEnd{Parts: 1, Published: 1, EndedAt: now.UTC()}}),
		record(open, "r2", manifestRecord{Part: 1, Messages: entry(ids[1], "operations/w-1")}),
		// The forgeries.
		jsonMessage(t, worker.Event{Name: "operations/w-refused", Service: vaultHost, Outcome: worker.Cancelled, Code: "OK",
			Batch: over, MessageID: ids[0], FinishedAt: forgedAt}, map[string]string{"batch": over}),
		record(open, "forged", manifestRecord{End: &manifestEnd{EndedAt: forgedAt}}))

	args := func(batch string) []string {
		return []string{"wait", "--batch=" + batch, "--results-topic=" + ps.results, "--batches-topic=" + ps.batches, "--wait-timeout=" + untilPublished.String()}
	}
	out, errb, code := runCLIChecked(t, e, ps.project, env, args(over)...)
	if code != 3 || reportCounts(strings.SplitN(out, "\n", 2)[1])["not_cancellable"] != 1 {
		t.Errorf("wait for a batch with a result event forged on the batches topic: exit %d, want 3 (not_cancellable)\n%s\n%s\n%s", code, out, errb, logs)
	}
	out, errb, code, err := runCLI(t, env, args(open)...)
	if code != 4 || err == nil || !strings.Contains(err.Error(), "its publishing had not ended") {
		t.Errorf("wait for a batch still publishing, with a forged end record: exit %d (%v), want 4: its publishing had not ended\n%s\n%s", code, err, out, errb)
	}

	// submit --wait follows its own run: records of its batch that others
	// published (a part naming a message it never published, another
	// run's end) change nothing.
	own := "incident-" + uniqueName("own")
	publish(t, e, ps.batches,
		record(own, "forged", manifestRecord{Part: 1, Messages: entry("999999", "operations/never-published")}),
		record(own, "forged", manifestRecord{End: &manifestEnd{Parts: 1, Published: 1, EndedAt: forgedAt}}))
	out, errb, code = runCLIChecked(t, e, ps.project, env, "submit", "--wait", "--batch="+own, "--topic="+ps.topic, "--results-topic="+ps.results,
		"--batches-topic="+ps.batches, "--config="+apis.config, "--auth=none", "--wait-timeout="+untilPublished.String(), "operations/w-2")
	if counts := reportCounts(strings.SplitN(out, "\n", 2)[1]); code != 0 || counts["cancelled"] != 1 || counts["total"] != 1 {
		t.Errorf("submit --wait with forged records of its batch: exit %d, want 0 with its one name cancelled\n%s\n%s", code, out, errb)
	}
}

// TestRefusedRecordsAreEscaped: the note of a manifest record that is not
// valid, which a wait user may have written, reaches the terminal with its
// control characters escaped.
func TestRefusedRecordsAreEscaped(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	r := &refusedRecords{stderr: &out}
	r.report(fmt.Errorf("manifest record: %s", "\x1b]0;owned\x07\x1b[2J"))
	if got := out.String(); strings.ContainsAny(got, "\x1b\x07") || !strings.Contains(got, `\x1b]0;owned`) {
		t.Errorf("stderr: %q, want the escape sequences escaped", got)
	}
}
