package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/backoff"

	"opcancel/lro/lrotest"
	"opcancel/queue"
	"opcancel/queue/queuetest"
)

// tcpProxy forwards a loopback port to a target; cut drops every connection
// and turns new ones away (accepted and closed at once) until restore. Its
// listener stays open throughout, so its port is never given up.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

func (p *tcpProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// reconnect bounds how long a client takes to stream again once Pub/Sub is
// back: gRPC waits at most its longest reconnect backoff (with jitter)
// before dialling again, and the client library at most 60 s between
// streaming pull attempts (its StreamingPull retry settings).
var reconnect = time.Duration(float64(backoff.DefaultConfig.MaxDelay)*(1+backoff.DefaultConfig.Jitter)) + 60*time.Second

// TestPubSubUnreachable: with Pub/Sub cut off for at least 10 s, /readyz turns 503,
// the worker stays up, and it resumes receiving once Pub/Sub is back,
// including the messages published during the outage.
func TestPubSubUnreachable(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	const outage = 10 * time.Second
	l := e2eLimits
	apis := newFakeAPIs(t, lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{} }}, lrotest.Options{}, "")
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, false)
	proxy := newTCPProxy(t, e.Host)
	p := startBinary(t, []string{"PUBSUB_EMULATOR_HOST=" + proxy.addr()}, append([]string{"--auth=none", "--subscription=" + ps.sub, "--config=" + apis.config}, l.args()...)...)
	cancelled := func() float64 {
		return value(scrape(t, p.admin), "opcancel_jobs_total", map[string]string{"outcome": "cancelled"})
	}
	publish(t, e, ps.topic, message{data: "operations/before-1"}, message{data: "operations/before-2"})
	waitFor(t, "the first two outcomes", l.job(), func() bool { return cancelled() == 2 })

	proxy.cut()
	cutAt := time.Now()
	// The cut closes the worker's connections at once. Nothing the test
	// configures bounds what follows (the worker seeing its stream end; the
	// emulator ending the stream that queuetest's proxy half-closes on the
	// emulator's side, at its next poll of it: see
	// TestEmulatorEndsTheStreamsOfDepartedClients), so these waits are the
	// test's deadline, and the outage lasts until both have happened and at
	// least outage has passed.
	waitFor(t, "/readyz to turn 503 during the outage", untilDeadline(t), func() bool { return status(p.admin, "/readyz") == 503 })
	t.Logf("/readyz 503 %v after the cut", time.Since(cutAt).Round(time.Millisecond))
	// Published once the emulator has ended the cut-off stream, which would
	// otherwise take them and keep them leased after the outage.
	ctx, cancel := context.WithTimeout(context.Background(), untilDeadline(t))
	defer cancel()
	if err := e.WaitStreams(ctx, ps.sub, 0); err != nil {
		t.Fatalf("the emulator to end the cut-off stream: %v", err)
	}
	t.Logf("the cut-off stream ended %v after the cut", time.Since(cutAt).Round(time.Millisecond))
	publish(t, e, ps.topic, message{data: "operations/during-1"}, message{data: "operations/during-2"})
	for {
		if code := status(p.admin, "/healthz"); code != 200 {
			t.Fatalf("/healthz = %d while Pub/Sub is unreachable", code)
		}
		if time.Since(cutAt) >= outage {
			break
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("worker exited while Pub/Sub was unreachable: %v\n%s", err, p.logs)
		case <-time.After(500 * time.Millisecond):
		}
	}
	proxy.restore()
	restoredAt := time.Now()
	waitFor(t, "/readyz to recover", reconnect, func() bool { return status(p.admin, "/readyz") == 200 })
	t.Logf("/readyz 200 again %v after Pub/Sub came back", time.Since(restoredAt).Round(time.Millisecond))
	waitFor(t, "the messages published during the outage", l.job(), func() bool { return cancelled() == 4 })
}

// TestAPIDownForAMinute: every request fails with Google's 503 UNAVAILABLE
// for a minute, and until every job has ended retry_exhausted (nacked) at
// least once; none is acked early, and all finish after recovery.
func TestAPIDownForAMinute(t *testing.T) {
	skipIfShort(t)
	t.Parallel()
	e := emulator(t)
	l := e2eLimits
	l.retryBudget = 10 * time.Second
	// The outage lasts a minute, and longer until every job has been
	// nacked at least once while the API is down: each is delivered within
	// a lease (20 s here) and spends its retry budget, but a job's wait for
	// its turn behind the service's throttle, which the outage brings down
	// to its floor, spends no budget and has no bound of its own.
	const extension = 20 * time.Second
	downFor := max(time.Minute, extension+l.retryBudget+l.requestTimeout+5*time.Second)
	var down atomic.Bool
	down.Store(true)
	apis := newFakeAPIs(t, lrotest.Options{
		Default: func(string) *lrotest.Script { return &lrotest.Script{} },
		Fault: func(*http.Request) *lrotest.Answer {
			if down.Load() {
				a := lrotest.Unavailable(0)
				return &a
			}
			return nil
		},
	}, lrotest.Options{}, "")
	sub := queuetest.SubscriptionOptions{MinRetryBackoff: time.Second, MaxRetryBackoff: 5 * time.Second}
	ps := newPubsub(t, e, sub, true)
	const n = 50
	var msgs []message
	for i := range n {
		msgs = append(msgs, message{data: fmt.Sprintf("operations/outage-%d", i)})
	}
	p := startBinary(t, []string{"PUBSUB_EMULATOR_HOST=" + e.Host}, append([]string{"--auth=none", "--subscription=" + ps.sub,
		"--results-topic=" + ps.results, "--config=" + apis.config, "--lease-extension=" + extension.String()}, l.args()...)...)
	publish(t, e, ps.topic, msgs...)
	var ev eventsByName
	exhausted := func() float64 {
		return value(scrape(t, p.admin), "opcancel_jobs_total", map[string]string{"outcome": "retry_exhausted"})
	}
	downAt := time.Now()
	sitOutOutage(t, e, p, ps.resultsSub, &ev, downFor, func() bool { return exhausted() >= n })
	m := scrape(t, p.admin)
	t.Logf("after %v down: %v retry_exhausted outcomes (nacked; %d jobs), allowed rate %v/s", time.Since(downAt).Round(time.Second),
		value(m, "opcancel_jobs_total", map[string]string{"outcome": "retry_exhausted"}), n,
		value(m, "opcancel_throttle_allowed_rate", map[string]string{"service": vaultHost}))
	down.Store(false)
	upAt := time.Now()
	// A nacked job comes back after the subscription's retry backoff; the
	// throttle then lets requests through at a rising rate.
	waitProgress(t, "every job to finish after recovery", sub.MaxRetryBackoff+l.job(), n, func() int {
		ev.pull(t, e, ps.resultsSub)
		return ev.names()
	})
	t.Logf("all %d cancelled %v after recovery", n, time.Since(upAt).Round(time.Millisecond))
	for name, evs := range ev.byName {
		for _, f := range evs {
			if f["outcome"] != "cancelled" {
				t.Errorf("%s: %v", name, f["outcome"])
			}
		}
	}
}

// sitOutOutage watches the worker p while the API is down, reading the
// result events into ev: the worker must not exit, nor ack an outcome. The
// outage lasts downFor, and longer until done holds; that wait is bounded
// by the test's deadline.
func sitOutOutage(t *testing.T, e *queuetest.Emulator, p *process, resultsSub string, ev *eventsByName, downFor time.Duration, done func() bool) {
	t.Helper()
	downAt, deadline := time.Now(), untilDeadline(t)
	for time.Since(downAt) < downFor || !done() {
		if time.Since(downAt) > deadline {
			t.Fatalf("the outage still not over after %v: every job must be nacked at least once while the API is down", deadline)
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("worker exited during the outage: %v", err)
		case <-time.After(time.Second):
		}
		ev.pull(t, e, resultsSub)
		if ev.total > 0 {
			t.Fatalf("%d acked outcomes while the API was down", ev.total)
		}
	}
}

// TestSIGTERMUnderLoad: SIGTERM while a thousand jobs are flowing; exit 0
// within the exit bound of the shutdown timeout; a second worker finishes
// the rest, and every operation has an acked outcome.
//
// The worker may hold all thousand (--max-outstanding), sixteen at a time
// at the API (--concurrency), so it reads every message as the emulator
// pushes it, and its leases can be Pub/Sub's shortest, 10 s: a backlog
// pushed ahead of the reads would be leased again, and come back, unread
// (docs/design.md#leases). What the emulator hands the departing worker's
// stream comes back within that lease.
func TestSIGTERMUnderLoad(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	l := e2eLimits
	l.leaseExtension = queue.MinLeaseExtension
	apis := newFakeAPIs(t, lrotest.Options{Latency: 30 * time.Millisecond, Default: func(name string) *lrotest.Script {
		return &lrotest.Script{DoneAfterPolls: len(name) % 3}
	}}, lrotest.Options{}, "")
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, true)
	const n = 1000
	var msgs []message
	for i := range n {
		msgs = append(msgs, message{data: fmt.Sprintf("operations/load-%d", i)})
	}
	env := []string{"PUBSUB_EMULATOR_HOST=" + e.Host}
	args := append([]string{"--auth=none", "--subscription=" + ps.sub, "--results-topic=" + ps.results, "--config=" + apis.config,
		"--concurrency=16", "--max-outstanding=" + strconv.Itoa(n)}, l.args()...)
	p := startBinary(t, env, args...)
	publish(t, e, ps.topic, msgs...)
	waitProgress(t, "load", l.job(), 100, func() int {
		return int(value(scrape(t, p.admin), "opcancel_jobs_total", map[string]string{"outcome": "cancelled"}))
	})
	p.cmd.Process.Signal(syscall.SIGTERM)
	signalled := time.Now()
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, p.logs)
		}
		t.Logf("exit 0 %v after SIGTERM under load (shutdown timeout %v)", time.Since(signalled).Round(time.Millisecond), l.shutdownTimeout)
	case <-time.After(l.exit()):
		t.Fatalf("no exit %v after SIGTERM (shutdown timeout %v)\n%s", l.exit(), l.shutdownTimeout, p.logs)
	}
	startBinary(t, env, args...)
	var ev eventsByName
	waitProgress(t, "an acked outcome for every operation", l.job(), n, func() int {
		ev.pull(t, e, ps.resultsSub)
		return ev.names()
	})
	t.Logf("%d operations, %d result events", n, ev.total)
}
