package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"opcancel/lro"
	"opcancel/queue"
	"opcancel/request"
)

// submitCmd is `opcancel submit`: bulk cancel requests.
type submitCmd struct {
	pubsubBase     `kong:"set='project_of=the topic',set='full_name=topic name'"`
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
	Yes            bool          `help:"Do not ask for confirmation of --list-parent's operations."`
	Auth           string        `default:"${auth}" enum:"adc,none" help:"Credentials for --list-parent: adc or none."`
	RequestTimeout time.Duration `default:"${request_timeout}" help:"Timeout of one operations.list request."`
	Wait           bool          `help:"Wait for the outcome of every published name, read from the worker's result events, showing progress; see the exit status."`
	ResultsTopic   string        `default:"opcancel-results" help:"With --wait: topic ID or projects/P/topics/T of the worker's result events (its --results-topic)."`
	WaitTimeout    time.Duration `default:"15m" help:"With --wait: give up this long after publishing ended (exit 4)."`
	Verbose        bool          `help:"With --wait: list every name that did not end cancelled or completed, not only the first 20."`
	Output         string        `default:"text" enum:"text,json" help:"The summary on stdout: text, or one JSON object (with --wait: every name that did not end cancelled or completed)."`
}

// Help is submit's --help below its one-line summary: what --wait does and
// the exit statuses (docs/contract.md#opcancel-submit).
func (c *submitCmd) Help() string {
	return "With --wait, submit first creates a temporary subscription to --results-topic, filtered to the batch, " +
		"deleted on exit (Ctrl-C too) and expiring by itself a day after a killed run; it then publishes, shows the " +
		"outcomes as they come (a bar on a terminal, a line every 5s otherwise) and ends with a table of the outcomes " +
		"and of the names that did not end cancelled or completed (the first 20; all with --verbose or --output json). " +
		"Each name counts once, however often its outcome is delivered; outcomes for names not in the batch are ignored.\n\n" +
		"Exit status: 0 when every name was published and, with --wait, ended in an outcome meaning its operation " +
		"no longer runs (cancelled, completed, failed, done_no_result, not_found); " +
		"1 when a publish failed, or on another runtime error or an interrupt; " +
		"2 on a usage error, or --list-parent without confirmation; " +
		"3 with --wait when some name ended otherwise (not_cancellable, unimplemented, unverified, denied, rejected, " +
		"invalid, forbidden, duplicate: the operation may still run); " +
		"4 with --wait when some name had no outcome at --wait-timeout."
}

func (c *submitCmd) Run(ctx context.Context, e *env) error {
	s, err := c.setup(e)
	if err != nil {
		return err
	}
	names, err := c.collect(ctx, e, s.table)
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
	if c.DryRun {
		return c.publish(ctx, e, sub)
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
		return c.publish(ctx, e, sub)
	}
	w := newWatch(c.Batch)
	events, err := openBatchEvents(ctx, ps, c.project, s.resultsTopic, w, e.stderr)
	if err != nil {
		return err
	}
	err = c.publishAndWait(ctx, e, sub, w, events)
	if cerr := events.close(); cerr != nil {
		fmt.Fprintf(e.stderr, "--wait: %v\n", cerr)
	}
	return err
}

// publish publishes, prints the summary and returns the exit error.
func (c *submitCmd) publish(ctx context.Context, e *env, sub submission) error {
	fmt.Fprintf(e.stderr, "batch %s: %d names to %s\n", c.Batch, len(sub.names), sub.topic)
	sum, err := sub.publishAll(ctx)
	if c.Output == "json" {
		writeJSON(e.stdout, sum.fields())
	} else {
		fmt.Fprintln(e.stdout, sum)
	}
	return sum.exitError(err)
}

// publishAndWait publishes into w, waits for the outcomes, prints the
// report and returns the exit error: a publish that failed (1) before what
// the outcomes say (3, 4).
func (c *submitCmd) publishAndWait(ctx context.Context, e *env, sub submission, w *watch, events *batchEvents) error {
	fmt.Fprintf(e.stderr, "batch %s: %d names to %s; their outcomes from %s\n", c.Batch, len(sub.names), sub.topic, events.topic)
	sub.sent = func(id string, req request.Request) { w.expect(id, req.Service, req.Name) }
	sum, err := sub.publishAll(ctx)
	w.published()
	if c.Output != "json" {
		fmt.Fprintln(e.stdout, sum)
	}
	pubErr := sum.exitError(err)
	if ctx.Err() != nil {
		return pubErr
	}
	werr := awaitOutcomes(ctx, w, events.failed, c.WaitTimeout, e.stderr, isTerminal(e.stderr))
	if ctx.Err() != nil {
		n, total, _ := w.status()
		return fmt.Errorf("--wait: interrupted with %d of %d outcomes in: %w", n, total, ctx.Err())
	}
	if werr != nil && !errors.Is(werr, errWaitTimeout) {
		return werr
	}
	r := newBatchReport(w, sum, werr != nil)
	if c.Output == "json" {
		writeJSON(e.stdout, r)
	} else {
		r.writeText(e.stdout, c.Verbose)
	}
	if pubErr != nil {
		return pubErr
	}
	return r.exitError()
}

// submitSetup is submit's validated configuration.
type submitSetup struct {
	topic        string
	resultsTopic string // with --wait
	table        *lro.Table
}

// setup validates the flags; every error is a usage error naming the bad
// value. It generates the batch ID when none is given.
func (c *submitCmd) setup(e *env) (*submitSetup, error) {
	s := &submitSetup{}
	var err error
	if s.topic, err = c.resolve(e, "topics", "--topic", c.Topic); err != nil {
		return nil, err
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
