package main

import (
	"context"
	"fmt"
	"time"

	"opcancel/queue"
)

// replayCmd is `opcancel replay`: dead letters back to the worker's topic.
type replayCmd struct {
	pubsubBase       `kong:"set='project_of=the subscription and topic',set='full_name=name'"`
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
	sub, topic string
}

func (c *replayCmd) Run(ctx context.Context, e *env) error {
	s, err := c.setup(e)
	if err != nil {
		return err
	}
	if err := c.confirm(e, s); err != nil {
		return err
	}
	tr, err := c.startTracing(ctx, e)
	if err != nil {
		return err
	}
	defer tr.shutdownTo(e.stderr)
	ps, err := c.connect(ctx, e)
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
	return confirm(e, fmt.Sprintf("replay: %s of %s would be published to %s and acked", what, s.sub, s.topic),
		fmt.Sprintf("Publish %s of %s to %s, and ack them there?", what, s.sub, s.topic), "replayed")
}
