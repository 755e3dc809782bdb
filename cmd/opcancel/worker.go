package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"

	"opcancel/lro"
)

// workerCmd is `opcancel worker`: the daemon.
type workerCmd struct {
	workerTarget
	Concurrency     int           `default:"${concurrency}" help:"Max API requests in flight at once (the worker pool)."`
	MaxOutstanding  int           `default:"${max_outstanding}" help:"Max messages held at once, all subscriptions together, including those waiting to start behind their service's rate and between verification polls; each subscription's Pub/Sub flow-control limit is its equal part."`
	LeaseExtension  time.Duration `default:"${lease_extension}" help:"Lease of a held message, renewed while it is held: a worker that dies gets its messages delivered again within it; whole seconds, 10s to 10m."`
	VerifyTimeout   time.Duration `default:"${verify_timeout}" help:"How long to poll for done after a cancel was accepted (a service's verifyTimeout overrides it)."`
	RetryBudget     time.Duration `default:"${retry_budget}" help:"How long one delivery may spend retrying transient failures before it is nacked (0: no retries)."`
	Listen          string        `default:":9090" help:"Address of /metrics, /healthz and /readyz."`
	LogLevel        string        `default:"info" enum:"debug,info,warn,error" help:"Log level: debug, info, warn or error."`
	ShutdownTimeout time.Duration `default:"${shutdown_timeout}" help:"Drain budget after SIGTERM/SIGINT; jobs still running then are nacked."`
	DebugListen     string        `help:"Address of Go's profiles (/debug/pprof/: goroutine dumps, heap, CPU); off if empty. Never the admin address; a loopback IP (127.0.0.1:6060, reached with kubectl port-forward; not a name such as localhost) unless --debug-listen-non-loopback."`
	DebugNetwork    bool          `name:"debug-listen-non-loopback" help:"Let --debug-listen be an address other than loopback (every interface, the pod's): whoever reaches it reads the program's stacks and memory."`
}

// workerHooks let the demo and tests run the real wiring on embedded fakes
// (an embedded Pub/Sub is reached as an emulator, through
// PUBSUB_EMULATOR_HOST).
type workerHooks struct {
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

// run validates the flags, wires the daemon and runs it until ctx ends
// (a clean stop: nil) or a part fails.
func (c *workerCmd) run(ctx context.Context, e *env, hooks workerHooks) error {
	s, err := c.setup(e)
	if err != nil {
		return err
	}
	if hooks.table != nil {
		s.table = hooks.table
	}
	defer s.log.Sync()
	tr, err := c.startTracing(ctx, e)
	if err != nil {
		return err
	}
	defer func() {
		if err := tr.shutdown(); err != nil {
			s.log.Warn("traces not all exported", zap.Error(err))
		}
	}()
	d, err := c.wire(ctx, e, s, hooks)
	if err != nil {
		return err
	}
	defer d.close()
	for _, sub := range s.subscriptions {
		reportDeadLetter(ctx, d.ps, sub, s.log)
	}
	s.log.Info("worker starting", c.startFields(s, d)...)
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

// startFields are the fields of the start-up log line: what runs, and the
// addresses it serves (see docs/contract.md#logs).
func (c *workerCmd) startFields(s *workerSetup, d *daemon) []zap.Field {
	fields := []zap.Field{zap.String("version", build().version), zap.Strings("subscriptions", s.subscriptions),
		zap.Strings("services", s.table.Hosts()), zap.String("resultsTopic", s.resultsTopic),
		zap.Int("concurrency", s.cfg.Concurrency), zap.Int("maxOutstanding", s.cfg.MaxOutstanding),
		zap.String("admin", d.admin.Addr().String())}
	if d.profiles != nil {
		fields = append(fields, zap.String("debug", d.profiles.Addr().String()))
	}
	return fields
}
