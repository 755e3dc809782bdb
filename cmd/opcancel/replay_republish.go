package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
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
	cmd    *replayCmd
	setup  *replaySetup
	ps     *queue.Client
	pub    *queue.Publisher // nil: dry run
	tracer trace.Tracer     // nil: tracing off
	stderr io.Writer
	bar    progress
	// replayed counts the messages published and acked (in a dry run, the
	// messages seen); failed those whose publish failed.
	replayed, failed int
}

// run pulls batches until the subscription is empty, --limit is reached or
// a publish fails; a dry run holds what it pulled and gives it back at the end.
func (r *replay) run(ctx context.Context) error {
	var held []string // a dry run's ack IDs
	seen := map[string]bool{}
	defer func() {
		if len(held) > 0 {
			// A nack that fails only delays them: they come back when
			// their ack deadline passes.
			nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
			defer cancel()
			r.ps.Nack(nctx, r.setup.sub, held)
		}
	}()
	for r.cmd.Limit == 0 || r.replayed < r.cmd.Limit {
		want := replayBatch
		if r.cmd.Limit > 0 {
			want = min(want, r.cmd.Limit-r.replayed)
		}
		pctx, cancel := context.WithTimeout(ctx, r.cmd.Idle)
		msgs, err := r.ps.Pull(pctx, r.setup.sub, want)
		cancel()
		if err != nil || len(msgs) == 0 {
			return err
		}
		if r.pub == nil {
			fresh := 0
			for _, m := range msgs {
				held = append(held, m.AckID)
				if !seen[m.ID] {
					seen[m.ID], fresh = true, fresh+1
				}
			}
			r.replayed += fresh
			r.bar.set(r.replayed)
			if fresh == 0 { // held past the ack deadline: they came round again
				return nil
			}
			continue
		}
		if err := r.republish(ctx, msgs); err != nil || r.failed > 0 {
			return err
		}
	}
	return nil
}

// republish publishes msgs to the topic, then acks those the server has
// and gives back those it has not.
func (r *replay) republish(ctx context.Context, msgs []queue.Pulled) error {
	results := make([]queue.Result, len(msgs))
	spans := make([]trace.Span, len(msgs))
	for i, m := range msgs {
		attrs := maps.Clone(m.Attributes)
		if attrs == nil {
			attrs = map[string]string{}
		}
		attrs[replayedFromAttribute] = r.setup.sub
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
				fmt.Fprintf(r.stderr, "publish failed: %v\n", err)
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
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if err := r.ps.Ack(sctx, r.setup.sub, acks); err != nil {
		return fmt.Errorf("%w; those messages were published and will be published again by the next replay", err)
	}
	return errors.Join(r.ps.Nack(sctx, r.setup.sub, nacks), ctx.Err())
}

// startSpan starts the replay's span of m in the trace m was published in,
// when its attributes carry one: the trace goes on from submit, through the
// dead letter, to the worker.
func (r *replay) startSpan(ctx context.Context, m queue.Pulled) (context.Context, trace.Span) {
	ctx = propagation.TraceContext{}.Extract(ctx, pubsub.NewMessageCarrierFromPB(&pubsubpb.PubsubMessage{Attributes: m.Attributes}))
	return r.tracer.Start(ctx, "opcancel.replay", trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("messaging.message.id", m.ID), attribute.String("opcancel.replayed_from", r.setup.sub)))
}
