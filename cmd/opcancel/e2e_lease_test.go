package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"opcancel/lro/lrotest"
	"opcancel/queue"
	"opcancel/queue/queuetest"
)

// TestLeaseOutlivesAPacedWait: a job whose poll waits its service's turn
// for longer than a lease extended for a fixed maximum could last (the
// worker once extended leases for the retry budget, the verify timeout, the
// shutdown timeout, twice the request timeout and a minute, in all) keeps
// its lease while it waits: its message is delivered once and ends once,
// acked. See docs/design.md#leases.
//
// Its leases are Pub/Sub's shortest, 10 s: the wait then spans some nine
// leases, each renewed while the job waits, and the former maximum would
// have let the last one lapse 10 s after it, not a minute.
func TestLeaseOutlivesAPacedWait(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	// No retries: the one cancel and the one get must each succeed, within
	// e2eLimits' request timeout (a second, on a busy machine, once ended
	// the job retry_exhausted before its paced poll).
	l := limits{retryBudget: 0, verifyTimeout: time.Second, requestTimeout: e2eLimits.requestTimeout, shutdownTimeout: time.Second,
		leaseExtension: queue.MinLeaseExtension}
	formerMaximum := l.retryBudget + l.verifyTimeout + l.shutdownTimeout + 2*l.requestTimeout + time.Minute
	// The cancel leaves at once; the poll a second later waits for the
	// next slot of the pace, 1/rate after the cancel: past the former
	// maximum, and past the lease the client held when it stopped
	// extending, by a margin.
	hold := formerMaximum + l.lease() + 15*time.Second
	apis := newFakeAPIs(t, lrotest.Options{}, lrotest.Options{}, fmt.Sprintf("rate: %g", 1/hold.Seconds()))
	apis.vault.Set("operations/paced", lrotest.Script{})
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, false)
	admin, logs, stop := startWorker(t, e, append([]string{"--subscription=" + ps.sub, "--config=" + apis.config}, l.args()...)...)
	start := time.Now()
	publish(t, e, ps.topic, message{data: "operations/paced"})
	outcomes := func() float64 { return value(scrape(t, admin), "opcancel_jobs_total", nil) }
	waitFor(t, "the paced job's outcome", hold+l.job(), func() bool { return outcomes() >= 1 })
	held := time.Since(start)
	// A redelivery during the wait would follow the first copy and end
	// with it, at the same moment.
	got := outcomes()
	if err := stop(); err != nil {
		t.Fatalf("worker: %v\n%s", err, logs)
	}
	if held < hold {
		t.Fatalf("the job ended after %v, before its paced poll was due at %v: the test shows nothing\n%s", held, hold, logs)
	}
	if got != 1 || strings.Contains(logs.String(), "a redelivery of a message in flight") {
		t.Errorf("%v outcomes for one message held %v, want 1 and no redelivery: its lease lapsed while it waited\n%s", got, held, logs)
	}
	if c := apis.vault.Op("operations/paced"); c.Cancels != 1 || c.Gets != 1 {
		t.Errorf("the API saw %d cancels and %d gets, want 1 and 1", c.Cancels, c.Gets)
	}
}
