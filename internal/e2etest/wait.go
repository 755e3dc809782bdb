package e2etest

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

// Limits are the worker settings a test passes (Args) and the bounds of its
// waits, derived from them.
type Limits struct {
	RetryBudget, VerifyTimeout, RequestTimeout, ShutdownTimeout time.Duration
	// LeaseExtension is --lease-extension; zero leaves the worker's
	// default, queue.DefaultLeaseExtension.
	LeaseExtension time.Duration
}

// Args are the worker's flags for l.
func (l Limits) Args() []string {
	args := []string{"--retry-budget=" + l.RetryBudget.String(), "--verify-timeout=" + l.VerifyTimeout.String(),
		"--request-timeout=" + l.RequestTimeout.String(), "--shutdown-timeout=" + l.ShutdownTimeout.String()}
	if l.LeaseExtension != 0 {
		args = append(args, "--lease-extension="+l.LeaseExtension.String())
	}
	return args
}

// Lease bounds how long a delivery lost on its way, or held by a worker
// that died, stays away: every lease the worker asks for is this long
// (docs/design.md#leases).
func (l Limits) Lease() time.Duration {
	if l.LeaseExtension == 0 {
		return queue.DefaultLeaseExtension
	}
	return l.LeaseExtension
}

// Job bounds the time from publication to one delivery's outcome: delivered
// within a lease, retries within the retry budget and verification within
// the verify timeout, each phase ended by a request that may take the
// request timeout, then the result event's publication.
func (l Limits) Job() time.Duration {
	return l.Lease() + l.RetryBudget + l.VerifyTimeout + 2*l.RequestTimeout + worker.DefaultConfig().PublishTimeout
}

// Exit bounds a worker's exit after SIGTERM: the drain ends at the shutdown
// timeout, then requests still in flight are cancelled (each bounded by the
// request timeout) and the last nacks and events are flushed.
func (l Limits) Exit() time.Duration {
	return l.ShutdownTimeout + l.RequestTimeout + worker.DefaultConfig().PublishTimeout
}

// UntilDeadline is the wait for what has no bound of its own (a process
// starting up): nine tenths of what is left of go test's -timeout, leaving
// the rest to report the failure; forever without a timeout.
func UntilDeadline(t testing.TB) time.Duration {
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			return time.Until(deadline) * 9 / 10
		}
	}
	return 1<<63 - 1
}

// WaitFor polls cond every 100 ms until it holds, failing once timeout has
// passed.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
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

// WaitProgress waits until count reaches want, failing only when it stalls
// for longer than stall: a batch takes as long as the machine needs, but no
// delivery may take longer than one job's bound.
func WaitProgress(t testing.TB, what string, stall time.Duration, want int, count func() int) {
	t.Helper()
	last, lastAt := -1, time.Now()
	WaitFor(t, what, UntilDeadline(t), func() bool {
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
