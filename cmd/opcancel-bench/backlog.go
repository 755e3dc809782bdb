package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"opcancel/lro/lrotest"
	"opcancel/queue"
	"opcancel/queue/queuetest"
	"opcancel/worker"
)

// backlog: 5,000 messages on the official emulator for one worker with the
// default settings, against a service with rate: 50 whose answers are 10 %
// 503 with RetryInfo. Every job waits in line for minutes; none may end
// retry_exhausted for it, and no message may come back because its lease
// lapsed while its job waited (the real client library's leases, on the
// emulator).
func backlog(ctx context.Context) (*result, error) {
	const (
		jobs       = 5000
		rate       = 50.0
		retryDelay = 2 * time.Second
	)
	q, err := startBacklogQueue(ctx, jobs, queuetest.SubscriptionOptions{})
	if err != nil {
		return nil, err
	}
	defer q.stop()
	var answers, unavailable atomic.Int64
	fake := lrotest.New(lrotest.Options{DontRecord: true, Default: doneAtFirstPoll, Fault: func(*http.Request) *lrotest.Answer {
		if answers.Add(1)%10 == 0 {
			unavailable.Add(1)
			a := lrotest.Unavailable(retryDelay)
			return &a
		}
		return nil
	}})
	cfg := worker.DefaultConfig()
	r, err := newRig(cfg, lrotest.ServicesYAML(lrotest.AllAt("http://vault.bench"), map[string]string{vaultHost: fmt.Sprintf("rate: %g", rate)}), fake.Transport())
	if err != nil {
		return nil, err
	}
	defer r.w.Close()
	held := &leases{first: map[string]time.Time{}, state: map[string]string{}}
	src := q.client.Subscriber(queue.ReceiveConfig{Subscription: q.sub, MaxOutstanding: cfg.MaxOutstanding})
	// Two requests a job and a tenth more for the 503s, at the rate: about
	// four minutes; twice that before giving up.
	expected := time.Duration(jobs*20/9/int(rate)) * time.Second
	elapsed, err := runUntil(ctx, r.w, observedSource{src, func(d worker.Delivery) { held.delivered(d.ID) }, func(d worker.Delivery, ack bool) { held.settled(d.ID, ack) }}, 2*expected, func() bool { return held.acked() >= jobs })
	if err != nil {
		return nil, fmt.Errorf("%d of %d acked: %w", held.acked(), jobs, err)
	}
	exhausted := testutil.ToFloat64(r.m.Jobs.WithLabelValues(vaultHost, "retry_exhausted"))
	ls := held.summary()
	lapsed := ls.lapsedHeld + ls.lapsedAcked
	res := &result{Value: exhausted, Unit: "jobs retry_exhausted", Bound: 0, Target: 0}
	res.Pass = exhausted == 0 && lapsed == 0
	res.add("lease_lapse_redeliveries", lapsed)
	res.add("lease_lapse_redeliveries_target", 0)
	res.add("redelivered_while_held", ls.lapsedHeld)
	res.add("redelivered_after_ack", ls.lapsedAcked)
	res.add("redelivered_after_seconds_min", ls.firstLapse.Seconds())
	res.add("redelivered_after_seconds_max", ls.lastLapse.Seconds())
	res.add("jobs", jobs)
	res.add("jobs_cancelled", testutil.ToFloat64(r.m.Jobs.WithLabelValues(vaultHost, "cancelled")))
	res.add("jobs_settled_from_memory", testutil.ToFloat64(r.m.JobsFromMemory.WithLabelValues(vaultHost)))
	res.add("outcomes", outcomeCounts(r))
	res.add("requests", answers.Load())
	res.add("answered_503", unavailable.Load())
	res.add("requests_per_s", float64(answers.Load())/elapsed.Seconds())
	res.add("longest_held_seconds", ls.longest.Seconds())
	res.add("note", fmt.Sprintf("one worker with the default settings (--max-outstanding %d, --retry-budget %v) on the emulator;", cfg.MaxOutstanding, cfg.RetryBudget)+" a lease lapse is a delivery of a message whose earlier delivery was still held or had been acked (counted apart: redelivered_while_held, redelivered_after_ack, with the shortest and longest time from the first delivery); longest_held_seconds is from a message's first delivery to its ack")
	return res, nil
}

// backlogQueue is a subscription on the emulator with a backlog published.
type backlogQueue struct {
	emu    *queuetest.Emulator
	client *queue.Client
	sub    string
}

func (q *backlogQueue) stop() {
	q.client.Close()
	q.emu.Stop()
}

// startBacklogQueue starts the emulator and publishes n names to a topic
// with one subscription, shaped by o.
func startBacklogQueue(ctx context.Context, n int, o queuetest.SubscriptionOptions) (*backlogQueue, error) {
	const project = "bench"
	emu, err := queuetest.Start(ctx)
	if err != nil {
		return nil, err
	}
	topic, sub, err := emu.TopicAndSubscription(ctx, project, "requests", "worker", o)
	if err == nil {
		var client *queue.Client
		if client, err = queue.NewClient(ctx, queue.ClientConfig{Project: project, EmulatorHost: emu.Host}); err == nil {
			q := &backlogQueue{emu: emu, client: client, sub: sub}
			if err = publishNames(ctx, client, topic, n); err == nil {
				return q, nil
			}
			client.Close()
		}
	}
	emu.Stop()
	return nil, err
}

// runUntil runs w on src until done holds (polled), timeout passes or ctx
// ends, and returns how long it ran.
func runUntil(ctx context.Context, w *worker.Worker, src worker.Source, timeout time.Duration, done func() bool) (time.Duration, error) {
	wctx, stop := context.WithCancel(ctx)
	werr := make(chan error, 1)
	start := time.Now()
	go func() { werr <- w.Run(wctx, src) }()
	err := waitUntil(ctx, timeout, done)
	elapsed := time.Since(start)
	stop()
	if rerr := <-werr; err == nil {
		err = rerr
	}
	return elapsed, err
}

// leases follows each message's deliveries: when it was first delivered,
// and whether its latest delivery is held, acked or nacked.
type leases struct {
	mu    sync.Mutex
	first map[string]time.Time
	state map[string]string
	done  map[string]time.Duration
	acks  int
	// lapses counts the redeliveries by the state the message was in
	// (held or acked); ages are their times since the first delivery.
	lapses map[string]int
	ages   []time.Duration
}

// delivered records a delivery of id; one of a message not nacked since
// its last delivery came back because a lease lapsed.
func (l *leases) delivered(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch l.state[id] {
	case "":
		l.first[id] = time.Now()
	case "held", "acked":
		if l.lapses == nil {
			l.lapses = map[string]int{}
		}
		l.lapses[l.state[id]]++
		l.ages = append(l.ages, time.Since(l.first[id]))
	}
	l.state[id] = "held"
}

func (l *leases) settled(id string, ack bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !ack {
		l.state[id] = "nacked"
		return
	}
	l.state[id] = "acked"
	if l.done == nil {
		l.done = map[string]time.Duration{}
	}
	// A message acked again after a redelivery is not another one: the
	// run ends once every message was acked.
	if _, again := l.done[id]; !again {
		l.acks++
		l.done[id] = time.Since(l.first[id])
	}
}

func (l *leases) acked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acks
}

// leaseSummary is what leases saw.
type leaseSummary struct {
	lapsedHeld, lapsedAcked int
	// firstLapse and lastLapse are the shortest and longest times from a
	// lapsed message's first delivery to its redelivery.
	firstLapse, lastLapse time.Duration
	// longest is the longest time from a message's first delivery to its ack.
	longest time.Duration
}

func (l *leases) summary() leaseSummary {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := leaseSummary{lapsedHeld: l.lapses["held"], lapsedAcked: l.lapses["acked"]}
	for _, d := range l.done {
		s.longest = max(s.longest, d)
	}
	if len(l.ages) > 0 {
		s.firstLapse, s.lastLapse = slices.Min(l.ages), slices.Max(l.ages)
	}
	return s
}
