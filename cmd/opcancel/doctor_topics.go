package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
)

// minWaitRetention is the message retention below which the doctor warns:
// a batch older than it cannot be followed back.
const minWaitRetention = 24 * time.Hour

// topicRead is what reading a topic's configuration found.
type topicRead struct {
	name      string
	retention time.Duration
	err       error
}

// readTopic reads the topic's message retention, within --request-timeout.
func (d *doctor) readTopic(ctx context.Context, topic string) topicRead {
	ctx, cancel := context.WithTimeout(ctx, d.cmd.RequestTimeout)
	defer cancel()
	r, err := d.ps.TopicRetention(ctx, topic)
	return topicRead{name: topic, retention: r, err: err}
}

// waitChecks checks what `opcancel wait` and `submit --wait`/`--journal`
// read, for a deployment that uses them (docs/contract.md#opcancel-doctor):
// with --batches-topic, the batches topic exists and both topics keep their
// messages long enough, without which wait cannot follow a batch back; one
// skip line without it.
func (d *doctor) waitChecks(ctx context.Context) []doctorCheck {
	if d.batchesTopic == "" {
		return []doctorCheck{{Name: "batches topic", Status: checkSkip,
			Detail: "no --batches-topic: the topics of opcancel wait (the batches topic, and how long the results and batches topics keep their messages) are not checked"}}
	}
	batches := d.readTopic(ctx, d.batchesTopic)
	exists := d.topicExists(ctx, "batches topic", batches)
	checks := []doctorCheck{exists}
	if d.resultsTopic == "" {
		checks = append(checks, doctorCheck{Name: "results topic retention", Status: checkSkip, Detail: "no --results-topic: no result events for opcancel wait to read"})
	} else {
		checks = append(checks, d.retentionCheck(ctx, "results topic retention", d.readTopic(ctx, d.resultsTopic)))
	}
	if exists.Status != checkFail {
		checks = append(checks, d.retentionCheck(ctx, "batches topic retention", batches))
	}
	return checks
}

// topicExists says whether the topic read exists; a caller that may not
// read it asks the permission test, which answers NotFound too.
func (d *doctor) topicExists(ctx context.Context, name string, t topicRead) doctorCheck {
	c := doctorCheck{Name: name}
	err := t.err
	if grpcstatus.Code(err) == codes.PermissionDenied {
		pctx, cancel := context.WithTimeout(ctx, d.cmd.RequestTimeout)
		_, err = d.ps.Permissions(pctx, t.name, []string{permPublish})
		cancel()
	}
	switch grpcstatus.Code(err) {
	case codes.OK:
		c.Status, c.Detail = checkOK, t.name+" exists"
	case codes.NotFound:
		c.Status, c.Detail, c.Fix = checkFail, t.name+" does not exist: submit --wait and --journal refuse to publish, and opcancel wait cannot follow a batch", createTopicFix(t.name)
	default:
		c.Status, c.Detail = checkWarn, "not checked: "+errText(err)
	}
	return c
}

// retentionCheck says whether the topic read keeps its messages at least
// minWaitRetention: how far back opcancel wait can follow a batch.
func (d *doctor) retentionCheck(ctx context.Context, name string, t topicRead) doctorCheck {
	c := doctorCheck{Name: name}
	fix := fmt.Sprintf("gcloud pubsub topics update %s --project=%s --message-retention-duration=%s", lastSegment(t.name), projectOf(t.name), topicRetention)
	switch code := grpcstatus.Code(t.err); {
	case code == codes.NotFound:
		c.Status, c.Detail, c.Fix = checkFail, t.name+" does not exist", createTopicFix(t.name)
	case code == codes.PermissionDenied:
		member := d.member(ctx)
		c.Status = checkWarn
		c.Detail = "not checked: " + member + " may not read " + t.name + " (pubsub.topics.get); run the doctor once as an administrator"
		c.Fix = d.grant("topics", t.name, member, "roles/pubsub.viewer")
	case t.err != nil:
		c.Status, c.Detail = checkWarn, "not checked: "+errText(t.err)
	case t.retention <= 0:
		c.Status, c.Fix = checkFail, fix
		c.Detail = t.name + " keeps no messages (no message retention): opcancel wait cannot follow a batch back, nor submit --journal read the outcomes of an earlier run"
	case t.retention < minWaitRetention:
		c.Status, c.Fix = checkWarn, fix
		c.Detail = fmt.Sprintf("%s keeps its messages for %s only: opcancel wait cannot follow a batch older than that (deploy/pubsub/provision.sh sets %s)",
			t.name, retentionText(t.retention), topicRetention)
	default:
		c.Status = checkOK
		c.Detail = fmt.Sprintf("%s keeps its messages for %s: opcancel wait follows a batch back that far", t.name, retentionText(t.retention))
	}
	return c
}

// createTopicFix creates topic as deploy/pubsub/provision.sh does, keeping
// its messages.
func createTopicFix(topic string) string {
	return fmt.Sprintf("gcloud pubsub topics create %s --project=%s --message-retention-duration=%s", lastSegment(topic), projectOf(topic), topicRetention)
}

// retentionText is d in days when it is whole days ("7d"), else as Go
// prints it without its zero minutes and seconds ("2h", "1h30m").
func retentionText(d time.Duration) string {
	if day := 24 * time.Hour; d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return strings.TrimSuffix(strings.TrimSuffix(d.String(), "0s"), "0m")
}
