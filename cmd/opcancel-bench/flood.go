package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"opcancel/lro/lrotest"
	"opcancel/queue"
	"opcancel/queue/queuetest"
	"opcancel/worker"
)

// The flood scenario's shape.
const (
	floodNames     = 5000
	floodRate      = 20.0
	floodLatency   = 20 * time.Millisecond
	floodOthers    = 200
	floodDeadline  = 10 * time.Second // each of the others done within it of its publication
	floodSettle    = 10 * time.Second // the flood runs alone this long first
	floodMeasure   = 30 * time.Second // the flood's rate is measured this long from the others' publication
	floodRateFloor = 0.95
)

// flood: 5,000 names for an API at rate: 20 on the official emulator, then
// 200 names for another API (20 ms, no rate): each of the 200 must be done
// within 10 s of its publication, while the flood keeps its rate. One
// worker with the default settings, first on one subscription, then
// partitioned: one subscription per service, each with its own flow
// control (the emulator does not apply filters, so each service's names
// are published to a topic of their own, which is what a filter on the
// service attribute does).
func flood(ctx context.Context) ([]*result, error) {
	var out []*result
	for _, partitioned := range []bool{false, true} {
		r, err := runFlood(ctx, partitioned)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// floodRun follows one run: when each of the others was published and
// settled, and when the flood's API received each request.
type floodRun struct {
	mu        sync.Mutex
	started   time.Time // the run's start
	published time.Time
	settled   map[string]time.Time // the others' names
	acked     int                  // the flood's names acked
	arrivals  []time.Time          // the flood API's requests
}

func (f *floodRun) settle(name string, ack bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case strings.HasPrefix(name, "enterprises/"):
		if _, ok := f.settled[name]; !ok && ack {
			f.settled[name] = time.Now()
		}
	case ack:
		f.acked++
	}
}

func (f *floodRun) arrived(r *http.Request) *lrotest.Answer {
	if r.Host == "vault.bench" {
		f.mu.Lock()
		f.arrivals = append(f.arrivals, time.Now())
		f.mu.Unlock()
	}
	return nil
}

func (f *floodRun) othersDone() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.settled)
}

func otherName(i int) string {
	return fmt.Sprintf("enterprises/e1/devices/d1/operations/flood-other-%d", i)
}

// floodQueue is the emulator with the flood's topic and the others', the
// same one unless partitioned, and the subscriptions the worker reads.
type floodQueue struct {
	emu                    *queuetest.Emulator
	client                 *queue.Client
	floodTopic, otherTopic string
	subs                   []string
}

func startFloodQueue(ctx context.Context, partitioned bool) (q *floodQueue, err error) {
	const project = "bench"
	q = &floodQueue{}
	if q.emu, err = queuetest.Start(ctx); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			q.stop()
		}
	}()
	var sub string
	if q.floodTopic, sub, err = q.emu.TopicAndSubscription(ctx, project, "requests", "worker", queuetest.SubscriptionOptions{}); err != nil {
		return nil, err
	}
	q.otherTopic, q.subs = q.floodTopic, []string{sub}
	if partitioned {
		if q.otherTopic, sub, err = q.emu.TopicAndSubscription(ctx, project, "requests-amapi", "worker-amapi", queuetest.SubscriptionOptions{}); err != nil {
			return nil, err
		}
		q.subs = append(q.subs, sub)
	}
	q.client, err = queue.NewClient(ctx, queue.ClientConfig{Project: project, EmulatorHost: q.emu.Host})
	return q, err
}

func (q *floodQueue) stop() {
	if q.client != nil {
		q.client.Close()
	}
	q.emu.Stop()
}

// runFlood runs the scenario once: the worker on the queue's
// subscriptions, the flood published, then, once it has run alone for
// floodSettle, the others.
func runFlood(ctx context.Context, partitioned bool) (*result, error) {
	load0 := loadAverage()
	q, err := startFloodQueue(ctx, partitioned)
	if err != nil {
		return nil, err
	}
	defer q.stop()
	run := &floodRun{started: time.Now(), settled: map[string]time.Time{}}
	fake := lrotest.New(lrotest.Options{DontRecord: true, Latency: floodLatency, Default: doneAtFirstPoll, Fault: run.arrived})
	cfg := worker.DefaultConfig()
	cfg.ShutdownTimeout = time.Second // the end of the run: nothing is measured then
	yaml := lrotest.ServicesYAML(lrotest.Endpoints{vaultHost: "http://vault.bench", amapiHost: "http://amapi.bench"},
		map[string]string{vaultHost: fmt.Sprintf("rate: %g", floodRate)})
	r, err := newRig(cfg, yaml, fake.Transport())
	if err != nil {
		return nil, err
	}
	defer r.w.Close()
	var srcs []worker.Source
	for _, s := range q.subs {
		src := q.client.Subscriber(queue.ReceiveConfig{Subscription: s, MaxOutstanding: cfg.SourceWindow(len(q.subs))})
		srcs = append(srcs, observedSource{Source: src, settled: func(d worker.Delivery, ack bool) { run.settle(string(d.Data), ack) }})
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	werr := make(chan error, 1)
	go func() { werr <- r.w.Run(wctx, srcs...) }()
	heldBefore, err := run.publish(ctx, q, r)
	stop()
	if rerr := <-werr; err == nil {
		err = rerr
	}
	if err != nil {
		return nil, err
	}
	return run.result(partitioned, cfg, len(q.subs), heldBefore, load0), nil
}

// publish publishes the flood, lets it run alone, publishes the others,
// waits for them (six times their deadline at most) and for the end of
// the flood's measurement. It returns the jobs held when the others were
// published.
func (f *floodRun) publish(ctx context.Context, q *floodQueue, r *rig) (float64, error) {
	if err := publishAll(ctx, q.client, q.floodTopic, floodNames, vaultName, vaultHost); err != nil {
		return 0, err
	}
	if err := sleepCtx(ctx, floodSettle); err != nil {
		return 0, err
	}
	held := testutil.ToFloat64(r.m.JobsInFlight)
	f.mu.Lock()
	f.published = time.Now()
	f.mu.Unlock()
	if err := publishAll(ctx, q.client, q.otherTopic, floodOthers, otherName, amapiHost); err != nil {
		return 0, err
	}
	// Missing ones are reported as such, not as an error.
	_ = waitUntil(ctx, 6*floodDeadline, func() bool { return f.othersDone() >= floodOthers })
	return held, sleepCtx(ctx, time.Until(f.published.Add(floodMeasure)))
}

// result is the run's figures: the slowest of the others, from its
// publication to its outcome, against floodDeadline; the flood's rate over
// the floodMeasure after the others' publication against its rate.
func (f *floodRun) result(partitioned bool, cfg worker.Config, subs int, heldBefore float64, load0 string) *result {
	f.mu.Lock()
	defer f.mu.Unlock()
	var waits []float64
	for _, at := range f.settled {
		waits = append(waits, at.Sub(f.published).Seconds())
	}
	slices.Sort(waits)
	slowest := 6 * floodDeadline.Seconds() // missing: at least the wait given
	if len(waits) == floodOthers {
		slowest = waits[len(waits)-1]
	}
	end := f.published.Add(floodMeasure)
	during := 0
	for _, t := range f.arrivals {
		if !t.Before(f.published) && t.Before(end) {
			during++
		}
	}
	rate := float64(during) / floodMeasure.Seconds()
	peak := maxInWindow(f.arrivals, time.Second)
	res := &result{Value: slowest, Unit: "s from publication to outcome, slowest of the 200", Bound: floodDeadline.Seconds(),
		Ratio: slowest / floodDeadline.Seconds(), Target: 1}
	// The target is the issue's: every one within the deadline, the flood
	// at its rate. Never above the rate in any second is rate_limit's
	// target; the peak here is reported, as the API saw it.
	res.Pass = len(waits) == floodOthers && slowest <= floodDeadline.Seconds() && rate/floodRate >= floodRateFloor
	layout := "one subscription"
	if partitioned {
		layout = "partitioned: one subscription per service"
	}
	res.add("layout", layout)
	res.add("others_done", len(waits))
	res.add("others", floodOthers)
	if len(waits) > 0 {
		res.add("others_p50_s", waits[len(waits)/2])
		res.add("others_p90_s", waits[len(waits)*9/10])
	}
	res.add("flood_rate", rate)
	res.add("flood_configured_rate", floodRate)
	res.add("flood_ratio", rate/floodRate)
	res.add("flood_ratio_target", floodRateFloor)
	res.add("flood_max_in_any_1s", peak)
	res.add("flood_names", floodNames)
	res.add("flood_acked", f.acked)
	res.add("held_when_others_published", heldBefore)
	res.add("max_outstanding", cfg.MaxOutstanding)
	res.add("subscriptions", subs)
	res.add("load_before", load0)
	res.add("load_after", loadAverage())
	res.add("seconds", time.Since(f.started).Seconds())
	res.add("note", fmt.Sprintf("default worker settings on the emulator; the flood (%d names, rate: %g, %v) is published, runs alone for %v, then %d names of another API (%v, no rate) are published; flood_rate: the flood API's requests over the %v from then", floodNames, floodRate, floodLatency, floodSettle, floodOthers, floodLatency, floodMeasure))
	return res
}

// publishAll publishes n names, with their service attribute as submit
// sets it, and waits for all of them.
func publishAll(ctx context.Context, client *queue.Client, topic string, n int, name func(int) string, service string) error {
	pub := client.Publisher(queue.PublishConfig{Topic: topic, CountThreshold: 1000})
	defer pub.Stop()
	pending := make([]queue.Result, 0, n)
	for i := range n {
		pending = append(pending, pub.PublishAsync(ctx, []byte(name(i)), map[string]string{"service": service}))
	}
	for _, p := range pending {
		if _, err := p.Get(ctx); err != nil {
			return err
		}
	}
	return nil
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(max(d, 0)):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loadAverage is the machine's load averages over 1, 5 and 15 minutes, as
// uptime prints them.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
