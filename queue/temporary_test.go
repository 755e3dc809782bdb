package queue_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	"opcancel/queue"
	"opcancel/queue/queuetest"
)

func TestEqualsFilter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value, want string
		ok          bool
	}{
		{"2026-11-22T075320Z-71f5fd", `attributes.batch = "2026-11-22T075320Z-71f5fd"`, true},
		{`wipe "storm"`, `attributes.batch = "wipe \"storm\""`, true},
		{`a\b\"c`, `attributes.batch = "a\\b\\\"c"`, true},
		{"incident 4711 é", `attributes.batch = "incident 4711 é"`, true},
		{"", `attributes.batch = ""`, true},
		{"tab\there", "", false},
		{"new\nline", "", false},
		{strings.Repeat("b", 128), `attributes.batch = "` + strings.Repeat("b", 128) + `"`, true},
		{strings.Repeat("é", 128), "", false},                                                      // 256 bytes of value: over Pub/Sub's 256-byte filter
		{strings.Repeat(`"`, 117), `attributes.batch = "` + strings.Repeat(`\"`, 117) + `"`, true}, // 255 bytes
		{strings.Repeat(`"`, 118), "", false},
	}
	for _, tt := range tests {
		got, ok := queue.EqualsFilter("batch", tt.value)
		if got != tt.want || ok != tt.ok {
			t.Errorf("EqualsFilter(batch, %q) = %q, %v; want %q, %v", tt.value, got, ok, tt.want, tt.ok)
		}
	}
}

// TestEqualsFilterSelects: on a server that applies filters, the filter
// of a batch with quotes and backslashes delivers that batch's messages,
// and no other's.
func TestEqualsFilterSelects(t *testing.T) {
	t.Parallel()
	srv := pstest.NewServer()
	defer srv.Close()
	ctx := context.Background()
	c, err := queue.NewClient(ctx, queue.ClientConfig{Project: "proj", Options: []option.ClientOption{
		option.WithEndpoint(srv.Addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const topic, sub = "projects/proj/topics/results", "projects/proj/subscriptions/wait"
	if err := c.CreateTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}
	batch := `b "1" \ two`
	filter, ok := queue.EqualsFilter("batch", batch)
	if !ok {
		t.Fatalf("no filter for %q", batch)
	}
	if err := c.CreateTemporarySubscription(ctx, sub, topic, filter); err != nil {
		t.Fatal(err)
	}
	p := c.Publisher(queue.PublishConfig{Topic: topic})
	for _, b := range []string{batch, `b "1" \\ two`, `b \"1\" \ two`, "b 1 two", ""} {
		if err := p.Publish(ctx, []byte(b), map[string]string{"batch": b}); err != nil {
			t.Fatal(err)
		}
	}
	p.Stop()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	got, err := c.Pull(pctx, sub, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || string(got[0].Data) != batch {
		var data []string
		for _, m := range got {
			data = append(data, string(m.Data))
		}
		t.Errorf("the filter %s delivered %q, want only %q", filter, data, batch)
	}
	if err := c.DeleteSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteSubscription(ctx, sub); err != nil {
		t.Errorf("deleting it again = %v, want nil", err)
	}
}

// TestSeekToTime: on a topic that keeps its messages, a subscription
// created after a message was published and sought back to before it
// receives it, and one sought to a later time does not. (A new
// subscription of the emulator receives the topic's retained messages even
// without a seek, unlike Pub/Sub's, which receives only what is published
// after it exists: the seek forward tells a seek done from none.)
func TestSeekToTime(t *testing.T) {
	t.Parallel()
	e := queuetest.ForTest(t)
	ctx := context.Background()
	c, err := queue.NewClient(ctx, queue.ClientConfig{Project: "seek", EmulatorHost: e.Host})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const topic = "projects/seek/topics/kept"
	tp := &pubsubpb.Topic{Name: topic, MessageRetentionDuration: durationpb.New(10 * time.Minute)}
	if _, err := e.Client.TopicAdminClient.CreateTopic(ctx, tp); err != nil {
		t.Fatal(err)
	}
	p := c.Publisher(queue.PublishConfig{Topic: topic})
	if err := p.Publish(ctx, []byte("early"), nil); err != nil {
		t.Fatal(err)
	}
	p.Stop()
	now := time.Now()
	seek := func(name string, to time.Time) string {
		sub := "projects/seek/subscriptions/" + name
		if err := c.CreateTemporarySubscription(ctx, sub, topic, ""); err != nil {
			t.Fatal(err)
		}
		if err := c.SeekToTime(ctx, sub, to); err != nil {
			t.Fatal(err)
		}
		return sub
	}
	back := seek("back", now.Add(-time.Hour))
	if got, err := c.Pull(ctx, back, 10); err != nil || len(got) != 1 || string(got[0].Data) != "early" {
		t.Errorf("sought back an hour: pulled %v, %v; want the message published before the subscription", got, err)
	}
	forward := seek("forward", now.Add(time.Minute))
	// The emulator answers a pull that returns immediately with what the
	// subscription holds: "early" without the seek.
	if got, err := e.Pull(ctx, forward, 10); err != nil || len(got) != 0 {
		t.Errorf("sought to a minute ahead: pulled %v, %v; want nothing", got, err)
	}
}
