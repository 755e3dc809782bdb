package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"opcancel/lro/lrotest"
	"opcancel/worker"
)

// isolation: every request to one service hangs until the request timeout,
// the other answers in 50 ms. The healthy service's jobs/s with the hung one
// present, against the same rate with it absent, in the same run.
func isolation(ctx context.Context) (*result, error) {
	const (
		latency = 50 * time.Millisecond
		healthy = 6000
		hung    = 300
		window  = 600 // healthy jobs held at once; with the hung ones, within --max-outstanding
	)
	cfg := worker.DefaultConfig()
	ok := lrotest.New(lrotest.Options{Latency: latency, DontRecord: true, Default: doneAtFirstPoll})
	okSrv := httptest.NewServer(ok)
	defer okSrv.Close()
	sick := lrotest.New(lrotest.Options{DontRecord: true, Fault: func(*http.Request) *lrotest.Answer { return &lrotest.Answer{Hang: true} }})
	sickSrv := httptest.NewServer(sick)
	defer sickSrv.Close()
	yaml := lrotest.ServicesYAML(lrotest.Endpoints{amapiHost: okSrv.URL, vaultHost: sickSrv.URL}, nil)
	r, err := newRig(cfg, yaml, nil)
	if err != nil {
		return nil, err
	}
	defer r.w.Close()
	healthyName := func(phase string) func(int) string {
		return func(i int) string { return fmt.Sprintf("enterprises/e1/devices/%s/operations/o%d", phase, i) }
	}

	var alone completions
	r.feed(ctx, healthy, window, healthyName("alone"), &alone)

	hctx, stopHung := context.WithCancel(ctx)
	defer stopHung()
	var hungDone completions
	hungFed := make(chan struct{})
	go func() {
		defer close(hungFed)
		r.feed(hctx, hung, hung, func(i int) string { return fmt.Sprintf("operations/hung-%d", i) }, &hungDone)
	}()
	share := testutil.ToFloat64(r.m.ServiceMaxConcurrency.WithLabelValues(vaultHost))
	if err := waitUntil(ctx, time.Minute, func() bool {
		return testutil.ToFloat64(r.m.ServiceRequestsInFlight.WithLabelValues(vaultHost)) >= share
	}); err != nil {
		return nil, fmt.Errorf("the hung service never took its share: %w", err)
	}
	var beside completions
	r.feed(ctx, healthy, window, healthyName("beside"), &beside)
	hungInFlight := testutil.ToFloat64(r.m.ServiceRequestsInFlight.WithLabelValues(vaultHost))
	stopHung()
	<-hungFed

	bound := alone.steadyRate()
	rate := beside.steadyRate()
	res := &result{Value: rate, Unit: "jobs/s", Bound: bound, Ratio: rate / bound, Target: 0.80}
	res.Pass = res.Ratio >= res.Target
	res.add("healthy_jobs", healthy)
	res.add("hung_jobs_held", hung)
	res.add("hung_requests_in_flight", hungInFlight)
	res.add("pool", cfg.Concurrency)
	res.add("share", share)
	res.add("healthy_bound_jobs_per_s", share/latency.Seconds()/2)
	res.add("note", "same worker, same run: the healthy service's steady jobs/s alone, then while every request to the other hangs (it holds its share, half the pool, for the 30 s request timeout); each service's jobs come through a flow-control window of their own (see docs/design.md#bounds on --max-outstanding)")
	return res, nil
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
