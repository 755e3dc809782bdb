package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"opcancel/lro/lrotest"
	"opcancel/queue"
	"opcancel/queue/queuetest"
)

// chaosSize is the size of TestChaos. The default suite runs a small chaos
// run: the same faults and kills at random points, over operations enough
// to keep 32 requests in flight; OPCANCEL_SOAK=1 runs the soak, the same
// test with 2,000 operations and three SIGKILLs (.ci/run runs it as a step
// of its own).
func chaosSize() (ops, kills int) {
	if os.Getenv("OPCANCEL_SOAK") != "" {
		return 2000, 3
	}
	return 100, 2
}

// chaosSeed seeds the faults and the moments of the kills: OPCANCEL_CHAOS_SEED
// when set, to replay a failure, else a random seed, logged. A replay draws
// the same faults and kill points; which request meets which fault still
// depends on scheduling.
func chaosSeed(t *testing.T) uint64 {
	t.Helper()
	seed := rand.Uint64()
	if s := os.Getenv("OPCANCEL_CHAOS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("OPCANCEL_CHAOS_SEED=%q: %v", s, err)
		}
	}
	t.Logf("chaos seed %d (replay with OPCANCEL_CHAOS_SEED=%d)", seed, seed)
	return seed
}

// chaosFault fails a quarter of the requests in every way the API can:
// 20 % UNAVAILABLE with RetryInfo, 5 % RESOURCE_EXHAUSTED with Retry-After,
// 2 % connection resets and 1 % hangs past the request timeout.
func chaosFault(seed uint64) func(*http.Request) *lrotest.Answer {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, 1))
	return func(*http.Request) *lrotest.Answer {
		mu.Lock()
		r := rng.Float64()
		mu.Unlock()
		switch {
		case r < 0.20:
			a := lrotest.Unavailable(200 * time.Millisecond)
			return &a
		case r < 0.25:
			a := lrotest.Exhausted(500*time.Millisecond, "1")
			return &a
		case r < 0.27:
			return &lrotest.Answer{Reset: true}
		case r < 0.28:
			return &lrotest.Answer{Hang: true}
		}
		return nil
	}
}

// chaosSlow makes every tenth operation slow to cancel.
func chaosSlow(name string) *lrotest.Script {
	var i int
	fmt.Sscanf(name, "operations/chaos-%d", &i)
	if i%10 == 0 {
		return &lrotest.Script{DoneAfterPolls: 3, Latency: 300 * time.Millisecond}
	}
	return &lrotest.Script{}
}

// TestChaos: operations against an API that fails a quarter of the time in
// every way it can, while the worker is SIGKILLed at random moments and
// restarted. Every operation receives a cancel and every message reaches an
// acked outcome.
func TestChaos(t *testing.T) {
	skipIfShort(t)
	t.Parallel()
	e := emulator(t)
	n, kills := chaosSize()
	seed := chaosSeed(t)
	// Retries outlast the faults; a hang ends at the request timeout.
	l := limits{retryBudget: 60 * time.Second, verifyTimeout: 30 * time.Second, requestTimeout: time.Second, shutdownTimeout: 3 * time.Second}
	// A killed worker's messages come back when their leases lapse. Leases
	// can be Pub/Sub's shortest, 10 s, when the worker may hold every
	// message at once and so reads each as the emulator pushes it; the
	// soak's backlog outnumbers what it holds, and a backlog pushed ahead
	// of the reads needs the default lease, or it is leased again unread
	// and comes back (docs/design.md#leases).
	const maxOutstanding = 300
	if n <= maxOutstanding {
		l.leaseExtension = queue.MinLeaseExtension
	}
	apis := newFakeAPIs(t, lrotest.Options{Fault: chaosFault(seed), Default: chaosSlow, DontRecord: true}, lrotest.Options{}, "")
	ps := chaosPubsub(t, e)
	var msgs []message
	for i := range n {
		msgs = append(msgs, message{data: fmt.Sprintf("operations/chaos-%d", i)})
	}
	env := []string{"PUBSUB_EMULATOR_HOST=" + e.Host}
	args := append([]string{"--auth=none", "--subscription=" + ps.sub, "--results-topic=" + ps.results, "--config=" + apis.config,
		"--concurrency=32", "--max-outstanding=" + strconv.Itoa(maxOutstanding)}, l.args()...)

	var ev eventsByName
	outcomes := func() int { ev.pull(t, e, ps.resultsSub); return ev.names() }
	p := startBinary(t, env, args...)
	publish(t, e, ps.topic, msgs...)
	killAt := rand.New(rand.NewPCG(seed, 2))
	for k := range kills {
		// A random moment of a real run: within the k-th of kills+1 equal
		// shares of the outcomes, so that every worker has work left.
		at := (k*n + killAt.IntN(n)) / (kills + 1)
		waitProgress(t, fmt.Sprintf("%d outcomes before SIGKILL %d", at, k+1), l.job(), at, outcomes)
		t.Logf("SIGKILL %d after %d operations had an outcome", k+1, ev.names())
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.done <- <-p.done
		// What the emulator hands the killed worker's stream before ending it
		// stays leased to it; the next worker starts once it has ended.
		waitFor(t, "the emulator to end the killed worker's stream", untilDeadline(t), func() bool { return e.Streams(ps.sub) == 0 })
		p = startBinary(t, env, args...)
	}
	waitProgress(t, "an acked outcome for every operation", l.job(), n, outcomes)
	checkChaos(t, apis.vault, &ev, n)

	// Nothing is left unacked in the worker's subscription: redeliveries of
	// operations that already have an outcome end within a job's bound.
	waitFor(t, "the worker to hold nothing", l.job(), func() bool {
		return value(scrape(t, p.admin), "opcancel_jobs_in_flight", nil) == 0
	})
	left, err := e.Drain(context.Background(), ps.sub)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("%d messages left unacked", len(left))
	}
}

// chaosPubsub is a worker subscription with a dead-letter policy (so that
// deliveries carry their attempt) and a results topic.
func chaosPubsub(t *testing.T, e *queuetest.Emulator) pubsubResources {
	t.Helper()
	ctx := context.Background()
	ps := pubsubResources{project: "chaos-" + uniqueName("p")}
	dead, err := e.Topic(ctx, ps.project, "dead-letters")
	if err != nil {
		t.Fatal(err)
	}
	if ps.topic, ps.sub, err = e.TopicAndSubscription(ctx, ps.project, "requests", "worker",
		queuetest.SubscriptionOptions{AckDeadline: 10 * time.Second, DeadLetterTopic: dead, MaxDeliveries: 100}); err != nil {
		t.Fatal(err)
	}
	if ps.results, ps.resultsSub, err = e.TopicAndSubscription(ctx, ps.project, "results", "results-reader", queuetest.SubscriptionOptions{}); err != nil {
		t.Fatal(err)
	}
	return ps
}

// checkChaos checks that every operation received a cancel and has only
// acked outcomes, and reports what the faults and kills cost.
func checkChaos(t *testing.T, vault *lrotest.Server, ev *eventsByName, n int) {
	t.Helper()
	acked := map[string]bool{"cancelled": true, "completed": true, "failed": true, "done_no_result": true, "unverified": true,
		"not_cancellable": true, "unimplemented": true, "not_found": true, "denied": true, "rejected": true, "invalid": true, "duplicate": true}
	cancelRequests, moreThanOne, maxAttempt := 0, 0, 0.0
	for i := range n {
		name := fmt.Sprintf("operations/chaos-%d", i)
		st := vault.Op(name)
		if st.Cancels == 0 {
			t.Errorf("%s never received a cancel", name)
		}
		if st.Cancels > 1 {
			moreThanOne++
		}
		cancelRequests += st.Cancels
		for _, f := range ev.byName[name] {
			if !acked[f["outcome"].(string)] {
				t.Errorf("%s: event with outcome %v", name, f["outcome"])
			}
			if a, ok := f["deliveryAttempt"].(float64); ok {
				maxAttempt = max(maxAttempt, a)
			}
		}
	}
	st := vault.Stats()
	t.Logf("chaos: %d operations; %d cancel requests (%d operations got more than one, from retries and redeliveries); "+
		"%d result events for %d operations (%d outcomes recorded twice after a kill before the ack); max delivery attempt %v; "+
		"API requests %d, faults injected %d",
		n, cancelRequests, moreThanOne, ev.total, ev.names(), ev.total-ev.names(), maxAttempt, st.Cancels+st.Gets, st.Faults)
}

// TestRedeliveryAfterSIGKILL: messages held by a SIGKILLed worker come back
// at most --lease-extension after the kill, on an exactly-once subscription
// too, where the client library would otherwise lease each for at least
// 60 s. The worker's leases decide it, not the subscription's ack deadline
// (ten minutes here): the client leases every message for the extension
// when it reads it and renews that 5 s before it runs out, so a message
// comes back 5 s to one extension after the kill. It runs with 20 s leases
// to be short; the default is checked at unit level
// (queue.TestEveryLeaseIsTheLeaseExtension).
func TestRedeliveryAfterSIGKILL(t *testing.T) {
	t.Parallel()
	const extension = 20 * time.Second
	for _, exactlyOnce := range []bool{false, true} {
		t.Run(fmt.Sprintf("exactly once %v", exactlyOnce), func(t *testing.T) {
			t.Parallel()
			e := emulator(t)
			l := e2eLimits
			l.verifyTimeout = 10 * time.Minute // hold every job until the kill
			apis := newFakeAPIs(t, lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{DoneAfterPolls: lrotest.Never} }}, lrotest.Options{}, "")
			// An ack deadline far above any lease the worker grants, to
			// show that it plays no part.
			ps := newPubsub(t, e, queuetest.SubscriptionOptions{AckDeadline: 10 * time.Minute, ExactlyOnce: exactlyOnce}, false)
			const n = 20
			var msgs []message
			for i := range n {
				msgs = append(msgs, message{data: fmt.Sprintf("operations/held-%d", i)})
			}
			p := startBinary(t, []string{"PUBSUB_EMULATOR_HOST=" + e.Host}, append([]string{"--auth=none", "--subscription=" + ps.sub,
				"--config=" + apis.config, "--lease-extension=" + extension.String()}, l.args()...)...)
			publish(t, e, ps.topic, msgs...)
			waitFor(t, "every message held", lease+l.requestTimeout, func() bool {
				return value(scrape(t, p.admin), "opcancel_jobs_in_flight", nil) == n
			})
			p.cmd.Process.Signal(syscall.SIGKILL)
			killed := time.Now()
			p.done <- <-p.done

			// A quarter of a lease more than the bound for the pulls
			// that notice the messages back; wait for twice as long to
			// tell how late a late one is.
			var back []time.Duration
			waitFor(t, "the killed worker's messages", 2*extension, func() bool {
				got, err := e.Pull(context.Background(), ps.sub, n)
				if err != nil {
					t.Fatal(err)
				}
				for range got {
					back = append(back, time.Since(killed))
				}
				return len(back) == n
			})
			t.Logf("%d messages held by a SIGKILLed worker came back %v to %v after the kill (--lease-extension %v)",
				n, back[0].Round(10*time.Millisecond), back[n-1].Round(10*time.Millisecond), extension)
			if last := back[n-1]; last > extension+extension/4 {
				t.Errorf("the last message came back %v after the kill, want within the lease extension, %v", last.Round(10*time.Millisecond), extension)
			}
		})
	}
}
