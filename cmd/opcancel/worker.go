package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"google.golang.org/api/option"

	"opcancel/lro"
	"opcancel/metrics"
	"opcancel/queue"
	"opcancel/worker"
)

// workerCmd is `opcancel worker`: the daemon.
type workerCmd struct {
	Project         string        `help:"Project of the subscription and results topic (default: $GOOGLE_CLOUD_PROJECT, or the project of a full subscription name)."`
	Subscription    string        `required:"" help:"Subscription ID or projects/P/subscriptions/S."`
	Config          string        `help:"YAML services file; the built-in services apply without it." type:"path"`
	Concurrency     int           `default:"${concurrency}" help:"Max API requests in flight at once (the worker pool)."`
	MaxOutstanding  int           `default:"${max_outstanding}" help:"Max messages held at once, including those waiting between verification polls; also the Pub/Sub flow-control limit."`
	VerifyTimeout   time.Duration `default:"${verify_timeout}" help:"How long to poll for done after a cancel was accepted (a service's verifyTimeout overrides it)."`
	RetryBudget     time.Duration `default:"${retry_budget}" help:"How long one delivery may spend retrying transient failures before it is nacked (0: no retries)."`
	ResultsTopic    string        `help:"Topic ID or full name for result events; none if empty."`
	Listen          string        `default:":9090" help:"Address of /metrics, /healthz and /readyz."`
	Auth            string        `default:"${auth}" enum:"adc,none" help:"adc: Application Default Credentials; none: no credentials (emulators, tests)."`
	LogLevel        string        `default:"info" enum:"debug,info,warn,error" help:"Log level: debug, info, warn or error."`
	ShutdownTimeout time.Duration `default:"${shutdown_timeout}" help:"Drain budget after SIGTERM/SIGINT; jobs still running then are nacked."`
	RequestTimeout  time.Duration `default:"${request_timeout}" help:"Timeout of one API request, from sending to the last byte of the answer."`
	DebugListen     string        `help:"Address of Go's profiles (/debug/pprof/: goroutine dumps, heap, CPU); off if empty. Never the admin address: use a loopback one (127.0.0.1:6060) and kubectl port-forward."`
}

// workerHooks let the demo and tests run the real wiring on embedded fakes.
type workerHooks struct {
	// pubsubOptions are extra Pub/Sub client options (the demo's pstest).
	pubsubOptions []option.ClientOption
	// transport replaces the HTTP transport to the APIs.
	transport http.RoundTripper
	// table replaces the services of --config (the demo's, pointed at its fakes).
	table *lro.Table
	// listener replaces --listen.
	listener net.Listener
	// started is called once the worker is receiving, with its admin address.
	started func(admin net.Addr)
}

func (c *workerCmd) Run(ctx context.Context, e *env) error {
	return c.run(ctx, e, workerHooks{})
}

// workerSetup is the validated configuration.
type workerSetup struct {
	project, subscription, resultsTopic string
	cfg                                 worker.Config
	table                               *lro.Table
	log                                 *zap.Logger
}

// setup validates the flags; every error is a usage error naming the bad value.
func (c *workerCmd) setup(e *env) (*workerSetup, error) {
	s := &workerSetup{}
	var err error
	if s.subscription, s.project, err = resolveResource(e, c.Project, "subscriptions", "--subscription", c.Subscription); err != nil {
		return nil, err
	}
	if c.ResultsTopic != "" {
		if s.resultsTopic, err = queue.ResourceName(s.project, "topics", c.ResultsTopic); err != nil {
			return nil, usagef("--results-topic %w", err)
		}
	}
	s.cfg = worker.DefaultConfig()
	s.cfg.Concurrency = c.Concurrency
	s.cfg.MaxOutstanding = c.MaxOutstanding
	s.cfg.VerifyTimeout = c.VerifyTimeout
	s.cfg.RetryBudget = c.RetryBudget
	s.cfg.ShutdownTimeout = c.ShutdownTimeout
	if err := s.cfg.Validate(); err != nil {
		return nil, configError(err)
	}
	if c.RequestTimeout <= 0 {
		return nil, usagef("--request-timeout %s: must be positive", c.RequestTimeout)
	}
	// Port 0 picks a free port each time: two such addresses never clash.
	if c.DebugListen != "" && c.DebugListen == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
		return nil, usagef("--debug-listen %s: must differ from --listen: the admin port never serves profiles", c.DebugListen)
	}
	if s.table, err = lro.LoadTable(c.Config, lro.FileOptions{RequireHTTPS: c.Auth == lro.AuthADC}); err != nil {
		return nil, servicesFileError(err)
	}
	if s.log, err = newLogger(c.LogLevel, e.stderr); err != nil {
		return nil, err
	}
	return s, nil
}

// resolveResource returns the full name of kind ("topics" or
// "subscriptions") that the flag's value idOrName names, and the project:
// --project, else $GOOGLE_CLOUD_PROJECT, else the project of a full name.
func resolveResource(e *env, project, kind, flag, idOrName string) (name, proj string, err error) {
	if project == "" {
		project = e.getenv("GOOGLE_CLOUD_PROJECT")
	}
	name, err = queue.ResourceName(project, kind, idOrName)
	switch {
	case errors.Is(err, queue.ErrNoProject):
		return "", "", usagef("%s %q: no project (set --project or GOOGLE_CLOUD_PROJECT, or give projects/PROJECT/%s/ID)", flag, idOrName, kind)
	case err != nil:
		return "", "", usagef("%s %w", flag, err)
	}
	if project == "" {
		project = projectOf(name)
	}
	return name, project, nil
}

// projectOf returns P of projects/P/kind/ID.
func projectOf(name string) string {
	parts := strings.Split(name, "/")
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

func (c *workerCmd) run(ctx context.Context, e *env, hooks workerHooks) error {
	s, err := c.setup(e)
	if err != nil {
		return err
	}
	if hooks.table != nil {
		s.table = hooks.table
	}
	defer s.log.Sync()
	tr, err := startTracing(ctx, e)
	if err != nil {
		return err
	}
	defer func() {
		if err := tr.shutdown(); err != nil {
			s.log.Warn("traces not all exported", zap.Error(err))
		}
	}()
	d, err := c.wire(ctx, e, s, hooks, tr)
	if err != nil {
		return err
	}
	defer d.close()
	reportDeadLetter(ctx, d.ps, s.subscription, s.log)
	fields := []zap.Field{zap.String("version", version), zap.String("subscription", s.subscription),
		zap.Strings("services", s.table.Hosts()), zap.String("resultsTopic", s.resultsTopic),
		zap.Int("concurrency", s.cfg.Concurrency), zap.Int("maxOutstanding", s.cfg.MaxOutstanding),
		zap.String("admin", d.admin.Addr().String())}
	if d.debug != nil {
		fields = append(fields, zap.String("debug", d.debug.Addr().String()))
	}
	s.log.Info("worker starting", fields...)
	if hooks.started != nil {
		hooks.started(d.admin.Addr())
	}
	err = d.run(ctx)
	if ctx.Err() != nil && err == nil {
		s.log.Info("worker stopped")
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// daemon is the wired worker: its parts, ready to run.
type daemon struct {
	ps      *queue.Client
	w       *worker.Worker
	sub     *queue.Subscriber
	results *queue.Publisher // nil without --results-topic
	admin   *metrics.Server
	debug   *metrics.Server // nil without --debug-listen
	// stopping is set when shutdown begins: /readyz then answers 503.
	stopping atomic.Bool
}

// wire builds the daemon's parts as the flags say: the metrics, the API
// client, the admin listener, the Pub/Sub client, the worker and its
// subscriber. On an error it releases what it built.
func (c *workerCmd) wire(ctx context.Context, e *env, s *workerSetup, hooks workerHooks, tr *tracing) (*daemon, error) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	m.BuildInfo.WithLabelValues(version, commit, runtime.Version()).Set(1)
	ops, err := lro.New(ctx, s.table, lro.Config{
		Auth:            c.Auth,
		RequestTimeout:  c.RequestTimeout,
		MaxConnsPerHost: c.Concurrency,
		Transport:       hooks.transport,
		Observer:        worker.RequestObserver(m),
		UserAgent:       userAgent(),
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
	if d.ps, err = queue.NewClient(ctx, queue.ClientConfig{Project: s.project, EmulatorHost: e.getenv("PUBSUB_EMULATOR_HOST"),
		Options: hooks.pubsubOptions, Tracing: tr.on()}); err != nil {
		ln.Close()
		return nil, err
	}
	deps := worker.Deps{Table: s.table, Ops: ops, Log: s.log, Metrics: m}
	if tr.on() {
		deps.Tracer, deps.TraceLog = tr.tracer(), traceFields(s.project)
	}
	if s.resultsTopic != "" {
		d.results = d.ps.Publisher(queue.PublishConfig{Topic: s.resultsTopic})
		deps.Sink = d.results
	}
	if d.w, err = worker.New(s.cfg, deps); err != nil {
		ln.Close()
		d.ps.Close()
		return nil, err
	}
	d.sub = d.ps.Subscriber(queue.ReceiveConfig{
		Subscription:   s.subscription,
		MaxOutstanding: s.cfg.MaxOutstanding,
	})
	// Readiness: receiving, and no shutdown begun.
	d.admin = metrics.NewServer(ln, reg, func() bool { return !d.stopping.Load() && d.sub.Healthy() })
	if c.DebugListen != "" {
		dln, err := net.Listen("tcp", c.DebugListen)
		if err != nil {
			d.close()
			ln.Close()
			return nil, fmt.Errorf("--debug-listen %s: %w", c.DebugListen, err)
		}
		d.debug = metrics.NewDebugServer(dln)
	}
	return d, nil
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
	if d.debug != nil {
		g.Go(func() error { return d.debug.Run(adminCtx) })
	}
	g.Go(func() error {
		defer stopAdmin()
		defer beginShutdown()
		err := d.w.Run(runCtx, d.sub)
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
