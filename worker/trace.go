package worker

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"opcancel/lro"
)

// Tracing (see docs/operations.md#tracing): a span per job and a child span
// per API request. The job's span starts a trace of the worker's own,
// linked to the span the delivery's context carries (the Pub/Sub client's,
// in the trace the publisher's googclient_traceparent attribute named): a
// publisher may not choose the worker's trace or force its sampling, which
// is the worker's sampler's decision for a root span. The result event is
// published in the job's context, so its publish is part of the job's
// trace. None of this runs when the worker has no tracer: the hot path then
// pays one nil check per job and per request.

// withDeliveryTrace returns jobs, the context jobs run in, carrying the
// span of rctx, the context the source handed the delivery in.
func (w *Worker) withDeliveryTrace(jobs, rctx context.Context) context.Context {
	if w.tracer == nil {
		return jobs
	}
	return trace.ContextWithSpan(jobs, trace.SpanFromContext(rctx))
}

// startSpan starts j's span, a new root linked to the delivery's span.
func (w *Worker) startSpan(ctx context.Context, j *job) context.Context {
	if w.tracer == nil {
		return ctx
	}
	ctx, j.span = w.tracer.Start(ctx, "opcancel.job", trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithNewRoot(), trace.WithLinks(trace.LinkFromContext(ctx)),
		trace.WithAttributes(attribute.String("messaging.message.id", j.d.ID)))
	return ctx
}

// endSpan records r on j's span and ends it.
func (j *job) endSpan(r result) {
	if j.span == nil {
		return
	}
	j.span.SetAttributes(
		attribute.String("opcancel.service", j.service),
		attribute.String("opcancel.name", lro.Clip(j.req.Name, maxLoggedName)),
		attribute.String("opcancel.outcome", string(r.outcome)),
		attribute.String("opcancel.code", r.code),
		attribute.Int("opcancel.attempts", j.attempts),
		attribute.Int("opcancel.polls", j.polls),
		attribute.String("opcancel.batch", j.req.Batch),
	)
	if r.outcome.warns() {
		j.span.SetStatus(codes.Error, r.message)
	}
	j.span.End()
}

// traceFields are the log fields that put j's log lines under its trace;
// none when the job's span is not sampled.
func (w *Worker) traceFields(j *job) []zap.Field {
	if j.span == nil || w.traceLog == nil {
		return nil
	}
	sc := j.span.SpanContext()
	if !sc.IsSampled() {
		return nil
	}
	return w.traceLog(sc)
}

// tracedOps gives every API request a span of its own, a child of the job's.
type tracedOps struct {
	ops    Operations
	tracer trace.Tracer
}

func (t tracedOps) Cancel(ctx context.Context, svc *lro.Service, name string) error {
	ctx, span := t.start(ctx, svc, "cancel")
	err := t.ops.Cancel(ctx, svc, name)
	end(span, err)
	return err
}

func (t tracedOps) Get(ctx context.Context, svc *lro.Service, name string) (*lro.Operation, error) {
	ctx, span := t.start(ctx, svc, "get")
	op, err := t.ops.Get(ctx, svc, name)
	end(span, err)
	return op, err
}

func (t tracedOps) start(ctx context.Context, svc *lro.Service, method string) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, "opcancel.api "+method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("opcancel.service", svc.Host), attribute.String("opcancel.method", method)))
}

// end records the request's google.rpc code on its span and ends it.
func end(span trace.Span, err error) {
	code := lro.OK.String()
	if err != nil {
		code = lro.CodeOf(err).String()
		span.SetStatus(codes.Error, code)
	}
	span.SetAttributes(attribute.String("opcancel.code", code))
	span.End()
}
