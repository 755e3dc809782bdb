package worker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"opcancel/lro"
	"opcancel/lro/lrotest"
	"opcancel/metrics"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
)

func TestMaxOutstandingBound(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.MaxOutstanding = 5
		h := newHarness(t, cfg, lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{DoneAfterPolls: 5} }}, "")
		var wg sync.WaitGroup
		var mu sync.Mutex
		peak := 0.0
		for i := range 30 {
			wg.Go(func() {
				h.w.Handle(context.Background(), h.delivery(fmt.Sprint(i), fmt.Sprintf("operations/o%d", i), nil))
			})
		}
		for range 200 {
			time.Sleep(time.Second)
			mu.Lock()
			peak = max(peak, testutil.ToFloat64(h.m.JobsInFlight))
			mu.Unlock()
		}
		wg.Wait()
		if peak != 5 {
			t.Errorf("peak jobs held = %v, want MaxOutstanding 5", peak)
		}
	})
}

func TestRunShutdown(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.ShutdownTimeout = 10 * time.Second
		h := newHarness(t, cfg, lrotest.Options{}, "")
		h.fake.Set("operations/quick", lrotest.Script{DoneAfterPolls: 2}) // done at about 7s
		h.fake.Set("operations/never", lrotest.Script{DoneAfterPolls: lrotest.Never})
		src := &memSource{deliveries: []Delivery{
			h.delivery("quick", "operations/quick", nil),
			h.delivery("never", "operations/never", nil),
		}}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error)
		go func() { errc <- h.w.Run(ctx, src) }()
		time.Sleep(time.Second)
		cancel()
		stop := time.Now()
		if err := <-errc; err != nil {
			t.Fatalf("Run = %v", err)
		}
		if d := time.Since(stop); d != 10*time.Second {
			t.Errorf("Run returned %v after shutdown began, want the 10s shutdown timeout", d)
		}
		if got := h.settled.get("quick"); len(got) != 1 || got[0] != "ack" {
			t.Errorf("quick = %v, want it to finish (ack) during the drain", got)
		}
		if got := h.settled.get("never"); len(got) != 1 || got[0] != "nack" {
			t.Errorf("never = %v, want nack (interrupted)", got)
		}
		if h.jobs(vault, Interrupted) != 1 || h.jobs(vault, Cancelled) != 1 {
			t.Errorf("interrupted %v, cancelled %v", h.jobs(vault, Interrupted), h.jobs(vault, Cancelled))
		}
	})
}

// failingSource delivers its deliveries, then, failAfter later, fails for
// good as a Pub/Sub subscription that was deleted does: the handlers'
// context ends, and Receive returns an error once they have returned.
type failingSource struct {
	deliveries []Delivery
	failAfter  time.Duration
}

var errSubscriptionGone = errors.New("subscription deleted")

func (s *failingSource) Receive(ctx context.Context, h Handler) error {
	hctx, fail := context.WithCancel(ctx)
	defer fail()
	var wg sync.WaitGroup
	for _, d := range s.deliveries {
		wg.Go(func() { h(hctx, d) })
	}
	select {
	case <-time.After(s.failAfter):
		fail()
	case <-ctx.Done():
	}
	wg.Wait()
	return errSubscriptionGone
}

// TestSourceEndingForGoodBoundsHeldJobs: when receiving fails for good (the
// subscription is deleted) while a job waits in verification, the job gets
// the shutdown timeout, no more, and ends interrupted (nacked); Run returns
// the source's error.
func TestSourceEndingForGoodBoundsHeldJobs(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.ShutdownTimeout = 10 * time.Second
		h := newHarness(t, cfg, lrotest.Options{}, "")
		h.fake.Set("operations/never", lrotest.Script{DoneAfterPolls: lrotest.Never})
		src := &failingSource{deliveries: []Delivery{h.delivery("never", "operations/never", nil)}, failAfter: 5 * time.Second}
		start := time.Now()
		if err := h.w.Run(context.Background(), src); !errors.Is(err, errSubscriptionGone) {
			t.Errorf("Run = %v, want the source's error", err)
		}
		if d := time.Since(start); d != 15*time.Second {
			t.Errorf("Run returned after %v, want the failure at 5s plus the 10s shutdown timeout", d)
		}
		if got := h.settled.get("never"); len(got) != 1 || got[0] != "nack" {
			t.Errorf("never = %v, want nack (interrupted)", got)
		}
		if got := h.jobs(vault, Interrupted); got != 1 {
			t.Errorf("interrupted = %v, want 1", got)
		}
	})
}

// startedWorker makes a worker for table, closed when t ends, and returns
// its registry and metrics as they are right after New.
func startedWorker(t *testing.T, table *lro.Table) (*prometheus.Registry, *metrics.Metrics) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	ops, err := lro.New(context.Background(), table, lro.Config{Auth: lro.AuthNone, Transport: lrotest.New(lrotest.Options{}).Transport()})
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(DefaultConfig(), Deps{Table: table, Ops: ops, Log: zap.NewNop(), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return reg, m
}

// lateSource delivers one delivery at its time, unless its context ended
// first, and returns once its context has ended.
type lateSource struct {
	d  Delivery
	at time.Duration
}

func (s *lateSource) Receive(ctx context.Context, h Handler) error {
	var wg sync.WaitGroup
	select {
	case <-time.After(s.at):
		wg.Go(func() { h(ctx, s.d) })
	case <-ctx.Done():
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

// TestOnePartitionEndingStopsTheOthers: when one subscription fails for
// good, the worker stops pulling from every other one: a message another
// partition would deliver afterwards stays in Pub/Sub, not pulled only to
// be nacked at the shutdown timeout (a delivery attempt spent for nothing).
func TestOnePartitionEndingStopsTheOthers(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.ShutdownTimeout = 10 * time.Second
		h := newHarness(t, cfg, lrotest.Options{}, "")
		h.fake.Set("operations/never", lrotest.Script{DoneAfterPolls: lrotest.Never})
		h.fake.Set("operations/late", lrotest.Script{DoneAfterPolls: lrotest.Never})
		const failAt = 5 * time.Second
		failing := &failingSource{deliveries: []Delivery{h.delivery("never", "operations/never", nil)}, failAfter: failAt}
		// Due after the failure, well within the shutdown timeout that
		// follows it.
		late := &lateSource{d: h.delivery("late", "operations/late", nil), at: failAt + cfg.ShutdownTimeout/5}
		if err := h.w.Run(context.Background(), failing, late); !errors.Is(err, errSubscriptionGone) {
			t.Errorf("Run = %v, want the failed subscription's error", err)
		}
		if got := h.settled.get("late"); len(got) != 0 {
			t.Errorf("the other partition's message was pulled after the failure and settled %v, want it left in Pub/Sub", got)
		}
	})
}

// TestStartUpSeries: right after New, every series dashboards and alerts
// read exists at zero (an absent series is not a zero to PromQL), and the
// registry passes Prometheus's metric lint.
func TestStartUpSeries(t *testing.T) {
	t.Parallel()
	// A regional API too: its bulkheads are per endpoint, every one of its
	// catalogued locations' included.
	table, err := lro.ParseTable("t.yaml", []byte("services:\n  - host: aiplatform.googleapis.com\n"), lro.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reg, m := startedWorker(t, table)

	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	hosts := len(table.Hosts())
	endpoints := 0
	for _, s := range table.Services() {
		endpoints += len(s.EndpointHosts())
	}
	if endpoints < hosts+10 {
		t.Fatalf("%d endpoints: the table should have a regional API", endpoints)
	}
	for _, tt := range []struct {
		c    prometheus.Collector
		name string
		want int
	}{
		{m.Jobs, "opcancel_jobs_total", hosts*len(Outcomes()) + 1},
		{m.JobDuration, "opcancel_job_duration_seconds", hosts*len(Outcomes()) + 1},
		{m.RateLimitWait, "opcancel_rate_limit_wait_seconds_total", hosts},
		{m.RateLimitDelayed, "opcancel_rate_limit_delayed_requests_total", hosts},
		{m.ThrottleWait, "opcancel_throttle_wait_seconds_total", endpoints},
		{m.ThrottleDelayed, "opcancel_throttle_delayed_requests_total", endpoints},
		{m.ThrottleAllowedRate, "opcancel_throttle_allowed_rate", endpoints},
		{m.MisdirectedRequests, "opcancel_api_misdirected_requests_total", hosts},
		{m.ServiceRequestsInFlight, "opcancel_service_requests_in_flight", endpoints},
		{m.ServiceMaxConcurrency, "opcancel_service_max_concurrency", hosts},
		{m.EndpointConcurrencyLimit, "opcancel_endpoint_concurrency_limit", endpoints},
		{m.RequestsReclaimed, "opcancel_requests_reclaimed_total", endpoints},
		{m.ServiceConcurrencyWait, "opcancel_service_concurrency_wait_seconds_total", endpoints},
		{m.APIRequestsQueued, "opcancel_api_requests_queued", endpoints},
		{m.APIRequestsWaitingForRate, "opcancel_api_requests_waiting_for_rate", endpoints},
		{m.JobsQueued, "opcancel_jobs_queued", endpoints},
		{m.Panics, "opcancel_panics_total", hosts + 1},
	} {
		if got := testutil.CollectAndCount(tt.c); got != tt.want {
			t.Errorf("%s has %d series at start-up, want %d", tt.name, got, tt.want)
		}
	}
	if !hasSeries(t, reg, "opcancel_jobs_total", string(Invalid), metrics.UnknownService) {
		t.Errorf("no opcancel_jobs_total series for invalid messages of the unknown service at start-up")
	}
	if got := testutil.ToFloat64(m.ThrottleAllowedRate.WithLabelValues(vault, vault)); !math.IsInf(got, 1) {
		t.Errorf("opcancel_throttle_allowed_rate of unlimited %s = %v, want +Inf", vault, got)
	}
	if got := testutil.ToFloat64(m.EndpointConcurrencyLimit.WithLabelValues("aiplatform.googleapis.com", "europe-west4-aiplatform.googleapis.com")); got != float64(DefaultConfig().Concurrency) {
		t.Errorf("opcancel_endpoint_concurrency_limit of an idle endpoint = %v, want the whole pool, %d", got, DefaultConfig().Concurrency)
	}
	if got := testutil.ToFloat64(m.ServiceMaxConcurrency.WithLabelValues(vault)); got != float64(DefaultConfig().Concurrency) {
		t.Errorf("opcancel_service_max_concurrency of %s without maxConcurrency = %v, want the pool, %d", vault, got, DefaultConfig().Concurrency)
	}
	if got := testutil.ToFloat64(m.Concurrency); got != float64(DefaultConfig().Concurrency) {
		t.Errorf("opcancel_concurrency = %v, want %d", got, DefaultConfig().Concurrency)
	}
}

// hasSeries reports whether reg has a series of family name whose label
// values are values, in the order of the label names (outcome before
// service).
func hasSeries(t *testing.T, reg prometheus.Gatherer, name string, values ...string) bool {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetValue())
			}
			if slices.Equal(got, values) {
				return true
			}
		}
	}
	return false
}
