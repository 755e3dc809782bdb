package main

import (
	"context"
	"os"
	"testing"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// memoryExporter takes the spans of the provider newTracing makes when
// OTEL_TRACES_EXPORTER names it.
var memoryExporter = tracetest.NewInMemoryExporter()

func init() {
	autoexport.RegisterSpanExporter("opcancel-test-memory", func(context.Context) (sdktrace.SpanExporter, error) {
		return memoryExporter, nil
	})
}

// TestPublishersCannotForceLibrarySpans: a span whose parent came in a message
// (as the Pub/Sub client's receive spans are children of the
// googclient_traceparent a publisher chose) is sampled by the process's
// own sampler as a root span would be: neither the remote parent's sampled
// flag nor a trace ID chosen to pass the ratio makes it exported. The
// provider is the one newTracing makes from the environment, as a worker's.
func TestPublishersCannotForceLibrarySpans(t *testing.T) {
	// The exporter's and the SDK's variables are read from the process's
	// environment: not parallel.
	t.Setenv("OTEL_TRACES_EXPORTER", "opcancel-test-memory")
	prev := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	// A trace ID whose low half is zero passes any trace ID ratio.
	forced := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6}
	const spans = 1000
	for _, tc := range []struct {
		sampler, arg string
		most         int // of the spans, how many may be exported
	}{
		{"parentbased_traceidratio", "0.001", spans / 10},
		{"traceidratio", "0.001", spans / 10},
		{"parentbased_always_off", "", 0},
		{"always_off", "", 0},
	} {
		t.Setenv("OTEL_TRACES_SAMPLER", tc.sampler)
		t.Setenv("OTEL_TRACES_SAMPLER_ARG", tc.arg)
		memoryExporter.Reset()
		tr, err := newTracing(context.Background(), &env{getenv: os.Getenv})
		if err != nil {
			t.Fatal(err)
		}
		for i := range spans {
			parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: forced, SpanID: trace.SpanID{1, byte(i >> 8), byte(i)},
				TraceFlags: trace.FlagsSampled, Remote: true})
			_, span := otel.Tracer("cloud.google.com/go/pubsub").Start(trace.ContextWithRemoteSpanContext(context.Background(), parent), "SUBSCRIPTION subscribe")
			span.End()
		}
		// The exporter forgets its spans when it is shut down.
		if err := tr.provider.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := len(memoryExporter.GetSpans())
		if err := tr.shutdown(); err != nil {
			t.Fatal(err)
		}
		if got > tc.most {
			t.Errorf("OTEL_TRACES_SAMPLER=%s OTEL_TRACES_SAMPLER_ARG=%q: %d of %d spans under a publisher's sampled context were exported, want at most %d",
				tc.sampler, tc.arg, got, spans, tc.most)
		}
	}
}

// TestTracingSamplerStillSamples: what the operator asks for is still
// done: always_on exports the spans under a publisher's unsampled context
// too, and a local parent decides for its children.
func TestTracingSamplerStillSamples(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "always_on", "parentbased_always_on", "traceidratio", "parentbased_traceidratio"} {
		s, err := traceSampler(func(k string) string {
			if k == "OTEL_TRACES_SAMPLER" {
				return name
			}
			return ""
		})
		if err != nil {
			t.Fatal(err)
		}
		exp := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(s))
		parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, Remote: true})
		ctx, span := tp.Tracer("t").Start(trace.ContextWithRemoteSpanContext(context.Background(), parent), "receive")
		_, child := tp.Tracer("t").Start(ctx, "child")
		child.End()
		span.End()
		if got := len(exp.GetSpans()); got != 2 {
			t.Errorf("OTEL_TRACES_SAMPLER=%q: %d spans exported under a publisher's unsampled context, want both", name, got)
		}
	}
}

// TestTracingSamplerRefusesWhatItDoesNotKnow: a sampler or ratio the
// process cannot honour stops it with a usage error naming the variable,
// where the SDK would fall back to sampling everything.
func TestTracingSamplerRefusesWhatItDoesNotKnow(t *testing.T) {
	t.Parallel()
	for _, vars := range [][2]string{{"jaeger_remote", ""}, {"traceidratio", "1.5"}, {"parentbased_traceidratio", "x"}} {
		_, err := traceSampler(func(k string) string {
			switch k {
			case "OTEL_TRACES_SAMPLER":
				return vars[0]
			case "OTEL_TRACES_SAMPLER_ARG":
				return vars[1]
			}
			return ""
		})
		if err == nil || exitCode(err) != 2 {
			t.Errorf("OTEL_TRACES_SAMPLER=%s OTEL_TRACES_SAMPLER_ARG=%q: %v, want a usage error", vars[0], vars[1], err)
		}
	}
}
