package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/oauth2"

	"opcancel/lro"
	"opcancel/lro/lrotest"
	"opcancel/worker"
)

func vaultName(i int) string { return fmt.Sprintf("operations/bench-%d", i) }

// doneAtFirstPoll: every operation is cancelled and done at the first poll.
func doneAtFirstPoll(string) *lrotest.Script { return &lrotest.Script{} }

// socketRun is one run of jobs against a fake API on a loopback socket.
type socketRun struct {
	fake *lrotest.Server
	// endpoint is the fake's host, the endpoint label of its series.
	endpoint string
	rig      *rig
	done     completions
	elapsed  time.Duration
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
	run.endpoint = srv.Listener.Addr().String()
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

// latencyBound: 50 ms per call, --concurrency 64, two calls per job, one
// busy service with the default settings: the bound is the pool's,
// 64 / 0.05 / 2 = 640 jobs/s.
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
	r, c, elapsed := run.rig, &run.done, run.elapsed
	bound := float64(concurrency) / latency.Seconds() / 2
	rate := c.steadyRate()
	res := &result{Value: rate, Unit: "jobs/s", Bound: bound, Ratio: rate / bound, Target: 0.95}
	res.Pass = res.Ratio >= res.Target
	res.add("jobs", jobs)
	res.add("overall_jobs_per_s", float64(jobs)/elapsed.Seconds())
	res.add("cancelled", testutil.ToFloat64(r.m.Jobs.WithLabelValues("vault.googleapis.com", "cancelled")))
	res.add("reclaimed", testutil.ToFloat64(r.m.RequestsReclaimed.WithLabelValues(vaultHost, run.endpoint)))
	res.add("note", "steady rate between the 10th and 90th percentile completions, default settings (no maxConcurrency); each job waits ~1 s before its poll, so ~700 jobs are held at the bound")
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
	beforeUse := r.measure(fake, func() {
		r.feed(ctx, flow, 2000, func(i int) string { return fmt.Sprintf("operations/before-%d", i) }, &before)
	})

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
	duringUse := r.measure(fake, func() {
		r.feed(ctx, flow, 2000, func(i int) string { return fmt.Sprintf("operations/during-%d", i) }, &during)
	})
	stopHeld()
	<-heldDone

	perJob := float64(rss1-rss0) / held / 1024
	res := &result{Value: perJob, Unit: "KiB/job", Bound: 16, Ratio: perJob / 16, Target: 1}
	flowRatio := during.steadyRate() / before.steadyRate()
	res.Pass = res.Ratio <= res.Target && flowRatio >= 0.9
	res.add("held_jobs", inFlight)
	res.add("new_jobs_per_s_before", before.steadyRate())
	res.add("new_jobs_per_s_while_held", during.steadyRate())
	res.add("flow_ratio", flowRatio)
	res.add("flow_target", 0.9)
	beforeUse.add(res, "before")
	duringUse.add(res, "while_held")
	res.add("note", "resident set growth after GC while 10,000 jobs wait between polls; the held jobs keep polling (every 1 s doubling to 30 s) while the new ones flow; per phase: the process's CPU (cores), the API's gets per second, and the seconds requests waited for a slot of the pool")
	return res, nil
}

// phaseUse is what one phase of a scenario used.
type phaseUse struct {
	cores, getsPerS, slotWait float64
}

// measure runs f and returns what it used: the process's CPU, the fake
// API's gets and the time requests waited for a slot of the pool.
func (r *rig) measure(fake *lrotest.Server, f func()) phaseUse {
	slotWait := func() float64 {
		total := 0.0
		for _, s := range r.table.Services() {
			for _, h := range s.EndpointHosts() {
				total += testutil.ToFloat64(r.m.ServiceConcurrencyWait.WithLabelValues(s.Host, h))
			}
		}
		return total
	}
	cpu, start, gets, wait := cpuTime(), time.Now(), fake.Stats().Gets, slotWait()
	f()
	elapsed := time.Since(start).Seconds()
	return phaseUse{
		cores:    (cpuTime() - cpu).Seconds() / elapsed,
		getsPerS: float64(fake.Stats().Gets-gets) / elapsed,
		slotWait: slotWait() - wait,
	}
}

// add adds u's figures to res, their keys prefixed by phase.
func (u phaseUse) add(res *result, phase string) {
	res.add(phase+"_cpu_cores", u.cores)
	res.add(phase+"_gets_per_s", u.getsPerS)
	res.add(phase+"_slot_wait_s", u.slotWait)
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

// rateLimits: rate 200/s against an unlimited API, then against one that
// answers every request 401: the rate the API sees, and its busiest second.
func rateLimits(ctx context.Context) ([]*result, error) {
	r, err := rateLimit(ctx)
	if err != nil {
		return nil, err
	}
	unauth, err := rateLimitUnauthenticated(ctx)
	if err != nil {
		return nil, fmt.Errorf("every answer 401: %w", err)
	}
	return []*result{r, unauth}, nil
}

// rateLimitRate is the rate of the rate_limit scenarios' service.
const rateLimitRate = 200.0

// rateLimit: rate 200/s, unlimited API: the observed request rate.
func rateLimit(ctx context.Context) (*result, error) {
	start := time.Now()
	fake := lrotest.New(lrotest.Options{Default: doneAtFirstPoll})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	var sends sendLog
	r, err := newRigObserved(worker.DefaultConfig(), lrotest.ServicesYAML(lrotest.AllAt(srv.URL), map[string]string{vaultHost: fmt.Sprintf("rate: %g", rateLimitRate)}), nil, &sends, nil)
	if err != nil {
		return nil, err
	}
	defer r.w.Close()
	var c completions
	r.feed(ctx, 1200, 1000, vaultName, &c)
	res := paceResult(fake, sends.times)
	res.Pass = res.Pass && res.Ratio >= 0.95
	res.add("note", "pass: the rate the API saw within 5 % below the limit, and no one-second window above it, counted at the client's sends and at the API's arrivals")
	res.add("seconds", time.Since(start).Seconds())
	return res, nil
}

// rateLimitUnauthenticated: the same service over TLS with bearer tokens,
// its API answering every request 401; the jobs retry (retry budget 20 s,
// so that the run ends) and the token is renewed: every retry goes through
// the service's gate.
func rateLimitUnauthenticated(ctx context.Context) (*result, error) {
	begin := time.Now()
	unauthenticated := lrotest.Err(lro.Unauthenticated, "Request had invalid authentication credentials.")
	fake := lrotest.New(lrotest.Options{Fault: func(*http.Request) *lrotest.Answer { return &unauthenticated }})
	srv := httptest.NewTLSServer(fake)
	defer srv.Close()
	cfg := worker.DefaultConfig()
	cfg.RetryBudget = 20 * time.Second
	transport := srv.Client().Transport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = cfg.Concurrency
	var made atomic.Int64
	tokens := func(context.Context, []string, string) (oauth2.TokenSource, error) {
		n := made.Add(1)
		return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: fmt.Sprintf("t%d", n), TokenType: "Bearer"}), nil
	}
	var sends sendLog
	yaml := lrotest.ServicesYAML(lrotest.Endpoints{vaultHost: srv.URL}, map[string]string{vaultHost: fmt.Sprintf(
		"rate: %g\nallowTokenOutsideGoogle: true\nscopes: [\"https://www.googleapis.com/auth/ediscovery\"]", rateLimitRate)})
	r, err := newRigObserved(cfg, yaml, transport, &sends, tokens)
	if err != nil {
		return nil, err
	}
	defer r.w.Close()
	start := made.Load()
	var c completions
	r.feed(ctx, 1000, 1000, vaultName, &c)
	res := paceResult(fake, sends.times)
	res.Target = 0
	res.add("variant", "every answer 401")
	res.add("jobs_retry_exhausted", testutil.ToFloat64(r.m.Jobs.WithLabelValues(vaultHost, "retry_exhausted")))
	res.add("token_sources_made", made.Load()-start)
	res.add("note", "every answer 401 UNAUTHENTICATED, auth adc over TLS, --retry-budget 20s: pass: no one-second window above the rate, at the client's sends and at the API's arrivals (the rate itself is the jobs' retries', not a target)")
	res.add("seconds", time.Since(begin).Seconds())
	return res, nil
}

// paceResult is the rate fake saw from its first request to its last,
// against rateLimitRate, and whether no second, at the client's sends or
// at the API's arrivals, held more.
func paceResult(fake *lrotest.Server, sent []time.Time) *result {
	var received []time.Time
	for _, q := range fake.Requests() {
		received = append(received, q.Time)
	}
	observed := float64(len(received)-1) / received[len(received)-1].Sub(received[0]).Seconds()
	maxSent, maxReceived := maxInWindow(sent, time.Second), maxInWindow(received, time.Second)
	res := &result{Value: observed, Unit: "requests/s", Bound: rateLimitRate, Ratio: observed / rateLimitRate, Target: 0.95}
	res.Pass = res.Ratio <= 1.0 && maxSent <= int(rateLimitRate) && maxReceived <= int(rateLimitRate)
	res.add("requests", len(received))
	res.add("max_sent_in_any_1s", maxSent)
	res.add("max_received_in_any_1s", maxReceived)
	return res
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
	res.add("throttle_delayed_requests", testutil.ToFloat64(r.m.ThrottleDelayed.WithLabelValues(vaultHost, run.endpoint)))
	res.add("note", "goodput: accepted requests/s between 10 % and 90 % of the run's accepted requests (overall_accepted_per_s includes the ramp and the tail of jobs waiting out RetryInfo); rejected_share over the whole run")
	return res, nil
}
