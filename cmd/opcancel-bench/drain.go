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

// drainSettings shape backlog_drain; the flags -drain-names,
// -drain-latency and -drain-lease-extension set them, to find where a
// backlog stops draining (docs/performance.md#backlog-drain).
type drainSettings struct {
	names   int
	latency time.Duration
	// lease is the worker's --lease-extension; 0 means its default.
	lease time.Duration
}

// drain is what backlog_drain runs: issue 20's report by default.
var drain = drainSettings{names: 50000, latency: 20 * time.Millisecond}

// backlogDrain: 50,000 names on the official emulator (subscription ack
// deadline 20 s) for one worker with the default settings and the default
// leases, against an API answering in 20 ms. Every name must end once: the
// figure is outcomes recorded per distinct name, bound 1, target ≤ 1.01. The
// emulator pushes a backlog into the stream far faster than the worker
// reads it, and leases each message for the stream's deadline until the
// client reads it; a message read later than that was already leased again
// to a new copy, and its ack is void (docs/design.md#leases). The earliest
// read of a message that came back is where the backlog stopped draining:
// limit_names.
func backlogDrain(ctx context.Context) (*result, error) {
	// limit ends a run that does not drain, as the report that found it
	// did after six minutes; a larger backlog gets the time it needs at
	// 250 names a second.
	limit := max(6*time.Minute, time.Duration(drain.names/250)*time.Second+4*time.Minute)
	lease := drain.lease
	if lease == 0 {
		lease = queue.DefaultLeaseExtension
	}
	q, err := startBacklogQueue(ctx, drain.names, queuetest.SubscriptionOptions{AckDeadline: 20 * time.Second})
	if err != nil {
		return nil, err
	}
	defer q.stop()
	fake := lrotest.New(lrotest.Options{DontRecord: true, Latency: drain.latency, Default: doneAtFirstPoll})
	cfg := worker.DefaultConfig()
	r, err := newRig(cfg, lrotest.ServicesYAML(lrotest.AllAt("http://vault.bench"), nil), fake.Transport())
	if err != nil {
		return nil, err
	}
	defer r.w.Close()
	src := q.client.Subscriber(queue.ReceiveConfig{Subscription: q.sub, MaxOutstanding: cfg.MaxOutstanding, LeaseExtension: lease})
	t := &outcomeTally{perName: map[string]int{}, deliveries: map[string]int{}, firstRead: map[string]int{}}
	// A void ack shows as a delivery of its message again: the copy leased
	// in its place was pushed when the lease lapsed, before the read, and
	// comes within seconds after the backlog it was pushed behind. Two
	// minutes without a delivery once every name has ended mean the
	// backlog drained.
	quiet := 2 * time.Minute
	elapsed, runErr := runUntil(ctx, r.w, t.source(src), limit, func() bool { return t.drained(drain.names, quiet) })
	s := t.summary()
	perName := float64(s.outcomes) / float64(max(s.names, 1))
	st := fake.Stats()
	res := &result{Value: perName, Unit: "outcomes per distinct name", Bound: 1, Ratio: perName, Target: 1.01}
	res.Pass = runErr == nil && s.names == drain.names && res.Ratio <= res.Target
	res.add("names", drain.names)
	res.add("names_ended", s.names)
	res.add("outcomes", s.outcomes)
	res.add("deliveries", s.deliveries)
	res.add("messages_delivered_more_than_once", s.repeated)
	res.add("limit_names", s.limit)
	res.add("api_requests_per_name", float64(st.Cancels+st.Gets)/float64(max(s.names, 1)))
	res.add("settled_from_memory", testutil.ToFloat64(r.m.JobsFromMemory.WithLabelValues(vaultHost)))
	res.add("last_first_outcome_seconds", s.lastFirst.Seconds())
	res.add("reads_per_s", float64(s.names)/max(s.lastFirst.Seconds(), 1e-9))
	res.add("drained", runErr == nil)
	res.add("api_latency_ms", drain.latency.Milliseconds())
	res.add("lease_extension_seconds", lease.Seconds())
	res.add("run_seconds", elapsed.Seconds())
	res.add("note", fmt.Sprintf("default worker settings, --lease-extension %v; subscription ack deadline 20 s; API latency %v; drained: every name ended and no delivery came for %v after, within %v; last_first_outcome_seconds: when the last name ended for the first time; reads_per_s: distinct names over that; limit_names: the earliest read (in order of first reads) of a message that came back, 0 if none did", lease, drain.latency, quiet, limit))
	return res, nil
}

// outcomeTally counts each delivery and each settlement, by name and by
// message ID.
type outcomeTally struct {
	mu         sync.Mutex
	start      time.Time
	perName    map[string]int // settlements by name
	deliveries map[string]int // deliveries by message ID
	firstRead  map[string]int // the order of each message's first delivery, from 1
	limit      int            // the least firstRead of a message delivered again; 0 if none
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
	switch first := t.firstRead[id]; {
	case first == 0:
		t.firstRead[id] = len(t.firstRead) + 1
	case t.limit == 0 || first < t.limit:
		t.limit = first
	}
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
	names, outcomes, deliveries, repeated, limit int
	lastFirst                                    time.Duration
}

func (t *outcomeTally) summary() tallySummary {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := tallySummary{names: len(t.perName), outcomes: t.outcomes, deliveries: t.delivered, limit: t.limit, lastFirst: t.lastFirst}
	for _, n := range t.deliveries {
		if n > 1 {
			s.repeated++
		}
	}
	return s
}
