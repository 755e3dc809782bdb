package main

import (
	"context"
	"fmt"
	"net/http"
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
		project    = "bench"
	)
	emu, err := queuetest.Start(ctx)
	if err != nil {
		return nil, err
	}
	defer emu.Stop()
	topic, sub, err := emu.TopicAndSubscription(ctx, project, "requests", "worker", queuetest.SubscriptionOptions{})
	if err != nil {
		return nil, err
	}
	client, err := queue.NewClient(ctx, queue.ClientConfig{Project: project, EmulatorHost: emu.Host})
	if err != nil {
		return nil, err
	}
	defer client.Close()
	if err := publishNames(ctx, client, topic, jobs); err != nil {
		return nil, err
	}
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
	src := client.Subscriber(queue.ReceiveConfig{Subscription: sub, MaxOutstanding: cfg.MaxOutstanding})
	wctx, stop := context.WithCancel(ctx)
	werr := make(chan error, 1)
	start := time.Now()
	go func() { werr <- r.w.Run(wctx, leaseSource{src, held}) }()
	// Two requests a job and a tenth more for the 503s, at the rate: about
	// four minutes; twice that before giving up.
	expected := time.Duration(jobs*20/9/int(rate)) * time.Second
	err = waitUntil(ctx, 2*expected, func() bool { return held.acked() >= jobs })
	elapsed := time.Since(start)
	stop()
	if rerr := <-werr; err == nil {
		err = rerr
	}
	if err != nil {
		return nil, fmt.Errorf("%d of %d acked: %w", held.acked(), jobs, err)
	}
	exhausted := testutil.ToFloat64(r.m.Jobs.WithLabelValues(vaultHost, "retry_exhausted"))
	lapsed, longest := held.summary()
	res := &result{Value: exhausted, Unit: "jobs retry_exhausted", Bound: 0, Target: 0}
	res.Pass = exhausted == 0 && lapsed == 0
	res.add("lease_lapse_redeliveries", lapsed)
	res.add("lease_lapse_redeliveries_target", 0)
	res.add("jobs", jobs)
	res.add("jobs_cancelled", testutil.ToFloat64(r.m.Jobs.WithLabelValues(vaultHost, "cancelled")))
	res.add("requests", answers.Load())
	res.add("answered_503", unavailable.Load())
	res.add("requests_per_s", float64(answers.Load())/elapsed.Seconds())
	res.add("longest_held_seconds", longest.Seconds())
	res.add("note", "one worker with the default settings (--max-outstanding 1000, --retry-budget 2m) on the emulator; a lease lapse is a delivery of a message whose earlier delivery was still held or had been acked; longest_held_seconds is from a message's first delivery to its ack")
	return res, nil
}

// leases follows each message's deliveries: when it was first delivered,
// and whether its latest delivery is held, acked or nacked.
type leases struct {
	mu     sync.Mutex
	first  map[string]time.Time
	state  map[string]string
	lapsed int
	done   map[string]time.Duration
	acks   int
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
		l.lapsed++
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
	if l.state[id] != "acked" {
		l.acks++
	}
	l.state[id] = "acked"
	if l.done == nil {
		l.done = map[string]time.Duration{}
	}
	l.done[id] = time.Since(l.first[id])
}

func (l *leases) acked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acks
}

// summary returns the lease lapses and the longest time from a message's
// first delivery to its ack.
func (l *leases) summary() (lapsed int, longest time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, d := range l.done {
		longest = max(longest, d)
	}
	return l.lapsed, longest
}

// leaseSource is a worker.Source that records deliveries in leases.
type leaseSource struct {
	worker.Source
	held *leases
}

func (s leaseSource) Receive(ctx context.Context, h worker.Handler) error {
	return s.Source.Receive(ctx, func(ctx context.Context, d worker.Delivery) {
		s.held.delivered(d.ID)
		ack, nack := d.Ack, d.Nack
		d.Ack = func() error { err := ack(); s.held.settled(d.ID, true); return err }
		d.Nack = func() error { err := nack(); s.held.settled(d.ID, false); return err }
		h(ctx, d)
	})
}
