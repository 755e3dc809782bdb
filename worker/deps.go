package worker

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"opcancel/lro"
	"opcancel/metrics"
)

// Deps are the worker's collaborators.
type Deps struct {
	Table   *lro.Table
	Ops     Operations
	Sink    Sink // nil: no result events
	Log     *zap.Logger
	Metrics *metrics.Metrics
	// Tracer, if set, traces every job and API request (see
	// docs/operations.md#tracing); nil means tracing is off.
	Tracer trace.Tracer
	// TraceLog returns the log fields that put a job's log lines under its
	// trace; nil means none.
	TraceLog func(trace.SpanContext) []zap.Field
}

// The small interfaces the worker defines for its collaborators: queue
// satisfies Source and Sink, *lro.Client satisfies Operations.

// Delivery is one received message and the means to settle it.
type Delivery struct {
	// ID is the Pub/Sub message ID.
	ID   string
	Data []byte
	// Attributes are the message's attributes.
	Attributes map[string]string
	// DeliveryAttempt is the delivery count when the subscription has a
	// dead-letter policy, 0 otherwise.
	DeliveryAttempt int
	// Ack and Nack settle the message; an error means the settlement may not
	// have reached the server (exactly-once subscriptions report it).
	Ack  func() error
	Nack func() error
}

// Handler processes one delivery to its outcome and settles it.
type Handler func(ctx context.Context, d Delivery)

// Source delivers messages to a handler until ctx is done or it fails. It
// returns only after every handler call it made has returned. The context
// it passes the handler ends when ctx is done or the source fails for good,
// as the Pub/Sub client's does.
type Source interface {
	Receive(ctx context.Context, h Handler) error
}

// Sink receives result events: JSON data and attributes (see
// docs/contract.md#result-events). Publish returns once the event is
// published or never will be: an event for a delivery that is then nacked
// must not reach consumers later. It bounds its own wait (about
// Config.PublishTimeout); ctx carries no deadline.
type Sink interface {
	Publish(ctx context.Context, data []byte, attrs map[string]string) error
}

// Operations is the API client the worker uses; *lro.Client satisfies it.
type Operations interface {
	Cancel(ctx context.Context, svc *lro.Service, name string) error
	Get(ctx context.Context, svc *lro.Service, name string) (*lro.Operation, error)
}

var _ Operations = (*lro.Client)(nil)
