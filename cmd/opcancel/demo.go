package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"opcancel/lro"
	"opcancel/queue"
	"opcancel/worker"
)

// demoCmd is `opcancel demo`: everything in one process on embedded fakes.
type demoCmd struct {
	Count    int           `default:"200" help:"How many cancel requests to publish."`
	Mix      string        `default:"cancelled=60,completed=10,unimplemented=8,transient=12,not_found=5,invalid=5" help:"Relative weights of the kinds of operation: cancelled, completed (finishes despite the cancel), unimplemented, transient (503 with RetryInfo, then cancelled), not_found, invalid (malformed messages)."`
	Latency  time.Duration `default:"20ms" help:"Latency of every answer of the fake API."`
	Listen   string        `help:"Keep /metrics, /healthz and /readyz up at this address after the run, until interrupted (default: a free loopback port, closed at the end)."`
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
	table, err := loadServicesFile(c.Config, "")
	if err != nil {
		return err
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
	got, err := c.outcomes(ctx, e, world, names, invalid)
	if err != nil {
		return err
	}
	ok := printDemoTable(e.stdout, got, expected)
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
			return world.fakePubSub.Addr
		}
		return ""
	}}
	defaults := worker.DefaultConfig()
	wc := workerCmd{
		workerTarget: workerTarget{Subscription: []string{world.sub}, ResultsTopic: world.results, Auth: lro.AuthNone, RequestTimeout: 10 * time.Second},
		Concurrency:  defaults.Concurrency, MaxOutstanding: defaults.MaxOutstanding, LeaseExtension: queue.DefaultLeaseExtension,
		// Shorter than the worker's defaults: the demo is over in seconds.
		VerifyTimeout: 30 * time.Second, RetryBudget: 30 * time.Second,
		ShutdownTimeout: 5 * time.Second, LogLevel: c.LogLevel,
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
