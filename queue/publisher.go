package queue

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"opcancel/worker"
)

// The worker defines the interfaces it consumes; a Publisher is its Sink.
var _ worker.Sink = (*Publisher)(nil)

// Publisher publishes to one topic with batching. It is safe for concurrent use.
type Publisher struct {
	pub   *pubsub.Publisher
	topic string
}

// PublishConfig configures a Publisher.
type PublishConfig struct {
	// Topic is the full topic name.
	Topic string
	// DelayThreshold and CountThreshold shape batches; zero means the library's
	// defaults (10 ms, 100 messages).
	DelayThreshold time.Duration
	CountThreshold int
	// Timeout bounds the publication of one batch, retries included; zero
	// means the library's default (60 s). When it passes, the library fails
	// the batch's messages and never sends them again: Publish's error then
	// means that the message will not be published (see Publish).
	Timeout time.Duration
}

// Publisher returns a Publisher for cfg.
func (c *Client) Publisher(cfg PublishConfig) *Publisher {
	p := c.ps.Publisher(cfg.Topic)
	if cfg.DelayThreshold > 0 {
		p.PublishSettings.DelayThreshold = cfg.DelayThreshold
	}
	if cfg.CountThreshold > 0 {
		p.PublishSettings.CountThreshold = cfg.CountThreshold
	}
	if cfg.Timeout > 0 {
		p.PublishSettings.Timeout = cfg.Timeout
	}
	return &Publisher{pub: p, topic: cfg.Topic}
}

// Publish publishes one message and waits until the server has it or the
// publisher has given up on it (PublishConfig.Timeout): an error means that
// the message will not be published, unless its last attempt reached the
// server and only the answer was lost. ctx does not end the wait: the
// library takes no context for its attempts, and a message it still holds
// would be published after the caller had given up
// (docs/contract.md#result-events).
func (p *Publisher) Publish(ctx context.Context, data []byte, attrs map[string]string) error {
	_, err := p.PublishAsync(ctx, data, attrs).Get(context.WithoutCancel(ctx)) // Get already explains the error
	return err
}

// Result is a pending publication.
type Result struct {
	r *pubsub.PublishResult
	p *Publisher
}

// Get waits for the publication and returns the message ID.
func (r Result) Get(ctx context.Context) (string, error) {
	id, err := r.r.Get(ctx)
	if err != nil {
		return "", r.p.publishError(err)
	}
	return id, nil
}

// Ready is closed once Get can answer without waiting.
func (r Result) Ready() <-chan struct{} { return r.r.Ready() }

// PublishAsync queues one message in the current batch, its attributes
// fitted to Pub/Sub's limits (fitAttributes).
func (p *Publisher) PublishAsync(ctx context.Context, data []byte, attrs map[string]string) Result {
	return Result{r: p.pub.Publish(ctx, &pubsub.Message{Data: data, Attributes: fitAttributes(attrs)}), p: p}
}

// Stop flushes pending messages and stops the publisher.
func (p *Publisher) Stop() { p.pub.Stop() }

func (p *Publisher) publishError(err error) error {
	switch status.Code(err) {
	case codes.NotFound:
		return fmt.Errorf("topic %s does not exist: %w", p.topic, err)
	case codes.PermissionDenied:
		return fmt.Errorf("permission denied on topic %s (roles/pubsub.publisher is needed): %w", p.topic, err)
	}
	return fmt.Errorf("publish to %s: %w", p.topic, err)
}
