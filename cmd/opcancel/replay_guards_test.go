package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"opcancel/queue"
	"opcancel/queue/queuetest"
)

// TestReplayRefusesLoopsAndNonDeadLetters: replay publishes nothing from a
// subscription of the topic it would publish to (each copy would come
// back, forever), nor from one holding a message that Pub/Sub did not
// dead-letter (the results subscription, whose events would cancel
// again), even when a real dead letter was read first; what it read is
// given back untouched.
func TestReplayRefusesLoopsAndNonDeadLetters(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	ctx := context.Background()
	project := "proj-" + strings.ToLower(uniqueName("replay-guard"))
	topic, sub, err := e.TopicAndSubscription(ctx, project, "requests", "requests-sub", queuetest.SubscriptionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reader := "projects/" + project + "/subscriptions/reader"
	if err := e.Subscription(ctx, topic, reader); err != nil {
		t.Fatal(err)
	}
	deadLetter := map[string]string{queue.DeadLetterSourceSubscription: "worker", queue.DeadLetterSourceDeliveryCount: "5", "service": vaultHost}
	publish(t, e, topic, message{data: "operations/looped", attrs: deadLetter})
	env := map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}

	_, _, code, err := runCLI(t, env, "replay", "--yes", "--idle="+replayIdle.String(), "--from-subscription="+sub, "--topic="+topic)
	if want := "is a subscription of --topic " + topic; code != 2 || err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("from a subscription of the target topic: exit %d, %v; want 2 and %q", code, err, want)
	}
	if got := drainCount(t, e, reader); got != 1 {
		t.Errorf("the topic has %d messages after the refused replay, want the 1 published before", got)
	}

	results, resultsSub, err := e.TopicAndSubscription(ctx, project, "results", "results-sub", queuetest.SubscriptionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, e, results,
		message{data: "operations/a", attrs: deadLetter},
		message{data: `{"name":"operations/b","outcome":"cancelled"}`, attrs: map[string]string{"outcome": "cancelled", "service": vaultHost}})
	for _, args := range [][]string{{"--yes"}, {"--dry-run"}} {
		_, _, code, err = runCLI(t, env, append([]string{"replay", "--idle=" + replayIdle.String(), "--from-subscription=" + resultsSub, "--topic=" + topic}, args...)...)
		if want := "has no " + queue.DeadLetterSourceSubscription + " attribute"; code != 2 || err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("replay %v from a subscription with a message that is not a dead letter: exit %d, %v; want 2 and %q", args, code, err, want)
		}
	}
	if got := drainCount(t, e, reader); got != 0 {
		t.Errorf("%d messages published by the refused replays, want none", got)
	}
	if got := drainCount(t, e, resultsSub); got != 2 {
		t.Errorf("%d messages left in the refused subscription, want both, given back at once", got)
	}
}

// drainCount drains sub and returns how many messages it had.
func drainCount(t *testing.T, e *queuetest.Emulator, sub string) int {
	t.Helper()
	msgs, err := e.Drain(context.Background(), sub)
	if err != nil {
		t.Fatal(err)
	}
	return len(msgs)
}

// gatedPublisher stands for a republish slower than anything: its first
// publish waits until the test opens the gate.
type gatedPublisher struct {
	pub      asyncPublisher
	once     sync.Once
	entered  chan struct{}
	opened   chan struct{}
	openOnce sync.Once
}

func (g *gatedPublisher) PublishAsync(ctx context.Context, data []byte, attrs map[string]string) queue.Result {
	g.once.Do(func() { close(g.entered) })
	<-g.opened
	return g.pub.PublishAsync(ctx, data, attrs)
}

func (g *gatedPublisher) open() { g.openOnce.Do(func() { close(g.opened) }) }

// TestReplayHoldsLeasesWhileRepublishing: while replay republishes, every
// message it pulled stays leased to it however long the publish takes: a
// second reader of the dead-letter subscription gets nothing for longer
// than the subscription's ack deadline, and each dead letter is published
// once and acked.
func TestReplayHoldsLeasesWhileRepublishing(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	project := "proj-" + strings.ToLower(uniqueName("replay-lease"))
	const ackDeadline = 10 * time.Second // the shortest Pub/Sub allows
	var msgs []message
	for _, n := range []string{"a", "b", "c"} {
		msgs = append(msgs, message{data: "operations/lease-" + n, attrs: map[string]string{"service": vaultHost}})
	}
	topic, deadSub, reader := deadLetters(t, e, project, ackDeadline, msgs...)

	ctx := context.Background()
	out := &syncBuffer{}
	env := &env{getenv: getenvFrom(map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}), stdin: strings.NewReader(""), stdout: out, stderr: out}
	c := &replayCmd{FromSubscription: deadSub, Topic: topic, Idle: replayIdle, confirmation: confirmation{Yes: true}}
	s, err := c.setup(env)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := c.connect(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	pub := ps.Publisher(queue.PublishConfig{Topic: s.topic})
	defer pub.Stop()
	gate := &gatedPublisher{pub: pub, entered: make(chan struct{}), opened: make(chan struct{})}
	defer gate.open()
	r := &replay{cmd: c, setup: s, ps: ps, e: env, pub: gate}
	done := make(chan error, 1)
	go func() { done <- r.report(r.run(ctx)) }()

	select {
	case <-gate.entered:
	case err := <-done:
		t.Fatalf("replay ended before publishing: %v\n%s", err, out)
	}
	// The dead letters are being republished. A second reader waits past
	// their ack deadline: a lease not extended would hand them to it.
	other, err := queue.NewClient(ctx, queue.ClientConfig{Project: project, EmulatorHost: e.Host})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	pctx, cancel := context.WithTimeout(ctx, ackDeadline+5*time.Second)
	stolen, err := other.Pull(pctx, deadSub, 10)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if len(stolen) > 0 {
		t.Errorf("another reader got %d dead letters while replay was republishing them", len(stolen))
	}
	gate.open()
	if err := <-done; err != nil || !strings.Contains(out.String(), "replayed: 3, failed: 0") {
		t.Errorf("replay: %v\n%s", err, out)
	}
	checkReplayed(t, e, reader, deadSub, msgs)
	if got := drainCount(t, e, deadSub); got != 0 {
		t.Errorf("%d dead letters left after the replay, want none", got)
	}
}
