package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"golang.org/x/term"

	"opcancel/lro"
	"opcancel/queue"
	"opcancel/worker"
)

// submitCmd is `opcancel submit`: bulk cancel requests.
type submitCmd struct {
	Names          []string      `arg:"" optional:"" help:"Operation names (bare, or //host/name); \"-\" reads them from standard input."`
	Project        string        `help:"Project of the topic (default: $GOOGLE_CLOUD_PROJECT, or the project of a full topic name)."`
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
}

func (c *submitCmd) Run(ctx context.Context, e *env) error {
	s, err := c.setup(e)
	if err != nil {
		return err
	}
	lines, err := c.collect(ctx, e, s.table)
	if err != nil {
		return err
	}
	var pub publisher
	if !c.DryRun {
		ps, err := queue.NewClient(ctx, queue.ClientConfig{Project: s.project, EmulatorHost: e.getenv("PUBSUB_EMULATOR_HOST")})
		if err != nil {
			return err
		}
		defer ps.Close()
		p := ps.Publisher(queue.PublishConfig{Topic: s.topic, CountThreshold: 1000})
		defer p.Stop()
		pub = p
	}
	fmt.Fprintf(e.stderr, "batch %s: %d names to %s\n", c.Batch, len(lines), s.topic)
	sum, err := submit(ctx, submission{
		table: s.table, pub: pub, lines: lines, rate: c.Rate,
		service: c.Service, reason: c.Reason, batch: c.Batch,
		stderr: e.stderr, progress: isTerminal(e.stderr),
	})
	fmt.Fprintln(e.stdout, sum)
	if err != nil {
		return err
	}
	if sum.failed > 0 {
		return fmt.Errorf("%d of %d messages were not published", sum.failed, sum.failed+sum.published)
	}
	return nil
}

// submitSetup is submit's validated configuration.
type submitSetup struct {
	project, topic string
	table          *lro.Table
}

// setup validates the flags; every error is a usage error naming the bad
// value. It generates the batch ID when none is given.
func (c *submitCmd) setup(e *env) (*submitSetup, error) {
	s := &submitSetup{}
	var err error
	if s.topic, s.project, err = resolveResource(e, c.Project, "topics", "--topic", c.Topic); err != nil {
		return nil, err
	}
	if c.Rate < 0 {
		return nil, usagef("--rate %v: must be 0 (unlimited) or more", c.Rate)
	}
	if s.table, err = lro.LoadTable(c.Config, lro.FileOptions{RequireHTTPS: c.Auth == lro.AuthADC}); err != nil {
		return nil, servicesFileError(err)
	}
	if c.Service != "" {
		if _, err := s.table.Enabled(c.Service); err != nil {
			return nil, usagef("--service %q: %w", c.Service, err)
		}
	}
	if c.Batch == "" {
		c.Batch = newBatchID(time.Now())
	}
	if _, err := worker.Decode([]byte("x"), map[string]string{"reason": c.Reason, "batch": c.Batch}); err != nil {
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

// isTerminal reports whether f is an *os.File on a terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}
