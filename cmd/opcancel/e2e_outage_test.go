package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"opcancel/lro/lrotest"
	"opcancel/queue/queuetest"
)

// tcpProxy forwards a loopback port to a target; cut drops every connection
// and refuses new ones until restore.
type tcpProxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{addr: freeAddr(t), target: target, conns: map[net.Conn]bool{}}
	p.restore(t)
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) restore(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
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
	}()
}

func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// TestPubSubUnreachable: with Pub/Sub cut off for 10 s, /readyz turns 503,
// the worker stays up, and it resumes receiving once Pub/Sub is back.
func TestPubSubUnreachable(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	apis := newFakeAPIs(t, lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{} }}, lrotest.Options{}, "")
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, false)
	proxy := newTCPProxy(t, e.Host)
	p := startBinary(t, []string{"PUBSUB_EMULATOR_HOST=" + proxy.addr}, "--auth=none", "--subscription="+ps.sub, "--config="+apis.config)
	publish(t, e, ps.topic, message{data: "operations/before-1"}, message{data: "operations/before-2"})
	waitFor(t, "the first two outcomes", 30*time.Second, func() bool {
		return value(scrape(t, p.admin), "opcancel_jobs_total", map[string]string{"outcome": "cancelled"}) == 2
	})

	proxy.cut()
	cutAt := time.Now()
	waitFor(t, "/readyz to turn 503", 10*time.Second, func() bool { return status(p.admin, "/readyz") == 503 })
	t.Logf("/readyz 503 %v after the cut", time.Since(cutAt).Round(time.Millisecond))
	publish(t, e, ps.topic, message{data: "operations/during-1"}, message{data: "operations/during-2"})
	for time.Since(cutAt) < 10*time.Second {
		if code := status(p.admin, "/healthz"); code != 200 {
			t.Fatalf("/healthz = %d while Pub/Sub is unreachable", code)
		}
		select {
		case err := <-p.done:
			t.Fatalf("worker exited while Pub/Sub was unreachable: %v\n%s", err, p.logs)
		case <-time.After(500 * time.Millisecond):
		}
	}
	proxy.restore(t)
	restoredAt := time.Now()
	waitFor(t, "/readyz to recover", 2*time.Minute, func() bool { return status(p.admin, "/readyz") == 200 })
	t.Logf("/readyz 200 again %v after Pub/Sub came back", time.Since(restoredAt).Round(time.Millisecond))
	waitFor(t, "the messages published during the outage", time.Minute, func() bool {
		return value(scrape(t, p.admin), "opcancel_jobs_total", map[string]string{"outcome": "cancelled"}) == 4
	})
}

// TestAPIDownForAMinute: every request fails with 503 for a minute; jobs end
// retry_exhausted (nacked), none is acked early, and all finish after recovery.
func TestAPIDownForAMinute(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of outage")
	}
	t.Parallel()
	e := emulator(t)
	var down atomic.Bool
	down.Store(true)
	apis := newFakeAPIs(t, lrotest.Options{
		Default: func(string) *lrotest.Script { return &lrotest.Script{} },
		Fault: func(*http.Request) *lrotest.Answer {
			if down.Load() {
				return &lrotest.Answer{Status: 503, Body: []byte("<html>Service Unavailable</html>"), ContentType: "text/html"}
			}
			return nil
		},
	}, lrotest.Options{}, "")
	ps := pubsubSetup{project: "outage-proj"}
	var err error
	if ps.topic, ps.sub, err = e.TopicAndSubscription(context.Background(), ps.project, "requests", "worker",
		queuetest.SubscriptionOptions{MinRetryBackoff: time.Second, MaxRetryBackoff: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if ps.results, ps.resultsSub, err = e.TopicAndSubscription(context.Background(), ps.project, "results", "reader", queuetest.SubscriptionOptions{}); err != nil {
		t.Fatal(err)
	}
	const n = 50
	var msgs []message
	for i := range n {
		msgs = append(msgs, message{data: fmt.Sprintf("operations/outage-%d", i)})
	}
	p := startBinary(t, []string{"PUBSUB_EMULATOR_HOST=" + e.Host}, "--auth=none", "--subscription="+ps.sub,
		"--results-topic="+ps.results, "--config="+apis.config, "--retry-budget=10s")
	publish(t, e, ps.topic, msgs...)
	downAt := time.Now()
	var ev events
	for time.Since(downAt) < time.Minute {
		select {
		case err := <-p.done:
			t.Fatalf("worker exited during the outage: %v", err)
		case <-time.After(time.Second):
		}
		ev.pull(t, e, ps.resultsSub)
		if ev.total > 0 {
			t.Fatalf("%d acked outcomes while the API was down", ev.total)
		}
	}
	m := scrape(t, p.admin)
	exhausted := value(m, "opcancel_jobs_total", map[string]string{"outcome": "retry_exhausted"})
	if exhausted < n {
		t.Errorf("retry_exhausted = %v during the outage, want every job (%d) at least once", exhausted, n)
	}
	t.Logf("after a minute down: %v retry_exhausted outcomes (nacked), allowed rate %v/s", exhausted,
		value(m, "opcancel_throttle_allowed_rate", map[string]string{"service": vaultHost}))
	down.Store(false)
	upAt := time.Now()
	waitFor(t, "every job to finish after recovery", 2*time.Minute, func() bool {
		ev.pull(t, e, ps.resultsSub)
		return ev.names() >= n
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

// TestSIGTERMUnderLoad: SIGTERM while a thousand jobs are flowing; exit 0
// within the shutdown timeout plus two seconds; a second worker finishes
// the rest, and every operation has an acked outcome.
func TestSIGTERMUnderLoad(t *testing.T) {
	t.Parallel()
	e := emulator(t)
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
	args := []string{"--auth=none", "--subscription=" + ps.sub, "--results-topic=" + ps.results, "--config=" + apis.config,
		"--shutdown-timeout=3s", "--concurrency=16", "--max-outstanding=400"}
	p := startBinary(t, env, args...)
	publish(t, e, ps.topic, msgs...)
	waitFor(t, "load", 30*time.Second, func() bool {
		return value(scrape(t, p.admin), "opcancel_jobs_total", map[string]string{"outcome": "cancelled"}) >= 100
	})
	p.cmd.Process.Signal(syscall.SIGTERM)
	signalled := time.Now()
	select {
	case err := <-p.done:
		p.done <- nil
		took := time.Since(signalled)
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, p.logs)
		}
		if took > 5*time.Second {
			t.Errorf("exit 0 after %v, want within the 3s shutdown timeout plus 2s", took)
		}
		t.Logf("exit 0 %v after SIGTERM under load", took.Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatalf("no exit 20s after SIGTERM\n%s", p.logs)
	}
	startBinary(t, env, args...)
	var ev events
	waitFor(t, "an acked outcome for every operation", 2*time.Minute, func() bool {
		ev.pull(t, e, ps.resultsSub)
		return ev.names() >= n
	})
	t.Logf("%d operations, %d result events", n, ev.total)
}
