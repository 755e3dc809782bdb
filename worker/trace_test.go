package worker

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"opcancel/lro/lrotest"
	"opcancel/metrics"
)

// traced replaces h's worker with one that traces through a provider of
// sampler into spans, its log lines under the job's trace as
// "trace"/"span" fields.
func (h *harness) traced(sampler sdktrace.Sampler) *tracetest.InMemoryExporter {
	h.t.Helper()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans), sdktrace.WithSampler(sampler))
	h.t.Cleanup(func() { tp.Shutdown(context.Background()) })
	core, logs := observer.New(zapcore.DebugLevel)
	h.logs, h.m = logs, metrics.New(prometheus.NewRegistry())
	traceLog := func(sc trace.SpanContext) []zap.Field {
		return []zap.Field{zap.String("trace", sc.TraceID().String()), zap.String("span", sc.SpanID().String())}
	}
	var err error
	h.w, err = New(DefaultConfig(), Deps{Table: h.table, Ops: h.ops, Sink: h.sink, Log: zap.New(core), Metrics: h.m,
		Tracer: tp.Tracer("opcancel"), TraceLog: traceLog})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(h.w.Close)
	return spans
}

// publisherContext is the context a delivery carries when its publisher set
// googclient_traceparent: a remote span in a trace the publisher chose.
func publisherContext(sampled bool) (context.Context, trace.SpanContext) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x0b, 0xad, 0xc0, 0xde, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
		SpanID:  trace.SpanID{0xfe, 0xed, 1, 2, 3, 4, 5, 6},
		Remote:  true,
	})
	if sampled {
		sc = sc.WithTraceFlags(trace.FlagsSampled)
	}
	return trace.ContextWithRemoteSpanContext(context.Background(), sc), sc
}

// TestPublishersTraceIsALinkNotAParent: a delivery's trace context, which
// any publisher may set, neither chooses the job's trace nor its sampling:
// the job's span is a root of the worker's own, linked to the publisher's;
// the API requests are its children, and the log line is under it.
func TestPublishersTraceIsALinkNotAParent(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, DefaultConfig(), lrotest.Options{}, "")
		h.fake.Set("operations/t1", lrotest.Script{})
		spans := h.traced(sdktrace.ParentBased(sdktrace.AlwaysSample()))
		// A publisher that asks for no sampling does not turn the worker's off.
		ctx, publisher := publisherContext(false)
		if got := h.w.Handle(ctx, h.delivery("m1", "operations/t1", nil)); got != Cancelled {
			t.Fatalf("outcome %s", got)
		}
		var job tracetest.SpanStub
		for _, s := range spans.GetSpans() {
			if s.Name == "opcancel.job" {
				job = s
			}
		}
		switch {
		case !job.SpanContext.IsValid():
			t.Fatal("no job span: the publisher's unsampled context turned the worker's sampling off")
		case job.SpanContext.TraceID() == publisher.TraceID():
			t.Errorf("the job's span is in the publisher's trace %s", publisher.TraceID())
		case job.Parent.IsValid():
			t.Errorf("the job's span has a parent, %s; want a root", job.Parent.SpanID())
		case len(job.Links) != 1 || !job.Links[0].SpanContext.Equal(publisher):
			t.Errorf("the job's span links %+v, want the publisher's span", job.Links)
		}
		for _, s := range spans.GetSpans() {
			if s.Name != "opcancel.job" && (s.SpanContext.TraceID() != job.SpanContext.TraceID() || s.Parent.SpanID() != job.SpanContext.SpanID()) {
				t.Errorf("span %q is not a child of the job's", s.Name)
			}
		}
		e, _ := h.outcomeLog("m1")
		if f := e.ContextMap(); f["trace"] != job.SpanContext.TraceID().String() || f["span"] != job.SpanContext.SpanID().String() {
			t.Errorf("the log line is under trace %v, span %v; want the job's %s, %s", f["trace"], f["span"], job.SpanContext.TraceID(), job.SpanContext.SpanID())
		}
	})
}

// TestPublishersCannotForceSampling: a worker whose sampler samples no job
// records none, whatever the publisher's context asks, and logs no trace.
func TestPublishersCannotForceSampling(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, DefaultConfig(), lrotest.Options{}, "")
		h.fake.Set("operations/t2", lrotest.Script{})
		spans := h.traced(sdktrace.ParentBased(sdktrace.NeverSample()))
		ctx, _ := publisherContext(true)
		if got := h.w.Handle(ctx, h.delivery("m2", "operations/t2", nil)); got != Cancelled {
			t.Fatalf("outcome %s", got)
		}
		for _, s := range spans.GetSpans() {
			t.Errorf("span %q (trace %s) recorded: the publisher forced sampling", s.Name, s.SpanContext.TraceID())
		}
		e, _ := h.outcomeLog("m2")
		if f := e.ContextMap(); f["trace"] != nil {
			t.Errorf("the log line is under trace %v, of a span nobody sampled", f["trace"])
		}
	})
}
