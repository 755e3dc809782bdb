package worker

import (
	"fmt"
	"runtime/debug"

	"go.uber.org/zap"

	"opcancel/lro"
)

// contain handles the panic v raised while handling j, in the handler or on
// the runner of one of its requests: a bug, which must not take the process
// and every other held delivery with it. It logs v with its stack, counts
// it, nacks j's delivery unless it was settled already (a delivery that
// keeps panicking ends in the dead-letter topic), and ends the copies that
// follow it (first, if j is the first copy of its message) nacked too.
// Every slot the delivery held is released on the way out of Handle.
func (w *Worker) contain(j *job, first *fate, v any) {
	stack := debug.Stack()
	if p, ok := v.(*requestPanic); ok {
		v, stack = p.value, p.stack
	}
	w.metrics.Panics.WithLabelValues(j.service).Inc()
	value := lro.Clip(fmt.Sprint(v), lro.MaxMessageBytes)
	// stack_trace, in the form of Go's own panic output, is what Cloud
	// Error Reporting groups a log entry by (docs/contract.md#logs).
	w.log.Error("panic while handling a delivery; it is nacked and the worker carries on",
		zap.String("service", j.service), zap.String("messageId", j.d.ID),
		zap.String("panic", value), zap.String("stack_trace", "panic: "+value+"\n\n"+string(stack)))
	if !j.settled {
		w.settle(j, j.d.Nack, "nack")
	}
	if first != nil {
		w.untrack(j.d.ID, first, j, result{outcome: "", nack: true}, false)
	}
}
