package worker

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zapcore"

	"opcancel/lro/lrotest"
)

// TestPanicsAreContained: a panic on a request goroutine, or in the
// handler itself, is recovered: logged with its stack, counted, and the
// delivery nacked (without an outcome when none was decided yet); the pool slot, the claim on the
// operation and the held place are released, and the worker carries on.
func TestPanicsAreContained(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Concurrency = 1
		cfg.MaxOutstanding = 1
		h := newHarness(t, cfg, lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{} }}, "")
		h.ops.panicOn = "operations/boom"
		if got := h.w.Handle(context.Background(), h.delivery("request", "operations/boom", nil)); got != "" {
			t.Errorf("outcome = %q, want none", got)
		}
		h.sink.panics = true
		if got := h.w.Handle(context.Background(), h.delivery("handler", "operations/x", nil)); got != "" {
			t.Errorf("outcome = %q, want none", got)
		}
		for id, frame := range map[string]string{"request": "countingOps", "handler": "memSink"} {
			if got := h.settled.get(id); len(got) != 1 || got[0] != "nack" {
				t.Errorf("%s: settled %v, want one nack", id, got)
			}
			// Cloud Error Reporting groups an entry by its stack_trace, which
			// must read as Go's own panic output: the value, then the stack.
			var fields map[string]any
			for _, e := range h.logs.FilterMessageSnippet("panic").All() {
				if e.ContextMap()["messageId"] == id && e.Level == zapcore.ErrorLevel {
					fields = e.ContextMap()
				}
			}
			trace := toString(fields["stack_trace"])
			if !strings.HasPrefix(trace, "panic: a bug in ") || !strings.Contains(trace, "\n\ngoroutine ") || !strings.Contains(trace, frame) {
				t.Errorf("%s: no error line whose stack_trace is the panic and its stack (in %s): %q", id, frame, trace)
			}
			if _, ok := fields["stack"]; ok {
				t.Errorf("%s: the stack is also logged under \"stack\"", id)
			}
		}
		if got := testutil.ToFloat64(h.m.Panics.WithLabelValues(vault)); got != 2 {
			t.Errorf("opcancel_panics_total{%s} = %v, want 2", vault, got)
		}
		// The one pool slot, the one held place and the claim on
		// operations/x were given back: the same operation is cancelled now.
		h.sink.panics = false
		if got := h.w.Handle(context.Background(), h.delivery("after", "operations/x", nil)); got != Cancelled {
			t.Errorf("after the panics: outcome %q, want cancelled", got)
		}
		// The request's panic came before any outcome; the handler's, in
		// publishing the result event, after the outcome was recorded.
		if got := h.jobs(vault, Cancelled); got != 2 {
			t.Errorf("cancelled = %v, want 2: the delivery after the panics and the one whose publish panicked", got)
		}
	})
}
