package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"opcancel/lro/lrotest"
	"opcancel/queue/queuetest"
)

// process is a running opcancel binary.
type process struct {
	cmd   *exec.Cmd
	admin string
	logs  *syncBuffer
	done  chan error
}

// startBinary starts `opcancel worker` with args, waits for readiness, and
// kills it at cleanup.
func startBinary(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	p := &process{admin: freeAddr(t), logs: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(binary(t), append([]string{"worker", "--listen=" + p.admin}, args...)...)
	p.cmd.Env = env
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done; p.done <- nil })
	waitFor(t, "the worker to be ready", 30*time.Second, func() bool {
		select {
		case err := <-p.done:
			t.Fatalf("worker exited at start: %v\n%s", err, p.logs)
		default:
		}
		return status(p.admin, "/readyz") == 200
	})
	return p
}

// events collects result events by operation name from a results subscription.
type events struct {
	mu     sync.Mutex
	byName map[string][]map[string]any
	total  int
}

func (ev *events) pull(t *testing.T, e *queuetest.Emulator, sub string) {
	t.Helper()
	msgs, err := e.Drain(context.Background(), sub)
	if err != nil {
		t.Fatal(err)
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.byName == nil {
		ev.byName = map[string][]map[string]any{}
	}
	for _, m := range msgs {
		var f map[string]any
		if err := json.Unmarshal(m.Message.Data, &f); err != nil {
			t.Fatalf("event %q: %v", m.Message.Data, err)
		}
		name, _ := f["name"].(string)
		ev.byName[name] = append(ev.byName[name], f)
		ev.total++
	}
}

func (ev *events) names() int {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return len(ev.byName)
}

// TestChaos: 2,000 jobs against an API that fails a quarter of the time in
// every way it can, while the worker is SIGKILLed three times and restarted.
// Every operation receives a cancel and every message reaches an acked
// outcome.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos run: about a minute")
	}
	t.Parallel()
	e := emulator(t)
	const n = 2000
	fault := func(*http.Request) *lrotest.Answer {
		switch r := rand.Float64(); {
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
	slow := func(name string) *lrotest.Script {
		var i int
		fmt.Sscanf(name, "operations/chaos-%d", &i)
		if i%10 == 0 {
			return &lrotest.Script{DoneAfterPolls: 3, Latency: 300 * time.Millisecond} // cancels slowly
		}
		return &lrotest.Script{}
	}
	apis := newFakeAPIs(t, lrotest.Options{Fault: fault, Default: slow, DontRecord: true}, lrotest.Options{}, "")
	dead, err := e.Topic(context.Background(), "chaos-proj", "dead-letters")
	if err != nil {
		t.Fatal(err)
	}
	ps := pubsubSetup{project: "chaos-proj"}
	if ps.topic, ps.sub, err = e.TopicAndSubscription(context.Background(), ps.project, "requests", "worker",
		queuetest.SubscriptionOptions{AckDeadline: 10 * time.Second, DeadLetterTopic: dead, MaxDeliveries: 100}); err != nil {
		t.Fatal(err)
	}
	if ps.results, ps.resultsSub, err = e.TopicAndSubscription(context.Background(), ps.project, "results", "results-reader", queuetest.SubscriptionOptions{}); err != nil {
		t.Fatal(err)
	}
	var msgs []message
	for i := range n {
		msgs = append(msgs, message{data: fmt.Sprintf("operations/chaos-%d", i)})
	}
	env := []string{"PUBSUB_EMULATOR_HOST=" + e.Host}
	args := []string{"--auth=none", "--subscription=" + ps.sub, "--results-topic=" + ps.results, "--config=" + apis.config,
		"--request-timeout=1s", "--retry-budget=60s", "--verify-timeout=30s", "--concurrency=32", "--max-outstanding=300"}

	var ev events
	p := startBinary(t, env, args...)
	publish(t, e, ps.topic, msgs...)
	for kill := range 3 {
		time.Sleep(time.Duration(2000+rand.IntN(4000)) * time.Millisecond) // a random moment of a real run
		ev.pull(t, e, ps.resultsSub)
		t.Logf("SIGKILL %d after %d operations had an outcome", kill+1, ev.names())
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		p.done <- nil
		p = startBinary(t, env, args...)
	}
	lastLog := time.Now()
	waitFor(t, "an acked outcome for every operation", 4*time.Minute, func() bool {
		ev.pull(t, e, ps.resultsSub)
		if time.Since(lastLog) > 5*time.Second {
			m := scrape(t, p.admin)
			t.Logf("progress: %d operations with an outcome; worker holds %v, requests in flight %v", ev.names(),
				value(m, "opcancel_jobs_in_flight", nil), value(m, "opcancel_api_requests_in_flight", nil))
			lastLog = time.Now()
		}
		return ev.names() >= n
	})

	acked := map[string]bool{"cancelled": true, "completed": true, "failed": true, "done_no_result": true, "unverified": true,
		"not_cancellable": true, "unimplemented": true, "not_found": true, "denied": true, "rejected": true, "invalid": true, "duplicate": true}
	cancelRequests, moreThanOne, maxAttempt := 0, 0, 0.0
	for i := range n {
		name := fmt.Sprintf("operations/chaos-%d", i)
		st := apis.vault.Op(name)
		if st.Cancels == 0 {
			t.Errorf("%s never received a cancel", name)
		}
		if st.Cancels > 1 {
			moreThanOne++
		}
		cancelRequests += st.Cancels
		evs := ev.byName[name]
		if len(evs) == 0 {
			t.Errorf("%s has no acked outcome", name)
		}
		for _, f := range evs {
			if !acked[f["outcome"].(string)] {
				t.Errorf("%s: event with outcome %v", name, f["outcome"])
			}
			if a, ok := f["deliveryAttempt"].(float64); ok {
				maxAttempt = max(maxAttempt, a)
			}
		}
	}
	// Nothing is left unacked in the worker's subscription.
	waitFor(t, "the subscription to be empty", time.Minute, func() bool {
		m := scrape(t, p.admin)
		return value(m, "opcancel_jobs_in_flight", nil) == 0
	})
	left, err := e.Drain(context.Background(), ps.sub)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("%d messages left unacked", len(left))
	}
	st := apis.vault.Stats()
	t.Logf("chaos: %d operations; %d cancel requests (%d operations got more than one, from retries and redeliveries); "+
		"%d result events for %d operations (%d outcomes recorded twice after a kill before the ack); max delivery attempt %v; "+
		"API requests %d, faults injected %d",
		n, cancelRequests, moreThanOne, ev.total, ev.names(), ev.total-ev.names(), maxAttempt, st.Cancels+st.Gets, st.Faults)
}
