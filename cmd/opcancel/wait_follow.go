package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// followFlags are the flags of following a batch to its outcomes, which
// `wait` and `submit` (with --wait; --batches-topic with --journal too, and
// --output for its summary) share, written once with their defaults. Their
// help differs per command, which sets it on the embedding through the
// variables results_topic_help, batches_topic_help, wait_timeout_help,
// verbose_help and output_help (set in the embedding's kong tag, where an
// apostrophe is written \\'), as pubsubBase does for --project.
type followFlags struct {
	ResultsTopic string        `default:"opcancel-results" help:"${results_topic_help}"`
	BatchesTopic string        `default:"opcancel-batches" help:"${batches_topic_help}"`
	WaitTimeout  time.Duration `default:"15m" help:"${wait_timeout_help}"`
	Verbose      bool          `help:"${verbose_help}"`
	Output       string        `default:"text" enum:"text,json" help:"${output_help}"`
}

// validate checks what only following reads: --wait-timeout.
func (f followFlags) validate() error {
	if f.WaitTimeout <= 0 {
		return usagef("--wait-timeout %s: must be positive", f.WaitTimeout)
	}
	return nil
}

// options are the flags as followBatch reads them; since is wait's --since.
func (f followFlags) options(since string) followOptions {
	return followOptions{timeout: f.WaitTimeout, verbose: f.Verbose, json: f.Output == "json", since: since}
}

// followOptions are what followBatch is told of the flags.
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
func followBatch(ctx context.Context, e *env, w *watch, events *batchEvents, o followOptions, sum *batchSummary, pubErr error) error {
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
