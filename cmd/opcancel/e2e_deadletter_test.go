package main

import (
	"context"
	"strings"
	"testing"

	"opcancel/queue/queuetest"
)

// TestWorkerWarnsWithoutADeadLetterPolicy: at start-up the worker reads its
// subscription's dead-letter policy and warns when there is none, since the
// answers that are transient by contract would then be redelivered forever;
// with a policy it says which.
func TestWorkerWarnsWithoutADeadLetterPolicy(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	dead, err := e.Topic(context.Background(), "proj-"+strings.ToLower(uniqueName("dl")), "dead-letters")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		opts queuetest.SubscriptionOptions
		want string
	}{
		{"without", queuetest.SubscriptionOptions{}, "has no dead-letter policy"},
		{"with", queuetest.SubscriptionOptions{DeadLetterTopic: dead, MaxDeliveries: 20}, `"maxDeliveryAttempts":20`},
	} {
		ps := newPubsub(t, e, tt.opts, false)
		_, logs, stop := startWorker(t, e, "--subscription="+ps.sub)
		if err := stop(); err != nil {
			t.Fatalf("%s: worker: %v", tt.name, err)
		}
		if !strings.Contains(logs.String(), tt.want) {
			t.Errorf("%s a dead-letter policy: the log lacks %q:\n%s", tt.name, tt.want, logs)
		}
	}
}
