package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"opcancel/lro/lrotest"
	"opcancel/worker"
)

// fleetQuota is the API's quota in the fleet scenarios: requests/s it
// admits from all replicas together, and the rate each replica is
// configured with, as a user reading the quota page writes it.
const fleetQuota = 300.0

// fleets: N = 3, then N = 10 replicas in one process, each a worker with
// the default settings and rate: 300, share one queue of jobs (one
// subscription, each replica with its own flow control) against one API
// that admits 300 requests/s and answers 429 with RetryInfo beyond.
func fleets(ctx context.Context) ([]*result, error) {
	var out []*result
	for _, f := range []struct {
		replicas            int
		target, shareTarget float64
	}{{3, 0.90, 0.05}, {10, 0.85, 0.10}} {
		r, err := fleet(ctx, f.replicas, f.target, f.shareTarget)
		if err != nil {
			return nil, fmt.Errorf("%d replicas: %w", f.replicas, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// fleet runs one fleet of replicas.
func fleet(ctx context.Context, replicas int, target, shareTarget float64) (*result, error) {
	cfg := worker.DefaultConfig()
	// Enough jobs that every replica keeps a full window through the
	// steady part of the run, about a minute of the quota beyond them.
	jobs := replicas*cfg.MaxOutstanding + int(fleetQuota/2*60)
	fake := lrotest.New(lrotest.Options{Quota: fleetQuota, QuotaRetryDelay: time.Second, DontRecord: true, Default: doneAtFirstPoll})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	yaml := lrotest.ServicesYAML(lrotest.AllAt(srv.URL), map[string]string{vaultHost: fmt.Sprintf("rate: %g", fleetQuota)})
	var rigs []*rig
	for range replicas {
		r, err := newRig(cfg, yaml, nil)
		if err != nil {
			return nil, err
		}
		defer r.w.Close()
		rigs = append(rigs, r)
	}
	queue := nameQueue(ctx, jobs, vaultName)
	run := &socketRun{fake: fake}
	start := time.Now()
	run.sample(func() {
		var wg sync.WaitGroup
		for _, r := range rigs {
			wg.Go(func() { r.receive(ctx, queue, cfg.MaxOutstanding, &run.done) })
		}
		wg.Wait()
	})
	elapsed := time.Since(start)
	st := fake.Stats()
	total := st.Cancels + st.Gets
	share := float64(st.Throttled) / float64(total)
	cancelled := 0.0
	for _, r := range rigs {
		cancelled += testutil.ToFloat64(r.m.Jobs.WithLabelValues(vaultHost, "cancelled"))
	}
	goodput := run.steadyAccepted()
	res := &result{Value: goodput, Unit: "accepted requests/s", Bound: fleetQuota, Ratio: goodput / fleetQuota, Target: target}
	res.Pass = res.Ratio >= target && share <= shareTarget && int(cancelled) == jobs
	res.add("replicas", replicas)
	res.add("rejected_share", share)
	res.add("rejected_share_target", shareTarget)
	res.add("requests", total)
	res.add("rejected", st.Throttled)
	res.add("overall_accepted_per_s", float64(total-st.Throttled)/elapsed.Seconds())
	res.add("jobs", jobs)
	res.add("jobs_cancelled", cancelled)
	res.add("seconds", elapsed.Seconds())
	res.add("note", "each replica configured with rate: 300, the API's quota; goodput between 10 % and 90 % of the run's accepted requests; rejected_share (429s) over the whole run, the start included, when every replica sends at its configured rate")
	return res, nil
}

// sample samples the fake's accepted requests every 100 ms while f runs.
func (s *socketRun) sample(f func()) {
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			st := s.fake.Stats()
			s.accepted = append(s.accepted, sample{time.Now(), st.Cancels + st.Gets - st.Throttled})
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(stop)
	<-sampled
	st := s.fake.Stats()
	s.accepted = append(s.accepted, sample{time.Now(), st.Cancels + st.Gets - st.Throttled})
}
