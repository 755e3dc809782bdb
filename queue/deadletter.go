package queue

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// DeadLetterPolicy is the part of a subscription's dead-letter policy the
// worker reports.
type DeadLetterPolicy struct {
	// Topic is the full name of the dead-letter topic.
	Topic string
	// MaxDeliveryAttempts is how many deliveries a message gets before
	// Pub/Sub moves it to Topic.
	MaxDeliveryAttempts int
}

// Attributes that Pub/Sub (and its emulator) adds to every message it
// moves to a dead-letter topic, besides
// CloudPubSubDeadLetterSourceSubscriptionProject and
// CloudPubSubDeadLetterSourceTopicPublishTime.
const (
	// DeadLetterSourceSubscription is the ID of the subscription the
	// message was dead-lettered from.
	DeadLetterSourceSubscription = "CloudPubSubDeadLetterSourceSubscription"
	// DeadLetterSourceDeliveryCount is how many deliveries it had there.
	DeadLetterSourceDeliveryCount = "CloudPubSubDeadLetterSourceDeliveryCount"
	// DeadLetterAttributePrefix begins the name of every attribute
	// Pub/Sub adds when it dead-letters a message.
	DeadLetterAttributePrefix = "CloudPubSubDeadLetter"
)

// defaultMaxDeliveryAttempts is what Pub/Sub uses for a policy's
// max_delivery_attempts of 0.
const defaultMaxDeliveryAttempts = 5

// Errors of DeadLetterPolicy that the caller tells apart.
var (
	// ErrNotFound: the subscription does not exist.
	ErrNotFound = errors.New("not found")
	// ErrPermissionDenied: the credentials may not read the subscription
	// (pubsub.subscriptions.get, which roles/pubsub.subscriber does not have).
	ErrPermissionDenied = errors.New("permission denied")
)

// SubscriptionTopic returns the full name of the topic the subscription
// sub (a full name) is attached to; "_deleted-topic_" when its topic was
// deleted.
func (c *Client) SubscriptionTopic(ctx context.Context, sub string) (string, error) {
	s, err := c.subscription(ctx, sub)
	if err != nil {
		return "", err
	}
	return s.GetTopic(), nil
}

// subscription reads the subscription sub (a full name), which needs
// pubsub.subscriptions.get (roles/pubsub.viewer; roles/pubsub.subscriber
// does not have it).
func (c *Client) subscription(ctx context.Context, sub string) (*pubsubpb.Subscription, error) {
	s, err := c.ps.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: sub})
	switch status.Code(err) {
	case codes.OK:
		return s, nil
	case codes.NotFound:
		return nil, fmt.Errorf("subscription %s: %w: %w", sub, ErrNotFound, err)
	case codes.PermissionDenied:
		return nil, fmt.Errorf("subscription %s: %w: %w", sub, ErrPermissionDenied, err)
	default:
		return nil, fmt.Errorf("read subscription %s: %w", sub, err)
	}
}

// DeadLetterPolicy reads the dead-letter policy of the subscription sub (a
// full name): nil when it has none.
func (c *Client) DeadLetterPolicy(ctx context.Context, sub string) (*DeadLetterPolicy, error) {
	s, err := c.subscription(ctx, sub)
	if err != nil {
		return nil, err
	}
	p := s.GetDeadLetterPolicy()
	if p.GetDeadLetterTopic() == "" {
		return nil, nil
	}
	attempts := int(p.GetMaxDeliveryAttempts())
	if attempts == 0 {
		attempts = defaultMaxDeliveryAttempts
	}
	return &DeadLetterPolicy{Topic: p.GetDeadLetterTopic(), MaxDeliveryAttempts: attempts}, nil
}
