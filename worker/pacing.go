package worker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"

	"opcancel/lro"
	"opcancel/metrics"
)

// serviceState is the per-service request gate.
type serviceState struct {
	// throttle holds the service's rate: configured, lowered adaptively on overload.
	throttle *throttle
	// gate serialises taking a slot and pacing, so that a service's sends
	// leave in order and at least 1/rate apart.
	gate chan struct{}
	// share bounds the service's requests in flight: its maxConcurrency,
	// its share of the pool (see docs/design.md#bounds).
	share *semaphore.Weighted
	// allowed is the service's opcancel_throttle_allowed_rate series.
	allowed prometheus.Gauge
	// inFlight and shareWait are the service's series of
	// opcancel_service_requests_in_flight and
	// opcancel_service_concurrency_wait_seconds_total.
	inFlight  prometheus.Gauge
	shareWait prometheus.Counter
	// line counts the requests waiting to be sent.
	line line
	// misdirection records the answers that are not recognisably Google's.
	misdirection misdirection
}

// newServiceState returns svc's gate with its share of a pool of
// concurrency slots and its throttle at the configured rate, and creates the
// service's series, so that they exist from start-up.
func newServiceState(svc *lro.Service, concurrency int, m *metrics.Metrics) *serviceState {
	share := shareOf(svc, concurrency)
	st := &serviceState{
		gate:      make(chan struct{}, 1),
		share:     semaphore.NewWeighted(int64(share)),
		throttle:  newThrottle(svc.Rate),
		allowed:   m.ThrottleAllowedRate.WithLabelValues(svc.Host),
		inFlight:  m.ServiceRequestsInFlight.WithLabelValues(svc.Host),
		shareWait: m.ServiceConcurrencyWait.WithLabelValues(svc.Host),
		line:      line{queued: m.APIRequestsQueued.WithLabelValues(svc.Host), forRate: m.APIRequestsWaitingForRate.WithLabelValues(svc.Host)},
	}
	st.line.set()
	_, allowed := st.throttle.state()
	st.allowed.Set(allowed)
	m.ServiceMaxConcurrency.WithLabelValues(svc.Host).Set(float64(share))
	for _, c := range []*prometheus.CounterVec{m.RateLimitWait, m.RateLimitDelayed, m.ThrottleWait, m.ThrottleDelayed, m.MisdirectedRequests} {
		c.WithLabelValues(svc.Host)
	}
	return st
}

// shareOf is how many of concurrency pool slots svc may hold at once: its
// maxConcurrency, or by default half the pool (rounded up), so that one
// sick service leaves at least half of the pool to the others.
func shareOf(svc *lro.Service, concurrency int) int {
	if svc.MaxConcurrency > 0 {
		return min(svc.MaxConcurrency, concurrency)
	}
	return (concurrency + 1) / 2
}

// call sends one request through the service's gate and tells the
// service's throttle how the API answered.
func (w *Worker) call(ctx context.Context, svc *lro.Service, fn func(context.Context) error) error {
	st := w.services[svc.Host]
	if err := w.take(ctx, svc.Host, st); err != nil {
		return err
	}
	defer func() {
		st.inFlight.Dec()
		w.slots.Release(1)
		st.share.Release(1)
	}()
	var err error
	w.runners.do(func() { err = fn(ctx) })
	if answered, kind := apiAnswered(err); answered {
		st.allowed.Set(st.throttle.answered(kind, time.Now()))
	}
	if lro.Misdirected(err) {
		w.misdirected(svc, st, err)
	}
	return err
}

// take readies a request to leave: it waits for the service's turn (one
// request at a time per service, in order), a slot of the service's share
// of the pool, a pool slot and the service's pace, and gives the turn back
// as the request leaves. The caller releases the slots once answered.
//
// A service whose share is full, or that waits for its pace, holds up only
// its own requests: the one whose turn it is waits holding no pool slot, or
// exactly one, so a slow, sick or throttled service cannot starve the others.
func (w *Worker) take(ctx context.Context, host string, st *serviceState) error {
	st.line.join()
	paced := false
	defer func() { st.line.leave(paced) }()
	select {
	case st.gate <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-st.gate }()
	if !st.share.TryAcquire(1) {
		start := time.Now()
		if err := st.share.Acquire(ctx, 1); err != nil {
			return err
		}
		st.shareWait.Add(time.Since(start).Seconds())
	}
	if err := w.slots.Acquire(ctx, 1); err != nil {
		st.share.Release(1)
		return err
	}
	delay, err := w.pace(ctx, host, st)
	if err != nil {
		w.slots.Release(1)
		st.share.Release(1)
		return err
	}
	paced = delay > 0
	st.throttle.sending(time.Now())
	st.inFlight.Inc()
	return nil
}

// apiAnswered reports whether err (nil for success) is an answer from the
// API, and what it says about load. A request that got no answer within the
// request timeout counts as UNAVAILABLE: an API that hangs is overloaded.
func apiAnswered(err error) (answered bool, kind answerKind) {
	if err == nil {
		return true, answerOK
	}
	if lro.TimedOut(err) {
		return true, answerUnavailable
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
// configured rate limit. It returns how long it waited.
func (w *Worker) pace(ctx context.Context, host string, st *serviceState) (time.Duration, error) {
	delay := st.throttle.wait(time.Now())
	if delay == 0 {
		return 0, nil
	}
	if throttling, _ := st.throttle.state(); throttling {
		w.metrics.ThrottleDelayed.WithLabelValues(host).Inc()
		w.metrics.ThrottleWait.WithLabelValues(host).Add(delay.Seconds())
	} else {
		w.metrics.RateLimitDelayed.WithLabelValues(host).Inc()
		w.metrics.RateLimitWait.WithLabelValues(host).Add(delay.Seconds())
	}
	return delay, sleep(ctx, delay)
}

// line counts a service's requests waiting to be sent, and whether they
// wait for its rate (configured, or lowered by the throttle): the last
// request to leave waited for its pace. Waiting for the rate is what a
// quota looks like; waiting for a share of the pool, for the pool or for
// a turn behind them is what more workers would shorten (see
// docs/deploy.md#autoscaling).
type line struct {
	mu sync.Mutex
	// n is the requests waiting; paced says whether the last to leave
	// waited for the pace.
	n     int
	paced bool
	// queued and forRate are the service's series of
	// opcancel_api_requests_queued and opcancel_api_requests_waiting_for_rate.
	queued, forRate prometheus.Gauge
}

func (l *line) join() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	l.set()
}

func (l *line) leave(paced bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n--
	l.paced = paced
	l.set()
}

// set updates the gauges; l.mu is held, or l is new.
func (l *line) set() {
	l.queued.Set(float64(l.n))
	if l.paced {
		l.forRate.Set(float64(l.n))
	} else {
		l.forRate.Set(0)
	}
}
