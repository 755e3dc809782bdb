package deploy

import (
	"testing"
	"time"

	"opcancel/queue"
	"opcancel/worker"
)

// How long the tests of a running worker, Prometheus or the emulator wait:
// they drive real processes, which no fake clock reaches, so every wait is
// a bound derived from what the test configures, never a guess at the
// machine's speed (docs/testing.md).

// limits are the worker settings a test passes and the bounds of its waits,
// derived from them.
type limits struct {
	retryBudget, verifyTimeout, requestTimeout, shutdownTimeout time.Duration
}

func (l limits) args() []string {
	return []string{"--retry-budget=" + l.retryBudget.String(), "--verify-timeout=" + l.verifyTimeout.String(),
		"--request-timeout=" + l.requestTimeout.String(), "--shutdown-timeout=" + l.shutdownTimeout.String()}
}

// job bounds the time from publication to one delivery's outcome: delivered
// within a lease (queue.DefaultLeaseExtension, the lease a message gets on
// its way and while it is held), retries within the retry
// budget and verification within the verify timeout, each phase ended by a
// request that may take the request timeout, then the result event's
// publication.
func (l limits) job() time.Duration {
	return queue.DefaultLeaseExtension + l.retryBudget + l.verifyTimeout + 2*l.requestTimeout + worker.DefaultConfig().PublishTimeout
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

// waitFor polls cond every 100 ms until it holds, failing once timeout has
// passed.
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
