package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// followOptions are the flags `wait` and `submit --wait` share.
type followOptions struct {
	timeout time.Duration
	verbose bool
	json    bool
	// since is wait's --since, as given; "" without it.
	since string
}

// followBatch is the end of `wait` and of `submit --wait`: it waits for
// the outcomes of the batch's messages, which the manifest read by events
// tells w, prints the report on stdout and returns the exit error. sum is
// the summary of the submit run that published, with pubErr the error its
// publishing ended with; nil for `wait`, which prints the summary of the
// run the manifest names before the report.
func followBatch(ctx context.Context, e *env, w *watch, events *batchEvents, o followOptions, sum *submitSummary, pubErr error) error {
	werr := awaitOutcomes(ctx, w, events.failed, o.timeout, e.stderr, isTerminal(e.stderr))
	st := w.status()
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted while waiting, with %d of %d outcomes in: %w", st.ended, st.total, ctx.Err())
	}
	if werr != nil && !errors.Is(werr, errWaitTimeout) {
		return werr
	}
	if sum == nil {
		s, ok := w.summary()
		if !ok && st.total == 0 {
			return exitError{4, fmt.Errorf("batch %s: no manifest and no message on %s by --wait-timeout: "+
				"submit publishes a batch's manifest with --wait or --journal; check the batch ID, --since, and "+
				"that the topics keep messages (their message retention)", w.batch, events)}
		}
		sum, pubErr = &s, s.exitError(nil)
		if !o.json {
			fmt.Fprintln(e.stdout, s)
		}
	}
	r := newBatchReport(w, *sum, werr != nil)
	if o.json {
		writeJSON(e.stdout, r)
	} else {
		r.writeText(e.stdout, o.verbose)
	}
	switch {
	case pubErr != nil:
		return pubErr
	case werr != nil && st.publishing && st.conflict != "":
		return exitError{4, fmt.Errorf("batch %s: its publishing is not taken as over: %s (docs/operations.md#what-wait-users-can-falsify); "+
			"%d of the %d messages its manifest names have no outcome", w.batch, escape(st.conflict), r.NoOutcome, r.messages)}
	case werr != nil && st.publishing && st.headless && o.since != "":
		return exitError{4, fmt.Errorf("batch %s: its manifest begins before --since %s (a run of submit whose first part was published "+
			"before then): give an earlier --since (a journal's startedAt, less a few minutes); %d of the %d messages read have no outcome",
			w.batch, o.since, r.NoOutcome, r.messages)}
	case werr != nil && st.publishing:
		return exitError{4, fmt.Errorf("batch %s: its publishing had not ended by --wait-timeout (a submit still running, "+
			"or one interrupted: run it again with its --journal to publish the rest); %d of the %d messages published so far have no outcome",
			w.batch, r.NoOutcome, r.messages)}
	}
	return r.exitError()
}
