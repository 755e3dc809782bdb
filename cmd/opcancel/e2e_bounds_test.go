package main

import (
	"testing"
	"time"

	"opcancel/internal/e2etest"
	"opcancel/queue"
)

// How long the end-to-end tests wait, derived from what each configures
// (e2etest.Limits): they drive real processes on the real emulator, which
// no fake clock reaches, so every wait is a bound the code under test must
// keep, never a guess at the machine's speed.

// limits are the worker settings a test passes and the bounds of its waits,
// derived from them: e2etest.Limits under the names this package's tests use.
type limits struct {
	retryBudget, verifyTimeout, requestTimeout, shutdownTimeout time.Duration
	// leaseExtension is --lease-extension; zero leaves the default, lease.
	leaseExtension time.Duration
}

func (l limits) bounds() e2etest.Limits {
	return e2etest.Limits{RetryBudget: l.retryBudget, VerifyTimeout: l.verifyTimeout, RequestTimeout: l.requestTimeout,
		ShutdownTimeout: l.shutdownTimeout, LeaseExtension: l.leaseExtension}
}

// args are the worker's flags for l.
func (l limits) args() []string { return l.bounds().Args() }

// lease bounds how long a delivery lost on its way, or held by a worker
// that died, stays away: --lease-extension (see TestRedeliveryAfterSIGKILL).
func (l limits) lease() time.Duration { return l.bounds().Lease() }

// job bounds the time from publication to one delivery's outcome.
func (l limits) job() time.Duration { return l.bounds().Job() }

// exit bounds a worker's exit after SIGTERM.
func (l limits) exit() time.Duration { return l.bounds().Exit() }

// e2eLimits suit fake APIs that answer at once: short enough that a failing
// wait ends soon, long enough that no answer comes near them.
var e2eLimits = limits{retryBudget: 2 * time.Second, verifyTimeout: 20 * time.Second, requestTimeout: 5 * time.Second, shutdownTimeout: 3 * time.Second}

// lease is the lease of a worker started without --lease-extension.
const lease = queue.DefaultLeaseExtension

var (
	// untilDeadline is the wait for what has no bound of its own (a
	// process starting up): nine tenths of what is left of go test's
	// -timeout.
	untilDeadline = e2etest.UntilDeadline
	// waitFor polls a condition every 100 ms until it holds, failing once
	// its timeout has passed.
	waitFor = e2etest.WaitFor
	// waitProgress waits until a count reaches its target, failing only
	// when it stalls for longer than a bound.
	waitProgress = e2etest.WaitProgress
)

// skipIfShort skips a test that runs for minutes under go test -short, the
// quick run while developing (docs/testing.md#running-the-tests).
func skipIfShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs for minutes; skipped with -short")
	}
}
