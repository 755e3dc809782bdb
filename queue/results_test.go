package queue_test

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/api/option"
	"google.golang.org/grpc"

	"opcancel/lro"
	"opcancel/lro/lrotest"
	"opcancel/metrics"
	"opcancel/queue"
	"opcancel/worker"
)

// TestNoEventForANackedDelivery: when a result event's publication
// outlasts the publish timeout, the delivery is nacked and no event for it
// ever reaches the topic: not later, when Pub/Sub answers again, nor when
// the publisher is stopped. The client library used to keep the event
// queued (its own timeout was a minute, and it does not take the caller's
// context) and publish it after the nack, so that consumers saw an outcome
// for a delivery that would be handled and reported again.
func TestNoEventForANackedDelivery(t *testing.T) {
	t.Parallel()
	const results = "projects/p/topics/results"
	srv := pstest.NewServer()
	t.Cleanup(func() { srv.Close() })
	// Pub/Sub holds every publish until released (or its caller gives up).
	release := make(chan struct{})
	hold := grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if r, ok := req.(*pubsubpb.PublishRequest); ok && r.Topic == results {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return invoke(ctx, method, req, reply, cc, opts...)
	})
	ctx := context.Background()
	client, err := queue.NewClient(ctx, queue.ClientConfig{Project: "p", EmulatorHost: srv.Addr, Options: []option.ClientOption{option.WithGRPCDialOption(hold)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if err := client.CreateTopic(ctx, results); err != nil {
		t.Fatal(err)
	}
	cfg := worker.DefaultConfig()
	cfg.PollInitial = time.Millisecond
	cfg.PublishTimeout = 200 * time.Millisecond
	pub := client.Publisher(queue.PublishConfig{Topic: results, Timeout: cfg.PublishTimeout})
	w := resultsWorker(t, cfg, pub)

	var nacked, acked bool
	d := worker.Delivery{ID: "1", Data: []byte("operations/x"),
		Ack:  func() error { acked = true; return nil },
		Nack: func() error { nacked = true; return nil }}
	if got := w.Handle(ctx, d); got != worker.Cancelled || !nacked || acked {
		t.Fatalf("Handle = %s, nacked %v, acked %v; want cancelled and nacked: its event was not published in time", got, nacked, acked)
	}
	close(release)
	pub.Stop()
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d result events published for a nacked delivery, want none", n)
	}
}

// resultsWorker is a worker that publishes to sink, against an API that
// cancels every operation at once.
func resultsWorker(t *testing.T, cfg worker.Config, sink worker.Sink) *worker.Worker {
	t.Helper()
	api := lrotest.New(lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{} }})
	table, err := lro.ParseTable("services.yaml", []byte(lrotest.ServicesYAML(lrotest.AllAt("http://vault.test"), nil)), lro.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ops, err := lro.New(context.Background(), table, lro.Config{Auth: lro.AuthNone, Transport: api.Transport()})
	if err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(cfg, worker.Deps{Table: table, Ops: ops, Sink: sink, Log: zap.NewNop(), Metrics: metrics.New(prometheus.NewRegistry())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}
