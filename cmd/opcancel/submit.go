package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"opcancel/lro"
	"opcancel/queue"
	"opcancel/request"
)

// submitCmd is `opcancel submit`: bulk cancel requests.
type submitCmd struct {
	pubsubBase     `kong:"set='project_of=the topics given as IDs and of the temporary subscriptions of --wait',set='full_name=topic name'"`
	Names          []string      `arg:"" optional:"" help:"Operation names (bare, or //host/name); \"-\" reads them from standard input."`
	Topic          string        `required:"" help:"Topic ID or projects/P/topics/T the worker's subscription reads."`
	File           string        `help:"Read names from this file, one per line (\"-\": standard input); blank lines and # comments are skipped." type:"path"`
	Service        string        `help:"Service host of every name (default: routed by the names' patterns, as the worker does)."`
	Reason         string        `help:"Reason put on every message (at most 256 characters)."`
	Batch          string        `help:"Batch ID put on every message (default: a generated ID, printed)."`
	Rate           float64       `default:"0" help:"Messages per second at most; 0 means unlimited."`
	DryRun         bool          `help:"Validate and count; publish nothing."`
	Config         string        `help:"YAML services file, so names are validated exactly as the worker will." type:"path"`
	ListParent     string        `help:"List the operations of this collection with operations.list (needs --service) and submit those not done."`
	Filter         string        `help:"With --list-parent: the API's own operations.list filter (AIP-160, e.g. 'metadata.@type=\"…\"'), passed as it is."`
	OlderThan      time.Duration `help:"With --list-parent: only operations created longer ago than this (e.g. 2h), by the creation time the API reports."`
	NewerThan      time.Duration `help:"With --list-parent: only operations created within this (e.g. 30m), by the creation time the API reports."`
	Show           bool          `help:"With --dry-run: read each valid name's operation (one operations.get, at its service's rate) and print whether it is done, and its type."`
	confirmation   `kong:""`
	Auth           string        `default:"${auth}" enum:"adc,none" help:"Credentials for --list-parent and --show: adc or none."`
	RequestTimeout time.Duration `default:"${request_timeout}" help:"Timeout of one operations.list or operations.get request."`
	Wait           bool          `help:"Wait for the outcome of every published name, read from the worker's result events, showing progress; see the exit status."`
	ResultsTopic   string        `default:"opcancel-results" help:"With --wait: topic ID or projects/P/topics/T of the worker's result events (its --results-topic)."`
	WaitTimeout    time.Duration `default:"15m" help:"With --wait: give up this long after publishing ended (exit 4)."`
	Verbose        bool          `help:"With --wait: list every name that did not end cancelled or completed, not only the first 20."`
	Output         string        `default:"text" enum:"text,json" help:"The summary on stdout: text, or one JSON object (with --wait: every name that did not end cancelled or completed)."`
	// Resuming a batch, and following it later with `opcancel wait`.
	Journal      string `help:"Record the batch's names and each message published in this file; run again with it to publish only what is missing, under the same batch (with no names: the file's own list)." type:"path"`
	BatchesTopic string `default:"opcancel-batches" help:"With --wait or --journal: topic ID or projects/P/topics/T where the batch's manifest (which messages it has) is published, for --wait and opcancel wait."`
}

// Help is submit's --help below its one-line summary: what --wait and
// --journal do and the exit statuses (docs/contract.md#opcancel-submit).
func (c *submitCmd) Help() string {
	return "With --wait, submit first creates temporary subscriptions to --results-topic and --batches-topic, filtered to the batch, " +
		"deleted on exit (Ctrl-C too) and expiring by itself a day after a killed run; it then publishes, shows the " +
		"outcomes as they come (a bar on a terminal, a line every 5s otherwise) and ends with a table of the outcomes " +
		"and of the names that did not end cancelled or completed (the first 20; all with --verbose or --output json). " +
		"Each name counts once, however often its outcome is delivered; outcomes for names not in the batch are ignored.\n\n" +
		"With --journal FILE, submit records the batch's names and each message the server has in FILE; run again with " +
		"the same FILE (and the same names, or none), it publishes only what is missing, under the same batch. Ctrl-C " +
		"stops publishing and waits for the answers to what was sent, so that FILE resumes exactly.\n\n" +
		"With --wait or --journal, submit also publishes the batch's manifest (which messages it has) to --batches-topic: " +
		"opcancel wait --batch ID follows the batch from anywhere, at any time, as --wait does.\n\n" +
		"Exit status: 0 when every name was published and, with --wait, ended in an outcome meaning its operation " +
		"no longer runs (cancelled, completed, failed, done_no_result, not_found); " +
		"1 when a publish failed, when the journal could not be written (the error says how many names were not tried), " +
		"when the batch's manifest could not be published, or on another runtime error or an interrupt; " +
		"2 on a usage error, a journal of another batch, topic or list of names, more than --confirm-above names without confirmation, " +
		"or (with --wait or --journal) a batches topic that does not exist or may not be published to, found before anything is published; " +
		"3 with --wait when some name ended otherwise (not_cancellable, unimplemented, unverified, denied, rejected, " +
		"invalid, forbidden, duplicate: the operation may still run); " +
		"4 with --wait when some name had no outcome at --wait-timeout."
}

func (c *submitCmd) Run(ctx context.Context, e *env) (err error) {
	var j *journal
	if c.Journal != "" {
		if j, err = openJournal(c.Journal, e.stderr); err != nil {
			return err
		}
		defer func() {
			if cerr := j.close(); err == nil {
				err = cerr
			}
		}()
	}
	s, err := c.setup(e, j)
	if err != nil {
		return err
	}
	names, err := c.names(ctx, e, s.table, j)
	if err != nil {
		return err
	}
	tr, err := c.startTracing(ctx, e)
	if err != nil {
		return err
	}
	defer tr.shutdownTo(e.stderr)
	sub := submission{
		table: s.table, topic: s.topic, names: names, rate: c.Rate, service: c.Service, reason: c.Reason, batch: c.Batch,
		stderr: e.stderr, progress: isTerminal(e.stderr), tracer: tr.tracer(),
	}
	b, err := c.plan(sub, j)
	if err != nil {
		return err
	}
	if c.DryRun {
		return c.dryRun(ctx, e, sub, b)
	}
	if err := c.confirmPublish(ctx, e, sub, b); err != nil {
		return err
	}
	ps, err := c.connect(ctx, e)
	if err != nil {
		return err
	}
	defer ps.Close()
	p := ps.Publisher(queue.PublishConfig{Topic: s.topic, CountThreshold: 1000})
	defer p.Stop()
	sub.pub = p
	if !c.Wait {
		if err := c.openManifest(ctx, ps, s, b, j, nil); err != nil {
			return err
		}
		if err := c.startJournal(sub, j, b); err != nil {
			return err
		}
		return c.publish(ctx, e, sub, b)
	}
	// The batch's messages come from this run itself, which lists those of
	// the journal's earlier runs too, never from the batches topic, which
	// the wait users may write (wait_runs.go).
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

// openManifest starts the batch's manifest (with --wait or --journal) by
// publishing its first record, before any request is published: a batches
// topic that is missing or not permitted refuses the run while nothing is
// published (batchTopicError). With --wait, w is told every record of the
// run as it is published.
func (c *submitCmd) openManifest(ctx context.Context, ps *queue.Client, s *submitSetup, b *batchPlan, j *journal, w *watch) error {
	if !c.Wait && j == nil {
		return nil
	}
	m := newManifestWriter(ps, s.batchesTopic, c.Batch)
	m.watch = w
	if err := m.open(ctx); err != nil {
		return fmt.Errorf("nothing was published: %w", batchTopicError("--batches-topic", s.batchesTopic, usePublish, err))
	}
	b.record = &batchRecorder{journal: j, manifest: m}
	return nil
}

// publish publishes, prints the summary and returns the exit error: that
// of publishing, else a manifest that could not be published (exit 1:
// wait cannot follow the batch).
func (c *submitCmd) publish(ctx context.Context, e *env, sub submission, b *batchPlan) error {
	sum, err := c.publishBatch(ctx, e, sub, b)
	merr := c.endManifest(b, sum, err)
	if c.Output == "json" {
		fields := sum.fields()
		if b.record != nil {
			fields["manifestPublished"] = merr == nil
		}
		writeJSON(e.stdout, fields)
	} else {
		fmt.Fprintln(e.stdout, sum)
	}
	perr := c.publishError(ctx, sum, err)
	switch {
	case merr == nil:
		return perr
	case perr != nil:
		fmt.Fprintf(e.stderr, "%s: opcancel wait cannot follow the batch until a run of submit with --journal %s publishes it again\n", escape(merr.Error()), c.Journal)
		return perr
	}
	return fmt.Errorf("the batch's manifest was not published (opcancel wait cannot follow the batch; run submit again with --journal %s to publish it again): %w", c.Journal, merr)
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
	return followBatch(ctx, e, w, events, followOptions{timeout: c.WaitTimeout, verbose: c.Verbose, json: c.Output == "json"}, &sum, pubErr)
}

// submitSetup is submit's validated configuration.
type submitSetup struct {
	topic        string
	resultsTopic string // with --wait
	batchesTopic string // with --wait or --journal
	table        *lro.Table
}

// setup validates the flags; every error is a usage error naming the bad
// value. A journal that exists gives the batch and the reason; otherwise
// it generates the batch ID when none is given.
func (c *submitCmd) setup(e *env, j *journal) (*submitSetup, error) {
	s := &submitSetup{}
	var err error
	if s.topic, err = c.resolve(e, "topics", "--topic", c.Topic); err != nil {
		return nil, err
	}
	if j != nil && j.exists {
		if c.Batch, c.Reason, err = j.check(c.Batch, s.topic, c.Reason); err != nil {
			return nil, err
		}
	}
	if c.Wait || c.Journal != "" {
		if s.batchesTopic, err = c.resolve(e, "topics", "--batches-topic", c.BatchesTopic); err != nil {
			return nil, err
		}
	}
	if c.Wait {
		if s.resultsTopic, err = c.resolve(e, "topics", "--results-topic", c.ResultsTopic); err != nil {
			return nil, err
		}
		if c.WaitTimeout <= 0 {
			return nil, usagef("--wait-timeout %s: must be positive", c.WaitTimeout)
		}
		if c.DryRun {
			return nil, usagef("--wait: a dry run publishes nothing to wait for")
		}
	}
	if c.Rate < 0 {
		return nil, usagef("--rate %v: must be 0 (unlimited) or more", c.Rate)
	}
	if err := c.validateSelection(); err != nil {
		return nil, err
	}
	if s.table, err = loadServicesFile(c.Config, c.Auth); err != nil {
		return nil, err
	}
	if c.Service != "" {
		if _, err := s.table.Enabled(c.Service); err != nil {
			return nil, usagef("--service %q: %w", c.Service, err)
		}
	}
	if c.Batch == "" {
		c.Batch = newBatchID(time.Now())
	}
	if _, err := request.Decode([]byte("x"), map[string]string{"reason": c.Reason, "batch": c.Batch}); err != nil {
		return nil, usagef("--reason/--batch: %w", err)
	}
	return s, nil
}

// newBatchID returns a readable, unique batch ID: the UTC time and 3 random bytes.
func newBatchID(now time.Time) string {
	var b [3]byte
	rand.Read(b[:])
	return now.UTC().Format("2006-01-02T150405Z") + "-" + hex.EncodeToString(b[:])
}
