package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"opcancel/queue"
)

// settleTimeout bounds the acks and nacks that settle a batch, which run
// even when the replay was interrupted.
const settleTimeout = 10 * time.Second

// replay is one run of replay.
type replay struct {
	cmd      *replayCmd
	setup    *replaySetup
	ps       *queue.Client
	pub      asyncPublisher // nil: dry run
	tracer   trace.Tracer   // nil: tracing off
	e        *env
	progress bool // draw progress bars on stderr
	bar      progress
	// leases holds every message pulled until it is acked or given back.
	leases *queue.Leases
	// read is what was read from the subscription; nil until it all was.
	read *replayRead
	// publishing is set once the replay is confirmed.
	publishing bool
	// replayed counts the messages published and acked; failed those
	// whose publish failed.
	replayed, failed int
}

// republish publishes msgs to the topic, then acks those the server has
// and gives back those it has not.
func (r *replay) republish(ctx context.Context, msgs []queue.Pulled) error {
	results := make([]queue.Result, len(msgs))
	spans := make([]trace.Span, len(msgs))
	for i, m := range msgs {
		attrs := r.replayAttributes(m.Attributes)
		pctx := ctx
		if r.tracer != nil {
			pctx, spans[i] = r.startSpan(ctx, m)
		}
		results[i] = r.pub.PublishAsync(pctx, m.Data, attrs)
	}
	// The server's answer decides, even when interrupted: a publish that
	// went through must be acked, or it is published again next time.
	// The client bounds each publish (its PublishSettings.Timeout).
	var acks, nacks []string
	for i, res := range results {
		_, err := res.Get(context.WithoutCancel(ctx))
		if spans[i] != nil {
			spans[i].End()
		}
		if err != nil {
			if r.failed++; r.failed <= 10 {
				fmt.Fprintf(r.e.stderr, "publish failed: %s\n", escape(err.Error()))
			}
			nacks = append(nacks, msgs[i].AckID)
			continue
		}
		acks = append(acks, msgs[i].AckID)
		r.replayed++
		r.bar.add()
	}
	// Settle even when interrupted: an ack lost here means a message
	// published twice, a nack lost one back only after the ack deadline.
	r.leases.Release(acks)
	r.leases.Release(nacks)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if err := r.ps.Ack(sctx, r.setup.sub, acks); err != nil {
		return fmt.Errorf("%w; those messages were published and will be published again by the next replay", err)
	}
	return errors.Join(r.ps.Nack(sctx, r.setup.sub, nacks), ctx.Err())
}

// replayAttributes are the attributes of a dead letter's copy: its own,
// but for those Pub/Sub added when it dead-lettered it, and replayedFrom.
// A copy is not a dead letter: kept, they would let any subscription the
// copy reaches (another of the request topic's) pass replay's guard.
func (r *replay) replayAttributes(dead map[string]string) map[string]string {
	attrs := make(map[string]string, len(dead)+1)
	for k, v := range dead {
		if !strings.HasPrefix(k, queue.DeadLetterAttributePrefix) {
			attrs[k] = v
		}
	}
	attrs[replayedFromAttribute] = r.setup.sub
	return attrs
}

// startSpan starts the replay's span of m in the trace m was published in,
// when its attributes carry one: the trace goes on from submit, through the
// dead letter, to the worker.
func (r *replay) startSpan(ctx context.Context, m queue.Pulled) (context.Context, trace.Span) {
	ctx = propagation.TraceContext{}.Extract(ctx, pubsub.NewMessageCarrierFromPB(&pubsubpb.PubsubMessage{Attributes: m.Attributes}))
	return r.tracer.Start(ctx, "opcancel.replay", trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("messaging.message.id", m.ID), attribute.String("opcancel.replayed_from", r.setup.sub)))
}
