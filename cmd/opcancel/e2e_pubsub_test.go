package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/pubsub/v2"

	"opcancel/internal/e2etest"
	"opcancel/queue/queuetest"
)

// pubsubResources is a topic, a worker subscription and optionally a results
// topic with a subscription to read the events back, and a batches topic
// for the manifests of submit --wait.
type pubsubResources struct {
	project, topic, sub, results, resultsSub, batches string
}

// uniqueName returns a Pub/Sub-valid name unique within the test binary.
var uniqueName = e2etest.UniqueName

func newPubsub(t *testing.T, e *queuetest.Emulator, o queuetest.SubscriptionOptions, withResults bool) pubsubResources {
	t.Helper()
	ctx := context.Background()
	p := pubsubResources{project: "proj-" + strings.ToLower(uniqueName("e2e"))}
	var err error
	if p.topic, p.sub, err = e.TopicAndSubscription(ctx, p.project, "requests", "worker", o); err != nil {
		t.Fatal(err)
	}
	if withResults {
		if p.results, p.resultsSub, err = e.TopicAndSubscription(ctx, p.project, "results", "results-reader", queuetest.SubscriptionOptions{}); err != nil {
			t.Fatal(err)
		}
		if p.batches, err = e.Topic(ctx, p.project, "batches"); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// message is a request to publish.
type message struct {
	data  string
	attrs map[string]string
}

// publish publishes messages to the topic and waits for the emulator's answers.
func publish(t *testing.T, e *queuetest.Emulator, topic string, msgs ...message) {
	t.Helper()
	p := e.Client.Publisher(topic)
	defer p.Stop()
	var results []*pubsub.PublishResult
	for _, m := range msgs {
		results = append(results, p.Publish(context.Background(), &pubsub.Message{Data: []byte(m.data), Attributes: m.attrs}))
	}
	for _, r := range results {
		if _, err := r.Get(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// eventsByName collects result events by operation name from a results subscription.
type eventsByName struct {
	mu     sync.Mutex
	byName map[string][]map[string]any
	total  int
}

func (ev *eventsByName) pull(t *testing.T, e *queuetest.Emulator, sub string) {
	t.Helper()
	msgs, err := e.Drain(context.Background(), sub)
	if err != nil {
		t.Fatal(err)
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.byName == nil {
		ev.byName = map[string][]map[string]any{}
	}
	for _, m := range msgs {
		var f map[string]any
		if err := json.Unmarshal(m.Message.Data, &f); err != nil {
			t.Fatalf("event %q: %v", m.Message.Data, err)
		}
		name, _ := f["name"].(string)
		ev.byName[name] = append(ev.byName[name], f)
		ev.total++
	}
}

func (ev *eventsByName) names() int {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return len(ev.byName)
}
