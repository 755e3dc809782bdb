package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"opcancel/lro"
	"opcancel/queue"
)

// replayCmd is `opcancel replay`: dead letters back to the worker's topic.
type replayCmd struct {
	pubsubBase       `kong:"set='project_of=the subscription and topic',set='full_name=name'"`
	FromSubscription string        `required:"" help:"The dead-letter subscription to take the messages from: ID or projects/P/subscriptions/S."`
	Topic            string        `required:"" help:"Topic ID or projects/P/topics/T to publish them to: the one the worker's subscription reads."`
	DryRun           bool          `help:"Count the dead letters; publish and ack nothing (they are given back at once)."`
	Limit            int           `default:"0" help:"Replay at most this many messages; 0: all."`
	Batch            string        `help:"Replay only the dead letters of this batch; the others stay in the subscription, untouched."`
	Service          string        `help:"Replay only the dead letters of this service host (routed as the worker routes them); the others stay in the subscription, untouched."`
	Config           string        `help:"YAML services file: the enabled services for --service, and the patterns that route a dead letter that names no service." type:"path"`
	Idle             time.Duration `default:"5s" help:"Stop reading the subscription when it has given no message for this long."`
	confirmation     `kong:""`
}

// Help is replay's --help below its one-line summary.
func (c *replayCmd) Help() string {
	return "replay first reads the subscription, holding every message it pulls (its lease extended until the end), " +
		"and refuses to publish anything when the subscription is attached to --topic or a message lacks the attributes " +
		"Pub/Sub adds to dead letters. It then publishes the selected dead letters (--batch, --service, --limit), acking each " +
		"once the server has its copy, and gives the others back untouched.\n\n" +
		"Exit status: 0 when every selected dead letter was replayed; 1 when a publish failed (those stay in the subscription), " +
		"or on another runtime error; 2 on a usage error, a subscription that is not a dead-letter one or is attached to " +
		"--topic, or more than --confirm-above dead letters without confirmation."
}

// replayBatch is how many dead letters are pulled, and republished and
// acked, at a time.
const replayBatch = 500

// replayedFromAttribute names, on a replayed message, the subscription it
// was replayed from.
const replayedFromAttribute = "replayedFrom"

// replaySetup is replay's validated configuration.
type replaySetup struct {
	sub, topic string
	table      *lro.Table
}

func (c *replayCmd) Run(ctx context.Context, e *env) error {
	s, err := c.setup(e)
	if err != nil {
		return err
	}
	ps, stop, err := c.start(ctx, e)
	if err != nil {
		return err
	}
	defer stop()
	if err := c.refuseLoop(ctx, ps, s); err != nil {
		return err
	}
	r := &replay{cmd: c, setup: s, ps: ps, tracer: c.tracing.tracer(), e: e, progress: isTerminal(e.stderr)}
	if !c.DryRun {
		pub := ps.Publisher(queue.PublishConfig{Topic: s.topic, CountThreshold: replayBatch})
		defer pub.Stop()
		r.pub = pub
	}
	return r.report(r.run(ctx))
}

// report prints the summary of a replay that ended with err, and returns
// its exit error. A replay refused or not confirmed has no summary.
func (r *replay) report(err error) error {
	c, s, e := r.cmd, r.setup, r.e
	if r.read == nil || (!c.DryRun && !r.publishing) {
		return err
	}
	if c.DryRun {
		fmt.Fprintf(e.stdout, "dead letters: %d in %s%s; dry run: nothing published or acked\n", r.read.total, s.sub, r.read.describe(c))
	} else {
		fmt.Fprintf(e.stdout, "replayed: %d, failed: %d, skipped: %d, from %s to %s\n", r.replayed, r.failed, r.read.skipped, s.sub, s.topic)
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
	if s.sub, err = c.resolve(e, "subscriptions", "--from-subscription", c.FromSubscription); err != nil {
		return nil, err
	}
	if s.topic, err = c.resolve(e, "topics", "--topic", c.Topic); err != nil {
		return nil, err
	}
	if c.Limit < 0 {
		return nil, usagef("--limit %d: must be 0 (all) or more", c.Limit)
	}
	if c.Idle <= 0 {
		return nil, usagef("--idle %s: must be positive", c.Idle)
	}
	if err := c.confirmation.validate(); err != nil {
		return nil, err
	}
	// No credentials are sent anywhere: the table only routes.
	if s.table, err = loadServicesFile(c.Config, ""); err != nil {
		return nil, err
	}
	if c.Service != "" {
		if _, err := s.table.Enabled(c.Service); err != nil {
			return nil, usagef("--service %q: %w", c.Service, err)
		}
	}
	return s, nil
}

// refuseLoop refuses a subscription of the topic the dead letters would
// be published to: each replayed message would come back to it, and a
// replay of it would never end.
func (c *replayCmd) refuseLoop(ctx context.Context, ps *queue.Client, s *replaySetup) error {
	topic, err := ps.SubscriptionTopic(ctx, s.sub)
	switch {
	case errors.Is(err, queue.ErrPermissionDenied):
		return fmt.Errorf("--from-subscription: replay reads the subscription to check that it is not attached to %s, "+
			"which needs pubsub.subscriptions.get on it (roles/pubsub.viewer): %w", s.topic, err)
	case err != nil:
		return fmt.Errorf("--from-subscription: %w", err)
	case topic == s.topic:
		return usagef("--from-subscription %s is a subscription of --topic %s: every message replayed would come back to it, "+
			"again and again; replay from the dead-letter subscription, which is attached to the dead-letter topic", s.sub, s.topic)
	}
	return nil
}
