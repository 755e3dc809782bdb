package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/google/go-cmp/cmp"

	"opcancel/queue"
	"opcancel/queue/queuetest"
)

// replayIdle is the --idle of the tests' replays: long enough for the
// emulator on a busy machine to answer a pull. A pull that --idle cuts
// short just as the emulator hands it messages leaves them leased to no
// one until their ack deadline, and that replay does not see them
// (docs/contract.md#opcancel-replay).
const replayIdle = 5 * time.Second

// deadLetters publishes msgs to a topic whose subscription has a real
// dead-letter policy (5 deliveries) and nacks every delivery until all of
// them are in the dead-letter topic; it returns the topic, the dead-letter
// subscription (with an ack deadline of deadAck, 60s when 0), and a
// subscription to the topic that sees what is published to it afterwards.
func deadLetters(t *testing.T, e *queuetest.Emulator, project string, deadAck time.Duration, msgs ...message) (topic, deadSub, reader string) {
	t.Helper()
	ctx := context.Background()
	dead, deadSub, err := e.TopicAndSubscription(ctx, project, "dead-letters", "dead-letters", queuetest.SubscriptionOptions{AckDeadline: deadAck})
	if err != nil {
		t.Fatal(err)
	}
	topic, sub, err := e.TopicAndSubscription(ctx, project, "requests", "worker", queuetest.SubscriptionOptions{DeadLetterTopic: dead, MaxDeliveries: 5})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, e, topic, msgs...)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	last := map[string]bool{} // message IDs at their fifth delivery
	done := make(chan struct{})
	go e.Client.Subscriber(sub).Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		mu.Lock()
		defer mu.Unlock()
		if m.DeliveryAttempt != nil && *m.DeliveryAttempt >= 5 && !last[m.ID] {
			last[m.ID] = true
			if len(last) == len(msgs) {
				close(done)
			}
		}
		m.Nack()
	})
	waitFor(t, "five deliveries of each message", untilPublished, func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	})
	// The emulator moves a message when it would deliver it a sixth time:
	// the receiver keeps nacking until a dry run counts them all.
	waitFor(t, "the dead letters", untilPublished, func() bool {
		out, _, _, _ := runCLI(t, map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}, "replay", "--dry-run", "--idle="+replayIdle.String(),
			"--from-subscription="+deadSub, "--topic="+topic)
		return strings.HasPrefix(out, fmt.Sprintf("dead letters: %d ", len(msgs)))
	})
	cancel()
	reader = "projects/" + project + "/subscriptions/reader"
	if err := e.Subscription(ctx, topic, reader); err != nil {
		t.Fatal(err)
	}
	return topic, deadSub, reader
}

// TestReplayDeadLetters: replay publishes the dead letters to the topic
// again, data and attributes unchanged plus replayedFrom (less Pub/Sub's
// dead-letter attributes: a copy is not a dead letter), acking each only
// once it is published: a publish that fails leaves the dead letters
// where they were. It asks for confirmation above --confirm-above, as
// submit does, and --limit bounds it.
func TestReplayDeadLetters(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	project := "proj-" + strings.ToLower(uniqueName("replay"))
	var msgs []message
	for i := range 3 {
		msgs = append(msgs, message{data: fmt.Sprintf(`{"name":"operations/dl-%d"}`, i), attrs: map[string]string{"batch": "b-dl", "service": vaultHost}})
	}
	topic, deadSub, reader := deadLetters(t, e, project, 0, msgs...)
	env := map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}
	// replay returns stdout, and stderr with the error main would print.
	replay := func(args ...string) (string, string, int) {
		out, errb, code, err := runCLI(t, env, append([]string{"replay", "--idle=" + replayIdle.String(), "--from-subscription=" + deadSub}, args...)...)
		if err != nil {
			errb += "opcancel: " + err.Error()
		}
		return out, errb, code
	}
	left := func() string {
		out, _, _ := replay("--dry-run", "--topic="+topic)
		return out
	}

	if _, errb, code := replay("--confirm-above=2", "--topic="+topic); code != 2 || !strings.Contains(errb, "confirm with --yes") {
		t.Errorf("over --confirm-above without --yes and no terminal: exit %d, %s", code, errb)
	}
	out, errb, code := replay("--yes", "--topic=projects/"+project+"/topics/missing")
	if code != 1 || !strings.Contains(out, "replayed: 0, failed: 3, skipped: 0") || !strings.Contains(errb, "does not exist") {
		t.Errorf("to a missing topic: exit %d\n%s\n%s", code, out, errb)
	}
	if got := left(); !strings.HasPrefix(got, "dead letters: 3 ") {
		t.Errorf("after the failed publish: %q, want the 3 dead letters still there", got)
	}

	if out, errb, code := replay("--yes", "--limit=2", "--topic="+topic); code != 0 || !strings.HasPrefix(out, "replayed: 2, failed: 0") {
		t.Errorf("--limit=2: exit %d\n%s\n%s", code, out, errb)
	}
	if got := left(); !strings.HasPrefix(got, "dead letters: 1 ") {
		t.Errorf("after --limit=2: %q, want 1 left", got)
	}
	if out, errb, code := replay("--yes", "--topic="+topic); code != 0 || !strings.HasPrefix(out, "replayed: 1, failed: 0") {
		t.Errorf("the rest: exit %d\n%s\n%s", code, out, errb)
	}
	if got := left(); !strings.HasPrefix(got, "dead letters: 0 ") {
		t.Errorf("after the replay: %q, want none left", got)
	}
	// The copies are not dead letters: another subscription of the
	// request topic (reader) is no source for a replay.
	_, _, code, err := runCLI(t, env, "replay", "--dry-run", "--idle="+replayIdle.String(), "--from-subscription="+reader,
		"--topic=projects/"+project+"/topics/elsewhere")
	if want := "has no " + queue.DeadLetterSourceSubscription + " attribute"; code != 2 || err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("replay from a subscription of the request topic, after a replay: exit %d, %v; want 2 and %q", code, err, want)
	}

	checkReplayed(t, e, reader, deadSub, msgs)
}

// checkReplayed: reader got each of msgs once, its data and attributes
// unchanged, plus replayedFrom naming deadSub, and without the attributes
// Pub/Sub added when it dead-lettered it.
func checkReplayed(t *testing.T, e *queuetest.Emulator, reader, deadSub string, msgs []message) {
	t.Helper()
	replayed, err := e.Drain(context.Background(), reader)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]string{}
	for _, m := range replayed {
		got[string(m.Message.Data)] = m.Message.Attributes
	}
	if len(replayed) != len(msgs) || len(got) != len(msgs) {
		t.Errorf("%d messages replayed (%d distinct), want %d", len(replayed), len(got), len(msgs))
	}
	for _, m := range msgs {
		attrs := got[m.data]
		for k, v := range m.attrs {
			if attrs[k] != v {
				t.Errorf("replayed %s: attribute %s = %q, want %q unchanged", m.data, k, attrs[k], v)
			}
		}
		if diff := cmp.Diff(deadSub, attrs[replayedFromAttribute]); diff != "" {
			t.Errorf("replayed %s: replayedFrom (-want +got):\n%s", m.data, diff)
		}
		for k := range attrs {
			if strings.HasPrefix(k, queue.DeadLetterAttributePrefix) {
				t.Errorf("replayed %s: the copy keeps the dead-letter attribute %s", m.data, k)
			}
		}
	}
}
