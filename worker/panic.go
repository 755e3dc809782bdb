package worker

import (
	"fmt"
	"runtime/debug"

	"go.uber.org/zap"
)

// A panic while handling one delivery, in the handler or on the request
// goroutine that runs one of its requests (requestPool.do), is a bug; it
// must not take the process and every other held delivery with it. Handle
// recovers it: it is logged with its stack and counted in
// opcancel_panics_total, the delivery is nacked (it comes back, and with a
// dead-letter policy ends in the dead-letter topic if it keeps panicking),
// and every slot the delivery held is released on the way out. No outcome
// is recorded for it, unless one was before the panic (in publishing the
// result event, say). See docs/operations.md#failure-semantics.

// contain handles the panic v raised while handling j: it logs, counts, nacks
// j's delivery unless it was settled already, and ends the copies that
// follow it (first, if j is the first copy of its message) nacked too.
func (w *Worker) contain(j *job, first *fate, v any) {
	stack := debug.Stack()
	if p, ok := v.(*requestPanic); ok {
		v, stack = p.value, p.stack
	}
	w.metrics.Panics.WithLabelValues(j.service).Inc()
	w.log.Error("panic while handling a delivery; it is nacked and the worker carries on",
		zap.String("service", j.service), zap.String("messageId", j.d.ID),
		zap.String("panic", fmt.Sprint(v)), zap.ByteString("stack", stack))
	if !j.settled {
		w.settle(j, j.d.Nack, "nack")
	}
	if first != nil {
		w.untrack(j.d.ID, first, j, result{outcome: "", nack: true}, false)
	}
}
