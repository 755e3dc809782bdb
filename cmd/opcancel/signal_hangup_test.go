//go:build unix

package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"opcancel/queue/queuetest"
)

// TestSubmitWaitStopsOnAHangUp: a dropped SSH session (SIGHUP) stops
// submit --wait as Ctrl-C does: exit 1, and its temporary subscriptions
// deleted, not left for a day.
func TestSubmitWaitStopsOnAHangUp(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, true)
	cmd := exec.Command(binary(t), "submit", "--wait", "--topic="+ps.topic, "--results-topic="+ps.results, "--batches-topic="+ps.batches,
		"--batch=hung-up", "operations/no-worker")
	cmd.Env = append(os.Environ(), "PUBSUB_EMULATOR_HOST="+e.Host)
	var out syncBuffer
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// No worker: once published, it waits until the session drops.
	waitFor(t, "the message published", untilPublished, func() bool { return strings.Contains(out.String(), "published: 1") })
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("hung up: exit %d (%v), want 1\n%s", code, err, errb.String())
	}
	if subs := waitSubscriptions(t, e, ps.project); len(subs) != 0 {
		t.Errorf("temporary subscriptions left after the hang-up: %v", subs)
	}
}
