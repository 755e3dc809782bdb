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
	events := func() int {
		ev.pull(t, e, ps.resultsSub)
		ev.mu.Lock()
		defer ev.mu.Unlock()
		return len(ev.byName[name])
	}
	publish(t, e, ps.topic, message{data: name})
	waitFor(t, "the first outcome and its event", l.job(), func() bool { return outcomes() >= 1 && events() >= 1 })
	first := apis.vault.Op(name)
	publish(t, e, ps.topic, message{data: name})
	waitFor(t, "the repeat's outcome and its event", l.job(), func() bool { return outcomes() >= 2 && events() >= 2 })
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
	got := ev.byName[name]
	if got[0]["fromMemory"] != false || got[1]["fromMemory"] != true || got[1]["outcome"] != "cancelled" {
		t.Errorf("events = %v, want the first not from memory and the second cancelled from memory", got)
	}
}
