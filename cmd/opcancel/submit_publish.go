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
	// notTried is how many valid names were left unpublished, never
	// queued, when publishing stopped before the end of the list.
	notTried int
	// earlier is how many of the names the journal says earlier runs
	// published.
	earlier int
	batch   string
	dryRun  bool
}

func (s submitSummary) String() string {
	verb := "published"
	if s.dryRun {
		verb = "valid (dry run, nothing published)"
	}
	earlier := ""
	if s.earlier > 0 {
		earlier = fmt.Sprintf(" (%d earlier)", s.earlier)
	}
	notTried := ""
	if s.notTried > 0 {
		notTried = fmt.Sprintf(", not tried: %d", s.notTried)
	}
	return fmt.Sprintf("%s: %d%s, invalid: %d, failed: %d%s, batch: %s", verb, s.published, earlier, s.invalid, s.failed, notTried, s.batch)
}

// fields is the summary as JSON (--output json).
func (s submitSummary) fields() map[string]any {
	return map[string]any{"batch": s.batch, "published": s.published, "publishedEarlier": s.earlier, "invalid": s.invalid,
		"failed": s.failed, "notTried": s.notTried, "dryRun": s.dryRun}
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
	// record, if set, is told of every message the server has, with its ID.
	record sentRecorder
}

// sentRecorder is told of each message the server has, in the order the
// messages were queued: the journal and the manifest (batchRecorder), or
// the demo's watch.
type sentRecorder interface {
	sent(o outgoing, id string) error
	// idle is called before waiting for an answer that is not in yet:
	// what was told can be made durable then.
	idle() error
}

// outgoing is a valid name made into its message.
type outgoing struct {
	// n is the name's position among the run's valid names, from 1: its
	// place in the journal's list.
	n     int
	where string
	req   request.Request
	data  []byte
	attrs map[string]string
}

// pending is a message on its way to the server.
type pending struct {
	res  queue.Result
	o    outgoing
	span trace.Span // nil when tracing is off
}

// prepare validates every name exactly as the worker will and makes the
// valid ones into messages in the JSON form. Invalid and forbidden names
// are reported with where they were given, counted, and never published.
func (s submission) prepare() (out []outgoing, invalid int) {
	attrs := map[string]string{"service": s.service, "reason": s.reason, "batch": s.batch}
	for _, n := range s.names {
		req, data, msgAttrs, err := s.message(n, attrs)
		if err != nil {
			invalid++
			fmt.Fprintf(s.stderr, "%s: %s\n", escape(n.where), escape(refusal(err)))
			continue
		}
		out = append(out, outgoing{n: len(out) + 1, where: n.where, req: req, data: data, attrs: msgAttrs})
	}
	return out, invalid
}

// publishAll publishes the messages, batched, at most s.rate a second (a
// dry run counts them). When ctx ends it queues no more, but waits for the
// server's answers to those queued, so that what it reports, and tells
// s.record, is what the server has.
func (s submission) publishAll(ctx context.Context, out []outgoing, invalid int) (submitSummary, error) {
	sum := submitSummary{batch: s.batch, dryRun: s.pub == nil, invalid: invalid}
	if s.pub == nil {
		sum.published = len(out)
		return sum, nil
	}
	var limiter *rate.Limiter
	if s.rate > 0 {
		limiter = rate.NewLimiter(rate.Limit(s.rate), 1)
	}
	bar := newProgress(s.progress, s.stderr, len(out), "publishing")
	defer bar.finish()
	// A recorder that fails (a journal that cannot be written) stops the
	// queueing too.
	qctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	// Results are awaited in order by one goroutine while later messages are
	// still being queued; the buffer holds several publish batches in flight.
	results := make(chan pending, 4096)
	var published, failed int
	var wg sync.WaitGroup
	wg.Go(func() { published, failed = s.awaitPublished(context.WithoutCancel(ctx), results, bar, stop) })
	for _, o := range out {
		if qctx.Err() != nil {
			break
		}
		if limiter != nil && limiter.Wait(qctx) != nil {
			break
		}
		results <- s.send(ctx, o)
	}
	close(results)
	wg.Wait()
	sum.published, sum.failed = published, failed
	sum.notTried = len(out) - published - failed
	return sum, context.Cause(qctx)
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
func (s submission) send(ctx context.Context, o outgoing) pending {
	p := pending{o: o}
	if s.tracer != nil {
		ctx, p.span = s.tracer.Start(ctx, "opcancel.submit", trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(attribute.String("opcancel.service", o.req.Service), attribute.String("opcancel.name", o.req.Name),
				attribute.String("opcancel.batch", o.req.Batch)))
	}
	p.res = s.pub.PublishAsync(ctx, o.data, o.attrs)
	return p
}

// awaitPublished waits for each publication in order (ctx does not end on
// an interrupt: the answers are what the server has), reports the first
// failures, tells s.record of the messages the server has and counts
// them. A recorder's error is given to stop.
func (s submission) awaitPublished(ctx context.Context, results <-chan pending, bar progress, stop context.CancelCauseFunc) (published, failed int) {
	recording := s.record != nil
	fail := func(err error) {
		recording = false
		stop(err)
	}
	for p := range results {
		if recording && !ready(p.res) {
			if err := s.record.idle(); err != nil {
				fail(err)
			}
		}
		id, err := p.res.Get(ctx)
		if err != nil {
			failed++
			if failed <= 10 {
				fmt.Fprintf(s.stderr, "publish failed: %s\n", escape(err.Error()))
			}
		} else {
			published++
			if recording {
				if rerr := s.record.sent(p.o, id); rerr != nil {
					fail(rerr)
				}
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
	if recording {
		if err := s.record.idle(); err != nil {
			stop(err)
		}
	}
	return published, failed
}

// ready: the answer to the publication is in.
func ready(r queue.Result) bool {
	select {
	case <-r.Ready():
		return true
	default:
		return false
	}
}
