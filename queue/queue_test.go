package queue_test

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"opcancel/queue"
	"opcancel/queue/queuetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Started by a dependency's init, for the life of the process.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		// The client library's stream pinger notices that Receive has
		// returned only at its next tick, up to its ping interval later.
		goleak.IgnoreTopFunction("cloud.google.com/go/pubsub/v2.(*messageIterator).streamKeepAliveHandler"),
	)
}

func TestResourceName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		project, kind, in, want, err string
	}{
		{"p", "subscriptions", "abc", "projects/p/subscriptions/abc", ""},
		{"", "subscriptions", "projects/q/subscriptions/abc", "projects/q/subscriptions/abc", ""},
		{"p", "topics", "projects/q/topics/t-1.x~y+z%", "projects/q/topics/t-1.x~y+z%", ""},
		{"", "topics", "abc", "", "no project"},
		{"p", "topics", "ab", "", "an ID is 3-255 characters"},
		{"p", "topics", "1abc", "", "starts with a letter"},
		{"p", "topics", "goog-x", "", "does not start with \"goog\""},
		{"p", "topics", "projects/q/subscriptions/abc", "", "want an ID or projects/PROJECT/topics/ID"},
		{"p", "topics", "projects/q/topics", "", "want an ID or"},
		{"p", "topics", "a b c", "", "an ID is"},
	}
	for _, tt := range tests {
		got, err := queue.ResourceName(tt.project, tt.kind, tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ResourceName(%q, %q, %q) = %q, %v; want an error with %q", tt.project, tt.kind, tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ResourceName(%q, %q, %q) = %q, %v; want %q", tt.project, tt.kind, tt.in, got, err, tt.want)
		}
	}
}

// TestReceiveOnTheEmulator: delivery attempts are surfaced with a dead-letter
// policy, acks on an exactly-once subscription are confirmed, and Healthy
// follows the streaming pull.
func TestReceiveOnTheEmulator(t *testing.T) {
	t.Parallel()
	e := queuetest.ForTest(t)
	ctx := context.Background()
	dead, err := e.Topic(ctx, "proj", "dead-letters")
	if err != nil {
		t.Fatal(err)
	}
	topic, sub, err := e.TopicAndSubscription(ctx, "proj", "requests", "worker", queuetest.SubscriptionOptions{DeadLetterTopic: dead, ExactlyOnce: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := queue.NewClient(ctx, queue.ClientConfig{Project: "proj", EmulatorHost: e.Host})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := c.Publisher(queue.PublishConfig{Topic: topic})
	if err := p.Publish(ctx, []byte("operations/x"), map[string]string{"batch": "b"}); err != nil {
		t.Fatal(err)
	}
	p.Stop()

	s := c.Subscriber(queue.ReceiveConfig{Subscription: sub, MaxOutstanding: 10})
	got, err := nackThenAck(t, s)
	if len(got) < 2 || got[0].DeliveryAttempt != 1 || got[1].DeliveryAttempt != 2 {
		t.Errorf("deliveries = %+v, want attempts 1 and 2", got)
	}
	if err != nil {
		t.Errorf("exactly-once nack and ack = %v", err)
	}
}
