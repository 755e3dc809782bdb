package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// provision runs deploy/pubsub/provision.sh for project against the Pub/Sub
// endpoint (an emulator or a fake), with the extra environment.
func provision(t *testing.T, endpoint, project string, extra ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("gcloud"); err != nil {
		t.Skip("gcloud is not installed")
	}
	cmd := exec.Command("bash", filepath.Join("pubsub", "provision.sh"))
	cmd.Env = append(os.Environ(),
		"PROJECT="+project,
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB="+endpoint,
		"CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true",
		"CLOUDSDK_CORE_DISABLE_PROMPTS=1",
	)
	cmd.Env = append(cmd.Env, extra...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// warningGcloud returns a directory whose gcloud runs the installed one
// after a warning on stderr.
func warningGcloud(t *testing.T) string {
	t.Helper()
	real, err := exec.LookPath("gcloud")
	if err != nil {
		t.Skip("gcloud is not installed")
	}
	dir := t.TempDir()
	script := "#!/bin/sh\necho 'WARNING: an update is available' >&2\nexec '" + real + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "gcloud"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestProvisioningOnTheEmulator runs deploy/pubsub/provision.sh once with
// the real gcloud against the emulator, over a project where some of its
// resources exist already, so that the one run takes every path of the
// script: it creates the topics and subscriptions that are missing, leaves
// the request topic as it is, sets its retention on the results topic, and
// takes the worker subscription (the real gcloud's answer to the lookup of
// its topic) and updates its policies. That a run over everything it made
// creates nothing and binds nothing new, and the cases that stop it, are
// played on the fake gcloud (provision_iam_test.go, and below), whose
// answers these commands' are.
func TestProvisioningOnTheEmulator(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	project := "prov-" + strings.ToLower(uniqueName("x"))
	ctx := context.Background()
	topic := func(id string) string { return "projects/" + project + "/topics/" + id }
	subscription := func(id string) string { return "projects/" + project + "/subscriptions/" + id }
	for _, tp := range []*pubsubpb.Topic{{Name: topic("opcancel-requests")},
		{Name: topic("opcancel-results"), MessageRetentionDuration: durationpb.New(time.Hour)}} {
		if _, err := e.Client.TopicAdminClient.CreateTopic(ctx, tp); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: subscription("opcancel-worker"), Topic: topic("opcancel-requests"), AckDeadlineSeconds: 10}); err != nil {
		t.Fatal(err)
	}
	// Every gcloud call also warns on stderr, as gcloud does when an update
	// is available: a warning is no part of a value the script reads.
	path := "PATH=" + warningGcloud(t) + string(os.PathListSeparator) + os.Getenv("PATH")
	out, err := provision(t, "http://"+e.Direct+"/", project, path)
	if err != nil {
		t.Fatalf("provision.sh: %v\n%s", err, out)
	}
	for _, said := range []string{"topic opcancel-requests exists", "topic opcancel-results exists; setting its message retention to 7d",
		"subscription opcancel-worker exists; updating its policies"} {
		if !strings.Contains(out, said) {
			t.Errorf("the run does not say %q:\n%s", said, out)
		}
	}
	for _, id := range []string{"opcancel-requests", "opcancel-results", "opcancel-batches", "opcancel-dead-letter"} {
		if _, err := e.Client.TopicAdminClient.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: topic(id)}); err != nil {
			t.Errorf("topic %s: %v", id, err)
		}
	}
	// The results and batches topics keep their messages, so that
	// opcancel wait can seek back to a batch's start: the one made so, the
	// other set so.
	for _, id := range []string{"opcancel-results", "opcancel-batches"} {
		tp, err := e.Client.TopicAdminClient.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: topic(id)})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := tp.GetMessageRetentionDuration().AsDuration(), 7*24*time.Hour; got != want {
			t.Errorf("topic %s keeps its messages for %s, want %s", id, got, want)
		}
	}
	sub, err := e.Client.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: subscription("opcancel-worker")})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Topic != topic("opcancel-requests") || sub.AckDeadlineSeconds != 60 ||
		sub.DeadLetterPolicy.GetDeadLetterTopic() != topic("opcancel-dead-letter") || sub.DeadLetterPolicy.GetMaxDeliveryAttempts() != 20 ||
		sub.RetryPolicy.GetMinimumBackoff().AsDuration() != 10*time.Second || sub.RetryPolicy.GetMaximumBackoff().AsDuration() != 600*time.Second {
		t.Errorf("worker subscription = %v", sub)
	}
	// Result events are kept: Pub/Sub drops what is published to a topic
	// without subscriptions.
	for id, on := range map[string]string{"opcancel-dead-letter": "opcancel-dead-letter", "opcancel-results": "opcancel-results"} {
		s, err := e.Client.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: subscription(id)})
		if err != nil {
			t.Errorf("subscription %s: %v", id, err)
		} else if s.Topic != topic(on) {
			t.Errorf("subscription %s is on %s, want %s", id, s.Topic, topic(on))
		}
	}
}

// TestProvisioningRefusesASubscriptionOnAnotherTopic: an existing
// subscription of the worker's name on another topic stops the script,
// naming both topics; the subscription is not changed. It runs on the fake
// gcloud, which answers the lookup of a subscription's topic as the real
// one does on the emulator (TestProvisioningOnTheEmulator's second run
// reads that answer).
func TestProvisioningRefusesASubscriptionOnAnotherTopic(t *testing.T) {
	t.Parallel()
	fakeEnv, state := fakeGcloudPath(t)
	const other = "projects/" + iamProject + "/topics/elsewhere"
	seed, err := json.Marshal(gcloudState{
		Topics:        map[string]bool{other: true, requestTopic: true, resultsTopic: true, deadLetters: true},
		Subscriptions: map[string]string{workerSub: other},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := provisionIAM(t, fakeEnv)
	if err == nil {
		t.Fatalf("provision.sh succeeded over a subscription on another topic:\n%s", out)
	}
	if !strings.Contains(out, "attached to "+other+", not "+requestTopic) {
		t.Errorf("the output does not name both topics:\n%s", out)
	}
	s, err := readGcloudState(state)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range s.Calls {
		if len(c) > 2 && c[1] == "subscriptions" && c[2] != "describe" {
			t.Errorf("the script went on to %v", c)
		}
	}
	if got := s.Subscriptions[workerSub]; got != other {
		t.Errorf("the worker subscription is now on %s, want %s still", got, other)
	}
}

// TestProvisioningTopicRetention: TOPIC_RETENTION is how long the results
// and batches topics keep their messages, those it creates and those that
// exist; the other topics keep Pub/Sub's default. On the fake gcloud;
// TestProvisioningOnTheEmulator sees the default, 7d, on the emulator.
func TestProvisioningTopicRetention(t *testing.T) {
	t.Parallel()
	fakeEnv, state := fakeGcloudPath(t)
	seed, err := json.Marshal(gcloudState{Topics: map[string]bool{resultsTopic: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	// Any endpoint override makes it skip IAM, as on the emulator.
	if out, err := provisionIAM(t, fakeEnv, "TOPIC_RETENTION=2d", "CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB=http://127.0.0.1:1/"); err != nil {
		t.Fatalf("provision.sh: %v\n%s", err, out)
	}
	s, err := readGcloudState(state)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{resultsTopic: "2d", batchesTopic: "2d"}; !maps.Equal(s.Retention, want) {
		t.Errorf("retention by topic = %v, want %v", s.Retention, want)
	}
}

// TestProvisioningStopsOnErrorsOtherThanNotFound: a lookup that fails for
// another reason than "not found" (here PERMISSION_DENIED) stops the script
// with that error; nothing is created on the strength of it.
func TestProvisioningStopsOnErrorsOtherThanNotFound(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var writes []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			mu.Lock()
			writes = append(writes, r.Method+" "+r.URL.Path)
			mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"error": {"code": 403, "message": "User not authorized to perform this action.", "status": "PERMISSION_DENIED"}}`)
	}))
	defer api.Close()
	out, err := provision(t, api.URL+"/", "prov-denied")
	if err == nil {
		t.Fatalf("provision.sh succeeded although every lookup was denied:\n%s", out)
	}
	if !strings.Contains(out, "cannot read topics opcancel-requests") || !strings.Contains(out, "PERMISSION_DENIED") {
		t.Errorf("the output does not report the denied lookup:\n%s", out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(writes) > 0 {
		t.Errorf("the script went on to write after a failed lookup: %v", writes)
	}
}
