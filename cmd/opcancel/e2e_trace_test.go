package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"opcancel/lro/lrotest"
	"opcancel/queue/queuetest"
)

// TestTheJobsTraceIsLinkedToSubmits: with tracing on, the worker's job
// starts a trace of its own, linked to the trace of submit's publish (which
// any publisher could choose); the job's cancel and get and the publish of
// its result event are in the job's trace, and its log line is under it.
func TestTheJobsTraceIsLinkedToSubmits(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	apis := newFakeAPIs(t, lrotest.Options{}, lrotest.Options{}, "")
	apis.vault.Set("operations/traced", lrotest.Script{})
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, true)
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(context.Background())
	traced := func(out, errOut io.Writer) *env {
		return &env{getenv: getenvFrom(map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}), stdin: strings.NewReader(""),
			stdout: out, stderr: errOut, traces: tp}
	}
	logs := &syncBuffer{}
	stop := runTraced(t, traced(io.Discard, logs), "worker", "--auth=none", "--listen=127.0.0.1:0", "--subscription="+ps.sub,
		"--results-topic="+ps.results, "--config="+apis.config)
	defer stop()
	errb := &syncBuffer{}
	if err := runIn(context.Background(), []string{"submit", "--topic=" + ps.topic, "--config=" + apis.config, "--auth=none",
		"--batch=traced", "operations/traced"}, traced(io.Discard, errb)); err != nil {
		t.Fatalf("submit: %v\n%s", err, errb)
	}
	const resultPublish = "results create" // the Pub/Sub client's span: topic ID and operation
	// The job's span ends after the result's publish span: wait for both.
	waitFor(t, "the result event's publish span and the job's", untilPublished, func() bool {
		_, published := findSpan(spans, resultPublish)
		_, ended := findSpan(spans, "opcancel.job")
		return published && ended
	})
	submit, _ := findSpan(spans, "opcancel.submit")
	job, ok := findSpan(spans, "opcancel.job")
	if !ok {
		t.Fatal("no job span")
	}
	trace := job.SpanContext.TraceID()
	switch {
	case trace == submit.SpanContext.TraceID():
		t.Errorf("the job's span is in submit's trace %s; want a trace of its own", trace)
	case job.Parent.IsValid():
		t.Errorf("the job's span has a parent (%s); want a root", job.Parent.SpanID())
	case len(job.Links) != 1 || job.Links[0].SpanContext.TraceID() != submit.SpanContext.TraceID():
		t.Errorf("the job's span links %v; want the delivery's span, in submit's trace %s", job.Links, submit.SpanContext.TraceID())
	}
	for _, name := range []string{"opcancel.api cancel", "opcancel.api get", resultPublish} {
		s, ok := findSpan(spans, name)
		switch {
		case !ok:
			t.Errorf("no span %q", name)
		case s.SpanContext.TraceID() != trace || s.Parent.SpanID() != job.SpanContext.SpanID():
			t.Errorf("span %q is not a child of the job's", name)
		}
	}
	checkJobSpan(t, job)
	// The job's log line is under its trace and span.
	var line map[string]any
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"operation cancelled"`) {
			json.Unmarshal([]byte(l), &line)
		}
	}
	if line["logging.googleapis.com/trace"] != "projects/"+ps.project+"/traces/"+trace.String() ||
		line["logging.googleapis.com/spanId"] != job.SpanContext.SpanID().String() {
		t.Errorf("the outcome's log line is not under the job's trace %s, span %s: %v", trace, job.SpanContext.SpanID(), line)
	}
}

// untilPublished bounds the publishing and the subscription set-up on the
// emulator around a wait.
const untilPublished = 20 * time.Second

// runTraced runs the command args in e in the background; stop ends it.
func runTraced(t *testing.T, e *env, args ...string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runIn(ctx, args, e) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: %v", args[0], err)
		}
	}
}

// findSpan returns the first span of that name.
func findSpan(spans *tracetest.InMemoryExporter, name string) (tracetest.SpanStub, bool) {
	for _, s := range spans.GetSpans() {
		if s.Name == name {
			return s, true
		}
	}
	return tracetest.SpanStub{}, false
}

// checkJobSpan checks the attributes of the job's span.
func checkJobSpan(t *testing.T, job tracetest.SpanStub) {
	t.Helper()
	got := map[attribute.Key]string{}
	for _, kv := range job.Attributes {
		got[kv.Key] = kv.Value.String()
	}
	for k, v := range map[attribute.Key]string{"opcancel.service": vaultHost, "opcancel.outcome": "cancelled", "opcancel.attempts": "1", "opcancel.batch": "traced"} {
		if got[k] != v {
			t.Errorf("job span attribute %s = %q, want %q", k, got[k], v)
		}
	}
	if got["opcancel.polls"] == "" || got["opcancel.polls"] == "0" {
		t.Errorf("job span attribute opcancel.polls = %q, want the polls", got["opcancel.polls"])
	}
}
