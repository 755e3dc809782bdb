package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"opcancel/lro"
)

// result is the decision about a delivery, before it is recorded.
type result struct {
	outcome Outcome
	code    string
	message string
	// nack nacks the delivery whatever its outcome: a redelivery that
	// follows a first copy which was nacked (see follow).
	nack bool
	// fromMemory marks an outcome settled from the memory of outcomes,
	// without a request (see memory).
	fromMemory bool
}

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
// outcome) or still running (not_cancellable). A get Google says it does not
// serve (UNIMPLEMENTED) leaves it not_cancellable with the get's code: the
// cancel reached Google and was refused, and nothing more can be learnt by
// asking again. A get answered by something that is not Google's (a
// misdirected answer, a 405 included) is retried like any transient
// failure: it says nothing about the operation.
func (w *Worker) afterPrecondition(ctx context.Context, j *job, cancelErr error) result {
	if !j.svc.Readable(j.req.Name) {
		r := answer(NotCancellable, cancelErr)
		r.message += fmt.Sprintf(" (%s has no operations.get to tell whether it is done)", j.svc.Host)
		return r
	}
	var op *lro.Operation
	var unreadable error
	err := w.retrying(ctx, j, func(ctx context.Context) error {
		var err error
		op, err = w.ops.Get(ctx, j.svc, j.req.Name)
		if lro.CodeOf(err) == lro.Unimplemented && !lro.Misdirected(err) {
			unreadable = err
			return nil // final
		}
		return err
	})
	switch {
	case unreadable != nil:
		return result{outcome: NotCancellable, code: lro.CodeOf(unreadable).String(),
			message: fmt.Sprintf("the cancel was refused (%v), and the get that would tell whether the operation is done failed: %v", cancelErr, unreadable)}
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

// unreadable is the outcome of a verification that never heard from
// Google (every get answered by something that is not Google's, or not at
// all: lro.FromGoogle), or whose last get, at the verify timeout, was
// answered by something that is not Google's (lro.Misdirected): the state
// of the operation is unknown, and unverified would ack what a proxy, or
// silence, said. It is retry_exhausted, nacked, and the redelivery cancels
// and verifies again. err is the last get's failure.
func unreadable(timeout time.Duration, err error) result {
	return result{outcome: RetryExhausted, code: lro.CodeOf(err).String(),
		message: fmt.Sprintf("the cancel was accepted, but the operation could not be read within the verify timeout (%s): %v", timeout, err)}
}

// answer is an outcome decided by an API answer (or by the last failure).
func answer(o Outcome, err error) result {
	return result{outcome: o, code: lro.CodeOf(err).String(), message: err.Error()}
}

func interrupted(err error) result {
	return result{outcome: Interrupted, code: lro.Cancelled.String(), message: "shutdown before an outcome: " + err.Error()}
}

func invalid(err error) result {
	return result{outcome: Invalid, code: lro.InvalidArgument.String(), message: err.Error()}
}

// forbidden is the outcome of a name the service's allow list does not
// admit: nothing was sent.
func forbidden(err error) result {
	return result{outcome: Forbidden, code: lro.PermissionDenied.String(), message: err.Error()}
}
