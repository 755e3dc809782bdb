package deploy

import (
	"context"
	"fmt"
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

// TestProvisioningOnTheEmulator runs deploy/pubsub/provision.sh against the
// emulator twice (it must be idempotent) and checks what it created; a
// third run with another TOPIC_RETENTION sets it on the topics that exist.
func TestProvisioningOnTheEmulator(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	project := "prov-" + strings.ToLower(uniqueName("x"))
	// Every gcloud call also warns on stderr, as gcloud does when an update
	// is available: a warning is no part of a value the script reads.
	path := "PATH=" + warningGcloud(t) + string(os.PathListSeparator) + os.Getenv("PATH")
	for range 2 {
		if out, err := provision(t, "http://"+e.Direct+"/", project, path); err != nil {
			t.Fatalf("provision.sh: %v\n%s", err, out)
		}
	}
	ctx := context.Background()
	topic := func(id string) string { return "projects/" + project + "/topics/" + id }
	for _, id := range []string{"opcancel-requests", "opcancel-results", "opcancel-batches", "opcancel-dead-letter"} {
		if _, err := e.Client.TopicAdminClient.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: topic(id)}); err != nil {
			t.Errorf("topic %s: %v", id, err)
		}
	}
	// The results and batches topics keep their messages, so that
	// opcancel wait can seek back to a batch's start.
	retention := func(want time.Duration) {
		t.Helper()
		for _, id := range []string{"opcancel-results", "opcancel-batches"} {
			tp, err := e.Client.TopicAdminClient.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: topic(id)})
			if err != nil {
				t.Fatal(err)
			}
			if got := tp.GetMessageRetentionDuration().AsDuration(); got != want {
				t.Errorf("topic %s keeps its messages for %s, want %s", id, got, want)
			}
		}
	}
	retention(7 * 24 * time.Hour)
	if out, err := provision(t, "http://"+e.Direct+"/", project, path, "TOPIC_RETENTION=2d"); err != nil {
		t.Fatalf("provision.sh with TOPIC_RETENTION=2d: %v\n%s", err, out)
	}
	retention(2 * 24 * time.Hour)
	sub, err := e.Client.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: "projects/" + project + "/subscriptions/opcancel-worker"})
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
		s, err := e.Client.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: "projects/" + project + "/subscriptions/" + id})
		if err != nil {
			t.Errorf("subscription %s: %v", id, err)
		} else if s.Topic != topic(on) {
			t.Errorf("subscription %s is on %s, want %s", id, s.Topic, topic(on))
		}
	}
}

// TestProvisioningRefusesASubscriptionOnAnotherTopic: an existing
// subscription of the worker's name on another topic stops the script; its
// policies are not changed.
func TestProvisioningRefusesASubscriptionOnAnotherTopic(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	project := "prov-" + strings.ToLower(uniqueName("y"))
	ctx := context.Background()
	other := "projects/" + project + "/topics/elsewhere"
	for _, topic := range []string{other, "opcancel-requests", "opcancel-results", "opcancel-dead-letter"} {
		if !strings.HasPrefix(topic, "projects/") {
			topic = "projects/" + project + "/topics/" + topic
		}
		if _, err := e.Client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
			t.Fatal(err)
		}
	}
	name := "projects/" + project + "/subscriptions/opcancel-worker"
	if _, err := e.Client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: name, Topic: other}); err != nil {
		t.Fatal(err)
	}
	out, err := provision(t, "http://"+e.Direct+"/", project)
	if err == nil {
		t.Fatalf("provision.sh succeeded over a subscription on another topic:\n%s", out)
	}
	if !strings.Contains(out, "attached to "+other+", not projects/"+project+"/topics/opcancel-requests") {
		t.Errorf("the output does not name both topics:\n%s", out)
	}
	sub, err := e.Client.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: name})
	if err != nil {
		t.Fatal(err)
	}
	if sub.DeadLetterPolicy != nil {
		t.Errorf("the other topic's subscription was updated: %v", sub)
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
