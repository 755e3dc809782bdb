package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/types/known/durationpb"

	"opcancel/queue/queuetest"
)

// newPubsubKeepingResults is newPubsub with results and batches topics
// that keep their messages for 10 minutes, as deploy/pubsub/provision.sh
// makes them keep them for 7 days: a subscription created later can seek
// back to what was published before it. (The emulator keeps a topic's
// messages only when it is created with a retention, not when one is set
// later.)
func newPubsubKeepingResults(t *testing.T, e *queuetest.Emulator) pubsubResources {
	t.Helper()
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, false)
	ps.results = keptTopic(t, e, ps.project, "results", 10*time.Minute)
	ps.batches = keptTopic(t, e, ps.project, "batches", 10*time.Minute)
	return ps
}

// keptTopic creates projects/project/topics/id keeping its messages for
// retention, and returns its full name.
func keptTopic(t *testing.T, e *queuetest.Emulator, project, id string, retention time.Duration) string {
	t.Helper()
	topic := "projects/" + project + "/topics/" + id
	_, err := e.Client.TopicAdminClient.CreateTopic(context.Background(), &pubsubpb.Topic{
		Name: topic, MessageRetentionDuration: durationpb.New(retention),
	})
	if err != nil {
		t.Fatal(err)
	}
	return topic
}

var summaryBatch = regexp.MustCompile(`batch: (\S+)`)

// batchOf reads the batch ID from submit's summary line.
func batchOf(t *testing.T, out string) string {
	t.Helper()
	m := summaryBatch.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no batch in the summary:\n%s", out)
	}
	return m[1]
}

// TestWaitRebuildsTheTableOfAFinishedBatch: `wait --batch`, started after
// the `submit --wait` that watched the batch has ended and deleted its
// subscription, prints the same summary and table and exits with the same
// status (3: one name not cancellable), both as text and as JSON; its own
// temporary subscription is gone after it.
func TestWaitRebuildsTheTableOfAFinishedBatch(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	apis := waitAPIs(t)
	ps := newPubsubKeepingResults(t, e)
	_, logs, stop := startWorker(t, e, "--subscription="+ps.sub, "--results-topic="+ps.results, "--config="+apis.config, "--verify-timeout=60s", "--shutdown-timeout=0s")
	env := map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}
	names := []string{"operations/w-1", "operations/w-2", devOps + "w-3", "operations/w-completed", "operations/w-missing", "operations/w-refused"}
	watched, errb, code := runCLIChecked(t, e, ps.project, env, append([]string{"submit", "--wait", "--topic=" + ps.topic,
		"--results-topic=" + ps.results, "--batches-topic=" + ps.batches, "--config=" + apis.config, "--auth=none"}, names...)...)
	if code != 3 || !strings.Contains(watched, "not_cancellable  1") {
		t.Fatalf("submit --wait: exit %d, want 3 (w-refused is not cancellable)\n%s\n%s\n%s", code, watched, errb, logs)
	}
	batch := batchOf(t, watched)
	// The batch is over: reading it back is bounded as publishing it is.
	wait := []string{"wait", "--batch=" + batch, "--results-topic=" + ps.results, "--batches-topic=" + ps.batches,
		"--wait-timeout=" + untilPublished.String()}
	attached, errb, code := runCLIChecked(t, e, ps.project, env, wait...)
	if code != 3 || attached != watched {
		t.Errorf("wait --batch after the batch ended: exit %d, want 3, and the same output as submit --wait\n"+
			"wait:\n%s\nsubmit --wait:\n%s\n%s", code, attached, watched, errb)
	}
	asJSON, errb, code := runCLIChecked(t, e, ps.project, env, append(wait, "--output=json")...)
	var r batchReport
	if err := json.Unmarshal([]byte(asJSON), &r); err != nil || code != 3 {
		t.Fatalf("wait --output=json: exit %d, %v\n%s\n%s", code, err, asJSON, errb)
	}
	if r.Batch != batch || r.Published != len(names) || r.Outcomes["not_cancellable"] != 1 || r.Outcomes["not_found"] != 1 ||
		r.NoOutcome != 0 || len(r.Names) != 2 {
		t.Errorf("wait --output=json: %+v", r)
	}
	if err := stop(); err != nil {
		t.Errorf("worker: %v", err)
	}
}

// runCLIChecked is runCLI that also checks that the command left no
// temporary subscription in project.
func runCLIChecked(t *testing.T, e *queuetest.Emulator, project string, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	stdout, stderr, code, _ = runCLI(t, env, args...)
	if subs := waitSubscriptions(t, e, project); len(subs) > 0 {
		t.Errorf("%s: temporary subscriptions left: %v", args[0], subs)
	}
	return stdout, stderr, code
}

// TestWaitForABatchWithoutManifest: a batch submitted without --wait or
// --journal has no manifest; wait says so at its timeout and exits 4.
func TestWaitForABatchWithoutManifest(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	ps := newPubsubKeepingResults(t, e)
	env := map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}
	out, errb, code, _ := runCLI(t, env, "submit", "--topic="+ps.topic, "operations/plain")
	if code != 0 {
		t.Fatalf("submit: exit %d\n%s", code, errb)
	}
	_, _, code, err := runCLI(t, env, "wait", "--batch="+batchOf(t, out), "--results-topic="+ps.results, "--batches-topic="+ps.batches, "--wait-timeout=2s")
	if code != 4 || !strings.Contains(err.Error(), "no manifest and no message on") {
		t.Errorf("wait: exit %d (%v), want 4 saying there is no manifest", code, err)
	}
}

// TestWaitForABatchIDOfOnesOwn: a batch ID the operator chose carries no
// start time. wait without --since reads the topics from as far back as
// they keep messages, finds the batch, and says on stderr that --since
// reads less; with --since it says nothing of it. (No worker: the names
// have no outcome, exit 4.)
//
// --wait-timeout runs from wait's start until the manifest's records
// come, so it bounds reading the batch back, as publishing it is bounded
// (untilPublished): a shorter one, on a busy machine, ended wait before
// the emulator had handed it the manifest.
func TestWaitForABatchIDOfOnesOwn(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	ps := newPubsubKeepingResults(t, e)
	env := map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}
	batch := "incident-" + uniqueName("own")
	if _, errb, code, _ := runCLI(t, env, "submit", "--topic="+ps.topic, "--batches-topic="+ps.batches, "--batch="+batch,
		"--journal="+filepath.Join(t.TempDir(), "batch.journal"), "operations/a", "operations/b"); code != 0 {
		t.Fatalf("submit --journal: exit %d\n%s", code, errb)
	}
	const hint = "is not a generated ID, which carries its start time"
	for _, since := range []string{"", "--since=10m"} {
		args := []string{"wait", "--batch=" + batch, "--results-topic=" + ps.results, "--batches-topic=" + ps.batches,
			"--wait-timeout=" + untilPublished.String()}
		if since != "" {
			args = append(args, since)
		}
		out, errb, code := runCLIChecked(t, e, ps.project, env, args...)
		_, table, _ := strings.Cut(out, "\n") // after the summary line
		if counts := reportCounts(table); code != 4 || counts["(no outcome)"] != 2 || counts["total"] != 2 {
			t.Errorf("wait %s: exit %d, want 4 with the batch's 2 names found\n%s\n%s", since, code, out, errb)
		}
		if got := strings.Contains(errb, hint); got != (since == "") {
			t.Errorf("wait %s: the hint about --since on stderr: %v, want %v\n%s", since, got, since == "", errb)
		}
	}
}
