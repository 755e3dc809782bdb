package main

import (
	"context"
	"fmt"
	"time"

	"opcancel/lro"
)

// What one run of submit publishes of its batch: with --journal, what the
// journal says is left; and how its publishing ends: the manifest that
// opcancel wait reads, and an exit error that says how to resume.

// names are the names to submit: those given, or, when none are given to
// a journal that exists, the journal's list. A journal that exists is
// resumed with its own list when --list-parent is given too: listing
// again would find another list (what the first run cancelled is done by
// then), so that the command that started the batch also resumes it.
func (c *submitCmd) names(ctx context.Context, e *env, table *lro.Table, j *journal) ([]givenName, error) {
	if j != nil && j.exists && len(c.Names) == 0 && c.File == "" {
		if c.ListParent != "" {
			fmt.Fprintf(e.stderr, "--journal %s: resuming its own list of %d names; --list-parent, --filter, --older-than and --newer-than "+
				"are not applied again (a new listing would find what the batch cancelled done)\n", j.path, len(j.plan))
		}
		return j.planNames(), nil
	}
	return c.collect(ctx, e, table)
}

// batchPlan is what this run publishes of the batch.
type batchPlan struct {
	todo    []outgoing
	invalid int
	// earlier is how many names the journal says earlier runs published.
	earlier int
	// since is where --wait reads the results topic from: the start of the
	// journal's batch less batchStartSkew; zero for a new batch.
	since  time.Time
	record *batchRecorder
}

// plan validates the names and, with a journal that exists, keeps those
// it does not say were published, once the names are found to be its list.
func (c *submitCmd) plan(sub submission, j *journal) (*batchPlan, error) {
	out, invalid := sub.prepare()
	b := &batchPlan{todo: out, invalid: invalid}
	if j != nil && j.exists {
		var err error
		if b.todo, err = j.reconcile(out); err != nil {
			return nil, err
		}
		b.earlier = len(out) - len(b.todo)
		b.since = j.header.StartedAt.Add(-batchStartSkew)
	}
	return b, nil
}

// startJournal writes a new journal, its list the valid names, before
// anything is published, and records the run in it; the run's manifest
// names the journal's earlier runs.
func (c *submitCmd) startJournal(sub submission, j *journal, b *batchPlan) error {
	if j == nil {
		return nil
	}
	if !j.exists {
		if err := j.create(journalHeader{Batch: c.Batch, Topic: sub.topic, Reason: c.Reason, StartedAt: time.Now().UTC()}, b.todo); err != nil {
			return err
		}
	}
	b.record.manifest.earlierRuns = j.earlierRuns()
	return j.startRun(b.record.manifest.run)
}

// publishBatch publishes what b has left to publish, telling b.record.
func (c *submitCmd) publishBatch(ctx context.Context, e *env, sub submission, b *batchPlan) (submitSummary, error) {
	earlier := ""
	if b.earlier > 0 {
		earlier = fmt.Sprintf(" (and %d published earlier, says the journal)", b.earlier)
	}
	fmt.Fprintf(e.stderr, "batch %s: %d names to %s%s\n", c.Batch, len(b.todo), sub.topic, earlier)
	if b.record != nil {
		sub.record = b.record
		for _, m := range b.record.journal.earlier() { // durable: read from the file
			b.record.manifest.add(m)
		}
	}
	sum, err := sub.publishAll(ctx, b.todo, b.invalid)
	sum.earlier = b.earlier
	return sum, err
}

// endManifest ends the run's manifest, if it has one; err is what
// publishing ended with.
func (c *submitCmd) endManifest(b *batchPlan, sum submitSummary, err error) error {
	if b.record == nil {
		return nil
	}
	return b.record.manifest.end(sum, b.earlier+len(b.todo), err != nil || sum.notTried > 0)
}

// publishError is the exit error of publishing that ended with err: an
// interrupt, a stop (a journal that could not be written) or failed
// publishes say what was left and how a journal resumes it.
func (c *submitCmd) publishError(ctx context.Context, sum submitSummary, err error) error {
	resume := ""
	if c.Journal != "" {
		resume = "; run submit again with --journal " + c.Journal + " to publish the rest"
	}
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted with %d messages published, %d failed, %d not tried%s: %w", sum.published, sum.failed, sum.notTried, resume, ctx.Err())
	case err != nil && sum.notTried > 0:
		return fmt.Errorf("publishing stopped with %d messages published, %d failed, %d not tried%s: %w", sum.published, sum.failed, sum.notTried, resume, err)
	case err == nil && sum.failed > 0:
		return fmt.Errorf("%d of %d messages were not published%s", sum.failed, sum.failed+sum.published, resume)
	}
	return sum.exitError(err)
}
