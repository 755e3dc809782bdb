package queue_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"

	"opcancel/queue"
	"opcancel/queue/queuetest"
	"opcancel/worker"
)

// onPstest is an in-process Pub/Sub server with a topic and a subscription
// whose dead-letter policy makes deliveries carry their attempt, and a
// queue.Client connected to it.
type onPstest struct {
	srv        *pstest.Server
	client     *queue.Client
	topic, sub string
}

// newOnPstest starts the server; exactlyOnce turns exactly-once delivery
// on for the subscription.
func newOnPstest(t *testing.T, exactlyOnce bool) *onPstest {
	t.Helper()
	ctx := context.Background()
	srv := pstest.NewServer()
	t.Cleanup(func() { srv.Close() })
	setup, err := pubsub.NewClient(ctx, "p", queuetest.ClientOptions(srv.Addr)...)
	if err != nil {
		t.Fatal(err)
	}
	defer setup.Close()
	p := &onPstest{srv: srv, topic: "projects/p/topics/requests", sub: "projects/p/subscriptions/worker"}
	for _, topic := range []string{p.topic, "projects/p/topics/dead"} {
		if _, err := setup.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := setup.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: p.sub, Topic: p.topic, AckDeadlineSeconds: 10, EnableExactlyOnceDelivery: exactlyOnce,
		DeadLetterPolicy: &pubsubpb.DeadLetterPolicy{DeadLetterTopic: "projects/p/topics/dead", MaxDeliveryAttempts: 5},
	}); err != nil {
		t.Fatal(err)
	}
	if p.client, err = queue.NewClient(ctx, queue.ClientConfig{Project: "p", EmulatorHost: srv.Addr}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.client.Close() })
	return p
}

// TestReceiveAndSettle: a delivery surfaces the message's ID, data,
// attributes, publish time and delivery attempt; a nack brings it back with
// the next attempt, an ack settles it for good; Healthy follows the stream;
// and no lease the client asks for exceeds the extension period, which
// bounds redelivery after a crash.
func TestReceiveAndSettle(t *testing.T) {
	t.Parallel()
	p := newOnPstest(t, false)
	id := p.srv.Publish(p.topic, []byte("operations/x"), map[string]string{"batch": "b"})
	s := p.client.Subscriber(queue.ReceiveConfig{Subscription: p.sub, MaxOutstanding: 10})
	got, settleErrs := nackThenAck(t, s)
	for i, m := range got {
		if m.ID != id || string(m.Data) != "operations/x" || m.Attributes["batch"] != "b" || m.DeliveryAttempt != i+1 {
			t.Errorf("delivery %d = %+v, want message %s with its data, attributes and attempt %d", i+1, m, id, i+1)
		}
	}
	if settleErrs != nil {
		t.Errorf("settle: %v", settleErrs)
	}
	m := p.srv.Message(id)
	if m.Acks != 1 || m.Deliveries != 2 {
		t.Errorf("server saw %d acks and %d deliveries, want 1 and 2", m.Acks, m.Deliveries)
	}
	nacks := 0
	for _, ma := range m.Modacks {
		if ma.AckDeadline == 0 {
			nacks++
		}
		if lease := time.Duration(ma.AckDeadline) * time.Second; lease > queue.DefaultLeaseExtension {
			t.Errorf("lease of %v asked for, longer than the extension period %v", lease, queue.DefaultLeaseExtension)
		}
	}
	if nacks != 1 {
		t.Errorf("%d nacks (modacks to 0) sent, want 1: %+v", nacks, m.Modacks)
	}
}

// TestReceiveFromAMissingSubscription: one clear error naming it.
func TestReceiveFromAMissingSubscription(t *testing.T) {
	t.Parallel()
	p := newOnPstest(t, false)
	s := p.client.Subscriber(queue.ReceiveConfig{Subscription: "projects/p/subscriptions/none", MaxOutstanding: 10})
	err := s.Receive(context.Background(), func(context.Context, worker.Delivery) { t.Error("a delivery from a missing subscription") })
	if err == nil || !strings.Contains(err.Error(), "subscription projects/p/subscriptions/none does not exist") {
		t.Errorf("Receive = %v, want that the subscription does not exist", err)
	}
}

// nackThenAck receives from s until it has nacked the first delivery and
// acked the second, checking that Healthy holds only while receiving; it
// returns the deliveries and the errors of settling them.
func nackThenAck(t *testing.T, s *queue.Subscriber) ([]worker.Delivery, error) {
	t.Helper()
	if s.Healthy() {
		t.Error("healthy before receiving")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var got []worker.Delivery
	var errs []error
	acked := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Receive(ctx, func(_ context.Context, m worker.Delivery) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, m)
			switch len(got) {
			case 1:
				errs = append(errs, m.Nack())
			case 2:
				errs = append(errs, m.Ack())
				close(acked)
			}
		})
	}()
	// A nack not honoured would still bring the message back once its
	// lease, at most the extension period, lapsed.
	select {
	case <-acked:
	case err := <-done:
		t.Fatalf("Receive returned early: %v", err)
	case <-time.After(2 * queue.DefaultLeaseExtension):
		t.Fatal("no redelivery after the nack")
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
	return got, errors.Join(errs...)
}

// TestHealthyIsPerSubscription: of two subscriptions of one client, the
// one being received is healthy, the other is not until it is received
// too: a worker reading partitions is ready only when it reads them all.
func TestHealthyIsPerSubscription(t *testing.T) {
	t.Parallel()
	p := newOnPstest(t, false)
	ctx := context.Background()
	setup, err := pubsub.NewClient(ctx, "p", queuetest.ClientOptions(p.srv.Addr)...)
	if err != nil {
		t.Fatal(err)
	}
	defer setup.Close()
	const other = "projects/p/subscriptions/other"
	if _, err := setup.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: other, Topic: p.topic}); err != nil {
		t.Fatal(err)
	}
	pub := p.client.Publisher(queue.PublishConfig{Topic: p.topic})
	if err := pub.Publish(ctx, []byte("operations/x"), nil); err != nil {
		t.Fatal(err)
	}
	pub.Stop()
	receive := func(s *queue.Subscriber) (stop func()) {
		rctx, cancel := context.WithCancel(ctx)
		got := make(chan struct{})
		done := make(chan error, 1)
		var once sync.Once
		go func() {
			done <- s.Receive(rctx, func(_ context.Context, d worker.Delivery) { d.Ack(); once.Do(func() { close(got) }) })
		}()
		select {
		case <-got: // the stream has delivered: it is open and has answered
		case err := <-done:
			t.Fatalf("Receive returned early: %v", err)
		}
		return func() { cancel(); <-done }
	}
	a := p.client.Subscriber(queue.ReceiveConfig{Subscription: p.sub, MaxOutstanding: 10})
	b := p.client.Subscriber(queue.ReceiveConfig{Subscription: other, MaxOutstanding: 10})
	stopA := receive(a)
	defer stopA()
	if !a.Healthy() || b.Healthy() {
		t.Errorf("receiving %s only: healthy %v, and %s %v; want true and false", p.sub, a.Healthy(), other, b.Healthy())
	}
	stopB := receive(b)
	defer stopB()
	if !b.Healthy() {
		t.Errorf("%s not healthy while received", other)
	}
}
