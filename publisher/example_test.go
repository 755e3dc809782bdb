package publisher_test

import (
	"context"
	"fmt"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"opcancel/publisher"
)

// A service asks opcancel to cancel an operation: one call per request,
// checked by the worker's own rules before anything is published.
func ExamplePublish() {
	ctx := context.Background()
	// An in-process Pub/Sub stands in for the real one here.
	srv := pstest.NewServer()
	defer srv.Close()
	client, err := pubsub.NewClient(ctx, "my-project", option.WithEndpoint(srv.Addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		panic(err)
	}
	defer client.Close()
	topic := "projects/my-project/topics/opcancel-requests"
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		panic(err)
	}
	p := client.Publisher(topic)
	defer p.Stop()

	_, err = publisher.Publish(ctx, p, publisher.Request{
		Name:   "//androidmanagement.googleapis.com/enterprises/e1/devices/d1/operations/o1",
		Reason: "incident 4711",
		Batch:  "2026-11-22-wipe-storm",
	})
	fmt.Println("published:", err == nil)
	m := srv.Messages()[0]
	fmt.Printf("%s %v\n", m.Data, m.Attributes)

	_, err = publisher.Publish(ctx, p, publisher.Request{Name: "operations/../admin"})
	fmt.Println(err)
	// Output:
	// published: true
	// {"name":"enterprises/e1/devices/d1/operations/o1","service":"androidmanagement.googleapis.com","reason":"incident 4711","batch":"2026-11-22-wipe-storm"} map[batch:2026-11-22-wipe-storm service:androidmanagement.googleapis.com]
	// cancel request "operations/../admin": invalid: name has a ".." segment
}
