package queue

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"opcancel/worker"
)

// ReceiveConfig configures a Subscriber.
type ReceiveConfig struct {
	// Subscription is the full subscription name.
	Subscription string
	// MaxOutstanding is the flow-control limit on messages held; set it to
	// the worker's MaxOutstanding.
	MaxOutstanding int
	// MaxOutstandingBytes limits the bytes held; 0 means MaxOutstanding × 16 KiB
	// (a message is at most 4 KiB of data plus attributes), at least 16 MiB.
	MaxOutstandingBytes int
	// LeaseExtension is the lease every held message gets, renewed 5 s
	// before it runs out while the message is held; 0 means
	// DefaultLeaseExtension. A message held by a process that dies comes
	// back within it. It is also the lease of a message on its way on the
	// stream, which the emulator starts when it pushes the message
	// (docs/design.md#leases).
	LeaseExtension time.Duration
}

// The lease of a held message is extended for as long as the handler holds
// it: the client's MaxExtension is set beyond any time a job may take. A
// job's every phase is bounded by the worker's own settings except its wait
// in line behind its service's rate, which a backlog can make as long as it
// likes, and a lease must not lapse while a live worker still holds the job
// (see docs/design.md#leases). A crashed worker extends nothing: its
// messages come back within LeaseExtension.
const extendWhileHeld = time.Duration(math.MaxInt64)

// DefaultLeaseExtension is the default ReceiveConfig.LeaseExtension: a
// message held by a crashed process comes back within it
// (docs/failure-semantics.md#when-things-fail), and the emulator does not deliver
// a backlog's messages again when the worker reads them within it of their
// push (docs/design.md#leases).
const DefaultLeaseExtension = 60 * time.Second

// Pub/Sub's limits on a lease: an ack deadline is 10 s to 600 s (Validate's
// message says so).
const (
	MinLeaseExtension = 10 * time.Second
	MaxLeaseExtension = 600 * time.Second
)

// Validate reports an invalid field as a *worker.ConfigError, the one type
// of an invalid setting that commands turn into the flag's name. A
// LeaseExtension of 0 is the default.
func (c ReceiveConfig) Validate() error {
	if c.LeaseExtension == 0 {
		return nil
	}
	return CheckLeaseExtension(c.LeaseExtension)
}

// CheckLeaseExtension reports a lease extension outside Pub/Sub's limits,
// 0 included, as a *worker.ConfigError: for a value a user set, where 0 is
// not a way to ask for the default.
func CheckLeaseExtension(l time.Duration) error {
	if l < MinLeaseExtension || l > MaxLeaseExtension || l%time.Second != 0 {
		return &worker.ConfigError{Field: "LeaseExtension", Value: l,
			Problem: "must be whole seconds from 10s to 10m (Pub/Sub's limits on an ack deadline)"}
	}
	return nil
}

// AckConfirmTimeout bounds the wait for the server's confirmation of an ack
// or nack on an exactly-once subscription; the pod's termination grace
// covers it (deploy/base/deployment.yaml).
const AckConfirmTimeout = 30 * time.Second

// Subscriber receives from one subscription.
type Subscriber struct {
	client *Client
	sub    *pubsub.Subscriber
	name   string
	// receiving counts the calls of Receive that have not returned: the
	// client library may end its stream, and the monitor hear of it, after
	// Receive has returned.
	receiving atomic.Int32
}

// Subscriber returns a Subscriber for cfg.
func (c *Client) Subscriber(cfg ReceiveConfig) *Subscriber {
	sub := c.ps.Subscriber(cfg.Subscription)
	sub.ReceiveSettings = receiveSettings(cfg)
	return &Subscriber{client: c, sub: sub, name: cfg.Subscription}
}

// receiveSettings are the client library's settings for cfg.
func receiveSettings(cfg ReceiveConfig) pubsub.ReceiveSettings {
	bytes := cfg.MaxOutstandingBytes
	if bytes <= 0 {
		bytes = max(cfg.MaxOutstanding*16<<10, 16<<20)
	}
	lease := cfg.LeaseExtension
	if lease <= 0 {
		lease = DefaultLeaseExtension
	}
	return pubsub.ReceiveSettings{
		MaxExtension: extendWhileHeld,
		// Every lease is exactly LeaseExtension. The library would size it
		// from past processing times, between 10 s and the maximum, and
		// raise it to at least 60 s on an exactly-once subscription unless
		// a minimum is set; the maximum is also the lease of a message
		// still on the stream.
		MinDurationPerAckExtension: lease,
		MaxDurationPerAckExtension: lease,
		MaxOutstandingMessages:     cfg.MaxOutstanding,
		MaxOutstandingBytes:        bytes,
		// One stream: flow control is per client, so more streams would not
		// raise the limit, only split it.
		NumGoroutines: 1,
		// Wait for every callback: the worker bounds the drain itself (its
		// shutdown timeout) and nacks what is left, and only the waiting
		// shutdown flushes the final acks before Receive returns.
		ShutdownOptions: &pubsub.ShutdownOptions{Behavior: pubsub.ShutdownBehaviorWaitForProcessing, Timeout: -1},
	}
}

// Healthy reports whether a streaming pull to the subscription is open: it
// is being received.
func (s *Subscriber) Healthy() bool {
	return s.receiving.Load() > 0 && s.client.monitor.Healthy(s.name)
}

// The worker defines the interfaces it consumes; the Subscriber is its Source.
var _ worker.Source = (*Subscriber)(nil)

// Receive calls h for each message until ctx is done (then it returns nil
// once every call has returned and the final acks are sent) or the
// subscription fails permanently. Transient stream errors are retried inside
// the client library and do not end Receive. On an exactly-once
// subscription, a delivery's Ack and Nack wait for the server's confirmation
// (bounded) and report a failure.
func (s *Subscriber) Receive(ctx context.Context, h worker.Handler) error {
	s.receiving.Add(1)
	defer s.receiving.Add(-1)
	err := s.sub.Receive(ctx, func(ctx context.Context, m *pubsub.Message) {
		d := worker.Delivery{
			ID: m.ID, Data: m.Data, Attributes: m.Attributes,
			Ack:  func() error { return settle(m.AckWithResult()) },
			Nack: func() error { return settle(m.NackWithResult()) },
		}
		if m.DeliveryAttempt != nil {
			d.DeliveryAttempt = *m.DeliveryAttempt
		}
		h(ctx, d)
	})
	if err == nil || errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return receiveError(s.name, err)
}

// settle waits for an ack or nack result. Without exactly-once delivery the
// result is ready at once.
func settle(r *pubsub.AckResult) error {
	ctx, cancel := context.WithTimeout(context.Background(), AckConfirmTimeout)
	defer cancel()
	st, err := r.Get(ctx)
	if err != nil {
		return err
	}
	if st != pubsub.AcknowledgeStatusSuccess {
		return fmt.Errorf("acknowledge status %d", st)
	}
	return nil
}

// receiveError turns the permanent errors an operator can fix into one clear line.
func receiveError(sub string, err error) error {
	switch status.Code(err) {
	case codes.NotFound:
		return fmt.Errorf("subscription %s does not exist: %w", sub, err)
	case codes.PermissionDenied:
		return fmt.Errorf("permission denied on subscription %s (the worker needs roles/pubsub.subscriber on it): %w", sub, err)
	case codes.Unauthenticated:
		return fmt.Errorf("receive from %s: credentials rejected: %w", sub, err)
	case codes.InvalidArgument:
		return fmt.Errorf("receive from %s: invalid subscription: %w", sub, err)
	}
	return fmt.Errorf("receive from %s: %w", sub, err)
}
