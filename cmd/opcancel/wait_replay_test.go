package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/types/known/durationpb"

	"opcancel/lro/lrotest"
	"opcancel/queue/queuetest"
)

// TestWaitCountsReplayedDeadLetters follows the incident runbook
// (docs/operations.md#cancelling-in-bulk-during-an-incident) through a
// batch some of whose names dead-letter: an API answers 503 for them until
// the worker subscription's dead-letter policy moves them aside. wait
// --batch exits 4 with those names without an outcome; once the API is
// fixed and replay --batch has published them again, under new message
// IDs, wait --batch counts their outcomes as those of the batch's
// messages: exit 0, every name once.
func TestWaitCountsReplayedDeadLetters(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	ctx := context.Background()
	ps := newPubsubKeepingResults(t, e)
	dead, deadSub, err := e.TopicAndSubscription(ctx, ps.project, "dead-letters", "dead-letters", queuetest.SubscriptionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The worker's subscription, on a topic of its own, with the policy
	// that moves a message after 5 deliveries.
	topic := "projects/" + ps.project + "/topics/guarded-requests"
	if _, err := e.Client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	sub := "projects/" + ps.project + "/subscriptions/guarded-worker"
	if _, err := e.Client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: sub, Topic: topic, AckDeadlineSeconds: 60,
		DeadLetterPolicy: &pubsubpb.DeadLetterPolicy{DeadLetterTopic: dead, MaxDeliveryAttempts: 5},
		RetryPolicy:      &pubsubpb.RetryPolicy{MinimumBackoff: durationpb.New(0), MaximumBackoff: durationpb.New(0)},
	}); err != nil {
		t.Fatal(err)
	}
	var sick atomic.Bool
	sick.Store(true)
	apis := newFakeAPIs(t, lrotest.Options{
		Default: func(string) *lrotest.Script { return &lrotest.Script{} },
		Fault: func(r *http.Request) *lrotest.Answer {
			if sick.Load() && strings.Contains(r.URL.Path, "/sick-") {
				a := lrotest.Unavailable(0)
				return &a
			}
			return nil
		},
	}, lrotest.Options{}, "")
	// No retries: a 503 nacks the delivery at once.
	_, logs, stop := startWorker(t, e, "--subscription="+sub, "--results-topic="+ps.results, "--config="+apis.config,
		"--retry-budget=0", "--verify-timeout=20s", "--shutdown-timeout=0s")
	env := map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}
	batch := "incident-" + uniqueName("dl")
	names := []string{"operations/ok-1", "operations/ok-2", "operations/ok-3", "operations/sick-1", "operations/sick-2"}
	out, errb, code, err := runCLI(t, env, append([]string{"submit", "--topic=" + topic, "--batches-topic=" + ps.batches,
		"--config=" + apis.config, "--auth=none", "--batch=" + batch, "--reason=incident", "--journal=" + filepath.Join(t.TempDir(), "batch.journal")}, names...)...)
	if code != 0 {
		t.Fatalf("submit --journal: exit %d (%v)\n%s\n%s", code, err, out, errb)
	}
	replay := func(args ...string) (string, string, int) {
		out, errb, code, err := runCLI(t, env, append([]string{"replay", "--idle=" + replayIdle.String(), "--from-subscription=" + deadSub,
			"--topic=" + topic, "--config=" + apis.config, "--batch=" + batch}, args...)...)
		if err != nil {
			errb += "opcancel: " + err.Error()
		}
		return out, errb, code
	}
	wait := []string{"wait", "--batch=" + batch, "--since=10m", "--results-topic=" + ps.results, "--batches-topic=" + ps.batches,
		"--wait-timeout=" + untilPublished.String()}

	// The first wait runs while the sick names are dead-lettered: they
	// never get an outcome before the replay, whenever it ends.
	type result struct {
		out, errb string
		code      int
	}
	first := make(chan result, 1)
	go func() {
		out, errb, code, _ := runCLI(t, env, wait...)
		first <- result{out, errb, code}
	}()
	// Each of a sick name's five deliveries ends within a job's bound (the
	// worker's default lease and request timeout: minutes), and waits its
	// turn behind a throttle the 503s bring down, which no setting bounds:
	// the wait is the test's deadline. 20 s was too short on a busy machine.
	waitFor(t, "the sick names in the dead letters", untilDeadline(t), func() bool {
		out, _, _ := replay("--dry-run")
		return strings.Contains(out, ", 2 selected by --batch")
	})
	r := <-first
	counts := reportCounts(r.out)
	if r.code != 4 || counts["cancelled"] != 3 || counts["(no outcome)"] != 2 || counts["total"] != 5 ||
		!strings.Contains(r.out, "operations/sick-1  (none)") || !strings.Contains(r.out, "operations/sick-2  (none)") {
		t.Fatalf("wait --batch before the replay: exit %d, want 4 with the 2 dead letters without an outcome\n%s\n%s\n%s", r.code, r.out, r.errb, logs)
	}

	sick.Store(false)
	if out, errb, code := replay("--yes"); code != 0 || !strings.HasPrefix(out, "replayed: 2, failed: 0") {
		t.Fatalf("replay --batch: exit %d\n%s\n%s", code, out, errb)
	}
	out, errb, code = runCLIChecked(t, e, ps.project, env, wait...)
	counts = reportCounts(out)
	if code != 0 || counts["cancelled"] != 5 || counts["total"] != 5 || counts["(no outcome)"] != 0 || strings.Contains(out, "did not end") {
		t.Errorf("wait --batch after the replay: exit %d, want 0 with every name cancelled once\n%s\n%s\n%s", code, out, errb, logs)
	}
	if err := stop(); err != nil {
		t.Errorf("worker: %v", err)
	}
}
