package main

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"opcancel/request"
)

// waitCmd is `opcancel wait`: follow a batch to its outcomes at any time,
// as `submit --wait` does while it publishes, through the same code
// (followBatch). See docs/contract.md#opcancel-wait.
type waitCmd struct {
	pubsubBase   `kong:"set='project_of=the topics given as IDs and of the temporary subscriptions',set='full_name=topic name'"`
	Batch        string        `required:"" help:"The batch to follow: the ID submit printed (its --batch)."`
	Since        string        `help:"Read the results topic from this time on: RFC 3339 (2026-11-22T07:00:00Z) or how long ago (90m) (default: the time of a generated batch ID less 5m, else as far back as the topic keeps messages)."`
	ResultsTopic string        `default:"opcancel-results" help:"Topic ID or projects/P/topics/T of the worker's result events (its --results-topic)."`
	BatchesTopic string        `default:"opcancel-batches" help:"Topic ID or projects/P/topics/T where submit published the batch's manifest (its --batches-topic)."`
	WaitTimeout  time.Duration `default:"15m" help:"Give up this long after the batch's publishing ended, or while it goes on, after its last news (exit 4)."`
	Verbose      bool          `help:"List every name that did not end cancelled or completed, not only the first 20."`
	Output       string        `default:"text" enum:"text,json" help:"The report on stdout: text, or one JSON object with every name that did not end cancelled or completed."`
}

// Help is wait's --help below its one-line summary.
func (c *waitCmd) Help() string {
	return "wait creates temporary subscriptions to --results-topic and --batches-topic, filtered to the batch and " +
		"deleted on exit, seeks them back to the batch's start (the topics keep their messages for their retention, " +
		"7 days as deploy/pubsub/provision.sh sets it), and rebuilds the batch's table from the beginning: the batch's " +
		"messages from the manifest that submit --wait and submit --journal publish, their outcomes from the worker's " +
		"result events. It shows the same progress, table and JSON as submit --wait, and ends when every message " +
		"has an outcome, at once for a batch that is over. A batch is over once a run of submit published every name of " +
		"its list: one whose submit stopped, or had publishes that failed, waits for the run that resumes its journal.\n\n" +
		"Exit status: 0 when every name ended in an outcome meaning its operation no longer runs (cancelled, " +
		"completed, failed, done_no_result, not_found); 1 on a runtime error or an interrupt, or when the run that ended last " +
		"had messages that failed to publish and no run published them by --wait-timeout; 2 on a usage error, or a results or batches topic that does not exist; 3 when some name ended otherwise (the operation may " +
		"still run); 4 when some name had no outcome at --wait-timeout, or the batch's publishing never ended."
}

// batchStartSkew is taken off a batch's start time before seeking to it:
// the start comes from the clock of the machine that ran submit, the
// messages' publish times from Pub/Sub's.
const batchStartSkew = 5 * time.Minute

// maxTopicRetention is Pub/Sub's longest topic message retention: a seek
// this far back reaches every message a topic keeps.
const maxTopicRetention = 31 * 24 * time.Hour

func (c *waitCmd) Run(ctx context.Context, e *env) error {
	results, err := c.resolve(e, "topics", "--results-topic", c.ResultsTopic)
	if err != nil {
		return err
	}
	batches, err := c.resolve(e, "topics", "--batches-topic", c.BatchesTopic)
	if err != nil {
		return err
	}
	if _, err := request.Decode([]byte("x"), map[string]string{"batch": c.Batch}); err != nil || c.Batch == "" {
		return usagef("--batch %q: want the ID submit printed, at most %d characters", c.Batch, request.MaxBatchChars)
	}
	if c.WaitTimeout <= 0 {
		return usagef("--wait-timeout %s: must be positive", c.WaitTimeout)
	}
	since, err := waitSince(c.Since, c.Batch, time.Now())
	if err != nil {
		return err
	}
	if c.Since == "" && !generatedBatchID.MatchString(c.Batch) {
		fmt.Fprintf(e.stderr, "batch %s is not a generated ID, which carries its start time: wait reads the topics from as far back as they keep "+
			"messages, and counts an earlier batch of the same ID in them as part of it; --since (2h, or the time submit started) reads from then on\n",
			escape(c.Batch))
	}
	ps, stop, err := c.start(ctx, e)
	if err != nil {
		return err
	}
	defer stop()
	w := newWatch(c.Batch)
	events, err := openBatchEvents(ctx, ps, c.project, []batchTopic{{flag: "--results-topic", name: results}, {flag: "--batches-topic", name: batches, manifests: true}}, since, w, e.stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "batch %s: its messages and outcomes from %s since %s\n", c.Batch, events, since.UTC().Format(time.RFC3339))
	err = followBatch(ctx, e, w, events, followOptions{timeout: c.WaitTimeout, verbose: c.Verbose, json: c.Output == "json", since: c.Since}, nil, nil)
	if cerr := events.close(); cerr != nil {
		fmt.Fprintf(e.stderr, "wait: %s\n", escape(cerr.Error()))
	}
	return err
}

// generatedBatchID is the form of newBatchID's IDs: the UTC start time.
var generatedBatchID = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d{6}Z)-[0-9a-f]{6}$`)

// waitSince is where wait seeks the results topic to: --since (a time, or
// how long before now), else the start a generated batch ID carries less
// batchStartSkew, else as far back as a topic can keep messages.
func waitSince(flag, batch string, now time.Time) (time.Time, error) {
	if flag != "" {
		if t, err := time.Parse(time.RFC3339, flag); err == nil {
			if t.After(now) {
				return time.Time{}, usagef("--since %s: in the future (it is %s): want the time the batch started, or before", flag, now.UTC().Format(time.RFC3339))
			}
			return t, nil
		}
		d, err := time.ParseDuration(flag)
		if err != nil || d <= 0 {
			return time.Time{}, usagef("--since %q: want an RFC 3339 time (2026-11-22T07:00:00Z) or how long ago (90m)", flag)
		}
		return now.Add(-d), nil
	}
	if m := generatedBatchID.FindStringSubmatch(batch); m != nil {
		if t, err := time.Parse("2006-01-02T150405Z", m[1]); err == nil {
			return t.Add(-batchStartSkew), nil
		}
	}
	return now.Add(-maxTopicRetention), nil
}
