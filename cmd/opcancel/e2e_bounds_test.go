package main

import (
	"testing"
	"time"

	"opcancel/queue"
	"opcancel/worker"
)

// How long the end-to-end tests wait, derived from what each configures:
// they drive real processes on the real emulator, which no fake clock
// reaches, so every wait is a bound the code under test must keep, never a
// guess at the machine's speed.

// limits are the worker settings a test passes and the bounds of its waits,
// derived from them.
type limits struct {
	retryBudget, verifyTimeout, requestTimeout, shutdownTimeout time.Duration
}

// e2eLimits suit fake APIs that answer at once: short enough that a failing
// wait ends soon, long enough that no answer comes near them.
var e2eLimits = limits{retryBudget: 2 * time.Second, verifyTimeout: 20 * time.Second, requestTimeout: 5 * time.Second, shutdownTimeout: 3 * time.Second}

func (l limits) args() []string {
	return []string{"--retry-budget=" + l.retryBudget.String(), "--verify-timeout=" + l.verifyTimeout.String(),
		"--request-timeout=" + l.requestTimeout.String(), "--shutdown-timeout=" + l.shutdownTimeout.String()}
}

// lease bounds how long a delivery lost in flight, or held by a worker that
// died, stays away: the queue extends leases by at most this much at a time
// (see TestRedeliveryAfterSIGKILL).
const lease = queue.DefaultLeaseExtension

// job bounds the time from publication to one delivery's outcome: delivered
// within a lease, retries within the retry budget and verification within the
// verify timeout, each phase ended by a request that may take the request
// timeout, then the result event's publication.
func (l limits) job() time.Duration {
	return lease + l.retryBudget + l.verifyTimeout + 2*l.requestTimeout + worker.DefaultConfig().PublishTimeout
}

// exit bounds a worker's exit after SIGTERM: the drain ends at the shutdown
// timeout, then requests still in flight are cancelled (each bounded by the
// request timeout) and the last nacks and events are flushed.
func (l limits) exit() time.Duration {
	return l.shutdownTimeout + l.requestTimeout + worker.DefaultConfig().PublishTimeout
}

// untilDeadline is the wait for what has no bound of its own (a process
// starting up): nine tenths of what is left of go test's -timeout, leaving
// the rest to report the failure; forever without a timeout.
func untilDeadline(t *testing.T) time.Duration {
	if d, ok := t.Deadline(); ok {
		return time.Until(d) * 9 / 10
	}
	return 1<<63 - 1
}

// skipIfShort skips a test that runs for minutes under go test -short, the
// quick run while developing (docs/testing.md#running-the-tests).
func skipIfShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs for minutes; skipped with -short")
	}
}

// waitFor polls cond every 100 ms until it holds, failing once timeout has
// passed. End-to-end tests drive real processes, which no fake clock reaches.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// waitProgress waits until count reaches want, failing only when it stalls
// for longer than stall: a batch takes as long as the machine needs, but no
// delivery may take longer than one job's bound.
func waitProgress(t *testing.T, what string, stall time.Duration, want int, count func() int) {
	t.Helper()
	last, lastAt := -1, time.Now()
	waitFor(t, what, untilDeadline(t), func() bool {
		n := count()
		if n != last {
			last, lastAt = n, time.Now()
		}
		if n < want && time.Since(lastAt) > stall {
			t.Fatalf("%s: stuck at %d of %d for %v", what, n, want, stall)
		}
		return n >= want
	})
}
