package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"opcancel/lro/lrotest"
	"opcancel/worker"
)

func vaultName(i int) string { return fmt.Sprintf("operations/bench-%d", i) }

// doneAtFirstPoll: every operation is cancelled and done at the first poll.
func doneAtFirstPoll(string) *lrotest.Script { return &lrotest.Script{} }

// socketRun is one run of jobs against a fake API on a loopback socket.
type socketRun struct {
	fake    *lrotest.Server
	rig     *rig
	done    completions
	elapsed time.Duration
	// accepted samples the API's count of accepted requests every 100 ms.
	accepted []sample
}

type sample struct {
	at time.Time
	n  int
}

// steadyAccepted is the accepted-request rate between the samples where the
// count crossed 10 % and 90 % of its final value.
func (r *socketRun) steadyAccepted() float64 {
	if len(r.accepted) < 2 {
		return 0
	}
	final := r.accepted[len(r.accepted)-1].n
	var lo, hi *sample
	for i := range r.accepted {
		s := &r.accepted[i]
		if lo == nil && s.n >= final/10 {
			lo = s
		}
		if hi == nil && s.n >= final*9/10 {
			hi = s
		}
	}
	if lo == nil || hi == nil || !hi.at.After(lo.at) {
		return 0
	}
	return float64(hi.n-lo.n) / hi.at.Sub(lo.at).Seconds()
}

// onSockets runs jobs (operations/bench-N, as Pub/Sub's flow control would
// hand them over) against a fake API with opts, served on a loopback socket;
// extra holds more keys of the Vault entry of the services file.
func onSockets(ctx context.Context, opts lrotest.Options, cfg worker.Config, jobs int, extra string) (*socketRun, error) {
	run := &socketRun{fake: lrotest.New(opts)}
	srv := httptest.NewServer(run.fake)
	defer srv.Close()
	var err error
	if run.rig, err = newRig(cfg, lrotest.ServicesYAML(lrotest.AllAt(srv.URL), map[string]string{vaultHost: extra}), nil); err != nil {
		return nil, err
	}
	defer run.rig.w.Close()
	start := time.Now()
	run.sample(func() { run.rig.feed(ctx, jobs, cfg.MaxOutstanding, vaultName, &run.done) })
	run.elapsed = time.Since(start)
	return run, nil
}

// latencyBound: 50 ms per call, --concurrency 64, two calls per job: the
// bound is 64 / 0.05 / 2 = 640 jobs/s.
func latencyBound(ctx context.Context) (*result, error) {
	const (
		latency     = 50 * time.Millisecond
		concurrency = 64
		jobs        = 8000
	)
	cfg := worker.DefaultConfig()
	cfg.Concurrency = concurrency
	opts := lrotest.Options{Latency: latency, DontRecord: true, Default: doneAtFirstPoll}
	run, err := onSockets(ctx, opts, cfg, jobs, "")
	if err != nil {
		return nil, err
	}
	// The same with the one busy service allowed the whole pool.
	whole, err := onSockets(ctx, opts, cfg, jobs, fmt.Sprintf("maxConcurrency: %d", concurrency))
	if err != nil {
		return nil, err
	}
	r, c, elapsed := run.rig, &run.done, run.elapsed
	bound := float64(concurrency) / latency.Seconds() / 2
	rate := c.steadyRate()
	res := &result{Value: rate, Unit: "jobs/s", Bound: bound, Ratio: rate / bound, Target: 0.90}
	res.Pass = res.Ratio >= res.Target
	res.add("jobs", jobs)
	res.add("overall_jobs_per_s", float64(jobs)/elapsed.Seconds())
	res.add("cancelled", testutil.ToFloat64(r.m.Jobs.WithLabelValues("vault.googleapis.com", "cancelled")))
	res.add("share", testutil.ToFloat64(r.m.ServiceMaxConcurrency.WithLabelValues(vaultHost)))
	res.add("jobs_per_s_with_max_concurrency_64", whole.done.steadyRate())
	res.add("note", "steady rate between the 10th and 90th percentile completions, with the default share of the pool (half of --concurrency); then the same with maxConcurrency: 64 for the service; each job waits ~1 s before its poll, so ~700 jobs are held at the bound")
	return res, nil
}

// heldJobs: 10,000 jobs waiting in verification; resident memory per held
// job, and the rate of new cancels before and while they are held.
func heldJobs(ctx context.Context) (*result, error) {
	const (
		held    = 10000
		flow    = 6000
		latency = 5 * time.Millisecond
	)
	fake := lrotest.New(lrotest.Options{DontRecord: true, Latency: latency, Default: heldUnlessNew})
	cfg := worker.DefaultConfig()
	cfg.MaxOutstanding = held + 2000
	cfg.VerifyTimeout = 30 * time.Minute
	r, err := newRig(cfg, lrotest.ServicesYAML(lrotest.AllAt("http://vault.bench"), nil), fake.Transport())
	if err != nil {
		return nil, err
	}
	defer r.w.Close()
	// New cancels without held jobs, which also warms up every path.
	var before completions
	r.feed(ctx, flow, 2000, func(i int) string { return fmt.Sprintf("operations/before-%d", i) }, &before)

	rss0, err := settledResidentBytes()
	if err != nil {
		return nil, err
	}
	hctx, stopHeld := context.WithCancel(ctx)
	defer stopHeld()
	heldDone := make(chan struct{})
	var heldC completions
	go func() {
		defer close(heldDone)
		r.feed(hctx, held, held, func(i int) string { return fmt.Sprintf("operations/held-%d", i) }, &heldC)
	}()
	for fake.Stats().Cancels < flow+held || testutil.ToFloat64(r.m.APIRequestsInFlight) > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	rss1, err := settledResidentBytes()
	if err != nil {
		stopHeld()
		<-heldDone
		return nil, err
	}
	inFlight := testutil.ToFloat64(r.m.JobsInFlight)

	var during completions
	r.feed(ctx, flow, 2000, func(i int) string { return fmt.Sprintf("operations/during-%d", i) }, &during)
	stopHeld()
	<-heldDone

	perJob := float64(rss1-rss0) / held / 1024
	res := &result{Value: perJob, Unit: "KiB/job", Bound: 16, Ratio: perJob / 16, Target: 1}
	flowRatio := during.steadyRate() / before.steadyRate()
	res.Pass = res.Ratio <= res.Target && flowRatio >= 0.8
	res.add("held_jobs", inFlight)
	res.add("new_jobs_per_s_before", before.steadyRate())
	res.add("new_jobs_per_s_while_held", during.steadyRate())
	res.add("flow_ratio", flowRatio)
	res.add("flow_target", 0.8)
	res.add("note", "resident set growth after GC while 10,000 jobs wait between polls; the held jobs keep polling (every 1 s doubling to 30 s) while the new ones flow")
	return res, nil
}

// heldUnlessNew scripts heldJobs' operations: operations/held-N never
// finish, the others are done at the first poll.
func heldUnlessNew(name string) *lrotest.Script {
	if strings.HasPrefix(name, "operations/held-") {
		return &lrotest.Script{DoneAfterPolls: lrotest.Never}
	}
	return &lrotest.Script{}
}

// settledResidentBytes is the resident set size after a garbage collection
// that returned the freed memory to the system.
func settledResidentBytes() (int64, error) {
	runtime.GC()
	debug.FreeOSMemory()
	return residentBytes()
}

// rateLimit: rate 200/s, unlimited API: the observed request rate.
func rateLimit(ctx context.Context) (*result, error) {
	const want = 200.0
	fake := lrotest.New(lrotest.Options{Default: doneAtFirstPoll})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	cfg := worker.DefaultConfig()
	var sends sendLog
	r, err := newRigObserved(cfg, lrotest.ServicesYAML(lrotest.AllAt(srv.URL), map[string]string{"vault.googleapis.com": "rate: 200"}), nil, &sends)
	if err != nil {
		return nil, err
	}
	defer r.w.Close()
	var c completions
	r.feed(ctx, 1200, 1000, vaultName, &c)
	var received []time.Time
	for _, q := range fake.Requests() {
		received = append(received, q.Time)
	}
	sent := sends.times
	observed := float64(len(received)-1) / received[len(received)-1].Sub(received[0]).Seconds()
	maxSent, maxReceived := maxInWindow(sent, time.Second), maxInWindow(received, time.Second)
	res := &result{Value: observed, Unit: "requests/s", Bound: want, Ratio: observed / want, Target: 0.95}
	res.Pass = res.Ratio >= 0.95 && res.Ratio <= 1.0 && maxSent <= int(want) && maxReceived <= int(want)
	res.add("requests", len(received))
	res.add("max_sent_in_any_1s", maxSent)
	res.add("max_received_in_any_1s", maxReceived)
	res.add("note", "pass: the rate the API saw within 5 % below the limit, and no one-second window above it, counted at the client's sends and at the API's arrivals")
	return res, nil
}

// maxInWindow is the most events in any half-open window of length w.
func maxInWindow(times []time.Time, w time.Duration) int {
	t := slices.Clone(times)
	slices.SortFunc(t, func(a, b time.Time) int { return a.Compare(b) })
	best, j := 0, 0
	for i := range t {
		for j < len(t) && t[j].Sub(t[i]) < w {
			j++
		}
		best = max(best, j-i)
	}
	return best
}

// quotaStorm: the API admits 300 requests/s and answers 429 with RetryInfo
// beyond; 5,000 jobs.
func quotaStorm(ctx context.Context) (*result, error) {
	const (
		quota = 300.0
		jobs  = 5000
	)
	run, err := onSockets(ctx, lrotest.Options{Quota: quota, QuotaRetryDelay: time.Second, DontRecord: true, Default: doneAtFirstPoll}, worker.DefaultConfig(), jobs, "")
	if err != nil {
		return nil, err
	}
	r, elapsed := run.rig, run.elapsed
	st := run.fake.Stats()
	total := st.Cancels + st.Gets
	goodput := run.steadyAccepted()
	share := float64(st.Throttled) / float64(total)
	cancelled := testutil.ToFloat64(r.m.Jobs.WithLabelValues("vault.googleapis.com", "cancelled"))
	res := &result{Value: goodput, Unit: "accepted requests/s", Bound: quota, Ratio: goodput / quota, Target: 0.85}
	res.Pass = res.Ratio >= res.Target && share <= 0.10 && cancelled == jobs
	res.add("rejected_share", share)
	res.add("overall_accepted_per_s", float64(total-st.Throttled)/elapsed.Seconds())
	res.add("rejected_share_target", 0.10)
	res.add("requests", total)
	res.add("rejected", st.Throttled)
	res.add("jobs_cancelled", cancelled)
	res.add("jobs_lost", jobs-int(cancelled))
	res.add("throttle_delayed_requests", testutil.ToFloat64(r.m.ThrottleDelayed.WithLabelValues("vault.googleapis.com")))
	res.add("note", "goodput: accepted requests/s between 10 % and 90 % of the run's accepted requests (overall_accepted_per_s includes the ramp and the tail of jobs waiting out RetryInfo); rejected_share over the whole run")
	return res, nil
}
