package worker

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"opcancel/lro"
	"opcancel/metrics"
)

// serviceState is the per-service request gate.
type serviceState struct {
	// throttle holds the service's rate: configured, lowered adaptively on overload.
	throttle *throttle
	// gate serialises pool acquisition and pacing, so that a service's
	// sends leave in order and at least 1/rate apart.
	gate chan struct{}
	// allowed is the service's opcancel_throttle_allowed_rate series.
	allowed prometheus.Gauge
	// misdirection records the answers that are not recognisably Google's.
	misdirection misdirection
}

// newServiceState returns svc's gate, its throttle at the configured rate,
// and creates the service's pacing series (and its misdirected-requests
// series), so that they exist from start-up.
func newServiceState(svc *lro.Service, m *metrics.Metrics) *serviceState {
	st := &serviceState{gate: make(chan struct{}, 1), throttle: newThrottle(svc.Rate), allowed: m.ThrottleAllowedRate.WithLabelValues(svc.Host)}
	_, allowed := st.throttle.state()
	st.allowed.Set(allowed)
	for _, c := range []*prometheus.CounterVec{m.RateLimitWait, m.RateLimitDelayed, m.ThrottleWait, m.ThrottleDelayed, m.MisdirectedRequests} {
		c.WithLabelValues(svc.Host)
	}
	return st
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
	if lro.Misdirected(err) {
		w.misdirected(svc, st, err)
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
