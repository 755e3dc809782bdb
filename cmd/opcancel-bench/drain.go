package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"opcancel/lro/lrotest"
	"opcancel/queue"
	"opcancel/queue/queuetest"
	"opcancel/worker"
)

// backlogDrain: 50,000 names on the official emulator (subscription ack
// deadline 20 s) for one worker with the default settings and the default
// leases, against an API answering in 20 ms. Every name must end once: the
// figure is outcomes recorded per distinct name, bound 1, target ≤ 1.01. The
// emulator pushes a backlog into the stream far faster than the worker
// reads it, and leases each message for the stream's deadline until the
// client reads it; a message read later than that was already leased again
// to a new copy, and its ack is void (docs/design.md#leases).
func backlogDrain(ctx context.Context) (*result, error) {
	const (
		names   = 50000
		latency = 20 * time.Millisecond
		// limit ends a run that does not drain, as the report that found
		// it did after six minutes.
		limit = 6 * time.Minute
	)
	q, err := startBacklogQueue(ctx, names, queuetest.SubscriptionOptions{AckDeadline: 20 * time.Second})
	if err != nil {
		return nil, err
	}
	defer q.stop()
	fake := lrotest.New(lrotest.Options{DontRecord: true, Latency: latency, Default: doneAtFirstPoll})
	cfg := worker.DefaultConfig()
	r, err := newRig(cfg, lrotest.ServicesYAML(lrotest.AllAt("http://vault.bench"), nil), fake.Transport())
	if err != nil {
		return nil, err
	}
	defer r.w.Close()
	src := q.client.Subscriber(queue.ReceiveConfig{Subscription: q.sub, MaxOutstanding: cfg.MaxOutstanding})
	t := &outcomeTally{perName: map[string]int{}, deliveries: map[string]int{}}
	// Once every name has ended, a void ack shows as a delivery of its
	// message within a lease: the copy leased in its place comes back when
	// that lapses. Two leases without a delivery mean the backlog drained.
	quiet := 2 * queue.DefaultLeaseExtension
	elapsed, runErr := runUntil(ctx, r.w, t.source(src), limit, func() bool { return t.drained(names, quiet) })
	s := t.summary()
	perName := float64(s.outcomes) / float64(max(s.names, 1))
	st := fake.Stats()
	res := &result{Value: perName, Unit: "outcomes per distinct name", Bound: 1, Ratio: perName, Target: 1.01}
	res.Pass = runErr == nil && s.names == names && res.Ratio <= res.Target
	res.add("names", names)
	res.add("names_ended", s.names)
	res.add("outcomes", s.outcomes)
	res.add("deliveries", s.deliveries)
	res.add("messages_delivered_more_than_once", s.repeated)
	res.add("api_requests_per_name", float64(st.Cancels+st.Gets)/float64(max(s.names, 1)))
	res.add("settled_from_memory", testutil.ToFloat64(r.m.JobsFromMemory.WithLabelValues(vaultHost)))
	res.add("last_first_outcome_seconds", s.lastFirst.Seconds())
	res.add("drained", runErr == nil)
	res.add("lease_extension_seconds", queue.DefaultLeaseExtension.Seconds())
	res.add("run_seconds", elapsed.Seconds())
	res.add("note", fmt.Sprintf("default worker settings and leases; subscription ack deadline 20 s; API latency %v; drained: every name ended and no delivery came for two lease extensions after, within %v; last_first_outcome_seconds: when the last name ended for the first time", latency, limit))
	return res, nil
}

// outcomeTally counts each delivery and each settlement, by name and by
// message ID.
type outcomeTally struct {
	mu         sync.Mutex
	start      time.Time
	perName    map[string]int // settlements by name
	deliveries map[string]int // deliveries by message ID
	outcomes   int
	delivered  int
	lastFirst  time.Duration // when the last name settled for the first time
	lastSeen   time.Time     // the latest delivery or settlement
}

// source tallies the deliveries of src and their settlements. The bench
// publishes bare names, so a message's data is its name.
func (t *outcomeTally) source(src worker.Source) worker.Source {
	return observedSource{src, func(d worker.Delivery) { t.delivery(d.ID) }, func(d worker.Delivery, _ bool) { t.settled(string(d.Data)) }}
}

func (t *outcomeTally) delivery(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if t.start.IsZero() {
		t.start = now
	}
	t.deliveries[id]++
	t.delivered++
	t.lastSeen = now
}

func (t *outcomeTally) settled(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if t.perName[name] == 0 {
		t.lastFirst = now.Sub(t.start)
	}
	t.perName[name]++
	t.outcomes++
	t.lastSeen = now
}

// drained reports whether every one of n names has ended and nothing was
// delivered or settled for quiet.
func (t *outcomeTally) drained(n int, quiet time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.perName) >= n && time.Since(t.lastSeen) >= quiet
}

type tallySummary struct {
	names, outcomes, deliveries, repeated int
	lastFirst                             time.Duration
}

func (t *outcomeTally) summary() tallySummary {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := tallySummary{names: len(t.perName), outcomes: t.outcomes, deliveries: t.delivered, lastFirst: t.lastFirst}
	for _, n := range t.deliveries {
		if n > 1 {
			s.repeated++
		}
	}
	return s
}
