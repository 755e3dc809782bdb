package queuetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	vkit "cloud.google.com/go/pubsub/v2/apiv1"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
)

// TestEmulatorEndsTheStreamsOfDepartedClients: a client opens a streaming
// pull through Host and vanishes without closing it; messages published
// afterwards are there for the next client at once. Straight to the
// emulator, the departed stream would take them and lease them for its ack
// deadline, so none of them could come back before it.
func TestEmulatorEndsTheStreamsOfDepartedClients(t *testing.T) {
	t.Parallel()
	e := ForTest(t)
	ctx := context.Background()
	const streamDeadline = 10 * time.Second // the least the emulator allows
	topic, sub, err := e.TopicAndSubscription(ctx, "proj", "requests", "worker", SubscriptionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	departed, err := vkit.NewSubscriptionAdminClient(ctx, ClientOptions(e.Host)...)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := departed.StreamingPull(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&pubsubpb.StreamingPullRequest{Subscription: sub, StreamAckDeadlineSeconds: int32(streamDeadline / time.Second)}); err != nil {
		t.Fatal(err)
	}
	// A message received shows the stream open on the emulator; closing the
	// connection then ends it as a killed process would.
	if _, err := e.Client.TopicAdminClient.Publish(ctx, &pubsubpb.PublishRequest{Topic: topic, Messages: []*pubsubpb.PubsubMessage{{Data: []byte("first")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	departed.Close()
	// The proxy half-closes the stream once the connection is closed, and
	// the emulator ends it at its next poll of it; no setting bounds that,
	// so the wait is the test's deadline.
	wctx, wcancel := untilDeadline(t)
	defer wcancel()
	if err := e.WaitStreams(wctx, sub, 0); err != nil {
		t.Fatalf("the departed client's stream: %v", err)
	}

	// A new client streams, and messages published one at a time reach it:
	// each publication would be a race between it and the departed stream.
	live, err := vkit.NewSubscriptionAdminClient(ctx, ClientOptions(e.Host)...)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	// Before any lease by the departed stream could lapse.
	rctx, cancel := context.WithTimeout(ctx, streamDeadline/2)
	defer cancel()
	next, err := live.StreamingPull(rctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := next.Send(&pubsubpb.StreamingPullRequest{Subscription: sub, StreamAckDeadlineSeconds: int32(streamDeadline / time.Second)}); err != nil {
		t.Fatal(err)
	}
	const n = 20
	for i := range n {
		if _, err := e.Client.TopicAdminClient.Publish(ctx, &pubsubpb.PublishRequest{Topic: topic, Messages: []*pubsubpb.PubsubMessage{{Data: fmt.Appendf(nil, "m%d", i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	for got < n {
		r, err := next.Recv()
		if err != nil {
			t.Fatalf("%d of %d messages reached the new client before %v: %v", got, n, streamDeadline/2, err)
		}
		got += len(r.ReceivedMessages)
	}
}
