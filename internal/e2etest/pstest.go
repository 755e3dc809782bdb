package e2etest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"

	"opcancel/lro/lrotest"
	"opcancel/queue"
)

// PstestWorld is an in-process Pub/Sub (pstest) with a request topic and
// the worker's subscription, and a services file that points both built-in
// services at one API: a quick world for tests of a running worker that
// need no emulator. It is for the wiring: leases, exactly-once acks, dead
// letters and outages are tested on the emulator.
type PstestWorld struct {
	Server *pstest.Server
	// Client is a client of Server, for making more resources.
	Client *queue.Client
	// Topic and Sub are full names; Config is the services file's path.
	Topic, Sub, Config string
}

// NewPstestWorld makes a world whose services file points Vault and the
// Android Management API at apiURL; opts go to pstest.NewServer. It is
// closed at cleanup.
func NewPstestWorld(t testing.TB, apiURL string, opts ...pstest.ServerReactorOption) *PstestWorld {
	t.Helper()
	ctx := context.Background()
	w := &PstestWorld{Server: pstest.NewServer(opts...), Topic: "projects/p/topics/requests", Sub: "projects/p/subscriptions/worker"}
	t.Cleanup(func() { w.Server.Close() })
	var err error
	if w.Client, err = queue.NewClient(ctx, queue.ClientConfig{Project: "p", EmulatorHost: w.Server.Addr}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Client.Close() })
	if err := w.Client.CreateTopic(ctx, w.Topic); err != nil {
		t.Fatal(err)
	}
	if err := w.Client.CreateSubscription(ctx, w.Sub, w.Topic, time.Minute); err != nil {
		t.Fatal(err)
	}
	w.Config = filepath.Join(t.TempDir(), "services.yaml")
	if err := os.WriteFile(w.Config, []byte(lrotest.ServicesYAML(lrotest.AllAt(apiURL), nil)), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

// Publish sends one request per name to the world's topic.
func (w *PstestWorld) Publish(t testing.TB, names ...string) {
	t.Helper()
	pub := w.Client.Publisher(queue.PublishConfig{Topic: w.Topic})
	defer pub.Stop()
	for _, n := range names {
		if _, err := pub.PublishAsync(context.Background(), []byte(n), nil).Get(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// StartWorker runs the opcancel binary's worker on this world, with args,
// until the test ends, and returns it once it is ready.
func (w *PstestWorld) StartWorker(t testing.TB, args ...string) *Process {
	t.Helper()
	return StartWorker(t, []string{"PUBSUB_EMULATOR_HOST=" + w.Server.Addr},
		append([]string{"--auth=none", "--subscription=" + w.Sub, "--config=" + w.Config}, args...)...)
}
