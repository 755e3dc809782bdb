package main

import (
	"strings"

	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
)

// The topics a batch is followed through: the worker's results topic and
// the batches topic of submit's manifests. A deployment provisioned before
// batch manifests came has no batches topic; submit finds out before it
// publishes a request (docs/contract.md#batch-manifests), and says how to
// make what is missing.

// batchTopic is a topic that following a batch needs, and the flag that
// names it; manifests: the batches topic, whose messages are manifest
// records, else the results topic, whose messages are result events.
type batchTopic struct {
	flag, name string
	manifests  bool
}

// topicRetention is the message retention deploy/pubsub/provision.sh gives
// the results and batches topics (TOPIC_RETENTION).
const topicRetention = "7d"

// Uses of a topic, for batchTopicError.
const (
	usePublish = "publish" // submit publishes the batch's manifest
	useAttach  = "attach"  // a temporary subscription is attached to it
)

// batchTopicError is the usage error for err, which Pub/Sub answered to
// a use of topic (named by flag): a topic that does not exist, or, for a
// publish, one the caller may not publish to, with the command that fixes
// it. Other errors are returned as they are.
func batchTopicError(flag, topic, use string, err error) error {
	id, project := lastSegment(topic), projectOf(topic)
	variable := strings.ToUpper(strings.ReplaceAll(strings.TrimPrefix(flag, "--"), "-", "_"))
	switch code := grpcstatus.Code(err); {
	case code == codes.NotFound:
		return usagef("%s %s: the topic does not exist (deploy/pubsub/provision.sh makes it; a deployment provisioned before it did has none): "+
			"run PROJECT=%s %s=%s deploy/pubsub/provision.sh, or %s",
			flag, topic, project, variable, id, createTopicFix(topic))
	case code == codes.PermissionDenied && use == usePublish:
		return usagef("%s %s: permission denied: publishing the batch's manifest needs pubsub.topics.publish on it, which deploy/pubsub/provision.sh "+
			"grants its WAIT_USERS: gcloud pubsub topics add-iam-policy-binding %s --project=%s --member=MEMBER --role=roles/pubsub.publisher",
			flag, topic, id, project)
	}
	return err
}
