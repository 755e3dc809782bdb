package main

import (
	"fmt"
	"testing"

	"opcancel/lro/lrotest"
	"opcancel/queue/queuetest"
)

// Floods wait their turn (docs/design.md#floods-wait-their-turn): on one
// subscription, the default --max-outstanding holds a flood of thousands
// with room for the rest; partitioned, a flood larger than any window waits
// in its own subscription.

// floodNames returns n names of the flooded service (Vault) and of the
// other (Android Management), as messages with their service attribute, as
// opcancel submit publishes them.
func floodNames(prefix, host string, n int) []message {
	msgs := make([]message, n)
	for i := range msgs {
		name := fmt.Sprintf("operations/%s-%d", prefix, i)
		if host == amapiHost {
			name = fmt.Sprintf("%s%s-%d", devOps, prefix, i)
		}
		msgs[i] = message{data: name, attrs: map[string]string{"service": host}}
	}
	return msgs
}

// TestAFloodOfThousandsDoesNotHoldUpAnotherService: with the default
// --max-outstanding, 2,000 names for a service at rate: 10 (a job takes
// two of its requests: 200 s in all), then 10 names of another service,
// on one subscription. The 10 end while the flood has most of its names
// still to go: the worker holds the whole flood and the 10 beside it.
func TestAFloodOfThousandsDoesNotHoldUpAnotherService(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	l := e2eLimits
	const flood, others = 2000, 10
	apis := newFakeAPIs(t, lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{} }},
		lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{} }}, "rate: 10")
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, false)
	admin, logs, stop := startWorker(t, e, append([]string{"--subscription=" + ps.sub, "--config=" + apis.config}, l.args()...)...)
	publish(t, e, ps.topic, floodNames("flood", vaultHost, flood)...)
	publish(t, e, ps.topic, floodNames("other", amapiHost, others)...)
	jobs := func(host string) float64 {
		return value(scrape(t, admin), "opcancel_jobs_total", map[string]string{"service": host, "outcome": "cancelled"})
	}
	waitFor(t, "the other service's outcomes", l.job(), func() bool { return jobs(amapiHost) >= others })
	done := jobs(vaultHost)
	if err := stop(); err != nil {
		t.Fatalf("worker: %v\n%s", err, logs)
	}
	if done >= flood/2 {
		t.Errorf("the other service's %d names ended after %v of the flood's %d: they waited for the flood", others, done, flood)
	}
}

// TestPartitionsEachHaveTheirWindow: one worker reads two subscriptions,
// as it reads the partitions deploy/pubsub/provision.sh creates (the
// emulator does not apply their filters, so each service's names are
// published to a topic of their own). 100 names for a service at rate: 2
// fill its subscription's window (10, half of --max-outstanding 20) and
// wait in Pub/Sub beyond it; the other subscription's names are received
// and end meanwhile. The worker is ready once it receives from both.
func TestPartitionsEachHaveTheirWindow(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	l := e2eLimits
	const flood, others = 100, 10
	apis := newFakeAPIs(t, lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{} }},
		lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{} }}, "rate: 2")
	a := newPubsub(t, e, queuetest.SubscriptionOptions{}, false)
	b := newPubsub(t, e, queuetest.SubscriptionOptions{}, false)
	admin, logs, stop := startWorker(t, e, append([]string{"--subscription=" + a.sub, "--subscription=" + b.sub,
		"--max-outstanding=20", "--config=" + apis.config}, l.args()...)...)
	publish(t, e, a.topic, floodNames("flood", vaultHost, flood)...)
	publish(t, e, b.topic, floodNames("other", amapiHost, others)...)
	cancelled := func(host string) float64 {
		return value(scrape(t, admin), "opcancel_jobs_total", map[string]string{"service": host, "outcome": "cancelled"})
	}
	waitFor(t, "the other partition's outcomes", l.job(), func() bool { return cancelled(amapiHost) >= others })
	m := scrape(t, admin)
	done := value(m, "opcancel_jobs_total", map[string]string{"service": vaultHost, "outcome": "cancelled"})
	held := value(m, "opcancel_jobs_in_flight", nil)
	if err := stop(); err != nil {
		t.Fatalf("worker: %v\n%s", err, logs)
	}
	if done >= flood-10 {
		t.Errorf("the other partition's names ended after %v of the flood's %d: they waited for the flood", done, flood)
	}
	if held > 10 {
		t.Errorf("%v jobs held once the other partition's ended, want at most the flood's window, 10", held)
	}
}
