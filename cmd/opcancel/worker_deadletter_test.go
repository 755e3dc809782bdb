package main

import (
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/pubsub/v2/pstest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc/codes"

	"opcancel/queue"
)

// TestDeadLetterPolicyNotReadable: credentials with roles/pubsub.subscriber
// alone may not read their subscription; the worker says once, at info
// level, which permission it lacks and what is at stake, and starts.
func TestDeadLetterPolicyNotReadable(t *testing.T) {
	t.Parallel()
	srv := pstest.NewServer(pstest.WithErrorInjection("GetSubscription", codes.PermissionDenied, "caller lacks pubsub.subscriptions.get"))
	t.Cleanup(func() { srv.Close() })
	ctx := context.Background()
	ps, err := queue.NewClient(ctx, queue.ClientConfig{Project: "p", EmulatorHost: srv.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	core, logs := observer.New(zap.DebugLevel)
	reportDeadLetter(ctx, ps, "projects/p/subscriptions/worker", zap.New(core))
	entries := logs.AllUntimed()
	if len(entries) != 1 {
		t.Fatalf("%d log lines, want 1: %v", len(entries), entries)
	}
	e := entries[0]
	if e.Level != zap.InfoLevel || !strings.Contains(e.Message, "pubsub.subscriptions.get") || !strings.Contains(e.Message, "redelivered forever") {
		t.Errorf("log line %s %q, want info naming pubsub.subscriptions.get and the risk", e.Level, e.Message)
	}
	if got := e.ContextMap()["subscription"]; got != "projects/p/subscriptions/worker" {
		t.Errorf("subscription field %v", got)
	}
}
