package main

import (
	"math/rand/v2"
	"strconv"
	"strings"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// traceSampler is the sampler OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG name, read as the OpenTelemetry SDK reads them,
// but such that a remote parent decides nothing: a span whose parent came
// in a message (the Pub/Sub client's receive spans, children of the
// googclient_traceparent attribute any publisher can set) is sampled as a
// root span is, by this process alone. A local parent still decides for
// its children, so that a trace is whole. See docs/operations.md#tracing.
func traceSampler(getenv func(string) string) (sdktrace.Sampler, error) {
	name := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER")))
	var root, remote sdktrace.Sampler
	switch name {
	case "", "always_on", "parentbased_always_on":
		root = sdktrace.AlwaysSample()
		remote = root
	case "always_off", "parentbased_always_off":
		root = sdktrace.NeverSample()
		remote = root
	case "traceidratio", "parentbased_traceidratio":
		ratio, err := samplerRatio(getenv("OTEL_TRACES_SAMPLER_ARG"))
		if err != nil {
			return nil, err
		}
		root = sdktrace.TraceIDRatioBased(ratio)
		// A remote parent's trace ID is the publisher's choice: one with
		// its low half zero passes any ratio. Its spans are drawn at
		// random instead.
		remote = randomRatio(ratio)
	default:
		return nil, usagef("OTEL_TRACES_SAMPLER %q: not a sampler opcancel knows (always_on, always_off, traceidratio, or one of them after parentbased_)", name)
	}
	return sdktrace.ParentBased(root,
		sdktrace.WithRemoteParentSampled(remote), sdktrace.WithRemoteParentNotSampled(remote)), nil
}

// samplerRatio is OTEL_TRACES_SAMPLER_ARG for a ratio sampler: 1 when
// unset, as the SDK has it.
func samplerRatio(arg string) (float64, error) {
	arg = strings.TrimSpace(arg)
	if arg == "" {
		return 1, nil
	}
	ratio, err := strconv.ParseFloat(arg, 64)
	if err != nil || !(ratio >= 0 && ratio <= 1) {
		return 0, usagef("OTEL_TRACES_SAMPLER_ARG %q: a ratio sampler takes a number from 0 to 1", arg)
	}
	return ratio, nil
}

// randomRatio samples a share of the spans it is asked about, whatever
// their trace ID.
type randomRatio float64

func (r randomRatio) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	d := sdktrace.Drop
	if rand.Float64() < float64(r) {
		d = sdktrace.RecordAndSample
	}
	return sdktrace.SamplingResult{Decision: d, Tracestate: trace.SpanContextFromContext(p.ParentContext).TraceState()}
}

func (r randomRatio) Description() string {
	return "RandomRatio{" + strconv.FormatFloat(float64(r), 'g', -1, 64) + "}"
}
