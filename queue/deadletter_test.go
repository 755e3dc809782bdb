package queue_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"opcancel/queue"
	"opcancel/queue/queuetest"
)

// TestDeadLetterPolicyOnTheEmulator: the worker can tell at start-up
// whether its subscription has a dead-letter policy, and which.
func TestDeadLetterPolicyOnTheEmulator(t *testing.T) {
	t.Parallel()
	e := queuetest.ForTest(t)
	ctx := context.Background()
	dead, err := e.Topic(ctx, "proj", "dead-letters")
	if err != nil {
		t.Fatal(err)
	}
	_, with, err := e.TopicAndSubscription(ctx, "proj", "requests", "with-policy", queuetest.SubscriptionOptions{DeadLetterTopic: dead, MaxDeliveries: 20})
	if err != nil {
		t.Fatal(err)
	}
	_, without, err := e.TopicAndSubscription(ctx, "proj", "other", "without-policy", queuetest.SubscriptionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := queue.NewClient(ctx, queue.ClientConfig{Project: "proj", EmulatorHost: e.Host})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	got, err := c.DeadLetterPolicy(ctx, with)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&queue.DeadLetterPolicy{Topic: dead, MaxDeliveryAttempts: 20}, got); diff != "" {
		t.Errorf("policy (-want +got):\n%s", diff)
	}
	if got, err := c.DeadLetterPolicy(ctx, without); got != nil || err != nil {
		t.Errorf("DeadLetterPolicy(no policy) = %+v, %v; want nil, nil", got, err)
	}
	if _, err := c.DeadLetterPolicy(ctx, "projects/proj/subscriptions/missing"); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("DeadLetterPolicy(missing) = %v, want ErrNotFound", err)
	}
}
