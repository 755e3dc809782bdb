package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
	"golang.org/x/time/rate"

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

// line is one name to submit and where it came from.
type line struct {
	where string // "file.txt:12", "argument 3", "list"
	text  string
}

// submitSummary is what submit reports at the end.
type submitSummary struct {
	published, invalid, failed int
	batch                      string
	dryRun                     bool
}

func (s submitSummary) String() string {
	verb := "published"
	if s.dryRun {
		verb = "valid (dry run, nothing published)"
	}
	return fmt.Sprintf("%s: %d, invalid: %d, failed: %d, batch: %s", verb, s.published, s.invalid, s.failed, s.batch)
}

func (c *submitCmd) Run(ctx context.Context, e *env) error {
	project := c.Project
	if project == "" {
		project = e.getenv("GOOGLE_CLOUD_PROJECT")
	}
	topic, err := queue.ResourceName(project, "topics", c.Topic)
	if err != nil {
		return usagef("--topic %w", err)
	}
	if project == "" {
		project = projectOf(topic)
	}
	if c.Rate < 0 {
		return usagef("--rate %v: must be 0 (unlimited) or more", c.Rate)
	}
	table, err := lro.LoadTable(c.Config, lro.FileOptions{RequireHTTPS: c.Auth == lro.AuthADC})
	if err != nil {
		return usagef("--config: %w", err)
	}
	if c.Service != "" && table.Lookup(c.Service) == nil {
		return usagef("--service %q: not a configured service (configured: %s)", c.Service, strings.Join(table.Hosts(), ", "))
	}
	if c.Batch == "" {
		c.Batch = newBatchID(time.Now())
	}
	if _, err := worker.Decode([]byte("x"), map[string]string{"reason": c.Reason, "batch": c.Batch}); err != nil {
		return usagef("--reason/--batch: %w", err)
	}

	var lines []line
	if c.ListParent != "" {
		if len(c.Names) > 0 || c.File != "" {
			return usagef("--list-parent: give names or --list-parent, not both")
		}
		if lines, err = c.listOperations(ctx, e, table); err != nil {
			return err
		}
	} else if lines, err = c.readNames(e); err != nil {
		return err
	}

	var pub publisher
	if !c.DryRun {
		ps, err := queue.NewClient(ctx, queue.ClientConfig{Project: project, EmulatorHost: e.getenv("PUBSUB_EMULATOR_HOST")})
		if err != nil {
			return err
		}
		defer ps.Close()
		p := ps.Publisher(queue.PublishConfig{Topic: topic, CountThreshold: 1000})
		defer p.Stop()
		pub = p
	}
	fmt.Fprintf(e.stderr, "batch %s: %d names to %s\n", c.Batch, len(lines), topic)
	sum, err := submit(ctx, submission{
		table: table, pub: pub, lines: lines, rate: c.Rate,
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

// newBatchID returns a readable, unique batch ID: the UTC time and 3 random bytes.
func newBatchID(now time.Time) string {
	var b [3]byte
	rand.Read(b[:])
	return now.UTC().Format("2006-01-02T150405Z") + "-" + hex.EncodeToString(b[:])
}

// readNames collects names from the arguments, --file and standard input.
func (c *submitCmd) readNames(e *env) ([]line, error) {
	var lines []line
	stdinUsed := false
	readFrom := func(name string, r io.Reader) error {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), worker.MaxDataBytes*4)
		for n := 1; sc.Scan(); n++ {
			text := strings.TrimSpace(sc.Text())
			if text == "" || strings.HasPrefix(text, "#") {
				continue
			}
			lines = append(lines, line{where: fmt.Sprintf("%s:%d", name, n), text: text})
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		return nil
	}
	stdin := func() error {
		if stdinUsed {
			return nil
		}
		stdinUsed = true
		return readFrom("stdin", e.stdin)
	}
	for i, a := range c.Names {
		if a == "-" {
			if err := stdin(); err != nil {
				return nil, err
			}
			continue
		}
		lines = append(lines, line{where: fmt.Sprintf("argument %d", i+1), text: a})
	}
	switch c.File {
	case "":
	case "-":
		if err := stdin(); err != nil {
			return nil, err
		}
	default:
		f, err := os.Open(c.File)
		if err != nil {
			return nil, usagef("--file: %w", err)
		}
		defer f.Close()
		if err := readFrom(c.File, f); err != nil {
			return nil, err
		}
	}
	if len(c.Names) == 0 && c.File == "" {
		return nil, usagef("no names: give them as arguments, with --file PATH, on standard input (-), or use --list-parent")
	}
	return lines, nil
}

// listOperations pages through operations.list and keeps what is not done,
// after confirmation.
func (c *submitCmd) listOperations(ctx context.Context, e *env, table *lro.Table) ([]line, error) {
	if c.Service == "" {
		return nil, usagef("--list-parent needs --service")
	}
	svc := table.Lookup(c.Service)
	if err := svc.ValidateParent(c.ListParent); err != nil {
		return nil, usagef("--list-parent %w", err)
	}
	client, err := lro.New(ctx, table, lro.Config{Auth: c.Auth, RequestTimeout: c.RequestTimeout, UserAgent: userAgent()})
	if err != nil {
		return nil, err
	}
	var lines []line
	total, pages := 0, 0
	token := ""
	for {
		page, err := client.List(ctx, svc, c.ListParent, token, 0)
		if err != nil {
			return nil, fmt.Errorf("list %s (page %d): %w", c.ListParent, pages+1, err)
		}
		pages++
		for _, op := range page.Operations {
			total++
			if !op.Done {
				lines = append(lines, line{where: "list", text: op.Name})
			}
		}
		if page.NextPageToken == "" || page.NextPageToken == token {
			break
		}
		token = page.NextPageToken
	}
	fmt.Fprintf(e.stderr, "%s: %d operations in %d pages, %d not done\n", c.ListParent, total, pages, len(lines))
	if len(lines) == 0 || c.DryRun || c.Yes {
		return lines, nil
	}
	if !isTerminal(e.stdin) {
		return nil, usagef("--list-parent: %d operations would be cancelled; confirm with --yes (standard input is not a terminal to ask on)", len(lines))
	}
	fmt.Fprintf(e.stderr, "Cancel %d operations of %s? [y/N] ", len(lines), c.ListParent)
	answer, _ := bufio.NewReader(e.stdin).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return nil, errors.New("not confirmed; nothing published")
	}
	return lines, nil
}

// isTerminal reports whether f is an *os.File on a terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}

// publisher is what submit publishes to; *queue.Publisher satisfies it.
type publisher interface {
	PublishAsync(ctx context.Context, data []byte, attrs map[string]string) queue.Result
}

// submission is one run of submit.
type submission struct {
	table                  *lro.Table
	pub                    publisher // nil: dry run
	lines                  []line
	rate                   float64
	service, reason, batch string
	stderr                 io.Writer
	progress               bool
}

// submit validates every line exactly as the worker will and publishes the
// valid ones in the JSON form, batched. Invalid lines are reported with
// where they came from and never published.
func submit(ctx context.Context, s submission) (submitSummary, error) {
	sum := submitSummary{batch: s.batch, dryRun: s.pub == nil}
	var limiter *rate.Limiter
	if s.rate > 0 {
		limiter = rate.NewLimiter(rate.Limit(s.rate), 1)
	}
	var bar *progressbar.ProgressBar
	if s.progress {
		bar = progressbar.NewOptions(len(s.lines), progressbar.OptionSetWriter(s.stderr),
			progressbar.OptionSetDescription("publishing"), progressbar.OptionShowCount(),
			progressbar.OptionShowIts(), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish())
		defer bar.Finish()
	}
	attrs := map[string]string{"service": s.service, "reason": s.reason, "batch": s.batch}
	tick := func() {
		if bar != nil {
			bar.Add(1)
		}
	}
	// Results are awaited in order by one goroutine while later messages are
	// still being queued; the buffer holds several publish batches in flight.
	results := make(chan queue.Result, 4096)
	var published, failed int
	var wg sync.WaitGroup
	wg.Go(func() {
		for r := range results {
			if _, err := r.Get(ctx); err != nil {
				failed++
				if failed <= 10 {
					fmt.Fprintf(s.stderr, "publish failed: %v\n", err)
				}
			} else {
				published++
			}
			tick()
		}
	})
	var err error
	for _, l := range s.lines {
		req, rerr := worker.Decode([]byte(l.text), attrs)
		var svc *lro.Service
		if rerr == nil {
			svc, rerr = s.table.Route(req.Service, req.Name)
		}
		if rerr != nil {
			sum.invalid++
			fmt.Fprintf(s.stderr, "%s: invalid: %v\n", l.where, strings.TrimPrefix(rerr.Error(), "invalid: "))
			tick()
			continue
		}
		if s.pub == nil {
			sum.published++
			tick()
			continue
		}
		if limiter != nil {
			if err = limiter.Wait(ctx); err != nil {
				break
			}
		}
		req.Service = svc.Host
		results <- s.pub.PublishAsync(ctx, req.Encode(), map[string]string{"service": svc.Host, "batch": s.batch})
	}
	close(results)
	wg.Wait()
	if s.pub != nil {
		sum.published, sum.failed = published, failed
	}
	if err != nil {
		return sum, err
	}
	return sum, ctx.Err()
}
