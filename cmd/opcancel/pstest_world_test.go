package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"

	"opcancel/queue"
	"opcancel/queue/queuetest"
)

// pstestWorld is an in-process Pub/Sub (pstest) with a request topic and
// the worker's subscription, and a services file that points both built-in
// services at one API: a quick world for tests of the running worker that
// need no emulator.
type pstestWorld struct {
	ps                 *pstest.Server
	qc                 *queue.Client
	topic, sub, config string
}

func newPstestWorld(t *testing.T, apiURL string) *pstestWorld {
	t.Helper()
	ctx := context.Background()
	w := &pstestWorld{ps: pstest.NewServer(), topic: "projects/p/topics/requests", sub: "projects/p/subscriptions/worker"}
	t.Cleanup(func() { w.ps.Close() })
	var err error
	if w.qc, err = queue.NewClient(ctx, queue.ClientConfig{Project: "p", EmulatorHost: w.ps.Addr}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.qc.Close() })
	if err := w.qc.CreateTopic(ctx, w.topic); err != nil {
		t.Fatal(err)
	}
	if err := w.qc.CreateSubscription(ctx, w.sub, w.topic, time.Minute); err != nil {
		t.Fatal(err)
	}
	w.config = filepath.Join(t.TempDir(), "services.yaml")
	services := fmt.Sprintf("services:\n  - host: vault.googleapis.com\n    endpoint: %s\n    patterns: [\"operations/**\"]\n"+
		"  - host: androidmanagement.googleapis.com\n    endpoint: %s\n    patterns: [\"enterprises/*/devices/*/operations/*\"]\n", apiURL, apiURL)
	if err := os.WriteFile(w.config, []byte(services), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

// publish sends one request per name.
func (w *pstestWorld) publish(t *testing.T, names ...string) {
	t.Helper()
	pub := w.qc.Publisher(queue.PublishConfig{Topic: w.topic})
	defer pub.Stop()
	for _, n := range names {
		if _, err := pub.PublishAsync(context.Background(), []byte(n), nil).Get(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// start runs `opcancel worker` in-process on this world, with args, until
// the test ends. pstest stands in for the emulator: startWorker reads only
// its Host.
func (w *pstestWorld) start(t *testing.T, args ...string) (admin string, logs *syncBuffer) {
	t.Helper()
	admin, logs, _ = startWorker(t, &queuetest.Emulator{Host: w.ps.Addr},
		append([]string{"--subscription=" + w.sub, "--config=" + w.config}, args...)...)
	return admin, logs
}
