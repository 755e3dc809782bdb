package queue

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Pub/Sub's bounds for a temporary subscription: the shortest expiration
// (a day without a subscriber), a message retention shorter than it (the
// service refuses one that is not), and the longest filter.
const (
	temporaryExpiration = 24 * time.Hour
	temporaryRetention  = time.Hour
	maxFilterBytes      = 256
)

// CreateTemporarySubscription creates sub on topic (full names) for one run
// of a command, with filter (none when empty). It is deleted by
// DeleteSubscription when the run ends, and if the process dies first it
// expires by itself after a day without a subscriber.
func (c *Client) CreateTemporarySubscription(ctx context.Context, sub, topic, filter string) error {
	s := &pubsubpb.Subscription{
		Name: sub, Topic: topic, AckDeadlineSeconds: 60, Filter: filter,
		ExpirationPolicy:         &pubsubpb.ExpirationPolicy{Ttl: durationpb.New(temporaryExpiration)},
		MessageRetentionDuration: durationpb.New(temporaryRetention),
	}
	_, err := c.ps.SubscriptionAdminClient.CreateSubscription(ctx, s)
	switch status.Code(err) {
	case codes.OK:
		return nil
	case codes.NotFound:
		return fmt.Errorf("topic %s does not exist: %w", topic, err)
	case codes.PermissionDenied:
		return fmt.Errorf("permission denied creating subscription %s on %s (it needs pubsub.subscriptions.create in its project and pubsub.topics.attachSubscription on the topic; see docs/operations.md#iam): %w", sub, topic, err)
	}
	return fmt.Errorf("create subscription %s: %w", sub, err)
}

// SeekToTime marks the messages of sub (a full name) published from t on
// as not acknowledged, so that they are delivered, and those before t as
// acknowledged. On a topic that keeps its messages (message retention), a
// new subscription reaches back this way to messages published before it
// existed, as far as the topic's retention; without it, only messages the
// subscription itself holds are delivered again.
func (c *Client) SeekToTime(ctx context.Context, sub string, t time.Time) error {
	_, err := c.ps.SubscriptionAdminClient.Seek(ctx, &pubsubpb.SeekRequest{
		Subscription: sub, Target: &pubsubpb.SeekRequest_Time{Time: timestamppb.New(t)},
	})
	if err != nil {
		return fmt.Errorf("seek subscription %s to %s: %w", sub, t.UTC().Format(time.RFC3339), err)
	}
	return nil
}

// DeleteSubscription deletes sub (a full name); one that is already gone
// is not an error.
func (c *Client) DeleteSubscription(ctx context.Context, sub string) error {
	err := c.ps.SubscriptionAdminClient.DeleteSubscription(ctx, &pubsubpb.DeleteSubscriptionRequest{Subscription: sub})
	if err != nil && status.Code(err) != codes.NotFound {
		return fmt.Errorf("delete subscription %s: %w", sub, err)
	}
	return nil
}

// EqualsFilter returns the subscription filter that keeps the messages
// whose attribute key is value: attributes.KEY = "VALUE", the value's
// backslashes and double quotes escaped. key must be letters, digits, '-'
// and '_'. ok is false when Pub/Sub could not apply it: a filter over 256
// bytes, or a value with a character that is not printable (whose escape
// the emulators do not read alike); the caller then filters alone.
func EqualsFilter(key, value string) (filter string, ok bool) {
	var b strings.Builder
	b.WriteString("attributes." + key + ` = "`)
	for _, r := range value {
		switch {
		case r == '\\' || r == '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case !unicode.IsPrint(r):
			return "", false
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	if b.Len() > maxFilterBytes {
		return "", false
	}
	return b.String(), true
}
