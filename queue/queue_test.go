package queue_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"opcancel/queue"
	"opcancel/queue/queuetest"
	"opcancel/worker"
)

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

	s := c.Subscriber(queue.ReceiveConfig{Subscription: sub, MaxOutstanding: 10, MaxExtension: time.Minute})
	if s.Healthy() {
		t.Error("healthy before receiving")
	}
	rctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	var attempts []int
	var ackErr error
	second := make(chan struct{})
	done := make(chan error)
	go func() {
		done <- s.Receive(rctx, func(_ context.Context, m worker.Delivery) {
			mu.Lock()
			defer mu.Unlock()
			attempts = append(attempts, m.DeliveryAttempt)
			if len(attempts) == 1 {
				m.Nack()
				return
			}
			ackErr = m.Ack()
			if len(attempts) == 2 {
				close(second)
			}
		})
	}()
	select {
	case <-second:
	case err := <-done:
		t.Fatalf("Receive returned early: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no redelivery within 30s")
	}
	// The stream has delivered: it is open and has answered.
	if !s.Healthy() {
		t.Error("not healthy while receiving")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Receive = %v", err)
	}
	if s.Healthy() {
		t.Error("healthy after Receive returned")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) < 2 || attempts[0] != 1 || attempts[1] != 2 {
		t.Errorf("delivery attempts = %v, want [1 2]", attempts)
	}
	if ackErr != nil {
		t.Errorf("exactly-once ack = %v", ackErr)
	}
}
