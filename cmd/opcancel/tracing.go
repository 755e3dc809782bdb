package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// tracing is the process's OpenTelemetry tracing (see
// docs/operations.md#tracing). It is off unless the standard variables ask
// for it; the SDK then reads them itself: the exporter and protocol, the
// endpoint, headers and timeouts, the resource. The sampler is read here
// (tracing_sampler.go), so that publishers cannot decide it.
type tracing struct {
	provider *sdktrace.TracerProvider // nil: off
	owned    bool                     // made here, so shut down here
}

// tracingEnabled reports whether the environment asks for traces: an
// OTEL_TRACES_EXPORTER other than none, or an OTLP endpoint, and the SDK
// not disabled.
func tracingEnabled(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	switch exp := getenv("OTEL_TRACES_EXPORTER"); {
	case exp == "none":
		return false
	case exp != "":
		return true
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// newTracing starts the tracing e asks for. When it is on, the provider
// is also the process's global one: the Pub/Sub client traces through it.
func newTracing(ctx context.Context, e *env) (*tracing, error) {
	if e.traces != nil {
		otel.SetTracerProvider(e.traces)
		return &tracing{provider: e.traces}, nil
	}
	if !tracingEnabled(e.getenv) {
		return &tracing{}, nil
	}
	sampler, err := traceSampler(e.getenv)
	if err != nil {
		return nil, err
	}
	exp, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		return nil, usagef("OTEL_TRACES_EXPORTER: %w", err)
	}
	// The variables (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) win over
	// the defaults: detectors that come later override earlier ones.
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("opcancel"), semconv.ServiceVersion(build().version)),
		resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, usagef("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res), sdktrace.WithSampler(sampler))
	otel.SetTracerProvider(tp)
	return &tracing{provider: tp, owned: true}, nil
}

// on reports whether spans are recorded.
func (t *tracing) on() bool { return t.provider != nil }

// tracer returns opcancel's tracer, or nil when tracing is off.
func (t *tracing) tracer() trace.Tracer {
	if t.provider == nil {
		return nil
	}
	return t.provider.Tracer("opcancel", trace.WithInstrumentationVersion(build().version))
}

// tracingShutdownTimeout bounds the export of the last spans at exit.
const tracingShutdownTimeout = 5 * time.Second

// shutdown exports the spans not yet exported, within a bound: an exporter
// that cannot be reached costs the exit at most that.
func (t *tracing) shutdown() error {
	if !t.owned {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), tracingShutdownTimeout)
	defer cancel()
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("traces not all exported: %w", err)
	}
	return nil
}

// shutdownTo is shutdown for the commands whose stderr is for people: a
// failure is a line there.
func (t *tracing) shutdownTo(w io.Writer) {
	if err := t.shutdown(); err != nil {
		fmt.Fprintln(w, "opcancel:", oneLine(err))
	}
}
