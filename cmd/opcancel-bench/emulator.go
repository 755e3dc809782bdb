package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"opcancel/lro/lrotest"
	"opcancel/queue"
	"opcancel/queue/queuetest"
	"opcancel/worker"
)

// emulatorE2E: opcancel end to end on the official emulator, against the
// emulator's own raw receive-and-ack rate with the same flow control.
func emulatorE2E(ctx context.Context) (*result, error) {
	const (
		messages       = 20000
		maxOutstanding = 5000
		project        = "bench"
	)
	emu, err := queuetest.Start(ctx)
	if err != nil {
		return nil, err
	}
	defer emu.Stop()
	topic, rawSub, err := emu.TopicAndSubscription(ctx, project, "requests", "raw-reader", queuetest.SubscriptionOptions{})
	if err != nil {
		return nil, err
	}
	workerSub := "projects/" + project + "/subscriptions/worker"
	if err := emu.Subscription(ctx, topic, workerSub); err != nil {
		return nil, err
	}
	client, err := queue.NewClient(ctx, queue.ClientConfig{Project: project, EmulatorHost: emu.Host})
	if err != nil {
		return nil, err
	}
	defer client.Close()
	if err := publishNames(ctx, client, topic, messages); err != nil {
		return nil, err
	}
	raw, err := receiveRaw(ctx, emu.Client.Subscriber(rawSub), messages, maxOutstanding)
	if err != nil {
		return nil, fmt.Errorf("raw receive: %w", err)
	}
	done, err := receiveWorker(ctx, client, workerSub, messages, maxOutstanding)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	rawRate, rate := raw.steadyRate(), done.steadyRate()
	res := &result{Value: rate, Unit: "jobs/s", Bound: rawRate, Ratio: rate / rawRate, Target: 0.80}
	res.Pass = res.Ratio >= res.Target
	res.add("messages", messages)
	res.add("max_outstanding", maxOutstanding)
	res.add("note", "one streaming pull each; opcancel holds each message ~1 s until its first poll, so --max-outstanding is 5000 for both")
	return res, nil
}

// publishNames publishes n operation names to topic and waits for all of them.
func publishNames(ctx context.Context, client *queue.Client, topic string, n int) error {
	pub := client.Publisher(queue.PublishConfig{Topic: topic, CountThreshold: 1000})
	defer pub.Stop()
	var pending []queue.Result
	for i := range n {
		pending = append(pending, pub.PublishAsync(ctx, []byte(vaultName(i)), nil))
	}
	for _, p := range pending {
		if _, err := p.Get(ctx); err != nil {
			return err
		}
	}
	return nil
}

// receiveRaw measures the emulator's raw rate: receive and ack n messages
// from sub, nothing else.
func receiveRaw(ctx context.Context, sub *pubsub.Subscriber, n, maxOutstanding int) (*completions, error) {
	var raw completions
	rctx, stopRaw := context.WithCancel(ctx)
	defer stopRaw()
	sub.ReceiveSettings.MaxOutstandingMessages = maxOutstanding
	sub.ReceiveSettings.NumGoroutines = 1
	var once sync.Once
	rawErr := make(chan error, 1)
	go func() {
		rawErr <- sub.Receive(rctx, func(_ context.Context, m *pubsub.Message) {
			m.Ack()
			raw.done(false)
			if raw.count() >= n {
				once.Do(stopRaw)
			}
		})
	}()
	err := waitCount(ctx, &raw, n, 5*time.Minute)
	stopRaw()
	if rerr := <-rawErr; err == nil {
		err = rerr
	}
	return &raw, err
}

// receiveWorker runs the real subscriber and worker against a zero-latency
// fake API until n messages of sub are settled.
func receiveWorker(ctx context.Context, client *queue.Client, sub string, n, maxOutstanding int) (*completions, error) {
	fake := lrotest.New(lrotest.Options{DontRecord: true, Default: doneAtFirstPoll})
	cfg := worker.DefaultConfig()
	cfg.MaxOutstanding = maxOutstanding
	cfg.ShutdownTimeout = 5 * time.Second
	r, err := newRig(cfg, lrotest.ServicesYAML(lrotest.AllAt("http://vault.bench"), nil), fake.Transport())
	if err != nil {
		return nil, err
	}
	defer r.w.Close()
	var done completions
	src := client.Subscriber(queue.ReceiveConfig{Subscription: sub, MaxOutstanding: maxOutstanding})
	wctx, stopWorker := context.WithCancel(ctx)
	werr := make(chan error, 1)
	go func() {
		werr <- r.w.Run(wctx, observedSource{Source: src, settled: func(_ worker.Delivery, ack bool) { done.done(!ack) }})
	}()
	err = waitCount(ctx, &done, n, 5*time.Minute)
	stopWorker()
	if rerr := <-werr; err == nil {
		err = rerr
	}
	return &done, err
}

// observedSource is a worker.Source that reports each delivery before the
// worker sees it, and each settlement after it was sent.
type observedSource struct {
	worker.Source
	delivered func(d worker.Delivery)
	settled   func(d worker.Delivery, ack bool)
}

func (s observedSource) Receive(ctx context.Context, h worker.Handler) error {
	return s.Source.Receive(ctx, func(ctx context.Context, d worker.Delivery) {
		if s.delivered != nil {
			s.delivered(d)
		}
		ack, nack := d.Ack, d.Nack
		d.Ack = func() error { err := ack(); s.settled(d, true); return err }
		d.Nack = func() error { err := nack(); s.settled(d, false); return err }
		h(ctx, d)
	})
}

// waitCount waits until c has n completions.
func waitCount(ctx context.Context, c *completions, n int, timeout time.Duration) error {
	if err := waitUntil(ctx, timeout, func() bool { return c.count() >= n }); err != nil {
		return fmt.Errorf("%d of %d: %w", c.count(), n, err)
	}
	return nil
}
