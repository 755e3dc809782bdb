package worker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"opcancel/lro"
)

// errBudget means the retry budget ran out; it wraps the last failure.
var errBudget = errors.New("retry budget spent")

// retrying calls fn until it succeeds, fails permanently, the retry budget
// is spent (errBudget) or ctx ends. Each call counts as one attempt (polls
// are counted separately). Backoff is full jitter over an exponential
// ceiling, never shorter than the server's retry hint. When the next retry
// would fall past the budget, retrying stops: at once, or at the budget's
// end when the server's hint reaches past it. The budget is kept by
// spend.
func (w *Worker) retrying(ctx context.Context, j *job, fn func(context.Context) error) error {
	var last error
	for retry := 0; ; retry++ {
		queued := w.queuedSince(j)
		err := w.call(ctx, j, w.giveUp(j, queued), 0, func(ctx context.Context) error {
			w.spend(j, time.Since(queued)) // as the request leaves
			w.started(j)
			return fn(ctx)
		})
		if errors.Is(err, errWaitedOut) {
			return waitedOut(j, last)
		}
		last = err
		j.attempts++
		if err == nil || ctx.Err() != nil || lro.Classify(err) == lro.Permanent {
			return err
		}
		hint := lro.RetryDelayOf(err)
		delay := w.backoff(retry, hint)
		if remaining := time.Until(j.budgetEnd); delay > remaining {
			if hint > remaining {
				// The server asked for more time than the budget has left:
				// wait out the budget, so that the nacked message does not
				// come back sooner than the server asked.
				if err := sleep(ctx, remaining); err != nil {
					return err
				}
			}
			return fmt.Errorf("%w after %d attempts: %w", errBudget, j.attempts, err)
		}
		w.metrics.Retries.WithLabelValues(j.svc.Host, lro.CodeOf(err).String()).Inc()
		if err := sleep(ctx, delay); err != nil {
			return err
		}
	}
}

// queuedSince is when j's next request began to wait to be sent: now, or,
// before j's first request, when j joined its start line, or, if later,
// when its endpoint last answered. Waiting to start is waiting for the
// first request (see spend), but an endpoint that answered meanwhile was
// not failing all that time: a job that waited its turn behind a flood at
// a healthy endpoint keeps its budget when the endpoint stops answering.
func (w *Worker) queuedSince(j *job) time.Time {
	if !j.budgetEnd.IsZero() || j.lined.IsZero() {
		return time.Now()
	}
	return later(j.lined, time.Unix(0, j.ep.lastAnswer.Load()))
}

// giveUp is when a request of j queued at queued stops waiting in line, if
// its endpoint is failing then: the end of j's retry budget, or, before its
// first request, the budget from queued (see spend).
func (w *Worker) giveUp(j *job, queued time.Time) time.Time {
	if j.budgetEnd.IsZero() {
		return queued.Add(w.cfg.RetryBudget)
	}
	return j.budgetEnd
}

// waitedOut is the failure of j, which spent its retry budget waiting in
// line for an endpoint that answers nothing, after last (nil if j sent
// nothing).
func waitedOut(j *job, last error) error {
	if last == nil { // nothing sent: no answer, as the code says
		return fmt.Errorf("%w: %w", errBudget, &lro.Error{Code: lro.Transport, Message: errWaitedOut.Error(), Err: errWaitedOut})
	}
	return fmt.Errorf("%w after %d attempts, then %w: %w", errBudget, j.attempts, errWaitedOut, last)
}

// spend keeps j's retry budget as one of its requests leaves, after
// waiting in line for waited. The budget starts with the first request
// sent, and the time a request waits for its service's pace, its share of
// the pool or the pool does not count: a job in a paced backlog never runs
// out of budget for having waited its turn. Waiting counts only while the
// endpoint is failing (see Worker.failing): the line of an endpoint that
// answers nothing in time is part of retrying it, and a job ends
// retry_exhausted after the budget as it would have without the line.
func (w *Worker) spend(j *job, waited time.Duration) {
	now := time.Now()
	failing := j.ep.failing(now)
	switch {
	case j.budgetEnd.IsZero() && failing:
		j.budgetEnd = now.Add(w.cfg.RetryBudget - waited)
	case j.budgetEnd.IsZero():
		j.budgetEnd = now.Add(w.cfg.RetryBudget)
	case !failing:
		j.budgetEnd = j.budgetEnd.Add(waited)
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
