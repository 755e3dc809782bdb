package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"

	"opcancel/lro"
	"opcancel/lro/lrotest"
	"opcancel/metrics"
	"opcancel/queue"
)

// demoProject is the project of the demo's topics and subscription.
const demoProject = "opcancel-demo"

// demoWorld is what the demo runs on: an embedded Pub/Sub, reached the way
// an emulator is, with the request topic, the worker's subscription and the
// results topic; and one fake API per enabled service on a loopback
// socket, impersonating it, with the table that points the services there.
type demoWorld struct {
	fakePubSub          *pstest.Server
	qc                  *queue.Client
	topic, sub, results string
	fakes               []demoFake
	servers             []*httptest.Server
	table               *lro.Table
}

// demoFake is an enabled service, pointed at the fake that plays it.
type demoFake struct {
	svc  *lro.Service
	fake *lrotest.Server
}

// newDemoWorld starts the demo's world; on an error it releases what it started.
func newDemoWorld(ctx context.Context, latency time.Duration, table *lro.Table) (*demoWorld, error) {
	w := &demoWorld{
		fakePubSub: pstest.NewServer(),
		topic:      "projects/" + demoProject + "/topics/requests",
		sub:        "projects/" + demoProject + "/subscriptions/worker",
		results:    "projects/" + demoProject + "/topics/results",
	}
	if err := w.startPubSub(ctx); err != nil {
		w.close()
		return nil, err
	}
	if err := w.startAPIs(latency, table); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// startPubSub connects to the embedded Pub/Sub and creates the topics and
// the subscription.
func (w *demoWorld) startPubSub(ctx context.Context) error {
	var err error
	if w.qc, err = queue.NewClient(ctx, queue.ClientConfig{Project: demoProject, EmulatorHost: w.fakePubSub.Addr}); err != nil {
		return err
	}
	for _, t := range []string{w.topic, w.results} {
		if err := w.qc.CreateTopic(ctx, t); err != nil {
			return fmt.Errorf("demo pubsub: %w", err)
		}
	}
	if err := w.qc.CreateSubscription(ctx, w.sub, w.topic, time.Minute); err != nil {
		return fmt.Errorf("demo pubsub: %w", err)
	}
	return nil
}

// startAPIs serves one fake API per enabled service, impersonating it, and
// makes the demo's table: the same services, every request of theirs sent
// to their fake.
func (w *demoWorld) startAPIs(latency time.Duration, table *lro.Table) error {
	local := make([]*lro.Service, 0, len(table.Services()))
	for _, svc := range table.Services() {
		fake := lrotest.New(lrotest.Options{Latency: latency, Services: []*lro.Service{svc}})
		srv := httptest.NewServer(fake)
		w.servers = append(w.servers, srv)
		s := *svc
		u, err := url.Parse(srv.URL)
		if err != nil {
			return err
		}
		s.Endpoint, s.Regional = u, nil
		local = append(local, &s)
		w.fakes = append(w.fakes, demoFake{svc: &s, fake: fake})
	}
	w.table = lro.NewTable(local)
	return nil
}

// watchRecorder tells a watch of the messages published.
type watchRecorder struct{ w *watch }

func (r watchRecorder) sent(o outgoing, id string) error {
	r.w.expect(id, o.req.Service, o.req.Name)
	return nil
}

func (watchRecorder) idle() error { return nil }

// close stops what the world started.
func (w *demoWorld) close() {
	for _, s := range w.servers {
		s.Close()
	}
	if w.qc != nil {
		w.qc.Close()
	}
	w.fakePubSub.Close()
}

// publish submits the valid names through submit's path; malformed messages
// go straight to the topic, as a misbehaving publisher's would, with the
// batch as their attribute. watch expects them all.
func (w *demoWorld) publish(ctx context.Context, e *env, names []givenName, invalid []string, watch *watch) error {
	pub := w.qc.Publisher(queue.PublishConfig{Topic: w.topic, CountThreshold: 1000})
	sub := submission{table: w.table, pub: pub, names: names, batch: watch.batch, reason: "demo", stderr: e.stderr,
		record: watchRecorder{watch}}
	out, invalidNames := sub.prepare()
	sum, err := sub.publishAll(ctx, out, invalidNames)
	for _, raw := range invalid {
		id, perr := pub.PublishAsync(ctx, []byte(raw), map[string]string{"batch": watch.batch}).Get(ctx)
		if perr != nil && err == nil {
			err = perr
		}
		if perr == nil {
			watch.expect(id, metrics.UnknownService, raw)
		}
	}
	pub.Stop()
	watch.published()
	if err != nil {
		return fmt.Errorf("demo submit: %w", err)
	}
	fmt.Fprintf(e.stdout, "submitted: %s; plus %d malformed messages\n", sum, len(invalid))
	return nil
}
