package main

import (
	"testing"

	"opcancel/lro/lrotest"
	"opcancel/queue/queuetest"
)

// TestARepeatSendsNoRequest: an operation found done is never asked again.
// A second message for it, end to end through the emulator, is settled
// from the worker's memory: acked as cancelled, counted in
// opcancel_jobs_from_memory_total, its result event marked fromMemory, and
// the API sees no request for it (docs/design.md#the-memory-of-outcomes).
func TestARepeatSendsNoRequest(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	l := e2eLimits
	apis := newFakeAPIs(t, lrotest.Options{}, lrotest.Options{}, "")
	const name = "operations/again"
	apis.vault.Set(name, lrotest.Script{})
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, true)
	admin, logs, stop := startWorker(t, e, append([]string{"--subscription=" + ps.sub, "--config=" + apis.config, "--results-topic=" + ps.results}, l.args()...)...)
	outcomes := func() float64 { return value(scrape(t, admin), "opcancel_jobs_total", nil) }
	var ev eventsByName
	// events pulls the result events and returns those of name that were
	// and were not settled from memory. Pub/Sub orders neither the events
	// nor their redeliveries, so they are told apart by fromMemory.
	events := func() (asked, remembered []map[string]any) {
		ev.pull(t, e, ps.resultsSub)
		ev.mu.Lock()
		defer ev.mu.Unlock()
		for _, f := range ev.byName[name] {
			if f["fromMemory"] == true {
				remembered = append(remembered, f)
			} else {
				asked = append(asked, f)
			}
		}
		return asked, remembered
	}
	publish(t, e, ps.topic, message{data: name})
	waitFor(t, "the first outcome and its event", l.job(), func() bool {
		asked, _ := events()
		return outcomes() >= 1 && len(asked) >= 1
	})
	first := apis.vault.Op(name)
	publish(t, e, ps.topic, message{data: name})
	waitFor(t, "the repeat's outcome and its event", l.job(), func() bool {
		_, remembered := events()
		return outcomes() >= 2 && len(remembered) >= 1
	})
	m := scrape(t, admin)
	if err := stop(); err != nil {
		t.Fatalf("worker: %v\n%s", err, logs)
	}
	if got := apis.vault.Op(name); got.Cancels != first.Cancels || got.Gets != first.Gets {
		t.Errorf("the API saw %d cancels and %d gets after the repeat, want %d and %d: no request for it",
			got.Cancels, got.Gets, first.Cancels, first.Gets)
	}
	if n := value(m, "opcancel_jobs_from_memory_total", map[string]string{"service": vaultHost}); n != 1 {
		t.Errorf("opcancel_jobs_from_memory_total = %v, want 1", n)
	}
	if n := value(m, "opcancel_jobs_total", map[string]string{"service": vaultHost, "outcome": "cancelled"}); n != 2 {
		t.Errorf("cancelled = %v, want 2: the repeat counts as an outcome", n)
	}
	asked, remembered := events()
	if len(asked) < 1 || asked[0]["outcome"] != "cancelled" || len(remembered) < 1 || remembered[0]["outcome"] != "cancelled" {
		t.Errorf("events not from memory %v, from memory %v; want one of each, cancelled", asked, remembered)
	}
}
