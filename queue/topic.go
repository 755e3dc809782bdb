package queue

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
)

// TopicRetention returns how long topic (a full name) keeps its messages,
// its message retention duration, which is how far back a new
// subscription can seek (SeekToTime); 0 when it keeps none. Reading it
// needs pubsub.topics.get. A topic that does not exist is an error with
// the code NotFound; one the caller may not read, PermissionDenied.
func (c *Client) TopicRetention(ctx context.Context, topic string) (time.Duration, error) {
	t, err := c.ps.TopicAdminClient.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: topic})
	if err != nil {
		return 0, fmt.Errorf("read topic %s: %w", topic, err)
	}
	return t.GetMessageRetentionDuration().AsDuration(), nil
}
