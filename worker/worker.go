package worker

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"golang.org/x/sync/semaphore"

	"opcancel/lro"
	"opcancel/metrics"
	"opcancel/request"
)

// Worker runs the pipeline. Create it with New; it is safe for concurrent use.
type Worker struct {
	cfg     Config
	table   *lro.Table
	ops     Operations
	sink    Sink
	log     *zap.Logger
	metrics *metrics.Metrics
	// tracer and traceLog are nil when tracing is off (see trace.go).
	tracer   trace.Tracer
	traceLog func(trace.SpanContext) []zap.Field

	// pool is the slots of API requests in flight (Concurrency), shared by
	// the services' endpoints; runners run the requests.
	pool    *pool
	runners *requestRunners
	// held bounds the deliveries handed to Handle (MaxOutstanding); Run
	// gives each source a window of its own.
	held     *semaphore.Weighted
	services map[string]*serviceState

	// memory holds the outcomes settled for good, for repeats.
	memory *memory

	// draining is closed once shutdown has begun (see Run): from then on,
	// polls give way to nothing (see turn).
	draining  chan struct{}
	drainOnce sync.Once

	mu sync.Mutex
	// inFlight holds the service/name of the operations in flight.
	inFlight map[string]struct{}
	// messages holds the message IDs in flight, with their fate.
	messages map[string]*fate
}

// New returns a worker. cfg must be valid; its zero internal tunables take
// their defaults.
func New(cfg Config, deps Deps) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if deps.Table == nil || deps.Ops == nil || deps.Log == nil || deps.Metrics == nil {
		return nil, errors.New("worker: Table, Ops, Log and Metrics are required")
	}
	w := &Worker{
		cfg:      cfg,
		table:    deps.Table,
		ops:      deps.Ops,
		sink:     deps.Sink,
		log:      deps.Log,
		metrics:  deps.Metrics,
		tracer:   deps.Tracer,
		traceLog: deps.TraceLog,
		pool:     newPool(cfg.Concurrency),
		runners:  newRequestRunners(cfg.Concurrency),
		held:     semaphore.NewWeighted(int64(cfg.MaxOutstanding)),
		services: map[string]*serviceState{},
		inFlight: map[string]struct{}{},
		messages: map[string]*fate{},
		memory:   newMemory(cfg.MemoryEntries, cfg.MemoryAge),
		draining: make(chan struct{}),
	}
	if w.tracer != nil {
		w.ops = tracedOps{ops: w.ops, tracer: w.tracer}
	}
	for _, s := range deps.Table.Services() {
		w.services[s.Host] = newServiceState(s, cfg.Concurrency, w.metrics)
	}
	initOutcomeSeries(w.metrics, deps.Table.Hosts())
	for _, h := range append(deps.Table.Hosts(), metrics.UnknownService) {
		w.metrics.Panics.WithLabelValues(h)
	}
	w.metrics.MaxOutstanding.Set(float64(cfg.MaxOutstanding))
	w.metrics.Concurrency.Set(float64(cfg.Concurrency))
	return w, nil
}

// Close releases the worker's idle request goroutines and timers. Call it
// once no delivery is being handled any more (after Run has returned).
func (w *Worker) Close() {
	w.runners.close()
	w.stopTimers()
}

// job is one delivery in progress.
type job struct {
	d        Delivery
	req      request.Request
	svc      *lro.Service
	ep       *endpoint // the bulkhead of the endpoint svc's requests for the name go to
	service  string    // the metrics label: a configured host or "unknown"
	received time.Time
	attempts int
	polls    int
	// settled is set once the delivery was acked or nacked.
	settled bool
	// budgetEnd is when retrying must stop; set at the first request.
	budgetEnd time.Time
	// span is the job's span; nil when tracing is off.
	span trace.Span
	// startLine is the start line whose place the job holds until its first
	// request leaves; nil before and after (see admission.go). lined is
	// when the job joined it.
	startLine *startLine
	lined     time.Time
}

// Handle processes d to exactly one outcome, records it and settles d. ctx
// ending before an outcome means interrupted. Handle blocks while the
// deliveries handed to Handle hold MaxOutstanding places. A delivery of a
// message whose first copy is still in flight ends as that copy does (see
// follow); one of a message acked before, or for an operation found done
// before, is settled from memory without a request (see memory). A panic
// while handling d is contained: d is nacked and Handle returns "" (see
// contain).
func (w *Worker) Handle(ctx context.Context, d Delivery) Outcome {
	return w.handle(ctx, w.held, d)
}

// handle is Handle with the window of d's source: held.
func (w *Worker) handle(ctx context.Context, held *semaphore.Weighted, d Delivery) (o Outcome) {
	j := &job{d: d, received: time.Now(), service: metrics.UnknownService}
	ctx = w.startSpan(ctx, j)
	if err := held.Acquire(ctx, 1); err != nil {
		_ = w.route(j) // for the log line and the service's count
		w.finish(ctx, j, interrupted(err))
		return Interrupted
	}
	defer held.Release(1)
	w.metrics.JobsInFlight.Inc()
	defer w.metrics.JobsInFlight.Dec()
	first, following := w.track(d.ID)
	defer func() {
		if v := recover(); v != nil {
			w.contain(j, first, v)
			o = ""
		}
	}()
	if following != nil {
		return w.follow(ctx, j, following)
	}
	r, ok := w.rememberedMessage(j)
	if ok {
		_ = w.route(j) // for the log line and the event
	} else {
		r = w.process(ctx, j)
	}
	acked := w.finish(ctx, j, r)
	if acked {
		w.rememberMessage(j, r)
	}
	if first != nil {
		w.untrack(d.ID, first, j, r, acked)
		first = nil // released: a later panic has no copies to end
	}
	return r.outcome
}

// process decodes and routes the delivery, checks that the deployment may
// cancel it, claims its operation against duplicates, waits for its turn
// to start (admission.go), and decides its outcome.
func (w *Worker) process(ctx context.Context, j *job) result {
	if err := w.route(j); err != nil {
		return invalid(err)
	}
	if err := j.svc.Allowed(j.req.Name); err != nil {
		return forbidden(err)
	}
	key := j.svc.Host + "/" + j.req.Name
	if !w.claim(key) {
		return result{outcome: Duplicate, code: "ALREADY_EXISTS", message: "the same operation is already being cancelled in this process"}
	}
	defer w.release(key)
	// Under the claim: a delivery that ended the operation remembers it
	// before its claim is released.
	if r, ok := w.rememberedOperation(j); ok {
		return r
	}
	if err := w.admit(ctx, j); err != nil {
		return interrupted(err)
	}
	defer w.started(j)
	r := w.cancel(ctx, j)
	w.rememberOperation(j, r)
	return r
}

// route decodes the delivery into j.req and picks its service, j.svc, whose
// host becomes j.service. When that fails, j.service is the enabled service
// the message names, if any: its outcome (invalid, or interrupted before it
// was worked on) is counted there rather than under "unknown".
func (w *Worker) route(j *job) error {
	req, err := request.Decode(j.d.Data, j.d.Attributes)
	j.req = req
	if err != nil {
		return err
	}
	if w.table.Lookup(req.Service) != nil {
		j.service = req.Service
	}
	svc, err := w.table.Route(req.Service, req.Name)
	if err != nil {
		return err
	}
	j.svc, j.service, j.ep = svc, svc.Host, w.endpointOf(svc, req.Name)
	return nil
}

// claim marks key in flight; false if it already was.
func (w *Worker) claim(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.inFlight[key]; ok {
		return false
	}
	w.inFlight[key] = struct{}{}
	return true
}

// release ends the claim on key.
func (w *Worker) release(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.inFlight, key)
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
