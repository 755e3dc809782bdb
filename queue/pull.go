package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Pulled is a message pulled from a subscription, settled by its AckID.
type Pulled struct {
	AckID, ID  string
	Data       []byte
	Attributes map[string]string
}

// Pull pulls up to max messages from sub (a full name) with one synchronous
// pull. Pub/Sub answers as soon as it has messages; a pull still
// unanswered when ctx's deadline passes is the subscription found empty:
// (nil, nil).
func (c *Client) Pull(ctx context.Context, sub string, max int) ([]Pulled, error) {
	resp, err := c.ps.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: sub, MaxMessages: int32(max)})
	switch {
	case err == nil:
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	default:
		return nil, pullError(sub, err)
	}
	out := make([]Pulled, len(resp.ReceivedMessages))
	for i, m := range resp.ReceivedMessages {
		out[i] = Pulled{AckID: m.AckId, ID: m.Message.GetMessageId(), Data: m.Message.GetData(), Attributes: m.Message.GetAttributes()}
	}
	return out, nil
}

// maxAckIDs is how many ack IDs one Acknowledge or ModifyAckDeadline
// request carries at most, as the client library sends them: well within
// Pub/Sub's 512 KB request limit.
const maxAckIDs = 2500

// Ack acks the pulled messages of sub with these ack IDs: they are gone.
func (c *Client) Ack(ctx context.Context, sub string, ackIDs []string) error {
	for chunk := range slices.Chunk(ackIDs, maxAckIDs) {
		err := c.ps.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: sub, AckIds: chunk})
		if err != nil {
			return fmt.Errorf("ack %d messages of %s: %w", len(ackIDs), sub, err)
		}
	}
	return nil
}

// Nack gives the pulled messages of sub with these ack IDs back: they can
// be delivered again at once.
func (c *Client) Nack(ctx context.Context, sub string, ackIDs []string) error {
	if err := c.modifyAckDeadline(ctx, sub, ackIDs, 0); err != nil {
		return fmt.Errorf("nack %d messages of %s: %w", len(ackIDs), sub, err)
	}
	return nil
}

// modifyAckDeadline sets the ack deadline of the pulled messages of sub
// with these ack IDs to d from now: 0 gives them back.
func (c *Client) modifyAckDeadline(ctx context.Context, sub string, ackIDs []string, d time.Duration) error {
	for chunk := range slices.Chunk(ackIDs, maxAckIDs) {
		err := c.ps.SubscriptionAdminClient.ModifyAckDeadline(ctx, &pubsubpb.ModifyAckDeadlineRequest{
			Subscription: sub, AckIds: chunk, AckDeadlineSeconds: int32(d / time.Second)})
		if err != nil {
			return err
		}
	}
	return nil
}

// pullError turns the errors an operator can fix into one clear line.
func pullError(sub string, err error) error {
	switch status.Code(err) {
	case codes.NotFound:
		return fmt.Errorf("subscription %s does not exist: %w", sub, err)
	case codes.PermissionDenied:
		return fmt.Errorf("permission denied on subscription %s (roles/pubsub.subscriber is needed): %w", sub, err)
	}
	return fmt.Errorf("pull from %s: %w", sub, err)
}
