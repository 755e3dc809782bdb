package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"net/url"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"

	"opcancel/lro"
	"opcancel/lro/lrotest"
	"opcancel/queue"
	"opcancel/worker"
)

// demoCmd is `opcancel demo`: everything in one process on embedded fakes.
type demoCmd struct {
	Count    int           `default:"200" help:"How many cancel requests to publish."`
	Mix      string        `default:"cancelled=60,completed=10,unimplemented=8,transient=12,not_found=5,invalid=5" help:"Relative weights of the kinds of operation: cancelled, completed (finishes despite the cancel), unimplemented, transient (503 with RetryInfo, then cancelled), not_found, invalid (malformed messages)."`
	Latency  time.Duration `default:"20ms" help:"Latency of every answer of the fake API."`
	Listen   string        `help:"Keep /metrics, /healthz and /readyz up at this address after the run, until interrupted (default: a free port, closed at the end)."`
	LogLevel string        `default:"error" enum:"debug,info,warn,error" help:"Level of the worker's JSON log on stderr (info shows one line per outcome)."`
	Timeout  time.Duration `default:"60s" help:"Give up if the outcomes are not all in by then."`
	Config   string        `help:"YAML services file: the demo plays every API it enables, besides the built-ins, on fakes (it sends nothing anywhere else)." type:"path"`
}

func (c *demoCmd) Run(ctx context.Context, e *env) error {
	if c.Count < 1 || c.Count > 100000 {
		return usagef("--count %d: want 1 to 100000", c.Count)
	}
	counts, err := parseMix(c.Mix, c.Count)
	if err != nil {
		return err
	}
	table, err := lro.LoadTable(c.Config, lro.FileOptions{})
	if err != nil {
		return servicesFileError(err)
	}
	world, err := newDemoWorld(ctx, c.Latency, table)
	if err != nil {
		return err
	}
	defer world.close()
	names, invalid, expected := demoOperations(counts, world.fakes, world.table)
	w, err := c.startWorker(ctx, e, world)
	if err != nil {
		return err
	}
	defer w.stop()
	fmt.Fprintf(e.stdout, "opcancel demo: %d cancel requests on an embedded Pub/Sub and fake APIs (metrics at http://%s/metrics)\n", c.Count, w.admin)
	if err := world.publish(ctx, e, names, invalid); err != nil {
		return err
	}
	got, err := c.await(ctx, e, w.admin, c.Count)
	if err != nil {
		return err
	}
	ok := printTable(e.stdout, got, expected)
	if c.Listen != "" {
		fmt.Fprintf(e.stdout, "metrics stay up at http://%s/metrics; interrupt (Ctrl-C) to exit\n", w.admin)
		<-ctx.Done()
	}
	if err := w.stop(); err != nil {
		return fmt.Errorf("demo worker: %w", err)
	}
	if !ok {
		return errors.New("demo: the outcomes differ from what the fake API was scripted to produce")
	}
	return nil
}

// demoProject is the project of the demo's topics and subscription.
const demoProject = "opcancel-demo"

// demoWorld is what the demo runs on: an embedded Pub/Sub, reached the way
// an emulator is, with the request topic, the worker's subscription and the
// results topic; and one fake API per enabled service on a loopback
// socket, impersonating it, with the table that points the services there.
type demoWorld struct {
	ps                  *pstest.Server
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
		ps:      pstest.NewServer(),
		topic:   "projects/" + demoProject + "/topics/requests",
		sub:     "projects/" + demoProject + "/subscriptions/worker",
		results: "projects/" + demoProject + "/topics/results",
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
	if w.qc, err = queue.NewClient(ctx, queue.ClientConfig{Project: demoProject, EmulatorHost: w.ps.Addr}); err != nil {
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

// close stops what the world started.
func (w *demoWorld) close() {
	for _, s := range w.servers {
		s.Close()
	}
	if w.qc != nil {
		w.qc.Close()
	}
	w.ps.Close()
}

// publish submits the valid names through submit's path; malformed messages
// go straight to the topic, as a misbehaving publisher's would.
func (w *demoWorld) publish(ctx context.Context, e *env, names []line, invalid []string) error {
	pub := w.qc.Publisher(queue.PublishConfig{Topic: w.topic, CountThreshold: 1000})
	sum, err := submit(ctx, submission{table: w.table, pub: pub, lines: names, batch: newBatchID(time.Now()), reason: "demo", stderr: e.stderr})
	for _, raw := range invalid {
		if _, perr := pub.PublishAsync(ctx, []byte(raw), nil).Get(ctx); perr != nil && err == nil {
			err = perr
		}
	}
	pub.Stop()
	if err != nil {
		return fmt.Errorf("demo submit: %w", err)
	}
	fmt.Fprintf(e.stdout, "submitted: %s; plus %d malformed messages\n", sum, len(invalid))
	return nil
}

// demoWorker is the worker the demo runs in the background.
type demoWorker struct {
	admin   net.Addr
	cancel  context.CancelFunc
	errc    chan error
	err     error
	stopped bool
}

// startWorker runs the real worker wiring, as `opcancel worker` runs it, on
// the demo's world, and returns once it is receiving.
func (c *demoCmd) startWorker(ctx context.Context, e *env, world *demoWorld) (*demoWorker, error) {
	ln, err := net.Listen("tcp", orDefault(c.Listen, "127.0.0.1:0"))
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", c.Listen, err)
	}
	denv := &env{stdin: e.stdin, stdout: e.stdout, stderr: e.stderr, getenv: func(k string) string {
		if k == "PUBSUB_EMULATOR_HOST" {
			return world.ps.Addr
		}
		return ""
	}}
	defaults := worker.DefaultConfig()
	wc := workerCmd{
		Subscription: world.sub, ResultsTopic: world.results, Auth: lro.AuthNone,
		Concurrency: defaults.Concurrency, MaxOutstanding: defaults.MaxOutstanding,
		// Shorter than the worker's defaults: the demo is over in seconds.
		VerifyTimeout: 30 * time.Second, RetryBudget: 30 * time.Second,
		ShutdownTimeout: 5 * time.Second, RequestTimeout: 10 * time.Second, LogLevel: c.LogLevel,
	}
	started := make(chan net.Addr, 1)
	wctx, cancel := context.WithCancel(ctx)
	w := &demoWorker{cancel: cancel, errc: make(chan error, 1)}
	go func() {
		w.errc <- wc.run(wctx, denv, workerHooks{table: world.table, listener: ln, started: func(a net.Addr) { started <- a }})
	}()
	select {
	case w.admin = <-started:
		return w, nil
	case err := <-w.errc:
		cancel()
		return nil, fmt.Errorf("demo worker: %w", err)
	}
}

// stop stops the worker, waits for it and returns its error; it may be
// called again.
func (w *demoWorker) stop() error {
	if !w.stopped {
		w.cancel()
		w.err, w.stopped = <-w.errc, true
	}
	return w.err
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
