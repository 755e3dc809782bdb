package worker

import (
	"context"
	"errors"
	"math"
	"net/http/httptrace"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"opcancel/lro"
)

// call sends one request of j through its endpoint's gate (see take),
// holding a slot of the pool while it runs, and tells the endpoint's
// throttle and concurrency limit how the API answered. A request whose
// slot was reclaimed for another endpoint fails with a transient error
// (see reclaim).
//
// From giveUp on (never if zero), the request stops waiting in line once
// its endpoint is failing, with errWaitedOut: its job's retry budget is
// spent (see Worker.spend). yield is how long it gives way in its
// endpoint's line to new jobs' requests: 0 for a new job's request, a
// poll's yield for a poll (see turn).
func (w *Worker) call(ctx context.Context, j *job, giveUp time.Time, yield time.Duration, fn func(context.Context) error) error {
	f, rctx, err := w.take(ctx, j.ep, giveUp, yield)
	if err != nil {
		return err
	}
	defer f.cancel()
	err = w.run(f, rctx, fn)
	return w.answered(ctx, j, f, err)
}

// run runs fn on a runner as f's request; a panic in fn gives f's slot
// back before it goes on.
func (w *Worker) run(f *flight, rctx context.Context, fn func(context.Context) error) (err error) {
	done := false
	defer func() {
		if !done {
			w.pool.finish(f, false, false, 0)
		}
	}()
	w.runners.do(func() { err = fn(rctx) })
	done = true
	return err
}

// answered ends f, whose request ended with err, and tells j's endpoint's
// throttle and concurrency limit how the API answered. A request cut to
// give its slot to another endpoint fails with reclaimedError.
func (w *Worker) answered(ctx context.Context, j *job, f *flight, err error) error {
	ep := j.ep
	latency := time.Since(f.sent)
	answered, kind := apiAnswered(err)
	timedOut := lro.TimedOut(err)
	if w.pool.finish(f, answered && !timedOut, timedOut, latency) && !answered && ctx.Err() == nil {
		// Cut, not answered: like a timeout, for the throttle as well.
		err, answered, kind = reclaimedError(latency), true, answerUnavailable
	}
	if answered {
		ep.allowed.Set(ep.throttle.answered(kind, time.Now()))
	}
	if lro.Misdirected(err) {
		w.misdirected(j.svc, ep.svc, err)
	}
	return err
}

// take readies a request to ep to leave: it waits for the endpoint's turn
// (one request at a time per endpoint, in the order of turn: a request
// due yield after it lines up), a slot of the pool, the
// endpoint's pace and the service's, and gives the turn back as the
// request leaves; or, when none of these would make it wait, it leaves at
// once (see pool.tryTake). It returns the slot, which the caller finishes
// once answered, and the request's context, which a reclaim cuts.
//
// An endpoint that waits for a slot or for its pace holds up only its own
// requests: the one whose turn it is waits holding no slot, or exactly one,
// so a slow, sick or throttled endpoint cannot starve the others.
func (w *Worker) take(ctx context.Context, ep *endpoint, giveUp time.Time, yield time.Duration) (*flight, context.Context, error) {
	if !giveUp.IsZero() && ep.spent(giveUp) {
		return nil, nil, errWaitedOut
	}
	if f := w.pool.tryTake(ep); f != nil {
		return f, f.context(ctx, 0), nil
	}
	w.pool.lineUp(ep)
	if err := ep.turn.take(ctx, yield, w.draining); err != nil {
		w.pool.leaveLine(ep, true, false)
		return nil, nil, err
	}
	defer ep.turn.pass()
	if !giveUp.IsZero() && ep.spent(giveUp) {
		w.pool.leaveLine(ep, true, false)
		return nil, nil, errWaitedOut
	}
	f, err := w.pool.acquire(ctx, ep, giveUp)
	if err != nil {
		w.pool.leaveLine(ep, false, false)
		return nil, nil, err
	}
	paced, sent, err := w.pace(ctx, ep)
	if err != nil {
		w.pool.finish(f, false, false, 0)
		w.pool.leaveLine(ep, false, paced)
		return nil, nil, err
	}
	rctx := f.context(ctx, sent)
	now := time.Now()
	ep.throttle.sending(now)
	w.pool.sending(f, now, paced)
	return f, rctx, nil
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

// context returns the context of f's request, which a reclaim cancels,
// and which reports to f's service when the request leaves the process,
// for its log of sends (sent is the send's id there, 0 if none).
func (f *flight) context(ctx context.Context, sent uint64) context.Context {
	rctx, cancel := context.WithCancel(ctx)
	f.cancel = cancel
	if sent == 0 {
		return rctx
	}
	st := f.ep.svc
	return httptrace.WithClientTrace(rctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { st.wired(sent, time.Now()) },
	})
}

// pace waits for the endpoint's adaptive rate, then for the service's
// configured rate, and counts each delay where it belongs: adaptive
// throttling, or the rate limit. It reports whether the request waited,
// and its id in the service's log of sends (0 when unlimited).
func (w *Worker) pace(ctx context.Context, ep *endpoint) (paced bool, sent uint64, err error) {
	delay := ep.throttle.wait(time.Now())
	st := ep.svc
	if delay == 0 && math.IsInf(st.rate, 1) {
		return false, 0, nil
	}
	w.pool.pacing(ep, true)
	defer w.pool.pacing(ep, false)
	if delay > 0 {
		ep.throttleDelayed.Inc()
		ep.throttleWaitSeconds.Add(delay.Seconds())
		if err := sleep(ctx, delay); err != nil {
			return true, 0, err
		}
	}
	if math.IsInf(st.rate, 1) {
		return true, 0, nil
	}
	w.pool.waitForRate(ep, true)
	defer w.pool.waitForRate(ep, false)
	select {
	case st.turn <- struct{}{}:
	case <-ctx.Done():
		return true, 0, ctx.Err()
	}
	defer func() { <-st.turn }()
	var limited time.Duration
	for {
		// Again after each wait: a send logged meanwhile may have left the
		// process later than it was logged.
		d, id := st.ready(time.Now())
		if d == 0 {
			if limited > 0 {
				st.rateDelayed.Inc()
				st.rateWait.Add(limited.Seconds())
			}
			return delay > 0 || limited > 0, id, nil
		}
		limited += d
		if err := sleep(ctx, d); err != nil {
			return true, 0, err
		}
	}
}

// ready returns how long a send at now must wait for the service's rate,
// or, when it need not, logs it and returns its id.
func (st *serviceState) ready(now time.Time) (time.Duration, uint64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if d := st.pace.wait(now, st.rate); d > 0 {
		return d, 0
	}
	return 0, st.pace.sent(now, st.rate)
}

// wired records when the send id left the process.
func (st *serviceState) wired(id uint64, at time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.pace.wired(id, at)
}

// line counts an endpoint's requests waiting to be sent, and whether they
// wait for its rate (its service's configured rate, or the endpoint's
// lowered by the throttle): the last request to leave waited for its pace.
// Waiting for the rate is what a quota looks like; waiting for a slot of
// the pool, or for a turn behind it, is what more workers would shorten
// (see docs/deploy.md#autoscaling). The pool's lock guards it.
type line struct {
	// n is the requests waiting; paced says whether the last to leave
	// waited for the pace.
	n     int
	paced bool
	// queued and forRate are the endpoint's series of
	// opcancel_api_requests_queued and opcancel_api_requests_waiting_for_rate.
	queued, forRate prometheus.Gauge
}

func (l *line) join() {
	l.n++
	l.set()
}

func (l *line) leave(paced bool) {
	l.n--
	l.paced = paced
	l.set()
}

// set updates the gauges.
func (l *line) set() {
	l.queued.Set(float64(l.n))
	if l.paced {
		l.forRate.Set(float64(l.n))
	} else {
		l.forRate.Set(0)
	}
}
