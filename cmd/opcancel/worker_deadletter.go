package main

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"opcancel/queue"
)

// deadLetterTimeout bounds the start-up read of the subscription's
// dead-letter policy: it is best effort and must not hold up the start.
const deadLetterTimeout = 10 * time.Second

// reportDeadLetter reads the subscription's dead-letter policy and logs one
// line about it. Without a policy, the answers that are transient by
// contract (a bare 501, a 3xx, a misdirected 404, a failing token) are
// nacked and redelivered forever, so that is a warning. Reading the policy
// needs pubsub.subscriptions.get, which roles/pubsub.subscriber lacks: a
// missing permission is said once, not an error. A missing subscription is
// left to the receiver, which ends the worker with a clear line.
func reportDeadLetter(ctx context.Context, ps *queue.Client, sub string, log *zap.Logger) {
	ctx, cancel := context.WithTimeout(ctx, deadLetterTimeout)
	defer cancel()
	p, err := ps.DeadLetterPolicy(ctx, sub)
	switch {
	case errors.Is(err, queue.ErrNotFound):
	case errors.Is(err, queue.ErrPermissionDenied):
		log.Info("dead-letter policy not checked: the worker may not read its subscription (pubsub.subscriptions.get, in roles/pubsub.viewer); without a dead-letter policy, messages whose answers stay transient are redelivered forever",
			zap.String("subscription", sub))
	case err != nil:
		log.Info("dead-letter policy not checked", zap.String("subscription", sub), zap.Error(err))
	case p == nil:
		log.Warn("the subscription has no dead-letter policy: messages whose answers stay transient (a bare 501, a 3xx, a misdirected 404, a token that cannot be fetched) are nacked and redelivered forever; give it one (deploy/pubsub/provision.sh)",
			zap.String("subscription", sub))
	default:
		log.Info("subscription dead-letter policy", zap.String("subscription", sub),
			zap.String("deadLetterTopic", p.Topic), zap.Int("maxDeliveryAttempts", p.MaxDeliveryAttempts))
	}
}
