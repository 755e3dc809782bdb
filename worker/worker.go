package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sync/semaphore"

	"opcancel/lro"
	"opcancel/metrics"
)

// Delivery is one received message and the means to settle it.
type Delivery struct {
	// ID is the Pub/Sub message ID.
	ID   string
	Data []byte
	// Attributes are the message's attributes.
	Attributes map[string]string
	// DeliveryAttempt is the delivery count when the subscription has a
	// dead-letter policy, 0 otherwise.
	DeliveryAttempt int
	// Ack and Nack settle the message; an error means the settlement may not
	// have reached the server (exactly-once subscriptions report it).
	Ack  func() error
	Nack func() error
}

// Handler processes one delivery to its outcome and settles it.
type Handler func(ctx context.Context, d Delivery)

// Source delivers messages to a handler until ctx is done or it fails. It
// returns only after every handler call it made has returned.
type Source interface {
	Receive(ctx context.Context, h Handler) error
}

// Sink receives result events: JSON data and attributes (CONTRACT §6).
type Sink interface {
	Publish(ctx context.Context, data []byte, attrs map[string]string) error
}

// Operations is the API client the worker uses; *lro.Client satisfies it.
type Operations interface {
	Cancel(ctx context.Context, svc *lro.Service, name string) error
	Get(ctx context.Context, svc *lro.Service, name string) (*lro.Operation, error)
}

// Worker runs the pipeline. Create it with New; it is safe for concurrent use.
type Worker struct {
	cfg     Config
	table   *lro.Table
	ops     Operations
	sink    Sink
	log     *zap.Logger
	metrics *metrics.Metrics

	// pool bounds API requests in flight (--concurrency); requests runs them.
	pool     *semaphore.Weighted
	requests *requestPool
	// held bounds deliveries held (--max-outstanding).
	held     *semaphore.Weighted
	services map[string]*serviceState

	mu       sync.Mutex
	inFlight map[string]struct{}
}

// serviceState is the per-service request gate.
type serviceState struct {
	// throttle holds the service's rate: configured, lowered adaptively on overload.
	throttle *throttle
	// gate serialises pool acquisition and pacing, so that a service's
	// sends leave in order and at least 1/rate apart.
	gate chan struct{}
	// allowed is the service's opcancel_throttle_allowed_rate series.
	allowed prometheus.Gauge
}

// Deps are the worker's collaborators.
type Deps struct {
	Table   *lro.Table
	Ops     Operations
	Sink    Sink // nil: no result events
	Log     *zap.Logger
	Metrics *metrics.Metrics
}

// New returns a worker. cfg must be valid.
func New(cfg Config, deps Deps) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Table == nil || deps.Ops == nil || deps.Log == nil || deps.Metrics == nil {
		return nil, errors.New("worker: Table, Ops, Log and Metrics are required")
	}
	w := &Worker{
		cfg:      cfg.withDefaults(),
		table:    deps.Table,
		ops:      deps.Ops,
		sink:     deps.Sink,
		log:      deps.Log,
		metrics:  deps.Metrics,
		pool:     semaphore.NewWeighted(int64(cfg.Concurrency)),
		requests: newRequestPool(),
		held:     semaphore.NewWeighted(int64(cfg.MaxOutstanding)),
		services: map[string]*serviceState{},
		inFlight: map[string]struct{}{},
	}
	for _, s := range deps.Table.Services() {
		st := &serviceState{gate: make(chan struct{}, 1), throttle: newThrottle(s.Rate), allowed: w.metrics.ThrottleAllowedRate.WithLabelValues(s.Host)}
		_, allowed := st.throttle.state()
		st.allowed.Set(allowed)
		w.services[s.Host] = st
	}
	w.metrics.MaxOutstanding.Set(float64(cfg.MaxOutstanding))
	w.metrics.Concurrency.Set(float64(cfg.Concurrency))
	return w, nil
}

// MetricLabels returns the service and outcome label values whose
// combinations must exist from start-up, for metrics.New.
func MetricLabels(t *lro.Table) metrics.Labels {
	return metrics.Labels{Services: t.Hosts(), Outcomes: outcomeNames(Outcomes()), UnknownOutcomes: []string{string(Invalid)}}
}

// Close releases the worker's idle request goroutines. Call it once no
// delivery is being handled any more (after Run has returned).
func (w *Worker) Close() { w.requests.close() }

// Run receives from src until ctx is done. When it is, receiving stops, held
// jobs get until the shutdown timeout to reach an outcome, and the rest end
// as interrupted (nacked). Run returns when the source has returned, which
// is after every delivery was settled.
func (w *Worker) Run(ctx context.Context, src Source) error {
	jobs, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	received := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		select {
		case <-received:
			return
		case <-ctx.Done():
		}
		t := time.NewTimer(w.cfg.ShutdownTimeout)
		defer t.Stop()
		select {
		case <-received:
		case <-t.C:
			cancelJobs()
		}
	})
	defer close(received)
	// The source's context ends when shutdown begins; jobs keep theirs.
	return src.Receive(ctx, func(_ context.Context, d Delivery) { w.Handle(jobs, d) })
}

// result is the decision about a delivery, before it is recorded.
type result struct {
	outcome Outcome
	code    string
	message string
}

// job is one delivery in progress.
type job struct {
	d        Delivery
	req      Request
	svc      *lro.Service
	service  string // the metrics label: a configured host or "unknown"
	received time.Time
	attempts int
	polls    int
	// budgetEnd is when retrying must stop; set at the first request.
	budgetEnd time.Time
}

// Handle processes d to exactly one outcome, records it and settles d. ctx
// ending before an outcome means interrupted. Handle blocks while the worker
// already holds --max-outstanding deliveries.
func (w *Worker) Handle(ctx context.Context, d Delivery) Outcome {
	j := &job{d: d, received: time.Now(), service: metrics.UnknownService}
	if err := w.held.Acquire(ctx, 1); err != nil {
		j.req, _ = Decode(d.Data, d.Attributes) // for the log line
		return w.finish(ctx, j, interrupted(err))
	}
	defer w.held.Release(1)
	w.metrics.JobsInFlight.Inc()
	defer w.metrics.JobsInFlight.Dec()
	return w.finish(ctx, j, w.process(ctx, j))
}

func (w *Worker) process(ctx context.Context, j *job) result {
	req, err := Decode(j.d.Data, j.d.Attributes)
	j.req = req
	if err != nil {
		return invalid(err)
	}
	if w.table.Lookup(req.Service) != nil {
		j.service = req.Service
	}
	svc, err := w.table.Route(req.Service, req.Name)
	if err != nil {
		return invalid(err)
	}
	j.svc, j.service = svc, svc.Host
	key := svc.Host + "/" + req.Name
	if !w.claim(key) {
		return result{outcome: Duplicate, code: "ALREADY_EXISTS", message: "the same operation is already being cancelled in this process"}
	}
	defer w.release(key)
	return w.cancel(ctx, j)
}

func invalid(err error) result {
	return result{outcome: Invalid, code: lro.InvalidArgument.String(), message: err.Error()}
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

func (w *Worker) release(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.inFlight, key)
}

// errBudget means the retry budget ran out; it wraps the last failure.
var errBudget = errors.New("retry budget spent")

// cancel sends the cancel (retrying what is transient) and decides the
// outcome from its answer.
func (w *Worker) cancel(ctx context.Context, j *job) result {
	err := w.retrying(ctx, j, func(ctx context.Context) error {
		return w.ops.Cancel(ctx, j.svc, j.req.Name)
	})
	switch {
	case err == nil:
		return w.verify(ctx, j)
	case ctx.Err() == nil && lro.Classify(err) == lro.Permanent && lro.CodeOf(err) == lro.FailedPrecondition:
		return w.afterPrecondition(ctx, j, err)
	}
	return failure(ctx, err)
}

// afterPrecondition decides a cancel answered FAILED_PRECONDITION: one
// successful get tells whether the operation is done (its final state is the
// outcome) or still running (not_cancellable).
func (w *Worker) afterPrecondition(ctx context.Context, j *job, cancelErr error) result {
	var op *lro.Operation
	err := w.retrying(ctx, j, func(ctx context.Context) error {
		var err error
		op, err = w.ops.Get(ctx, j.svc, j.req.Name)
		return err
	})
	switch {
	case err != nil:
		return failure(ctx, err)
	case op.Done:
		return final(op)
	default:
		return answer(NotCancellable, cancelErr)
	}
}

// failure is the outcome of a request that did not succeed: interrupted by
// shutdown, retry_exhausted, or the outcome of its permanent code.
func failure(ctx context.Context, err error) result {
	switch {
	case ctx.Err() != nil:
		return interrupted(err)
	case errors.Is(err, errBudget):
		return answer(RetryExhausted, err)
	}
	switch lro.CodeOf(err) {
	case lro.Unimplemented:
		return answer(Unimplemented, err)
	case lro.NotFound:
		return answer(NotFound, err)
	case lro.PermissionDenied:
		return answer(Denied, err)
	default:
		return answer(Rejected, err)
	}
}

// retrying calls fn until it succeeds, fails permanently, the retry budget
// is spent (errBudget) or ctx ends. Each call counts as one attempt (polls
// are counted separately). Backoff is full jitter over an exponential
// ceiling, never shorter than the server's retry hint.
func (w *Worker) retrying(ctx context.Context, j *job, fn func(context.Context) error) error {
	for retry := 0; ; retry++ {
		if j.budgetEnd.IsZero() {
			j.budgetEnd = time.Now().Add(w.cfg.RetryBudget)
		}
		err := w.call(ctx, j.svc, fn)
		j.attempts++
		if err == nil || ctx.Err() != nil || lro.Classify(err) == lro.Permanent {
			return err
		}
		delay := w.backoff(retry, lro.RetryDelayOf(err))
		if time.Now().Add(delay).After(j.budgetEnd) {
			return fmt.Errorf("%w after %d attempts: %w", errBudget, j.attempts, err)
		}
		w.metrics.Retries.WithLabelValues(j.svc.Host, lro.CodeOf(err).String()).Inc()
		if err := sleep(ctx, delay); err != nil {
			return err
		}
	}
}

// backoff returns the delay before retry number n (0-based): uniformly
// random in [0, min(max, initial·2^n)] (full jitter), but never less than
// the server's hint.
func (w *Worker) backoff(n int, hint time.Duration) time.Duration {
	ceiling := w.cfg.BackoffMax
	if n < 30 {
		ceiling = min(ceiling, w.cfg.BackoffInitial<<n)
	}
	d := time.Duration(rand.Int64N(int64(ceiling) + 1))
	return max(d, hint)
}

// call sends one request through the pool and the service's pacing, and
// tells the service's throttle how the API answered.
//
// The per-service gate serialises pool acquisition and pacing, so a
// service's sends leave in order and at least 1/rate apart. A service
// waiting for its pace holds one pool slot at most (the one whose turn it
// is), so a slow service cannot starve the others of the pool.
func (w *Worker) call(ctx context.Context, svc *lro.Service, fn func(context.Context) error) error {
	st := w.services[svc.Host]
	select {
	case st.gate <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := w.pool.Acquire(ctx, 1); err != nil {
		<-st.gate
		return err
	}
	if err := w.pace(ctx, svc.Host, st); err != nil {
		w.pool.Release(1)
		<-st.gate
		return err
	}
	st.throttle.sending(time.Now())
	<-st.gate
	var err error
	w.requests.do(func() { err = fn(ctx) })
	w.pool.Release(1)
	if answered, kind := apiAnswered(err); answered {
		st.allowed.Set(st.throttle.answered(kind, time.Now()))
	}
	return err
}

// apiAnswered reports whether err (nil for success) is an answer from the
// API, and what it says about load.
func apiAnswered(err error) (answered bool, kind answerKind) {
	if err == nil {
		return true, answerOK
	}
	var e *lro.Error
	if !errors.As(err, &e) || e.HTTPStatus == 0 {
		return false, answerOK
	}
	switch e.Code {
	case lro.ResourceExhausted:
		return true, answerExhausted
	case lro.Unavailable:
		return true, answerUnavailable
	}
	return true, answerOK
}

// pace waits for the service's rate, recording the delay as adaptive
// throttling when the throttle is what holds the rate down, else as the
// configured rate limit.
func (w *Worker) pace(ctx context.Context, host string, st *serviceState) error {
	delay := st.throttle.wait(time.Now())
	if delay == 0 {
		return nil
	}
	if throttling, _ := st.throttle.state(); throttling {
		w.metrics.ThrottleDelayed.WithLabelValues(host).Inc()
		w.metrics.ThrottleWait.WithLabelValues(host).Add(delay.Seconds())
	} else {
		w.metrics.RateLimitDelayed.WithLabelValues(host).Inc()
		w.metrics.RateLimitWait.WithLabelValues(host).Add(delay.Seconds())
	}
	return sleep(ctx, delay)
}

// verify polls get until the operation is done or the verify timeout passes.
func (w *Worker) verify(ctx context.Context, j *job) result {
	timeout := w.cfg.VerifyTimeout
	if j.svc.VerifyTimeout > 0 {
		timeout = j.svc.VerifyTimeout
	}
	deadline := time.Now().Add(timeout)
	interval := w.cfg.PollInitial
	var lastErr error // the last poll's transient failure; nil if it answered "running"
	for {
		wait := max(jitter(interval), lro.RetryDelayOf(lastErr))
		if err := sleep(ctx, min(wait, time.Until(deadline))); err != nil {
			return interrupted(err)
		}
		var op *lro.Operation
		err := w.call(ctx, j.svc, func(ctx context.Context) error {
			var err error
			op, err = w.ops.Get(ctx, j.svc, j.req.Name)
			return err
		})
		j.polls++
		switch {
		case err == nil && op.Done:
			return final(op)
		case err != nil && ctx.Err() != nil:
			return interrupted(err)
		case err != nil && lro.Classify(err) == lro.Permanent:
			// The operation can no longer be observed (gone, or not ours to
			// read): the cancel was accepted but its effect is unknown.
			return answer(Unverified, err)
		}
		lastErr = err
		if time.Now().Before(deadline) {
			interval = min(interval*2, w.cfg.PollMax)
			continue
		}
		r := result{outcome: Unverified, code: lro.OK.String(), message: fmt.Sprintf("operation not done within the verify timeout (%s)", timeout)}
		if lastErr != nil {
			r.code = lro.CodeOf(lastErr).String()
			r.message = fmt.Sprintf("%s; the last poll failed: %v", r.message, lastErr)
		}
		return r
	}
}

// final is the outcome of a done operation.
func final(op *lro.Operation) result {
	r := result{code: lro.OK.String()}
	switch {
	case op.Error != nil && op.Error.Code == lro.Cancelled:
		r.outcome, r.message = Cancelled, op.Error.Message
	case op.Error != nil:
		// An error wins over a response: the API contract allows only one,
		// and an error is the more cautious reading.
		r.outcome = Failed
		r.message = fmt.Sprintf("operation failed with %s: %s", op.Error.Code, op.Error.Message)
	case op.HasResponse:
		r.outcome = Completed
	default:
		r.outcome = DoneNoResult
	}
	return r
}

// answer is an outcome decided by an API answer (or by the last failure).
func answer(o Outcome, err error) result {
	return result{outcome: o, code: lro.CodeOf(err).String(), message: err.Error()}
}

func interrupted(err error) result {
	return result{outcome: Interrupted, code: lro.Cancelled.String(), message: "shutdown before an outcome: " + err.Error()}
}

// jitter spreads d by ±20 %.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
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

// Event is a result event (CONTRACT §6).
type Event struct {
	Name            string    `json:"name"`
	Service         string    `json:"service"`
	Outcome         Outcome   `json:"outcome"`
	Code            string    `json:"code"`
	Message         string    `json:"message"`
	Attempts        int       `json:"attempts"`
	Polls           int       `json:"polls"`
	Batch           string    `json:"batch"`
	Reason          string    `json:"reason"`
	MessageID       string    `json:"messageId"`
	DeliveryAttempt int       `json:"deliveryAttempt"`
	ReceivedAt      time.Time `json:"receivedAt"`
	FinishedAt      time.Time `json:"finishedAt"`
}

// maxLoggedName bounds how much of a hostile name reaches logs and events.
const maxLoggedName = 1100

// finish is the one place an outcome is recorded: metrics, one log line, the
// result event for acked outcomes, then the ack or nack.
func (w *Worker) finish(ctx context.Context, j *job, r result) Outcome {
	finished := time.Now()
	name := j.req.Name
	if len(name) > maxLoggedName {
		name = name[:maxLoggedName] + "…"
	}
	w.metrics.Jobs.WithLabelValues(j.service, string(r.outcome)).Inc()
	w.metrics.JobDuration.WithLabelValues(string(r.outcome)).Observe(finished.Sub(j.received).Seconds())

	level := zapcore.InfoLevel
	if r.outcome.warns() {
		level = zapcore.WarnLevel
	}
	fields := make([]zap.Field, 0, 12)
	fields = append(fields,
		zap.String("service", j.service),
		zap.String("name", name),
		zap.String("outcome", string(r.outcome)),
		zap.String("code", r.code),
		zap.Int("attempts", j.attempts),
		zap.Int("polls", j.polls),
		zap.String("messageId", j.d.ID),
		zap.String("batch", j.req.Batch),
		zap.String("reason", j.req.Reason),
		zap.Float64("durationSeconds", finished.Sub(j.received).Seconds()),
	)
	if r.message != "" {
		fields = append(fields, zap.String("detail", r.message))
	}
	if j.d.DeliveryAttempt > 0 {
		fields = append(fields, zap.Int("deliveryAttempt", j.d.DeliveryAttempt))
	}
	w.log.Log(level, "operation "+string(r.outcome), fields...)

	if !r.outcome.Acks() {
		w.settle(j, j.d.Nack, "nack")
		return r.outcome
	}
	if w.sink != nil {
		ev := Event{
			Name: name, Service: j.service, Outcome: r.outcome, Code: r.code, Message: r.message,
			Attempts: j.attempts, Polls: j.polls, Batch: j.req.Batch, Reason: j.req.Reason,
			MessageID: j.d.ID, DeliveryAttempt: j.d.DeliveryAttempt,
			ReceivedAt: j.received.UTC(), FinishedAt: finished.UTC(),
		}
		data, _ := json.Marshal(ev)
		attrs := map[string]string{"outcome": string(r.outcome), "service": j.service}
		if j.req.Batch != "" {
			attrs["batch"] = j.req.Batch
		}
		// The event must go out even when shutdown has begun.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.PublishTimeout)
		err := w.sink.Publish(pctx, data, attrs)
		cancel()
		if err != nil {
			w.metrics.ResultPublishFailures.Inc()
			w.log.Warn("result event not published; the delivery is nacked and will be redelivered",
				zap.String("service", j.service), zap.String("name", name), zap.String("outcome", string(r.outcome)),
				zap.String("messageId", j.d.ID), zap.Error(err))
			w.settle(j, j.d.Nack, "nack")
			return r.outcome
		}
	}
	w.settle(j, j.d.Ack, "ack")
	return r.outcome
}

// settle acks or nacks; a failure (exactly-once subscriptions report it)
// means the message will be delivered again.
func (w *Worker) settle(j *job, f func() error, what string) {
	if f == nil {
		return
	}
	if err := f(); err != nil {
		w.log.Warn(what+" not confirmed; the message may be delivered again",
			zap.String("service", j.service), zap.String("messageId", j.d.ID), zap.Error(err))
	}
}
