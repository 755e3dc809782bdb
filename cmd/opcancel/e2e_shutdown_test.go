package main

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"opcancel/lro/lrotest"
	"opcancel/queue"
	"opcancel/queue/queuetest"
)

// TestSIGTERMDuringSlowVerifications: the real binary, SIGTERMed while every
// job waits between verification polls, turns /readyz to 503, nacks the jobs
// within the shutdown timeout and exits 0; a second worker started afterwards
// finishes every one of them.
//
// Its leases are Pub/Sub's shortest, 10 s: the emulator hands nacked
// messages to the departing worker's stream until it ends that stream,
// and they come back when that lease lapses. It holds only 20 messages,
// so the emulator never pushes a backlog ahead of its reads
// (docs/design.md#leases).
func TestSIGTERMDuringSlowVerifications(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	l := e2eLimits
	l.leaseExtension = queue.MinLeaseExtension
	apis := newFakeAPIs(t, lrotest.Options{}, lrotest.Options{}, "")
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, false)
	const n = 20
	var msgs []message
	for i := range n {
		name := fmt.Sprintf("operations/slow-%d", i)
		apis.vault.Set(name, lrotest.Script{DoneAfterPolls: lrotest.Never})
		msgs = append(msgs, message{data: name})
	}
	p := startBinary(t, []string{"PUBSUB_EMULATOR_HOST=" + e.Host}, append([]string{"--auth=none", "--subscription=" + ps.sub,
		"--config=" + apis.config}, l.args()...)...)
	publish(t, e, ps.topic, msgs...)
	// Each job is delivered within a lease and its cancel answered within
	// the request timeout.
	waitFor(t, "every job held in verification", l.lease()+l.requestTimeout, func() bool {
		for i := range n {
			if !apis.vault.Op(fmt.Sprintf("operations/slow-%d", i)).CancelAccepted {
				return false
			}
		}
		return true
	})

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	signalled := time.Now()
	waitFor(t, "/readyz to turn 503", l.exit(), func() bool { return status(p.admin, "/readyz") != 200 })
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("worker exited with %v, want 0\n%s", err, p.logs)
		}
	case <-time.After(l.exit()):
		t.Fatalf("worker still running %v after SIGTERM (shutdown timeout %v)\n%s", l.exit(), l.shutdownTimeout, p.logs)
	}
	t.Logf("exit 0 %v after SIGTERM (shutdown timeout %v)", time.Since(signalled).Round(time.Millisecond), l.shutdownTimeout)
	if got := strings.Count(p.logs.String(), `"outcome":"interrupted"`); got != n {
		t.Errorf("%d interrupted outcomes logged, want %d\n%s", got, n, p.logs)
	}

	// The operations finish now; a second worker picks up every nacked job.
	for i := range n {
		apis.vault.Set(fmt.Sprintf("operations/slow-%d", i), lrotest.Script{})
	}
	admin2, logs2, stop := startWorker(t, e, append([]string{"--subscription=" + ps.sub, "--config=" + apis.config}, l.args()...)...)
	waitFor(t, "the second worker to cancel every job", l.job(), func() bool {
		return value(scrape(t, admin2), "opcancel_jobs_total", map[string]string{"outcome": "cancelled"}) == n
	})
	if err := stop(); err != nil {
		t.Fatalf("second worker: %v\n%s", err, logs2)
	}
	left, err := e.Drain(context.Background(), ps.sub)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("%d messages left in the subscription", len(left))
	}
}

// TestTwoWorkersShareASubscription: two workers on one subscription split
// the work, and no operation is cancelled twice.
func TestTwoWorkersShareASubscription(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	apis := newFakeAPIs(t, lrotest.Options{Latency: 20 * time.Millisecond}, lrotest.Options{}, "")
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, false)
	const n = 300
	var msgs []message
	for i := range n {
		name := fmt.Sprintf("operations/shared-%d", i)
		apis.vault.Set(name, lrotest.Script{})
		msgs = append(msgs, message{data: name})
	}
	// Small flow-control windows so that both workers get messages.
	args := append([]string{"--subscription=" + ps.sub, "--config=" + apis.config, "--max-outstanding=20"}, e2eLimits.args()...)
	a1, _, stop1 := startWorker(t, e, args...)
	a2, _, stop2 := startWorker(t, e, args...)
	// A ready worker's stream may not be open yet, and the emulator pushes
	// what is published to the streams open then, past a client's flow
	// control (docs/design.md#leases): a second stream that opened after
	// the publish once found every message taken.
	ctx, cancel := context.WithTimeout(context.Background(), untilDeadline(t))
	defer cancel()
	if err := e.WaitStreams(ctx, ps.sub, 2); err != nil {
		t.Fatalf("both workers' streaming pulls: %v", err)
	}
	publish(t, e, ps.topic, msgs...)
	count := func(addr string) float64 {
		return value(scrape(t, addr), "opcancel_jobs_total", map[string]string{"outcome": "cancelled"})
	}
	waitProgress(t, "every job", e2eLimits.job(), n, func() int { return int(count(a1) + count(a2)) })
	c1, c2 := count(a1), count(a2)
	if err := stop1(); err != nil {
		t.Fatal(err)
	}
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	if c1+c2 != n || c1 == 0 || c2 == 0 {
		t.Errorf("worker 1 cancelled %v, worker 2 %v; want %d split between both", c1, c2, n)
	}
	for i := range n {
		if st := apis.vault.Op(fmt.Sprintf("operations/shared-%d", i)); st.Cancels != 1 {
			t.Errorf("operations/shared-%d got %d cancels, want 1", i, st.Cancels)
		}
	}
}

// TestMissingOrDeletedSubscription: exit 1 with a clear message.
func TestMissingOrDeletedSubscription(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	apis := newFakeAPIs(t, lrotest.Options{}, lrotest.Options{}, "")
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, false)

	stderr := &syncBuffer{}
	err := run(context.Background(), []string{"worker", "--auth=none", "--listen=127.0.0.1:0", "--config=" + apis.config,
		"--project=" + ps.project, "--subscription=no-such-sub"},
		getenvFrom(map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}), strings.NewReader(""), stderr, stderr)
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "subscription projects/"+ps.project+"/subscriptions/no-such-sub does not exist") {
		t.Errorf("missing subscription: exit %d, %v", exitCode(err), err)
	}

	// Deleted while the worker runs.
	logs := &syncBuffer{}
	errc := make(chan error, 1)
	go func() {
		errc <- run(context.Background(), []string{"worker", "--auth=none", "--listen=127.0.0.1:0", "--config=" + apis.config, "--subscription=" + ps.sub},
			getenvFrom(map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}), strings.NewReader(""), logs, logs)
	}()
	waitFor(t, "readiness", untilDeadline(t), func() bool {
		admin := adminAddr(logs)
		return admin != "" && status(admin, "/readyz") == 200
	})
	if err := e.Client.SubscriptionAdminClient.DeleteSubscription(context.Background(), &pubsubpb.DeleteSubscriptionRequest{Subscription: ps.sub}); err != nil {
		t.Fatal(err)
	}
	// The emulator refuses the stream at its next poll of the subscription,
	// which no setting bounds; the worker must end on its own.
	select {
	case err := <-errc:
		if exitCode(err) != 1 || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("deleted subscription: exit %d, %v", exitCode(err), err)
		}
	case <-time.After(untilDeadline(t)):
		t.Fatalf("the worker kept running on a deleted subscription\n%s", logs)
	}
}
