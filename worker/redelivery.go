package worker

import (
	"context"

	"opcancel/request"
)

// fate is how the first copy of a message in flight ended, for the copies
// that arrive meanwhile. Only the latest delivery's lease is live, so the
// first copy's ack or nack may be void: a copy therefore sends nothing, waits
// for the first copy's fate and is recorded and settled as it was, never
// acked at once (see docs/design.md#leases).
type fate struct {
	// done is closed once the first copy is recorded and settled; the
	// fields below are set before.
	done    chan struct{}
	req     request.Request
	service string
	r       result
	acked   bool
}

// track marks the message ID of d in flight. It returns nil for the first
// copy, which must call untrack when settled; for a copy of a message
// already in flight, the first copy's fate.
func (w *Worker) track(id string) (first *fate, following *fate) {
	if id == "" {
		return nil, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if f, ok := w.messages[id]; ok {
		return nil, f
	}
	f := &fate{done: make(chan struct{})}
	w.messages[id] = f
	return f, nil
}

// untrack records the first copy's fate and releases its copies.
func (w *Worker) untrack(id string, f *fate, j *job, r result, acked bool) {
	w.mu.Lock()
	delete(w.messages, id)
	w.mu.Unlock()
	f.req, f.service, f.r, f.acked = j.req, j.service, r, acked
	close(f.done)
}

// follow waits for the first copy's fate and ends the copy as it ended: the
// same outcome and code, acked or nacked as it was. When shutdown ends the
// wait, the copy is interrupted (nacked), as the first copy is too; when
// the first copy panicked, the copy is nacked too.
func (w *Worker) follow(ctx context.Context, j *job, f *fate) Outcome {
	select {
	case <-f.done:
	case <-ctx.Done():
		select {
		case <-f.done:
		default:
			_ = w.route(j) // for the log line and the service's count
			w.finish(ctx, j, interrupted(ctx.Err()))
			return Interrupted
		}
	}
	j.req, j.service = f.req, f.service
	if f.r.outcome == "" {
		// The first copy panicked (see contain): nacked, without an outcome.
		w.settle(j, j.d.Nack, "nack")
		return ""
	}
	r := f.r
	r.message = "a redelivery of a message in flight in this process, ended as its first copy: " + r.message
	r.nack = !f.acked
	w.finish(ctx, j, r)
	return r.outcome
}
