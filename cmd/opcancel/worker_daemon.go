package main

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"opcancel/lro"
	"opcancel/metrics"
	"opcancel/queue"
	"opcancel/worker"
)

// daemon is the wired worker: its parts, ready to run.
type daemon struct {
	ps       *queue.Client
	w        *worker.Worker
	subs     []*queue.Subscriber
	results  *queue.Publisher // nil without --results-topic
	admin    *metrics.Server
	profiles *metrics.Server // nil without --debug-listen
	// stopping is set when shutdown begins: /readyz then answers 503.
	stopping atomic.Bool
}

// wire builds the daemon's parts as the flags say: the metrics, the API
// client, the admin listener, the Pub/Sub client, the worker and its
// subscriber, and the profile server. On an error it releases what it built.
func (c *workerCmd) wire(ctx context.Context, e *env, s *workerSetup, hooks workerHooks) (*daemon, error) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	m.BuildInfo.WithLabelValues(build().version, build().commit, runtime.Version()).Set(1)
	ops, err := lro.New(ctx, s.table, lro.Config{
		Auth:            c.Auth,
		RequestTimeout:  c.RequestTimeout,
		MaxConnsPerHost: c.Concurrency,
		Transport:       hooks.transport,
		Observer:        worker.RequestObserver(m),
		UserAgent:       userAgent(),
		QuotaProject:    e.getenv(quotaProjectEnv),
	})
	if err != nil {
		return nil, err
	}
	ln := hooks.listener
	if ln == nil {
		if ln, err = net.Listen("tcp", c.Listen); err != nil {
			return nil, fmt.Errorf("--listen %s: %w", c.Listen, err)
		}
	}
	d := &daemon{}
	if d.ps, err = c.connect(ctx, e); err != nil {
		ln.Close()
		return nil, err
	}
	if err := d.makeWorker(c, s, worker.Deps{Table: s.table, Ops: ops, Log: s.log, Metrics: m}); err != nil {
		ln.Close()
		d.ps.Close()
		return nil, err
	}
	// Readiness: receiving from every subscription, and no shutdown begun.
	d.admin = metrics.NewServer(ln, reg, d.ready)
	if c.DebugListen != "" {
		pln, err := net.Listen("tcp", c.DebugListen)
		if err != nil {
			d.close()
			ln.Close()
			return nil, fmt.Errorf("--debug-listen %s: %w", c.DebugListen, err)
		}
		d.profiles = metrics.NewProfileServer(pln)
	}
	return d, nil
}

// makeWorker makes the worker on the Pub/Sub client, with its tracing, its
// results publisher and its subscriber.
func (d *daemon) makeWorker(c *workerCmd, s *workerSetup, deps worker.Deps) error {
	if c.tracing.on() {
		deps.Tracer, deps.TraceLog = c.tracing.tracer(), traceFields(c.project)
	}
	if s.resultsTopic != "" {
		// The publisher gives up on an event at the publish timeout, so
		// that a nacked delivery has no event (worker.Sink).
		d.results = d.ps.Publisher(queue.PublishConfig{Topic: s.resultsTopic, Timeout: s.cfg.PublishTimeout})
		deps.Sink = d.results
	}
	var err error
	if d.w, err = worker.New(s.cfg, deps); err != nil {
		return err
	}
	for _, r := range s.receive {
		d.subs = append(d.subs, d.ps.Subscriber(r))
	}
	return nil
}

// ready reports whether the worker receives from every subscription and
// no shutdown has begun.
func (d *daemon) ready() bool {
	if d.stopping.Load() {
		return false
	}
	for _, sub := range d.subs {
		if !sub.Healthy() {
			return false
		}
	}
	return true
}

// run supervises the worker and the admin server. Shutdown begins when ctx
// ends (a signal) or a part fails; the admin server outlives the drain so
// that /readyz says 503 and /metrics stays up.
func (d *daemon) run(ctx context.Context) error {
	runCtx, beginShutdown := context.WithCancel(ctx)
	defer beginShutdown()
	context.AfterFunc(runCtx, func() { d.stopping.Store(true) })
	adminCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAdmin()
	var g errgroup.Group
	g.Go(func() error {
		err := d.admin.Run(adminCtx)
		beginShutdown()
		if err != nil {
			return fmt.Errorf("admin server: %w", err)
		}
		return nil
	})
	if d.profiles != nil {
		g.Go(func() error { return d.profiles.Run(adminCtx) })
	}
	g.Go(func() error {
		defer stopAdmin()
		defer beginShutdown()
		srcs := make([]worker.Source, len(d.subs))
		for i, sub := range d.subs {
			srcs[i] = sub
		}
		err := d.w.Run(runCtx, srcs...)
		if d.results != nil {
			d.results.Stop() // flush result events before exit
		}
		return err
	})
	return g.Wait()
}

// close releases the worker and the Pub/Sub client once run has returned.
func (d *daemon) close() {
	d.w.Close()
	d.ps.Close()
}
