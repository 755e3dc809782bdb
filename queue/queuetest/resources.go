package queuetest

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// SubscriptionOptions shape a subscription.
type SubscriptionOptions struct {
	AckDeadline      time.Duration // default 60s
	ExactlyOnce      bool
	DeadLetterTopic  string // full name; enables a dead-letter policy
	MaxDeliveries    int32  // with DeadLetterTopic; default 5
	MinRetryBackoff  time.Duration
	MaxRetryBackoff  time.Duration
	RetainAckedNever bool
}

// TopicAndSubscription creates projects/project/topics/topic and
// projects/project/subscriptions/sub on it; it returns their full names.
func (e *Emulator) TopicAndSubscription(ctx context.Context, project, topic, sub string, o SubscriptionOptions) (string, string, error) {
	tn, err := e.Topic(ctx, project, topic)
	if err != nil {
		return "", "", err
	}
	sn := "projects/" + project + "/subscriptions/" + sub
	s := &pubsubpb.Subscription{Name: sn, Topic: tn, AckDeadlineSeconds: 60, EnableExactlyOnceDelivery: o.ExactlyOnce}
	if o.AckDeadline > 0 {
		s.AckDeadlineSeconds = int32(o.AckDeadline / time.Second)
	}
	if o.DeadLetterTopic != "" {
		s.DeadLetterPolicy = &pubsubpb.DeadLetterPolicy{DeadLetterTopic: o.DeadLetterTopic, MaxDeliveryAttempts: max(o.MaxDeliveries, 5)}
	}
	if o.MinRetryBackoff > 0 || o.MaxRetryBackoff > 0 {
		s.RetryPolicy = &pubsubpb.RetryPolicy{MinimumBackoff: durationpb.New(o.MinRetryBackoff), MaximumBackoff: durationpb.New(max(o.MaxRetryBackoff, o.MinRetryBackoff))}
	}
	if _, err := e.Client.SubscriptionAdminClient.CreateSubscription(ctx, s); err != nil {
		return "", "", fmt.Errorf("create subscription %s: %w", sn, err)
	}
	return tn, sn, nil
}

// Topic creates projects/project/topics/topic and returns its full name.
func (e *Emulator) Topic(ctx context.Context, project, topic string) (string, error) {
	tn := "projects/" + project + "/topics/" + topic
	if _, err := e.Client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: tn}); err != nil {
		return "", fmt.Errorf("create topic %s: %w", tn, err)
	}
	return tn, nil
}

// Subscription creates a plain subscription on an existing topic.
func (e *Emulator) Subscription(ctx context.Context, topic, sub string) error {
	_, err := e.Client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: topic, AckDeadlineSeconds: 60})
	return err
}

// Pull pulls up to max messages from sub once (returning early when there
// are none) and acks them.
func (e *Emulator) Pull(ctx context.Context, sub string, max int32) ([]*pubsubpb.ReceivedMessage, error) {
	//lint:ignore SA1019 the emulator honours ReturnImmediately, and a drain must not block
	resp, err := e.Client.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: sub, MaxMessages: max, ReturnImmediately: true})
	if err != nil {
		return nil, err
	}
	if len(resp.ReceivedMessages) > 0 {
		ids := make([]string, len(resp.ReceivedMessages))
		for i, m := range resp.ReceivedMessages {
			ids[i] = m.AckId
		}
		if err := e.Client.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: sub, AckIds: ids}); err != nil {
			return nil, err
		}
	}
	return resp.ReceivedMessages, nil
}

// Drain pulls and acks everything in sub until a pull returns nothing.
func (e *Emulator) Drain(ctx context.Context, sub string) ([]*pubsubpb.ReceivedMessage, error) {
	var all []*pubsubpb.ReceivedMessage
	for {
		got, err := e.Pull(ctx, sub, 1000)
		if err != nil {
			return all, err
		}
		if len(got) == 0 {
			return all, nil
		}
		all = append(all, got...)
	}
}
