package main

import (
	"context"
	"fmt"

	"opcancel/queue"
)

// runWait is the end of Run with --wait. It subscribes to the worker's
// result events before anything is published, so that no outcome can come
// before the subscription does, then starts the manifest and the journal,
// publishes and follows the batch (publishAndWait), and deletes the
// subscription whatever happened. The batch's messages come from this run
// itself, which lists those of the journal's earlier runs too, never from
// the batches topic, which the wait users may write (wait_runs.go).
func (c *submitCmd) runWait(ctx context.Context, e *env, ps *queue.Client, s *submitSetup, sub submission, b *batchPlan, j *journal) error {
	w := newWatch(c.Batch)
	events, err := openBatchEvents(ctx, ps, c.project, []batchTopic{{flag: "--results-topic", name: s.resultsTopic}}, b.since, w, e.stderr)
	if err != nil {
		return fmt.Errorf("nothing was published: %w", err)
	}
	err = c.openManifest(ctx, ps, s, b, j, w)
	if err == nil {
		w.endsWith(b.record.manifest.run)
		if err = c.startJournal(sub, j, b); err == nil {
			err = c.publishAndWait(ctx, e, sub, b, w, events)
		}
	}
	if cerr := events.close(); cerr != nil {
		fmt.Fprintf(e.stderr, "--wait: %s\n", escape(cerr.Error()))
	}
	return err
}

// publishAndWait publishes, waits for the outcomes of the whole batch
// (earlier runs' messages too) as `opcancel wait` does, prints the report
// and returns the exit error: a publish that failed (1) before what the
// outcomes say (3, 4).
func (c *submitCmd) publishAndWait(ctx context.Context, e *env, sub submission, b *batchPlan, w *watch, events *batchEvents) error {
	fmt.Fprintf(e.stderr, "batch %s: its messages and outcomes from %s\n", c.Batch, events)
	sum, err := c.publishBatch(ctx, e, sub, b)
	merr := c.endManifest(b, sum, err)
	if c.Output != "json" {
		fmt.Fprintln(e.stdout, sum)
	}
	pubErr := c.publishError(ctx, sum, err)
	if ctx.Err() != nil {
		return pubErr
	}
	if merr != nil {
		return fmt.Errorf("--wait: %w", merr)
	}
	return followBatch(ctx, e, w, events, c.options(""), &sum, pubErr)
}
