package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"opcancel/lro"
	"opcancel/lro/lrotest"
	"opcancel/worker"
)

// The isolation scenarios: two kinds of jobs share one worker with the
// default settings, each through a flow-control window of its own (see
// docs/design.md#bounds on --max-outstanding); both answer in 50 ms, then
// every request of the sick kind hangs until the request timeout.
const (
	isolationLatency = 50 * time.Millisecond
	isolationBoth    = 10 * time.Second // both healthy, before the hang
	isolationAfter   = 60 * time.Second // measured after the hang began
	isolationSteady  = 20 * time.Second // the steady rate is from here to the end
	isolationWindow  = 5 * time.Second
	// Jobs held at once, within --max-outstanding (1,000): each healthy job
	// holds its message about 1.1 s (its poll waits a second), so 900 let
	// it reach the pool's bound; the sick jobs wait on the hung endpoint.
	healthyWindow = 900
	sickWindow    = 100
)

// isolation: one service (Vault) starts hanging every request beside
// another (Android Management) that keeps answering in 50 ms.
func isolation(ctx context.Context) (*result, error) {
	ok := lrotest.New(lrotest.Options{Latency: isolationLatency, DontRecord: true, Default: doneAtFirstPoll})
	okSrv := httptest.NewServer(ok)
	defer okSrv.Close()
	var hang atomic.Bool
	sick := lrotest.New(lrotest.Options{Latency: isolationLatency, DontRecord: true, Default: doneAtFirstPoll, Fault: hangWhile(&hang)})
	sickSrv := httptest.NewServer(sick)
	defer sickSrv.Close()
	yaml := lrotest.ServicesYAML(lrotest.Endpoints{amapiHost: okSrv.URL, vaultHost: sickSrv.URL}, nil)
	r, err := newRig(worker.DefaultConfig(), yaml, nil)
	if err != nil {
		return nil, err
	}
	defer r.w.Close()
	healthy := func(i int) string { return fmt.Sprintf("enterprises/e1/devices/d1/operations/o%d", i) }
	sickName := func(i int) string { return fmt.Sprintf("operations/o%d", i) }
	run, err := hangBeside(ctx, r, healthy, sickName, &hang)
	if err != nil {
		return nil, err
	}
	res := run.result(worker.DefaultConfig())
	res.add("sick_requests_in_flight", testutil.ToFloat64(r.m.ServiceRequestsInFlight.WithLabelValues(vaultHost, hostOf(sickSrv.URL))))
	res.add("sick_reclaimed", testutil.ToFloat64(r.m.RequestsReclaimed.WithLabelValues(vaultHost, hostOf(sickSrv.URL))))
	res.add("note", "same worker: Vault and Android Management jobs both answered in 50 ms, then every Vault request hangs (until the 30 s request timeout); the healthy service's steady jobs/s from 20 s to 60 s after the hang began, against the pool's bound; min_5s is its slowest 5-second window in the first 60 s, which must not fall below half the steady rate")
	return res, nil
}

// regionIsolation: one API (Vertex AI) in two locations, each with its
// endpoint from the services file; one location's endpoint starts hanging.
func regionIsolation(ctx context.Context) (*result, error) {
	const api = "aiplatform.googleapis.com"
	var hang atomic.Bool
	var servers []*httptest.Server
	for _, fault := range []func(*http.Request) *lrotest.Answer{nil, hangWhile(&hang)} {
		srv := httptest.NewUnstartedServer(nil)
		servers = append(servers, srv)
		defer srv.Close()
		srv.Config.Handler = lazyHandler(func() http.Handler { return fakeOf(api, servers, fault) })
		srv.Start()
	}
	yaml := fmt.Sprintf("services:\n  - host: %s\n    endpoint: %s\n    regionalEndpoints: {us-east1: %q, europe-west4: %q}\n",
		api, servers[0].URL, servers[0].URL, servers[1].URL)
	r, err := newRig(worker.DefaultConfig(), yaml, nil)
	if err != nil {
		return nil, err
	}
	defer r.w.Close()
	name := func(loc string) func(int) string {
		return func(i int) string { return fmt.Sprintf("//%s/projects/p/locations/%s/operations/o%d", api, loc, i) }
	}
	run, err := hangBeside(ctx, r, name("us-east1"), name("europe-west4"), &hang)
	if err != nil {
		return nil, err
	}
	res := run.result(worker.DefaultConfig())
	res.Pass = res.Pass && run.healthyNacked == 0
	sick := hostOf(servers[1].URL)
	res.add("sick_requests_in_flight", testutil.ToFloat64(r.m.ServiceRequestsInFlight.WithLabelValues(api, sick)))
	res.add("sick_reclaimed", testutil.ToFloat64(r.m.RequestsReclaimed.WithLabelValues(api, sick)))
	res.add("healthy_allowed_rate", testutil.ToFloat64(r.m.ThrottleAllowedRate.WithLabelValues(api, hostOf(servers[0].URL))))
	res.add("sick_allowed_rate", testutil.ToFloat64(r.m.ThrottleAllowedRate.WithLabelValues(api, sick)))
	res.add("note", "one API, names in us-east1 and europe-west4, each location's endpoint from regionalEndpoints; both answer in 50 ms, then every europe-west4 request hangs; us-east1's steady jobs/s from 20 s to 60 s after, against the pool's bound, and its jobs nacked (retry_exhausted), which must be 0")
	return res, nil
}

// hangWhile is a fault that hangs every request while hang is set.
func hangWhile(hang *atomic.Bool) func(*http.Request) *lrotest.Answer {
	return func(*http.Request) *lrotest.Answer {
		if hang.Load() {
			return &lrotest.Answer{Hang: true}
		}
		return nil
	}
}

// fakeOf is a fake of the API host answering in isolationLatency, whose
// regional endpoints are the servers', with fault.
func fakeOf(host string, servers []*httptest.Server, fault func(*http.Request) *lrotest.Answer) http.Handler {
	yaml := fmt.Sprintf("services:\n  - host: %s\n    endpoint: %s\n    regionalEndpoints: {us-east1: %q, europe-west4: %q}\n",
		host, servers[0].URL, servers[0].URL, servers[len(servers)-1].URL)
	table, err := lro.ParseTable("fake.yaml", []byte(yaml), lro.FileOptions{})
	if err != nil {
		panic(err) // the yaml above is valid
	}
	return lrotest.New(lrotest.Options{Services: table.Services(), Latency: isolationLatency, DontRecord: true, Default: doneAtFirstPoll, Fault: fault})
}

// lazyHandler makes its handler on the first request: the fake needs
// every server's URL, known once they all listen.
func lazyHandler(make func() http.Handler) http.Handler {
	var once sync.Once
	var h http.Handler
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { h = make() })
		h.ServeHTTP(w, r)
	})
}

// hangRun is what hangBeside measured.
type hangRun struct {
	aloneRate     float64
	healthy       []time.Time // completions of the healthy jobs
	hungAt        time.Time
	healthyNacked int
}

// hangBeside runs healthy jobs alone, then beside the sick ones, then sets
// hang and keeps both fed for isolationAfter.
func hangBeside(ctx context.Context, r *rig, healthy, sick func(int) string, hang *atomic.Bool) (*hangRun, error) {
	run := &hangRun{}
	var alone completions
	r.feed(ctx, 6000, healthyWindow, func(i int) string { return healthy(1_000_000 + i) }, &alone)
	run.aloneRate = alone.steadyRate()

	fctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	var healthyDone, sickDone completions
	wg.Go(func() { r.feed(fctx, 1<<30, healthyWindow, healthy, &healthyDone) })
	wg.Go(func() { r.feed(fctx, 1<<30, sickWindow, sick, &sickDone) })
	select {
	case <-time.After(isolationBoth):
	case <-ctx.Done():
	}
	hang.Store(true)
	run.hungAt = time.Now()
	select {
	case <-time.After(isolationAfter):
	case <-ctx.Done():
	}
	healthyDone.mu.Lock()
	run.healthy = slices.Clone(healthyDone.times)
	run.healthyNacked = healthyDone.nacks
	healthyDone.mu.Unlock()
	stop()
	wg.Wait()
	return run, ctx.Err()
}

// in counts the healthy completions from from to to after the hang began.
func (h *hangRun) in(from, to time.Duration) int {
	n := 0
	for _, at := range h.healthy {
		if d := at.Sub(h.hungAt); d >= from && d < to {
			n++
		}
	}
	return n
}

// result is the healthy jobs' steady rate against the pool's bound, and
// their slowest 5-second window in the first minute of the hang.
func (h *hangRun) result(cfg worker.Config) *result {
	bound := float64(cfg.Concurrency) / isolationLatency.Seconds() / 2
	steady := float64(h.in(isolationSteady, isolationAfter)) / (isolationAfter - isolationSteady).Seconds()
	res := &result{Value: steady, Unit: "jobs/s", Bound: bound, Ratio: steady / bound, Target: 0.85}
	slowest, at := -1.0, time.Duration(0)
	for from := time.Duration(0); from+isolationWindow <= isolationAfter; from += time.Second {
		if r := float64(h.in(from, from+isolationWindow)) / isolationWindow.Seconds(); slowest < 0 || r < slowest {
			slowest, at = r, from
		}
	}
	res.Pass = res.Ratio >= res.Target && slowest >= steady/2
	res.add("min_5s_jobs_per_s", slowest)
	res.add("min_5s_from_s", at.Seconds())
	res.add("min_5s_target", steady/2)
	res.add("before_hang_jobs_per_s", float64(h.in(-isolationBoth/2, 0))/(isolationBoth/2).Seconds())
	res.add("alone_jobs_per_s", h.aloneRate)
	res.add("healthy_nacked", h.healthyNacked)
	return res
}

// hostOf is the host of a base URL.
func hostOf(url string) string {
	_, host, _ := strings.Cut(url, "://")
	return host
}

// waitUntil polls cond every 20 ms until it holds, ctx ends or timeout passes.
func waitUntil(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}
