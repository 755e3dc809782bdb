package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"opcancel/queue/queuetest"
)

// TestSubmitRefusesAMissingBatchesTopic: a deployment that has not run
// deploy/pubsub/provision.sh since batch manifests came has no batches
// topic. submit --journal and submit --wait find out before they publish
// a single cancel request and refuse, exit 2, naming the topic, the flag
// and the command that creates it; no journal is left behind. wait says
// the same.
func TestSubmitRefusesAMissingBatchesTopic(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	ps, counter := countedPubsub(t, e)
	missing := "projects/" + ps.project + "/topics/opcancel-batches"
	env := map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}
	journal := filepath.Join(t.TempDir(), "batch.journal")
	submit := []string{"submit", "--topic=" + ps.topic, "--results-topic=" + ps.results, "--batches-topic=" + missing, "operations/a", "operations/b"}
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"submit --journal", append(submit, "--journal="+journal)},
		{"submit --wait", append(submit, "--wait")},
		{"submit --wait --journal", append(submit, "--wait", "--journal="+journal)},
		{"wait", []string{"wait", "--batch=b1", "--results-topic=" + ps.results, "--batches-topic=" + missing}},
	} {
		out, errb, code, err := runCLI(t, env, tt.args...)
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		for _, want := range []string{"--batches-topic " + missing + ": the topic does not exist", "deploy/pubsub/provision.sh",
			"gcloud pubsub topics create opcancel-batches --project=" + ps.project + " --message-retention-duration=7d"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: the error lacks %q: %s", tt.name, want, msg)
			}
		}
		if code != 2 {
			t.Errorf("%s: exit %d, want 2\n%s\n%s", tt.name, code, out, errb)
		}
		if got, err := e.Drain(context.Background(), counter); err != nil || len(got) != 0 {
			t.Errorf("%s: %d cancel requests published (%v), want none", tt.name, len(got), err)
		}
		if _, err := os.Stat(journal); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: a journal was left behind (%v)", tt.name, err)
		}
		if subs := waitSubscriptions(t, e, ps.project); len(subs) > 0 {
			t.Errorf("%s: temporary subscriptions left: %v", tt.name, subs)
		}
	}
}

// TestBatchTopicErrorSaysHowToFixIt: the refusals of a topic that submit
// and wait need, by what Pub/Sub answered: a topic that does not exist is
// created as provision.sh creates it; one the caller may not publish to
// is granted as provision.sh grants it; another error is left as it is.
func TestBatchTopicErrorSaysHowToFixIt(t *testing.T) {
	t.Parallel()
	topic := "projects/p1/topics/opcancel-batches"
	for _, tt := range []struct {
		name string
		code codes.Code
		want []string
	}{
		{"missing", codes.NotFound, []string{"--batches-topic projects/p1/topics/opcancel-batches: the topic does not exist",
			"PROJECT=p1 BATCHES_TOPIC=opcancel-batches deploy/pubsub/provision.sh",
			"gcloud pubsub topics create opcancel-batches --project=p1 --message-retention-duration=7d"}},
		{"not permitted", codes.PermissionDenied, []string{"--batches-topic projects/p1/topics/opcancel-batches: permission denied",
			"WAIT_USERS", "gcloud pubsub topics add-iam-policy-binding opcancel-batches --project=p1 --member=MEMBER --role=roles/pubsub.publisher"}},
	} {
		err := batchTopicError("--batches-topic", topic, "publish", grpcstatus.Error(tt.code, "nope"))
		if exitCode(err) != 2 {
			t.Errorf("%s: exit %d, want 2", tt.name, exitCode(err))
		}
		for _, want := range tt.want {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v lacks %q", tt.name, err, want)
			}
		}
	}
	if err := batchTopicError("--batches-topic", topic, "publish", grpcstatus.Error(codes.Unavailable, "later")); exitCode(err) != 1 {
		t.Errorf("unavailable: exit %d, want 1 (%v)", exitCode(err), err)
	}
}

// TestSubmitRefusesABatchesTopicItMayNotPublishTo: Pub/Sub refuses the
// publish of the batch's manifest (PERMISSION_DENIED, injected in front of
// the emulator): submit --journal publishes no cancel request and exits 2
// with the grant that fixes it.
func TestSubmitRefusesABatchesTopicItMayNotPublishTo(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	ps, counter := countedPubsub(t, e)
	proxy := startIAMProxy(t, e.Host, &fakeIAM{refuseCall: func(method string, request []byte) error {
		var req pubsubpb.PublishRequest
		if method == "/google.pubsub.v1.Publisher/Publish" && proto.Unmarshal(request, &req) == nil && req.Topic == ps.batches {
			return grpcstatus.Error(codes.PermissionDenied, "User not authorized to perform this action.")
		}
		return nil
	}})
	journal := filepath.Join(t.TempDir(), "batch.journal")
	out, errb, code, err := runCLI(t, map[string]string{"PUBSUB_EMULATOR_HOST": proxy}, "submit", "--topic="+ps.topic,
		"--batches-topic="+ps.batches, "--journal="+journal, "operations/a", "operations/b")
	if code != 2 || err == nil || !strings.Contains(err.Error(), "--batches-topic "+ps.batches+": permission denied") ||
		!strings.Contains(err.Error(), "--role=roles/pubsub.publisher") {
		t.Errorf("exit %d (%v), want 2 with the grant that fixes it\n%s\n%s", code, err, out, errb)
	}
	if got, err := e.Drain(context.Background(), counter); err != nil || len(got) != 0 {
		t.Errorf("%d cancel requests published (%v), want none", len(got), err)
	}
}

// countedPubsub is newPubsub with results and batches topics, and a
// subscription to the request topic that counts what is published to it.
func countedPubsub(t *testing.T, e *queuetest.Emulator) (ps pubsubResources, counter string) {
	t.Helper()
	ps = newPubsub(t, e, queuetest.SubscriptionOptions{}, true)
	counter = "projects/" + ps.project + "/subscriptions/counter"
	if err := e.Subscription(context.Background(), ps.topic, counter); err != nil {
		t.Fatal(err)
	}
	return ps, counter
}

// TestSubmitJournalFailsWhenItsManifestIsLost: the batches topic deleted
// while submit --journal publishes: every name is published, but wait
// cannot follow the batch, so submit exits 1 after its summary, which says
// so (--output json: "manifestPublished": false), and says how to publish
// the manifest again.
func TestSubmitJournalFailsWhenItsManifestIsLost(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	ps := newPubsubKeepingResults(t, e)
	dir := t.TempDir()
	names, journal := filepath.Join(dir, "names.txt"), filepath.Join(dir, "batch.journal")
	var list strings.Builder
	for i := range 60 {
		fmt.Fprintf(&list, "operations/lost-manifest-%03d\n", i)
	}
	if err := os.WriteFile(names, []byte(list.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var out, errb syncBuffer
	go func() {
		done <- run(context.Background(), []string{"submit", "--topic=" + ps.topic, "--batches-topic=" + ps.batches, "--journal=" + journal,
			"--file=" + names, "--rate=20", "--output=json"}, getenvFrom(map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}), strings.NewReader(""), &out, &errb)
	}()
	// The journal is written once the manifest's first part is in.
	waitFor(t, "the journal", untilPublished, func() bool { _, err := os.Stat(journal); return err == nil })
	if err := e.Client.TopicAdminClient.DeleteTopic(context.Background(), &pubsubpb.DeleteTopicRequest{Topic: ps.batches}); err != nil {
		t.Fatal(err)
	}
	var err error
	waitFor(t, "submit to end", untilPublished, func() bool {
		select {
		case err = <-done:
			return true
		default:
			return false
		}
	})
	var sum struct {
		Published         int
		ManifestPublished *bool
	}
	if jerr := json.Unmarshal([]byte(out.String()), &sum); jerr != nil || sum.Published != 60 || sum.ManifestPublished == nil || *sum.ManifestPublished {
		t.Errorf("summary %s (%v): want 60 published and \"manifestPublished\": false", out.String(), jerr)
	}
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "the batch's manifest was not published") ||
		!strings.Contains(err.Error(), "run submit again with --journal "+journal) {
		t.Errorf("exit %d (%v), want 1 saying that the manifest was not published and how to publish it\n%s", exitCode(err), err, errb.String())
	}
}
