package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"opcancel/queue"
)

// replayCmd is `opcancel replay`: dead letters back to the worker's topic.
type replayCmd struct {
	Project          string        `help:"Project of the subscription and topic (default: $GOOGLE_CLOUD_PROJECT, or the project of a full name)."`
	FromSubscription string        `required:"" help:"The dead-letter subscription to take the messages from: ID or projects/P/subscriptions/S."`
	Topic            string        `required:"" help:"Topic ID or projects/P/topics/T to publish them to: the one the worker's subscription reads."`
	DryRun           bool          `help:"Count the dead letters; publish and ack nothing (they are given back at once)."`
	Limit            int           `default:"0" help:"Replay at most this many messages; 0: all."`
	Yes              bool          `help:"Do not ask for confirmation."`
	Idle             time.Duration `default:"5s" help:"Stop when the subscription has given no message for this long."`
}

// replayBatch is how many dead letters are pulled, republished and acked at
// a time: well within the subscription's ack deadline.
const replayBatch = 500

// replayedFromAttribute names, on a replayed message, the subscription it
// was replayed from.
const replayedFromAttribute = "replayedFrom"

// replaySetup is replay's validated configuration.
type replaySetup struct {
	project, sub, topic string
}

func (c *replayCmd) Run(ctx context.Context, e *env) error {
	s, err := c.setup(e)
	if err != nil {
		return err
	}
	if err := c.confirm(e, s); err != nil {
		return err
	}
	tr, err := startTracing(ctx, e)
	if err != nil {
		return err
	}
	defer tr.shutdownTo(e.stderr)
	ps, err := queue.NewClient(ctx, queue.ClientConfig{Project: s.project, EmulatorHost: e.getenv("PUBSUB_EMULATOR_HOST"), Tracing: tr.on()})
	if err != nil {
		return err
	}
	defer ps.Close()
	steps := -1 // unknown
	if c.Limit > 0 {
		steps = c.Limit
	}
	r := &replay{cmd: c, setup: s, ps: ps, tracer: tr.tracer(), stderr: e.stderr,
		bar: newProgress(isTerminal(e.stderr), e.stderr, steps, "replaying")}
	if !c.DryRun {
		r.pub = ps.Publisher(queue.PublishConfig{Topic: s.topic, CountThreshold: replayBatch})
		defer r.pub.Stop()
	}
	err = r.run(ctx)
	r.bar.finish()
	if c.DryRun {
		fmt.Fprintf(e.stdout, "dead letters: %d in %s (dry run: nothing published or acked)\n", r.replayed, s.sub)
	} else {
		fmt.Fprintf(e.stdout, "replayed: %d, failed: %d, from %s to %s\n", r.replayed, r.failed, s.sub, s.topic)
	}
	if err != nil {
		return err
	}
	if r.failed > 0 {
		return fmt.Errorf("%d messages were not published; they are still in %s", r.failed, s.sub)
	}
	return nil
}

// setup validates the flags; every error is a usage error naming the bad value.
func (c *replayCmd) setup(e *env) (*replaySetup, error) {
	s := &replaySetup{}
	var err error
	if s.sub, s.project, err = resolveResource(e, c.Project, "subscriptions", "--from-subscription", c.FromSubscription); err != nil {
		return nil, err
	}
	if s.topic, _, err = resolveResource(e, s.project, "topics", "--topic", c.Topic); err != nil {
		return nil, err
	}
	if c.Limit < 0 {
		return nil, usagef("--limit %d: must be 0 (all) or more", c.Limit)
	}
	if c.Idle <= 0 {
		return nil, usagef("--idle %s: must be positive", c.Idle)
	}
	return s, nil
}

// confirm asks on the terminal, as submit --list-parent does, unless --yes
// or --dry-run.
func (c *replayCmd) confirm(e *env, s *replaySetup) error {
	if c.DryRun || c.Yes {
		return nil
	}
	what := "every message"
	if c.Limit > 0 {
		what = fmt.Sprintf("up to %d messages", c.Limit)
	}
	if !isTerminal(e.stdin) {
		return usagef("replay: %s of %s would be published to %s and acked; confirm with --yes (standard input is not a terminal to ask on)", what, s.sub, s.topic)
	}
	fmt.Fprintf(e.stderr, "Publish %s of %s to %s, and ack them there? [y/N] ", what, s.sub, s.topic)
	answer, _ := bufio.NewReader(e.stdin).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return errors.New("not confirmed; nothing replayed")
	}
	return nil
}

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
			nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deleteTimeout)
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
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deleteTimeout)
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
