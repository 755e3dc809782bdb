package worker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"opcancel/lro"
)

// verify polls get until the operation is done or the verify timeout passes.
func (w *Worker) verify(ctx context.Context, j *job) result {
	if !j.svc.Readable(j.req.Name) {
		// See docs/contract.md#outcomes: the API has no operations.get.
		return result{outcome: Unverified, code: lro.OK.String(),
			message: fmt.Sprintf("the cancel was accepted, but %s has no operations.get for this name: it cannot be verified", j.svc.Host)}
	}
	timeout := w.cfg.VerifyTimeout
	if j.svc.VerifyTimeout > 0 {
		timeout = j.svc.VerifyTimeout
	}
	deadline := time.Now().Add(timeout)
	interval := w.cfg.PollInitial
	var lastErr error // the last poll's transient failure; nil if it answered "running"
	heard := false    // whether any poll got an answer of Google's
	for {
		wait := max(jitter(interval), lro.RetryDelayOf(lastErr))
		if err := sleep(ctx, min(wait, time.Until(deadline))); err != nil {
			return interrupted(err)
		}
		op, err := w.poll(ctx, j, pollYield(j.polls, interval, deadline))
		j.polls++
		heard = heard || lro.FromGoogle(err)
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
		if !heard || lro.Misdirected(lastErr) {
			return unreadable(timeout, lastErr)
		}
		r := result{outcome: Unverified, code: lro.OK.String(), message: fmt.Sprintf("operation not done within the verify timeout (%s)", timeout)}
		if lastErr != nil {
			r.code = lro.CodeOf(lastErr).String()
			r.message = fmt.Sprintf("%s; the last poll failed: %v", r.message, lastErr)
		}
		return r
	}
}

// poll sends one get of j's operation through its endpoint's gate, giving
// way to new jobs' requests in line for yield at most (see turn). A poll
// has no retry budget: it waits in line as long as it must.
func (w *Worker) poll(ctx context.Context, j *job, yield time.Duration) (op *lro.Operation, err error) {
	err = w.call(ctx, j, time.Time{}, yield, func(ctx context.Context) error {
		var err error
		op, err = w.ops.Get(ctx, j.svc, j.req.Name)
		return err
	})
	return op, err
}

// pollYield is how long a job's poll, after polls before it, gives way to
// new jobs' requests in its endpoint's line. The first gives way to none:
// it is part of a new job, which most often ends with it and gives its
// message back. A later one, of an operation still running a poll ago,
// gives way for its own interval (the wait before it, without the jitter),
// so that a stream of new work at most doubles the time between two polls;
// but never past the verify deadline, so that the last poll is as late as
// it was (docs/design.md#new-jobs-before-polls).
func pollYield(polls int, interval time.Duration, deadline time.Time) time.Duration {
	if polls == 0 {
		return 0
	}
	return max(0, min(interval, time.Until(deadline)))
}

// jitter spreads d by ±20 %.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
