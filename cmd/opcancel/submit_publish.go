package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

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

// fields is the summary as JSON (--output json).
func (s submitSummary) fields() map[string]any {
	return map[string]any{"batch": s.batch, "published": s.published, "invalid": s.invalid, "failed": s.failed, "dryRun": s.dryRun}
}

// exitError is the exit error of the publishing that ended with err.
func (s submitSummary) exitError(err error) error {
	if err != nil {
		return err
	}
	if s.failed > 0 {
		return fmt.Errorf("%d of %d messages were not published", s.failed, s.failed+s.published)
	}
	return nil
}

// asyncPublisher is what submit publishes to; *queue.Publisher satisfies it.
type asyncPublisher interface {
	PublishAsync(ctx context.Context, data []byte, attrs map[string]string) queue.Result
}

// submission is one run of submit.
type submission struct {
	table                  *lro.Table
	topic                  string         // full name, for messages
	pub                    asyncPublisher // nil: dry run
	names                  []givenName
	rate                   float64
	service, reason, batch string
	stderr                 io.Writer
	progress               bool
	// tracer starts a span per message; nil when tracing is off.
	tracer trace.Tracer
	// sent, if set, is told of every message the server has, with its ID.
	sent func(id string, req request.Request)
}

// pending is a message on its way to the server.
type pending struct {
	res  queue.Result
	req  request.Request
	span trace.Span // nil when tracing is off
}

// publishAll validates every name exactly as the worker will and publishes
// the valid ones in the JSON form, batched. Invalid and forbidden names are
// reported with where they were given and never published.
func (s submission) publishAll(ctx context.Context) (submitSummary, error) {
	sum := submitSummary{batch: s.batch, dryRun: s.pub == nil}
	var limiter *rate.Limiter
	if s.rate > 0 {
		limiter = rate.NewLimiter(rate.Limit(s.rate), 1)
	}
	bar := newProgress(s.progress, s.stderr, len(s.names), "publishing")
	defer bar.finish()
	// Results are awaited in order by one goroutine while later messages are
	// still being queued; the buffer holds several publish batches in flight.
	results := make(chan pending, 4096)
	var published, failed int
	var wg sync.WaitGroup
	wg.Go(func() { published, failed = s.awaitPublished(ctx, results, bar) })
	attrs := map[string]string{"service": s.service, "reason": s.reason, "batch": s.batch}
	var err error
	for _, n := range s.names {
		req, data, msgAttrs, rerr := s.message(n, attrs)
		if rerr != nil {
			sum.invalid++
			fmt.Fprintf(s.stderr, "%s: %s\n", n.where, refusal(rerr))
			bar.add()
			continue
		}
		if s.pub == nil {
			sum.published++
			bar.add()
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

// message decodes, routes and checks against the allow lists a name
// exactly as the worker will, and returns the request, its service set to
// the routed host, and the message that publishes it (package publisher's).
func (s submission) message(n givenName, attrs map[string]string) (req request.Request, data []byte, msgAttrs map[string]string, err error) {
	req, err = request.Decode([]byte(n.text), attrs)
	if err != nil {
		return req, nil, nil, err
	}
	svc, err := s.table.Route(req.Service, req.Name)
	if err != nil {
		return req, nil, nil, err
	}
	if err := svc.Allowed(req.Name); err != nil {
		return req, nil, nil, err
	}
	req.Service = svc.Host
	m, err := publisher.Message(req)
	if err != nil {
		return req, nil, nil, err
	}
	return req, m.Data, m.Attributes, nil
}

// refusal is the line that says why a name was not published: "invalid:
// …", or "forbidden: …" with the allow list that refused it.
func refusal(err error) string {
	if errors.Is(err, lro.ErrForbidden) {
		return err.Error()
	}
	return "invalid: " + strings.TrimPrefix(err.Error(), "invalid: ")
}

// send queues one message, in a span of its own when tracing is on: the
// Pub/Sub client carries the span's context in the message to the worker.
func (s submission) send(ctx context.Context, req request.Request, data []byte, attrs map[string]string) pending {
	p := pending{req: req}
	if s.tracer != nil {
		ctx, p.span = s.tracer.Start(ctx, "opcancel.submit", trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(attribute.String("opcancel.service", req.Service), attribute.String("opcancel.name", req.Name),
				attribute.String("opcancel.batch", req.Batch)))
	}
	p.res = s.pub.PublishAsync(ctx, data, attrs)
	return p
}

// awaitPublished waits for each publication in order, reports the first
// failures, tells s.sent of the messages the server has and counts them.
func (s submission) awaitPublished(ctx context.Context, results <-chan pending, bar progress) (published, failed int) {
	for p := range results {
		id, err := p.res.Get(ctx)
		if err != nil {
			failed++
			if failed <= 10 {
				fmt.Fprintf(s.stderr, "publish failed: %v\n", err)
			}
		} else {
			published++
			if s.sent != nil {
				s.sent(id, p.req)
			}
		}
		if p.span != nil {
			if err != nil {
				p.span.RecordError(err)
				p.span.SetStatus(codes.Error, "publish failed")
			}
			p.span.End()
		}
		bar.add()
	}
	return published, failed
}
