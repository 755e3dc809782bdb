package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"opcancel/lro"
	"opcancel/publisher"
	"opcancel/queue"
	"opcancel/request"
)

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

// asyncPublisher is what submit publishes to; *queue.Publisher satisfies it.
type asyncPublisher interface {
	PublishAsync(ctx context.Context, data []byte, attrs map[string]string) queue.Result
}

// submission is one run of submit.
type submission struct {
	table                  *lro.Table
	pub                    asyncPublisher // nil: dry run
	lines                  []line
	rate                   float64
	service, reason, batch string
	stderr                 io.Writer
	progress               bool
	// tracer starts a span per message; nil when tracing is off.
	tracer trace.Tracer
}

// pending is a message on its way to the server.
type pending struct {
	res  queue.Result
	span trace.Span // nil when tracing is off
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
	tick := s.progressBar()
	defer tick.finish()
	// Results are awaited in order by one goroutine while later messages are
	// still being queued; the buffer holds several publish batches in flight.
	results := make(chan pending, 4096)
	var published, failed int
	var wg sync.WaitGroup
	wg.Go(func() { published, failed = awaitPublished(ctx, results, s.stderr, tick) })
	attrs := map[string]string{"service": s.service, "reason": s.reason, "batch": s.batch}
	var err error
	for _, l := range s.lines {
		req, data, msgAttrs, rerr := s.message(l, attrs)
		if rerr != nil {
			sum.invalid++
			fmt.Fprintf(s.stderr, "%s: invalid: %v\n", l.where, strings.TrimPrefix(rerr.Error(), "invalid: "))
			tick.add()
			continue
		}
		if s.pub == nil {
			sum.published++
			tick.add()
			continue
		}
		if limiter != nil {
			if err = limiter.Wait(ctx); err != nil {
				break
			}
		}
		results <- s.send(ctx, req, data, msgAttrs)
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

// message decodes and routes a line exactly as the worker will, and returns
// the request, its service set to the routed host, and the message that
// publishes it (package publisher's).
func (s submission) message(l line, attrs map[string]string) (req request.Request, data []byte, msgAttrs map[string]string, err error) {
	req, err = request.Decode([]byte(l.text), attrs)
	if err != nil {
		return req, nil, nil, err
	}
	svc, err := s.table.Route(req.Service, req.Name)
	if err != nil {
		return req, nil, nil, err
	}
	req.Service = svc.Host
	m, err := publisher.Message(req)
	if err != nil {
		return req, nil, nil, err
	}
	return req, m.Data, m.Attributes, nil
}

// send queues one message, in a span of its own when tracing is on: the
// Pub/Sub client carries the span's context in the message to the worker.
func (s submission) send(ctx context.Context, req request.Request, data []byte, attrs map[string]string) pending {
	var p pending
	if s.tracer != nil {
		ctx, p.span = s.tracer.Start(ctx, "opcancel.submit", trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(attribute.String("opcancel.service", req.Service), attribute.String("opcancel.name", req.Name),
				attribute.String("opcancel.batch", req.Batch)))
	}
	p.res = s.pub.PublishAsync(ctx, data, attrs)
	return p
}

// awaitPublished waits for each publication in order, reports the first
// failures and counts the outcomes.
func awaitPublished(ctx context.Context, results <-chan pending, stderr io.Writer, tick progress) (published, failed int) {
	for p := range results {
		_, err := p.res.Get(ctx)
		if err != nil {
			failed++
			if failed <= 10 {
				fmt.Fprintf(stderr, "publish failed: %v\n", err)
			}
		} else {
			published++
		}
		if p.span != nil {
			if err != nil {
				p.span.RecordError(err)
				p.span.SetStatus(codes.Error, "publish failed")
			}
			p.span.End()
		}
		tick.add()
	}
	return published, failed
}

// progress is submit's progress bar; the zero value shows nothing.
type progress struct{ bar *progressbar.ProgressBar }

// progressBar returns the progress bar on stderr when s asks for one.
func (s submission) progressBar() progress {
	if !s.progress {
		return progress{}
	}
	return progress{progressbar.NewOptions(len(s.lines), progressbar.OptionSetWriter(s.stderr),
		progressbar.OptionSetDescription("publishing"), progressbar.OptionShowCount(),
		progressbar.OptionShowIts(), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish())}
}

func (p progress) add() {
	if p.bar != nil {
		p.bar.Add(1)
	}
}

func (p progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
