package main

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/api/option"
	"google.golang.org/grpc"

	"opcancel/lro/lrotest"
	"opcancel/queue"
	"opcancel/queue/queuetest"
	"opcancel/worker"
)

// heldMessages: what holding a flood costs. 10,000 names for an API at
// rate: 0.01 on the official emulator, one worker with the default settings:
// every message is received and held, its job waiting to start. The memory
// per held message (the worker's job and the client library's state, after
// a garbage collection), and the lease renewals the client sends for them
// (ModifyAckDeadline calls and the ack IDs they carry) over two rounds of
// renewals. The bound is the 16 KiB per message that --max-outstanding's
// byte limit allows for (queue.ReceiveConfig).
func heldMessages(ctx context.Context) (*result, error) {
	const (
		held = 10000
		rate = 0.01 // a request every 100 s: every job stays held
	)
	cfg := worker.DefaultConfig()
	cfg.MaxOutstanding = max(cfg.MaxOutstanding, held)
	q, err := startBacklogQueue(ctx, held, queuetest.SubscriptionOptions{})
	if err != nil {
		return nil, err
	}
	defer q.stop()
	var renewals modackCounter
	client, err := queue.NewClient(ctx, queue.ClientConfig{Project: "bench", EmulatorHost: q.emu.Host,
		Options: []option.ClientOption{option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(renewals.intercept))}})
	if err != nil {
		return nil, err
	}
	defer client.Close()
	fake := lrotest.New(lrotest.Options{DontRecord: true, Default: doneAtFirstPoll})
	r, err := newRig(cfg, lrotest.ServicesYAML(lrotest.AllAt("http://vault.bench"), map[string]string{vaultHost: fmt.Sprintf("rate: %g", rate)}), fake.Transport())
	if err != nil {
		return nil, err
	}
	defer r.w.Close()

	rss0, err := settledResidentBytes()
	if err != nil {
		return nil, err
	}
	heap0 := liveBytes()
	src := client.Subscriber(queue.ReceiveConfig{Subscription: q.sub, MaxOutstanding: cfg.MaxOutstanding})
	var m heldMeasure
	// Two rounds of renewals: the client renews every lease 5 s before it
	// runs out.
	window := 2 * (queue.DefaultLeaseExtension - 5*time.Second)
	_, err = runUntil(ctx, r.w, src, 2*time.Minute+window+time.Minute, func() bool {
		return m.step(r, &renewals, held, window)
	})
	if err != nil && !m.done {
		return nil, fmt.Errorf("%v of %d held: %w", testutil.ToFloat64(r.m.JobsInFlight), held, err)
	}
	rss1, heap1 := m.rss, m.heap

	perMessage := float64(rss1-rss0) / held / 1024
	res := &result{Value: perMessage, Unit: "KiB resident per held message", Bound: 16, Ratio: perMessage / 16, Target: 1}
	res.Pass = res.Ratio <= res.Target && m.done
	res.add("held", held)
	res.add("jobs_waiting_to_start", m.queued)
	res.add("live_heap_and_stacks_kib_per_message", float64(heap1-heap0)/held/1024)
	res.add("renewal_window_s", window.Seconds())
	res.add("modack_calls_per_s", float64(m.calls)/window.Seconds())
	res.add("modack_ids_per_s", float64(m.ids)/window.Seconds())
	res.add("modack_ids_per_held_message_per_minute", float64(m.ids)/held/window.Minutes())
	res.add("lease_extension_s", queue.DefaultLeaseExtension.Seconds())
	res.add("note", fmt.Sprintf("default worker settings (--max-outstanding %d) on the emulator; the API's rate: %g keeps every job waiting to start; resident set and live heap+stacks growth after GC, per message, from before receiving to all %d held; lease renewals (ModifyAckDeadline with a deadline, as the client sends them) over %v while they are held", cfg.MaxOutstanding, rate, held, window))
	return res, nil
}

// modackCounter counts the lease renewals a client sends: ModifyAckDeadline
// calls with a deadline, and their ack IDs.
type modackCounter struct{ calls, ids atomic.Int64 }

func (c *modackCounter) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if m, ok := req.(*pubsubpb.ModifyAckDeadlineRequest); ok && m.AckDeadlineSeconds > 0 {
		c.calls.Add(1)
		c.ids.Add(int64(len(m.AckIds)))
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// heldMeasure takes heldMessages' measurements as the run goes: the memory
// once every message is held, then the renewals over a window.
type heldMeasure struct {
	rss, heap          int64
	queued             float64
	start              time.Time
	calls0, ids0       int64
	calls, ids         int64
	done, memoryIsRead bool
}

// step is polled while the worker runs; it reports whether the
// measurement is over.
func (m *heldMeasure) step(r *rig, c *modackCounter, held int, window time.Duration) bool {
	switch {
	case !m.memoryIsRead:
		if testutil.ToFloat64(r.m.JobsInFlight) < float64(held) {
			return false
		}
		m.rss, _ = settledResidentBytes()
		m.heap = liveBytes()
		m.queued = testutil.ToFloat64(r.m.JobsQueued.WithLabelValues(vaultHost))
		m.memoryIsRead, m.start = true, time.Now()
		m.calls0, m.ids0 = c.calls.Load(), c.ids.Load()
	case time.Since(m.start) >= window:
		m.calls, m.ids = c.calls.Load()-m.calls0, c.ids.Load()-m.ids0
		m.done = true
	}
	return m.done
}

// liveBytes is the heap in use and the goroutine stacks after a garbage
// collection.
func liveBytes() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc + ms.StackInuse)
}
